//go:build unix

package provider

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// processState asks the kernel with signal 0, which checks the pid without signalling it:
// ESRCH is no such process; EPERM is a process of another user, so it runs. A zombie has
// exited (it only waits for its parent to collect its status) and can no longer renew or
// use a lock, so it counts as gone: a provider killed under a parent that never reaps it
// (a container's init, say) stays a zombie for as long as that parent lives.
func processState(pid int) processStatus {
	err := syscall.Kill(pid, 0)
	switch {
	case err == nil, errors.Is(err, syscall.EPERM):
		if zombie(pid) {
			return processGone
		}
		return processRunning
	case errors.Is(err, syscall.ESRCH):
		return processGone
	default:
		return processUnknown
	}
}

// zombie reports whether /proc says pid has exited and not been reaped (state Z, or X while
// it is being removed). Without /proc (not Linux) it reports false: the process counts as
// running, which errs on the side of waiting.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, so read after the last ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	state := s[i+2]
	return state == 'Z' || state == 'X'
}
