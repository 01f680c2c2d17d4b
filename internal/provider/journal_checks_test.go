package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// The journal checks: what the simulator saw the provider do on its servers, as test check
// functions a step lists by name (as resource.TestCheckResourceAttr is for state).

// journalSource reads one compact journal: serverJournal for one server, nodesJournal for
// the nodes of a cluster (each entry prefixed with its node).
type journalSource func() []string

func serverJournal(sim *simulator.Simulator, server string) journalSource {
	return func() []string { return journal(sim, server) }
}

func nodesJournal(sim *simulator.Simulator, nodes ...string) journalSource {
	return func() []string { return journalOf(sim, nodes...) }
}

// testCheckJournalOrder checks that the journal holds want in this order (other entries may
// lie between; each entry of want is a prefix).
func testCheckJournalOrder(j journalSource, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error { return inOrder(j(), want...) }
}

// testCheckJournalCount checks that n entries of the journal start with prefix; what says
// what they are, for the failure ("setup runs").
func testCheckJournalCount(j journalSource, prefix string, n int, what string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got := j()
		if c := count(got, prefix); c != n {
			return fmt.Errorf("%s (%q): %d in the journal, want %d:\n  %s", what, prefix, c, n, strings.Join(got, "\n  "))
		}
		return nil
	}
}

// testCheckEVS checks that an Exchange virtual server is online on owner, upgraded for build.
func testCheckEVS(sim *simulator.Simulator, cluster, name, owner, build string) resource.TestCheckFunc {
	return func(*terraform.State) error { return wantEVS(sim, cluster, name, owner, build) }
}

// testCheckSetupRuns checks that the installer ran command on server n times.
func testCheckSetupRuns(sim *simulator.Simulator, server, command string, n int) resource.TestCheckFunc {
	return testCheckJournalCount(serverJournal(sim, server), "installer started "+command, n, "setup runs on "+server)
}

// testCheckGroup checks that a cluster group is in state on owner.
func testCheckGroup(sim *simulator.Simulator, name, owner, state string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if g := sim.Cluster(name).State().Group(name); !strings.EqualFold(g.Owner, owner) || g.GroupState() != state {
			return fmt.Errorf("%s is %s on %s; want %s on %s: %+v", name, g.GroupState(), g.Owner, state, owner, g.Resources)
		}
		return nil
	}
}
