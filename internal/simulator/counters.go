package simulator

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

// Counts is what one server was asked over the network, for benchmarks and the tests that
// hold the provider to its budget (docs/performance.md): HTTP requests to its
// WS-Management endpoint (every Create, Command, Send, Receive, Signal and Delete is one),
// and commands it ran, each of which is one PowerShell process on a real server.
type Counts struct {
	HTTPRequests int
	Processes    int
}

type counters struct {
	http, processes atomic.Int64
}

func (c *counters) get() Counts {
	return Counts{HTTPRequests: int(c.http.Load()), Processes: int(c.processes.Load())}
}

// countingProcesses counts every command the endpoint hands to the host.
func (c *counters) countingProcesses(h wsman.Handler) wsman.Handler {
	return wsman.HandlerFunc(func(ctx context.Context, cmd wsman.Command) wsman.Result {
		c.processes.Add(1)
		return h.Run(ctx, cmd)
	})
}

// Counts returns what server (its name, any case) was asked since Start or the last
// ResetCounts.
func (s *Simulator) Counts(server string) Counts {
	for h, n := range s.nets {
		if strings.EqualFold(h.name, server) {
			return n.counts.get()
		}
	}
	return Counts{}
}

// ResetCounts starts every server's counts from zero.
func (s *Simulator) ResetCounts() {
	for _, n := range s.nets {
		n.counts.http.Store(0)
		n.counts.processes.Store(0)
	}
}
