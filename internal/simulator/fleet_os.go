package simulator

import (
	"fmt"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// windowsProblem says why an Exchange product cannot run on the Windows the fleet gave its
// server, or "" when it can: a fleet that states an installation no real organisation has
// (Exchange 2007 on Windows 2000) would let our scripts meet a server that cannot exist.
// The supported Windows per product (Microsoft's system requirements of each release):
// Exchange 5.5 on Windows NT 4.0 or Windows 2000; Exchange 2000 on Windows 2000 only (not on
// Windows Server 2003); Exchange 2003 on Windows 2000 SP4 or Windows Server 2003; Exchange
// 2007 on Windows Server 2003 SP2 or Windows Server 2008, and Windows Server 2008 R2 from
// Exchange 2007 SP3 (our reading admits 2008 R2 at any 2007 build; the simulator does not
// check the service pack). A version not in the NT form is not checked.
func windowsProblem(productName string, os exchange.OSFacts) string {
	major, minor, _, ok := windowsVersion(os)
	if !ok {
		return ""
	}
	v := major*10 + minor // 4.0 -> 40, 5.0 -> 50, 5.2 -> 52, 6.1 -> 61
	var fits bool
	var supported string
	switch productName {
	case "5.5":
		fits, supported = v == 40 || v == 50, "Windows NT 4.0 (4.0) or Windows 2000 (5.0)"
	case "2000":
		fits, supported = v == 50, "Windows 2000 (5.0) only"
	case "2003":
		fits = v == 50 && os.ServicePack >= 4 || v == 52
		supported = "Windows 2000 SP4 (5.0, service_pack 4) or Windows Server 2003 (5.2)"
	case "2007":
		fits = v == 52 && os.ServicePack >= 2 || v == 60 || v == 61
		supported = "Windows Server 2003 SP2 (5.2, service_pack 2), Windows Server 2008 (6.0) or 2008 R2 (6.1)"
	default:
		return ""
	}
	if fits {
		return ""
	}
	return fmt.Sprintf("Exchange %s does not run on %s (os version %s, service_pack %d): it runs on %s",
		productName, os.Caption, os.Version, os.ServicePack, supported)
}
