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
// and Windows NT 4.0 (4.0) are not among them, nor Windows Server 2003 (5.2) before its
// Service Pack 2: nothing listens on ports 5985/5986 and a client's connection is refused.
// Windows Server 2008 shipped at the Service Pack 1 level of Vista (build 6001), so a 6.0
// host with build 6001 or later, or a stated service pack, has it. The simulator keeps such
// a host in the fleet (Active Directory lists it, discover run elsewhere sees it) but does
// not listen for it.
//
// This is the one place that decides it: a future management host, which reaches these
// servers by other means than WinRM, would be served beside it, not through it.
func servesWinRM(os exchange.OSFacts) bool {
	major, minor, build, ok := windowsVersion(os)
	if !ok {
		return true // a version the fleet did not state in the NT form: assume a modern one
	}
	switch {
	case major > 6 || major == 6 && minor >= 1: // Windows 7 / Server 2008 R2 and later: built in
		return true
	case major == 6: // Vista / Server 2008: SP1 (build 6001) or later
		return os.ServicePack >= 1 || build >= 6001
	case major == 5 && minor == 2: // Server 2003 (and XP x64): SP2
		return os.ServicePack >= 2
	case major == 5 && minor == 1: // XP: SP3
		return os.ServicePack >= 3
	default: // Windows 2000 (5.0), NT 4.0 and older
		return false
	}
}

// windowsVersion reads the major, minor and build numbers of an NT version ("5.2.3790"; the
// build is 0 when not stated); ok is false when the version is not in that form.
func windowsVersion(os exchange.OSFacts) (major, minor, build int, ok bool) {
	parts := strings.SplitN(os.Version, ".", 3)
	if len(parts) < 2 {
		return 0, 0, 0, false
	}
	nums := []int{0, 0, 0}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, 0, 0, false
		}
		nums[i] = n
	}
	return nums[0], nums[1], nums[2], true
}

// ServesWinRM reports whether the host listens for WinRM at all (servesWinRM, decided by
// the OS the fleet gave it): false for a host on Windows 2000 or NT 4.0, whose connections
// are refused.
func (h *Host) ServesWinRM() bool { return h.winrm }
