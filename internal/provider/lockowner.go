package provider

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The servicing lock's owner names one apply: this provider process, on this host. Two
// applies from one machine (two terraform runs, two workspaces) are two processes, so their
// owners differ and the second is refused while the first holds the lock.
//
// A lock whose owner died (Terraform killed, the machine crashed) frees itself when it
// expires (servicing.DefaultLockTTL, refreshed while the apply runs). An apply from the same
// host takes it over at once when it can prove the owner's process is gone: the pid the owner
// records no longer runs here. Pids are reused, so a pid that runs is taken to be the owner
// still running (the lock then waits for its expiry): the check can only err on the side of
// waiting. A lock taken from another host is never taken over: its process cannot be seen
// from here. The run id keeps two processes apart that had the same pid one after the other.

const ownerPrefix = "terraform-provider-exchange@"

// runID is generated once per provider process.
var runID = newRunID()

func newRunID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms; the pid still names the process.
		return "0000000000000000"
	}
	return hex.EncodeToString(b)
}

func hostname() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "unknown-host"
	}
	return host
}

// lockOwner is this process's owner string: "terraform-provider-exchange@<host> pid <pid>
// run <run id>", readable in the error another apply gets.
func lockOwner() string {
	return formatOwner(hostname(), os.Getpid(), runID)
}

func formatOwner(host string, pid int, run string) string {
	return fmt.Sprintf("%s%s pid %d run %s", ownerPrefix, host, pid, run)
}

// lockOwnerID is an owner string taken apart.
type lockOwnerID struct {
	host string
	pid  int
	run  string
}

// parseOwner reads an owner formatOwner wrote; ok is false for anything else (an older
// provider's "terraform-provider-exchange@<host>", another tool's owner).
func parseOwner(owner string) (id lockOwnerID, ok bool) {
	rest, found := strings.CutPrefix(owner, ownerPrefix)
	if !found {
		return id, false
	}
	f := strings.Split(rest, " ")
	if len(f) != 5 || f[0] == "" || f[1] != "pid" || f[3] != "run" || f[4] == "" {
		return id, false
	}
	pid, err := strconv.Atoi(f[2])
	if err != nil || pid <= 0 {
		return id, false
	}
	return lockOwnerID{host: f[0], pid: pid, run: f[4]}, true
}

// takeOverDeadOwner is servicing.Options.TakeOver for this process.
func takeOverDeadOwner(owner string) (dead bool, why string) {
	return takeOverDecision(owner, hostname(), os.Getpid(), runID, processState)
}

// takeOverDecision: dead only when owner was taken on host by a process that is proven gone.
// state reports whether a pid runs here (processRunning, processGone or processUnknown).
func takeOverDecision(owner, host string, pid int, run string, state func(pid int) processStatus) (bool, string) {
	id, ok := parseOwner(owner)
	if !ok {
		return false, "Its owner does not record a host and process this provider can check, so only its expiry frees it"
	}
	if !strings.EqualFold(id.host, host) {
		return false, fmt.Sprintf("It was taken from host %s by process %d; a process on another host cannot be checked from here, so only its expiry frees it", id.host, id.pid)
	}
	if id.run == run {
		return false, ""
	}
	if id.pid == pid {
		return true, fmt.Sprintf("process %d on this host (%s) has ended: this provider runs under that pid now", id.pid, id.host)
	}
	switch state(id.pid) {
	case processGone:
		return true, fmt.Sprintf("process %d on this host (%s) no longer runs", id.pid, id.host)
	case processRunning:
		return false, fmt.Sprintf("It was taken on this host (%s) by process %d, which still runs (or its pid was reused), so it is not taken over", id.host, id.pid)
	default:
		return false, fmt.Sprintf("It was taken on this host (%s) by process %d; this platform cannot tell whether that process still runs, so only its expiry frees it", id.host, id.pid)
	}
}

type processStatus int

const (
	processUnknown processStatus = iota
	processRunning
	processGone
)
