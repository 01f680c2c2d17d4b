package provider

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

const lockHelperEnv = "EXCHANGE_LOCK_OWNER_HELPER"

// TestLockOwnerHelperProcess is the second provider process of TestAccLockSameHost: it
// prints its lock owner and lives until its stdin closes.
func TestLockOwnerHelperProcess(t *testing.T) {
	if os.Getenv(lockHelperEnv) != "1" {
		t.Skip("runs only as TestAccLockSameHost's second process")
	}
	fmt.Println(lockOwner())
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// startOwnerProcess starts a second provider process on this host and returns its lock
// owner and a func that ends it and waits until it is gone.
func startOwnerProcess(t *testing.T) (owner string, pid int, kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockOwnerHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	kill = func() {
		if !done {
			done = true
			_ = stdin.Close()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(kill)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("second process: %v", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid, kill
}

func TestLockOwnerNamesOneProcess(t *testing.T) {
	other, pid, _ := startOwnerProcess(t)
	mine := lockOwner()
	if other == mine {
		t.Fatalf("two provider processes on one host share the lock owner %q", mine)
	}
	id, ok := parseOwner(other)
	if !ok || !strings.EqualFold(id.host, hostname()) || id.pid != pid || id.run == runID {
		t.Fatalf("owner %q parses as %+v, %v; want host %s, pid %d and another run id than %s", other, id, ok, hostname(), pid, runID)
	}
	if me, ok := parseOwner(mine); !ok || me.pid != os.Getpid() || me.run != runID {
		t.Fatalf("own owner %q parses as %+v, %v", mine, me, ok)
	}
}

func TestTakeOverDecision(t *testing.T) {
	running := func(int) processStatus { return processRunning }
	gone := func(int) processStatus { return processGone }
	unknown := func(int) processStatus { return processUnknown }
	for _, c := range []struct {
		name, owner string
		state       func(int) processStatus
		dead        bool
		why         string
	}{
		{"same host, process gone", formatOwner("ci01", 4242, "aaaa"), gone, true, "process 4242 on this host (ci01) no longer runs"},
		{"same host, host name in other case", formatOwner("CI01", 4242, "aaaa"), gone, true, "process 4242"},
		{"same host, process runs", formatOwner("ci01", 4242, "aaaa"), running, false, "process 4242, which still runs"},
		{"same host, cannot tell", formatOwner("ci01", 4242, "aaaa"), unknown, false, "cannot tell whether that process still runs"},
		{"our pid, earlier process", formatOwner("ci01", 100, "aaaa"), running, true, "runs under that pid now"},
		{"another host", formatOwner("ci02", 4242, "aaaa"), gone, false, "taken from host ci02 by process 4242"},
		{"older provider's owner", "terraform-provider-exchange@ci01", gone, false, "does not record a host and process"},
		{"another tool", "someone else", gone, false, "does not record"},
		{"malformed pid", "terraform-provider-exchange@ci01 pid x run aaaa", gone, false, "does not record"},
	} {
		dead, why := takeOverDecision(c.owner, "ci01", 100, "bbbb", c.state)
		if dead != c.dead || !strings.Contains(why, c.why) {
			t.Errorf("%s: %q = %v, %q; want %v and %q", c.name, c.owner, dead, why, c.dead, c.why)
		}
	}
}

// Two applies from one host: while another provider process on this host holds the lock,
// this one is refused and stops nothing; once that process is gone its lock is taken over
// at once. (Before the owner named the process, both were "terraform-provider-exchange@host"
// and the second apply renewed the first's lock and serviced the server again.)
func TestAccLockSameHost(t *testing.T) {
	fleet, resourceConfig := servicePack2003("BE7", "127.0.57.1")
	sim := startSimulatorWith(t, fleet, fastServicing)
	heldScenario(t, "two applies at once from one host", sim)
	host := sim.Host("BE7")
	other, pid, kill := startOwnerProcess(t)
	expires := sim.Clock().Now().UTC().Truncate(time.Second).Add(10 * time.Minute)
	host.Update(func(s *simulator.State) {
		s.Lock = &exchange.Lock{Owner: other, Acquired: expires.Add(-time.Minute), Expires: expires}
	})
	config := providerConfig(sim, "") + resourceConfig
	// Terraform wraps the diagnostic: any space may be a line break.
	words := func(s string) string { return strings.Join(strings.Fields(regexp.QuoteMeta(s)), `\s+`) }
	refused := regexp.MustCompile(`(?s)` + words("another apply ("+other+") holds the servicing lock until "+
		expires.Format("2006-01-02 15:04:05")+" UTC") + `.*` + words(fmt.Sprintf("by process %d, which still runs", pid)) +
		`.*` + words("wait until it has finished"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config, ExpectError: refused},
			{
				PreConfig: func() {
					j := journal(sim, "BE7")
					if count(j, "service ") != 0 || count(j, "installer") != 0 || count(j, "exchange_services") != 0 || count(j, "reboot") != 0 {
						t.Fatalf("the refused apply changed the server:\n%v", j)
					}
					if l := host.State().Lock; l == nil || l.Owner != other || !l.Expires.Equal(expires) {
						t.Fatalf("the refused apply touched the other process's lock: %+v", l)
					}
					kill()
				},
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_service_pack.be7", "live_level", "Exchange 2003 SP2"),
					noLeakInState,
					func(*terraform.State) error {
						taken := false
						for _, e := range sim.Journal() {
							if e.Operation == "lock" && e.Detail == "taken over from "+other {
								taken = true
							}
						}
						if !taken {
							return fmt.Errorf("the journal shows no take-over of %s's lock", other)
						}
						if l := host.State().Lock; l != nil {
							return fmt.Errorf("the lock is still held after the apply: %+v", l)
						}
						return nil
					},
					testCheckJournalCount(serverJournal(sim, "BE7"), `installer started E:\E2003SP2`, 1, "service pack installer runs"),
					testCheckJournalOrder(serverJournal(sim, "BE7"), "service stop BackupExecRPCService", `installer started E:\E2003SP2`, "reboot",
						"exchange_services", "service start BackupExecRPCService"),
				),
			},
		},
	})
}
