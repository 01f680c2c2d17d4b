package simulator

import (
	"fmt"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// windowsRule is the Windows an Exchange product runs on: fits takes the NT version as
// major*10+minor (4.0 -> 40, 5.2 -> 52, 6.1 -> 61) and the service pack; text says it.
// The rules are Microsoft's system requirements of each release.
type windowsRule struct {
	fits func(version, servicePack int) bool
	text string
}

var (
	windowsFor55   = windowsRule{func(v, _ int) bool { return v == 40 || v == 50 }, "Windows NT 4.0 (4.0) or Windows 2000 (5.0)"}
	windowsFor2000 = windowsRule{func(v, _ int) bool { return v == 50 }, "Windows 2000 (5.0) only"} // not Windows Server 2003
	windowsFor2003 = windowsRule{func(v, sp int) bool { return v == 50 && sp >= 4 || v == 52 },
		"Windows 2000 SP4 (5.0, service_pack 4) or Windows Server 2003 (5.2)"}
	// Windows Server 2008 R2 only from Exchange 2007 SP3: our reading admits it at any 2007
	// build (the simulator does not check the service pack).
	windowsFor2007 = windowsRule{func(v, sp int) bool { return v == 52 && sp >= 2 || v == 60 || v == 61 },
		"Windows Server 2003 SP2 (5.2, service_pack 2), Windows Server 2008 (6.0) or 2008 R2 (6.1)"}
)

// windowsProblem says why an Exchange product cannot run on the Windows the fleet gave its
// server, or "" when it can: a fleet that states an installation no real organisation has
// (Exchange 2007 on Windows 2000) would let our scripts meet a server that cannot exist. A
// version not in the NT form is not checked.
func windowsProblem(productName string, rule windowsRule, os exchange.OSFacts) string {
	major, minor, _, ok := windowsVersion(os)
	if !ok || rule.fits(major*10+minor, os.ServicePack) {
		return ""
	}
	return fmt.Sprintf("Exchange %s does not run on %s (os version %s, service_pack %d): it runs on %s",
		productName, os.Caption, os.Version, os.ServicePack, rule.text)
}
