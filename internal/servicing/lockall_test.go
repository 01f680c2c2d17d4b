package servicing

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two applies that want the same servers, reported in different orders and spellings, lock
// them in one order (lower-case name), once each, and release them in reverse.
func TestLockAllOneOrderWhateverTheReportOrder(t *testing.T) {
	for _, servers := range [][]string{{"NODE2", "node1", "Node3"}, {"node3", "NODE1", "node2", "node1"}} {
		var got []string
		unlock := LockAll(servers, func(s string) func() {
			got = append(got, "lock "+strings.ToLower(s))
			return func() { got = append(got, "unlock "+strings.ToLower(s)) }
		})
		unlock()
		want := []string{"lock node1", "lock node2", "lock node3", "unlock node3", "unlock node2", "unlock node1"}
		if !slices.Equal(got, want) {
			t.Errorf("servers %v: %v, want %v", servers, got, want)
		}
	}
}

// Two applies locking the same nodes in opposite report orders, over and over, never
// deadlock.
func TestLockAllCannotDeadlock(t *testing.T) {
	var mu sync.Mutex
	locks := map[string]*sync.Mutex{}
	lock := func(s string) func() {
		mu.Lock()
		l, ok := locks[strings.ToLower(s)]
		if !ok {
			l = &sync.Mutex{}
			locks[strings.ToLower(s)] = l
		}
		mu.Unlock()
		l.Lock()
		return l.Unlock
	}
	var wg sync.WaitGroup
	for _, order := range [][]string{{"NODE2", "NODE1"}, {"node1", "node2"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				LockAll(order, lock)()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("two applies locking NODE1 and NODE2 in different report orders deadlocked")
	}
}
