package servicing

import (
	"sort"
	"strings"
)

// LockAll takes lock(server) for every server, once each (names compared without case), in
// one order: LockOrder's. Every apply that holds several servers at once (a cluster's nodes,
// an organisation's cluster unit) takes them through it, so two applies wanting the same
// servers, whatever order the servers were reported in, wait for each other instead of
// each holding one and waiting for the other. unlock releases them in reverse order.
func LockAll(servers []string, lock func(server string) (unlock func())) (unlock func()) {
	var unlocks []func()
	for _, s := range LockOrder(servers) {
		unlocks = append(unlocks, lock(s))
	}
	return func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
}

// LockOrder is the order in which servers are locked: by lower-case name (then by name, for
// names that differ only in case), each name once.
func LockOrder(servers []string) []string {
	out := make([]string, 0, len(servers))
	seen := map[string]bool{}
	for _, s := range servers {
		if k := strings.ToLower(s); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i]), strings.ToLower(out[j])
		if a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}
