package exchange

import "testing"

// The nodes of an Exchange 5.5 cluster and of an Exchange 2000 active/active cluster are one
// unit of their wave, as those of 2003 and 2007 clusters are. No real 5.5 or 2000 node can
// be reached over WinRM (Windows NT 4.0/2000), so the acceptance tests only see such an
// organisation refused; this is where the units and their reasons are verified.
func TestOrderLegacyClustersAreUnits(t *testing.T) {
	n55a := clustered(srv("E55A", "5.5", b55SP3), "X55", "cluster-5.5", "E55A", "E55B")
	n55b := clustered(srv("E55B", "5.5", b55SP3), "X55", "cluster-5.5", "E55A", "E55B")
	a2k1 := clustered(srv("A2K1", "2000", b2000SP2, "BackEnd"), "EVSC", "evs-active-active", "A2K1", "A2K2")
	a2k2 := clustered(srv("A2K2", "2000", b2000SP2, "BackEnd"), "EVSD", "evs-active-active", "A2K1", "A2K2")
	o, err := Order([]Facts{a2k2, n55b, a2k1, n55a}, []Target{{Product: "5.5", ServicePack: 4}, {Product: "2000", ServicePack: 3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Waves) != 2 {
		t.Fatalf("waves %+v, want the 5.5 cluster's and the 2000 cluster's", o.Waves)
	}
	for i, w := range []struct {
		servers []string
		reason  string
	}{
		{[]string{"E55A", "E55B"}, "Nodes E55A, E55B of Exchange 5.5 cluster X55 (cluster-5.5) are one unit"},
		{[]string{"A2K1", "A2K2"}, "Nodes A2K1, A2K2 of the cluster of Exchange Virtual Servers EVSC (evs-active-active) are one unit"},
	} {
		if got := o.Waves[i].Servers; len(got) != 2 || got[0] != w.servers[0] || got[1] != w.servers[1] {
			t.Errorf("wave %d: servers %q, want %q", i, got, w.servers)
		}
		mustContain(t, "reason", o.Waves[i].Reason, w.reason)
	}
}
