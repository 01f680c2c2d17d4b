package simtest

import (
	"strings"
	"testing"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

func TestInstallerRuns(t *testing.T) {
	j := []simulator.Entry{
		{Server: "EX01", Operation: "installer", Detail: `D:\SP3\Setup.com /mode:upgrade started`},
		{Server: "EX01", Operation: "installer", Detail: `D:\SP3\Setup.com /mode:upgrade finished exit 0`},
		{Server: "ex01", Operation: "installer", Detail: `D:\SP3\Setup.com /upgradeCMS started`},
		{Server: "EX02", Operation: "installer", Detail: `D:\SP3\Setup.com /mode:upgrade started`},
		{Server: "EX01", Operation: "job_start", Detail: `D:\SP3\Setup.com /mode:upgrade started`},
	}
	for command, want := range map[string]int{`D:\SP3\Setup.com /mode:upgrade`: 1, `D:\SP3\Setup.com`: 2, "": 2, `D:\RU23.msp`: 0} {
		if got := InstallerRuns(j, "EX01", command); got != want {
			t.Errorf("InstallerRuns(EX01, %q) = %d, want %d", command, got, want)
		}
	}
}

func TestOnlyReads(t *testing.T) {
	if err := OnlyReads([]simulator.Entry{{Operation: "probe"}, {Operation: "discover"}}); err != nil {
		t.Errorf("probes and discoveries: %v", err)
	}
	err := OnlyReads([]simulator.Entry{{Operation: "probe"}, {Server: "EX01", Operation: "service", Outcome: "ok"}})
	if err == nil || !strings.Contains(err.Error(), "a refused plan touched a server: ") || !strings.Contains(err.Error(), "Server:EX01 Operation:service") {
		t.Errorf("a service operation: %v, want it named", err)
	}
}
