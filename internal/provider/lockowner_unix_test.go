//go:build unix

package provider

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// A provider killed under a parent that does not reap it stays a zombie: it has exited and
// can no longer use its lock, so it counts as gone.
func TestZombieCountsAsGone(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Not reaped yet: wait until it has exited (a zombie), then check.
	for i := 0; i < 500 && !zombie(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := processState(pid); got != processGone {
		t.Errorf("an exited, unreaped process: state %v, want gone", got)
	}
	_ = cmd.Wait()
	if got := processState(os.Getpid()); got != processRunning {
		t.Errorf("this test's own process: state %v, want running", got)
	}
}
