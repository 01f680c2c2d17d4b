// Package simtest holds the journal checks that tests of more than one package make on the
// simulator (the provider's acceptance tests, the end-to-end runs): how many times an
// installer ran on a server, and that a refused plan only read. The simulator's own tests
// cannot import it (it imports the simulator).
package simtest

import (
	"fmt"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// InstallerRuns counts the installers started on server whose command starts with command
// (every installer with command ""): a setup that must run once, however often the apply is
// interrupted and run again.
func InstallerRuns(j []simulator.Entry, server, command string) int {
	n := 0
	for _, e := range j {
		if strings.EqualFold(e.Server, server) && e.Operation == "installer" &&
			strings.HasPrefix(e.Detail, command) && strings.HasSuffix(e.Detail, " started") {
			n++
		}
	}
	return n
}

// OnlyReads checks that j holds nothing but probes and discoveries: a refused plan touches
// no server.
func OnlyReads(j []simulator.Entry) error {
	for _, e := range j {
		if e.Operation != "probe" && e.Operation != "discover" {
			return fmt.Errorf("a refused plan touched a server: %+v", e)
		}
	}
	return nil
}
