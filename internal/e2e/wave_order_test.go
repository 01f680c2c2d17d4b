package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/benchfleet"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// The per-server servicing configurations keep the order of the waves at apply: no server
// of a wave takes its servicing lock before every server of the wave before it (of its
// product) has released its own, by the simulator's journal. Both ways of chaining the
// waves: depends_on the wave's resources, and depends_on a terraform_data gate that depends
// on them (docs/guides/organisations-at-scale.md, fewer edges in Terraform's graph). Twice
// each: the first apply creates everything (the gates too); the second moves every rollup
// from 22 to the newest while the gates have nothing to do, so the order holds through
// resources with no change.
func TestServicingWavesApplyInOrder(t *testing.T) {
	for _, config := range []string{benchfleet.ServicingWaves, benchfleet.ServicingGated} {
		t.Run(config, func(t *testing.T) {
			fleet, sim, w := benchApplyRig(t, 30, 34)
			const ru22 = `\\files\media\E2007SP3-RU22-x64.msp`
			must(t, sim.RegisterPackage(ru22, simulator.Package{Kind: simulator.PackageUpdateRollup, Product: "2007", ServicePack: 3, UpdateRollup: 22}))
			newest, err := fleet.Config(config, 16)
			must(t, err)
			first := strings.NewReplacer(`rollup = "latest"`, `rollup = "22"`,
				`E2007SP3-RU-latest-x64.msp`, `E2007SP3-RU22-x64.msp`).Replace(newest)
			if first == newest {
				t.Fatal("the configuration names no rollup to replace")
			}
			for i, text := range []string{first, newest} {
				must(t, os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(text), 0o600))
				from := len(sim.Journal())
				if out, err := w.run("apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=16"); err != nil {
					t.Fatalf("apply %d failed: %v\n%s", i+1, err, out)
				}
				if problems := waveOrder(fleet, sim.Journal()[from:]); len(problems) > 0 {
					t.Errorf("apply %d:\n%s", i+1, strings.Join(problems, "\n"))
				}
			}
		})
	}
}

// benchApplyRig is a bench fleet of n servers (seed) on a fast simulator with the bench
// configurations' media registered, so that they apply, and a workspace for it.
func benchApplyRig(t *testing.T, n, seed int) (benchfleet.Fleet, *simulator.Simulator, *workspace) {
	t.Helper()
	fleet := benchfleet.New(n, seed)
	f, err := fleet.SimulatorFleet()
	must(t, err)
	sim, err := simulator.Start(f, simulator.Options{DisableHTTP: true, ReceiveTimeout: time.Minute,
		InstallDuration: 20 * time.Millisecond, RebootDuration: 20 * time.Millisecond})
	must(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	must(t, benchfleet.RegisterMedia(sim))
	w := newWorkspace(t, buildProvider(t), sim, header,
		"EXCHANGE_USERNAME="+benchfleet.Username, "EXCHANGE_PASSWORD="+benchfleet.Password,
		"EXCHANGE_CA_CERTIFICATE="+string(sim.CACertPEM()), "EXCHANGE_POLL_INTERVAL=100ms")
	return fleet, sim, w
}

// waveOrder checks the journal of one apply: per product, every server of a wave takes its
// first lock after the last release of every server of the waves before it. It also
// requires that the apply locked a server of at least two waves of one product (else the
// check checks nothing).
func waveOrder(fleet benchfleet.Fleet, journal []simulator.Entry) []string {
	type span struct{ first, last int }
	spans := map[string]*span{}
	for _, e := range journal {
		if e.Operation != "lock" || e.Outcome != "ok" {
			continue
		}
		s := spans[e.Server]
		if s == nil {
			s = &span{first: e.Seq}
			spans[e.Server] = s
		}
		s.last = e.Seq
	}
	var problems []string
	pairs := 0
	for _, a := range fleet.Servers {
		for _, b := range fleet.Servers {
			sa, sb := spans[a.Name], spans[b.Name]
			if a.Product != b.Product || a.Wave >= b.Wave || sa == nil || sb == nil {
				continue
			}
			pairs++
			if sb.first < sa.last {
				problems = append(problems, fmt.Sprintf("%s (wave %d) took its lock at #%d, before %s (wave %d) released its own at #%d",
					b.Name, b.Wave, sb.first, a.Name, a.Wave, sa.last))
			}
		}
	}
	if pairs == 0 {
		problems = append(problems, fmt.Sprintf("no two servers of different waves of one product were locked (locked: %d servers)", len(spans)))
	}
	return problems
}
