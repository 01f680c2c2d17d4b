//go:build unix

package provider

import (
	"errors"
	"syscall"
)

// processState asks the kernel with signal 0, which checks the pid without signalling it:
// ESRCH is no such process; EPERM is a process of another user, so it runs. A zombie
// counts as running (it waits for its parent), which errs on the side of waiting.
func processState(pid int) processStatus {
	err := syscall.Kill(pid, 0)
	switch {
	case err == nil, errors.Is(err, syscall.EPERM):
		return processRunning
	case errors.Is(err, syscall.ESRCH):
		return processGone
	default:
		return processUnknown
	}
}
