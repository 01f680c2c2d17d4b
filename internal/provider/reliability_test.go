package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/buildlevel/terraform-provider-exchange/internal/reliability"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// heldScenario says t proves reliability scenario id and runs it with TF_LOG=trace (the
// CLI's and the in-process provider's logs, errors included, in one file): when t ends,
// the password is looked for in that log and in the simulator's journal. Add noLeakInState
// to the last step's checks for Terraform's state.
func heldScenario(t *testing.T, id string, sim *simulator.Simulator) {
	t.Helper()
	reliability.Held(t, id)
	log := filepath.Join(t.TempDir(), "trace.log")
	t.Setenv("TF_LOG", "trace")
	t.Setenv("TF_ACC_LOG_PATH", log)
	t.Cleanup(func() {
		trace, _ := os.ReadFile(log)
		// The test harness logs each step's configuration, which holds the password as a
		// literal because providerConfig wrote it there (a user passes a sensitive
		// variable): that block is the test's own text, not something the provider logged.
		trace = testConfigBlock.ReplaceAll(trace, nil)
		if len(trace) < 1000 {
			t.Errorf("TF_LOG=trace wrote %d bytes: the password check would prove nothing", len(trace))
		}
		j, _ := json.Marshal(sim.Journal())
		reliability.NoLeak(t, testUser, testPassword, map[string]string{"trace log": string(trace), "journal": string(j)})
	})
}

// testConfigBlock is a "Setting Terraform configuration" entry's configuration lines.
var testConfigBlock = regexp.MustCompile(`(?m)^  test_terraform_configuration=\n(  \|.*\n)*`)

// noLeakInState fails when the password is in Terraform's state.
func noLeakInState(s *terraform.State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if leaks := reliability.Leaks(testUser, testPassword, map[string]string{"state": string(b)}); len(leaks) > 0 {
		return fmt.Errorf("the password appears in Terraform's state")
	}
	return nil
}
