package exchange

import (
	"strings"
	"testing"
)

// A service the probe's third-party list does not know (the ScanMail of "Service Packs für Exchange 2007") is stopped when
// stop_services names it; its state comes from the probe's other services.
func TestStopServicesFindsAnyService(t *testing.T) {
	f := server("2007", "8.0.685.24", func(f *Facts) {
		f.ThirdPartyServices = []ServiceFacts{{Name: "BackupExecAgentAccelerator", State: "Running"}}
		f.OtherServices = []ServiceFacts{{Name: "ScanMail_Master", State: "Running"}, {Name: "Spooler", State: "Stopped"}}
	})
	r := spRequest(3)
	r.StopServices = []string{"scanmail_master", "Spooler"}
	p, err := PlanServicePack(f, r, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	var stopped []string
	for _, s := range p.Steps {
		if k, ok := s.Kind.(StopService); ok {
			stopped = append(stopped, k.Service)
		}
	}
	// Windows' spelling of the name; a stopped service is not stopped, so not started after.
	if strings.Join(stopped, ",") != "ScanMail_Master" {
		t.Errorf("stopped %v, want [ScanMail_Master]", stopped)
	}
}
