package simulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The control endpoint answers loopback callers only, listens only on loopback, and says
// what is wrong with a request.
func TestControlEndpointRefusals(t *testing.T) {
	f, err := LoadFleet("testdata/clusters.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(f, Options{ControlAddr: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "give a loopback IP address") {
		t.Fatalf("a control on every address: %v", err)
	}
	sim, err := Start(f, Options{ControlAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if !strings.HasPrefix(sim.ControlAddr(), "127.0.0.1:") {
		t.Fatalf("ControlAddr %q", sim.ControlAddr())
	}
	for _, c := range []struct {
		method, target, remote string
		status                 int
		says                   string
	}{
		{"POST", ControlPathUpgradeEVS + "?evs=EVS1", "192.0.2.7:40000", http.StatusForbidden, "loopback callers only"},
		{"GET", ControlPathUpgradeEVS + "?evs=EVS1", "127.0.0.1:40000", http.StatusMethodNotAllowed, "use POST"},
		{"POST", ControlPathUpgradeEVS, "127.0.0.1:40000", http.StatusBadRequest, "?evs=NAME"},
		{"POST", ControlPathUpgradeEVS + "?evs=NOSUCH", "127.0.0.1:40000", http.StatusNotFound, `no cluster of the fleet has a virtual server "NOSUCH"`},
		{"POST", ControlPathUpgradeEVS + "?evs=CMS1", "127.0.0.1:40000", http.StatusConflict, "Upgrade Exchange Virtual Server is an Exchange 2003 task"},
		{"POST", ControlPathUpgradeEVS + "?evs=EVS1&node=MBX1A", "[::1]:40000", http.StatusConflict, "MBX1A is not a node of cluster EVS1"},
		{"POST", ControlPathUpgradeEVS + "?evs=EVS1", "127.0.0.1:40000", http.StatusConflict, "there is nothing to upgrade it to"},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		r.RemoteAddr = c.remote
		w := httptest.NewRecorder()
		sim.ControlHandler().ServeHTTP(w, r)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.says) {
			t.Errorf("%s %s from %s: %d %q, want %d saying %q", c.method, c.target, c.remote, w.Code, w.Body.String(), c.status, c.says)
		}
	}
	// Refusals are journaled as the administrator's attempts, on the node they were made on.
	n := 0
	for _, e := range sim.Journal() {
		if e.Operation == operationAdministrator && e.Outcome == outcomeRejected {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d rejected administrator entries, want 2 (on EVSN1, and on MBX1A for CMS1): %+v", n, sim.Journal())
	}
}
