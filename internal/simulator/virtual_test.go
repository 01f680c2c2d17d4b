package simulator

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// A CMS with an address of its own is answered there by the node that owns it, follows the
// CMS when it moves, and does not answer while the CMS (its IP Address resource) is offline.
func TestVirtualNameAnswersWhereItsGroupRuns(t *testing.T) {
	d := clustersDoc(t)
	d["clusters"].([]any)[0].(map[string]any)["address"] = "127.0.50.19" // CMS1
	raw, _ := json.Marshal(d)
	f, err := ParseFleet(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := Start(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if got := sim.Addr("CMS1"); got != "127.0.50.19" {
		t.Fatalf(`Addr("CMS1") = %q`, got)
	}
	for _, https := range []bool{false, true} {
		cfg := remote.Config{Username: f.Credentials.Username, Password: f.Credentials.Password, Auth: remote.AuthNTLM,
			Port: sim.HTTPPort(), Timeout: 10 * time.Second}
		if https {
			// Verified against the CA: the virtual name's certificate names CMS1 and its address.
			cfg.HTTPS, cfg.Port, cfg.CACertificate = true, sim.HTTPSPort(), sim.CACertPEM()
		}
		client, err := remote.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cms := remote.Target{Server: "CMS1", Address: "127.0.50.19"}
		answeredBy := func() string {
			t.Helper()
			before := len(sim.Journal())
			facts, err := client.Probe(ctx, cms)
			if err != nil {
				t.Fatalf("https=%v: probe CMS1 at its address: %v", https, err)
			}
			if facts.Cluster == nil || facts.Cluster.Name != "CMS1" || !facts.Cluster.Active {
				t.Errorf("https=%v: the probe addressed as CMS1 reads cluster %+v", https, facts.Cluster)
			}
			for _, e := range sim.Journal()[before:] {
				if e.Operation == "probe" {
					return e.Server
				}
			}
			t.Fatalf("https=%v: no probe journaled", https)
			return ""
		}
		owner := sim.Cluster("CMS1").State().Group("CMS1").Owner
		if got := answeredBy(); got != owner {
			t.Errorf("https=%v: CMS1 answered by %s, want its owner %s", https, got, owner)
		}
		other := map[string]string{"MBX1A": "MBX1B", "MBX1B": "MBX1A"}[owner]
		for _, step := range []struct{ on, action, to string }{{owner, wire.ClusterStopCMS, ""}, {owner, wire.ClusterMoveGroup, other}} {
			if _, err := client.Cluster(ctx, remote.Target{Server: step.on, Address: sim.Addr(step.on)}, step.action, "CMS1", step.to); err != nil {
				t.Fatalf("https=%v: %s on %s: %v", https, step.action, step.on, err)
			}
			if step.action == wire.ClusterStopCMS {
				// Nobody answers: the client retries until its deadline, kept short here.
				short, stop := context.WithTimeout(ctx, time.Second)
				_, err := client.Probe(short, cms)
				stop()
				if err == nil {
					t.Errorf("https=%v: CMS1 answered while offline", https)
				}
			}
		}
		if _, err := client.Cluster(ctx, remote.Target{Server: other, Address: sim.Addr(other)}, wire.ClusterStartCMS, "CMS1", ""); err != nil {
			t.Fatalf("https=%v: start CMS1 on %s: %v", https, other, err)
		}
		if got := answeredBy(); got != other {
			t.Errorf("https=%v: after the move CMS1 answered by %s, want %s", https, got, other)
		}
	}
}

// clustersDoc is testdata/clusters.json as a document to change before parsing it.
func clustersDoc(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("testdata/clusters.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}
