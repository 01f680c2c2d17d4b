package simulator

import (
	"strconv"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// servesWinRM reports whether a server running os can have WinRM at all. WinRM 2.0 and
// PowerShell 2.0 ship in the Windows Management Framework Core package, which installs on
// Windows XP SP3, Windows Server 2003 SP2, Windows Vista SP1 and Windows Server 2008, and on
// nothing older (KB 968930, "Windows Management Framework Core package (Windows PowerShell
// 2.0 and WinRM 2.0)"); Windows 7 and Server 2008 R2 include it. Windows 2000 (version 5.0)
// and Windows NT 4.0 (4.0) are not among them: nothing listens on ports 5985/5986 and a
// client's connection is refused. The simulator keeps such a host in the fleet (Active
// Directory lists it, discover run elsewhere sees it) but does not listen for it.
//
// This is the one place that decides it: a future management host, which reaches these
// servers by other means than WinRM, would be served beside it, not through it.
func servesWinRM(os exchange.OSFacts) bool {
	major, rest, _ := strings.Cut(os.Version, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return true // a version the fleet did not state in the NT form: assume a modern one
	}
	return ma > 5 || ma == 5 && mi >= 1
}

// ServesWinRM reports whether the host listens for WinRM at all (servesWinRM, decided by
// the OS the fleet gave it): false for a host on Windows 2000 or NT 4.0, whose connections
// are refused.
func (h *Host) ServesWinRM() bool { return h.winrm }
