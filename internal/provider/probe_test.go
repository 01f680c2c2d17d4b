package provider

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

type countingProber struct {
	calls atomic.Int32
	err   error
	gate  chan struct{}
}

func (p *countingProber) Probe(_ context.Context, t remote.Target) (exchange.Facts, error) {
	p.calls.Add(1)
	if p.gate != nil {
		<-p.gate
	}
	return exchange.Facts{Server: t.Server, Build: "8.1.393.1"}, p.err
}

func TestProbeCacheConcurrentReadersShareOneProbe(t *testing.T) {
	p := &countingProber{gate: make(chan struct{})}
	c := newProbeCache(p, defaultProbeConcurrency)
	target := remote.Target{Server: "EX01", Address: "127.0.0.11"}
	var wg sync.WaitGroup
	builds := make([]string, 20)
	for i := range builds {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f, err := c.Facts(context.Background(), target)
			if err != nil {
				t.Error(err)
			}
			builds[i] = f.Build
		}(i)
	}
	// Let every reader reach the cache before the one probe answers.
	time.Sleep(50 * time.Millisecond)
	close(p.gate)
	wg.Wait()
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("20 concurrent readers made %d probes, want 1", n)
	}
	for i, b := range builds {
		if b != "8.1.393.1" {
			t.Fatalf("reader %d got build %q", i, b)
		}
	}
	// Same server named in another case: still the same probe.
	if _, err := c.Facts(context.Background(), remote.Target{Server: "ex01", Address: "127.0.0.11"}); err != nil {
		t.Fatal(err)
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("a later reader re-probed: %d probes", n)
	}
}

func TestProbeCacheKeepsErrorsAndForgets(t *testing.T) {
	p := &countingProber{err: errors.New("unreachable")}
	c := newProbeCache(p, defaultProbeConcurrency)
	target := remote.Target{Server: "EX02", Address: "EX02"}
	for i := 0; i < 3; i++ {
		if _, err := c.Facts(context.Background(), target); err == nil {
			t.Fatal("want the probe's error")
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("an unreachable server was probed %d times in one run, want 1", n)
	}
	c.Forget(target)
	_, _ = c.Facts(context.Background(), target)
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("after Forget want a new probe, got %d probes", n)
	}
}

// A node's answer for its CMS is adopted as its own probe, unless the node's own is known;
// once the node is forgotten (an apply changed it) the old answer still names the CMS but is
// no longer adopted: the node is probed again.
func TestProbeCacheAdoptsACMSAnswerUntilTheNodeChanges(t *testing.T) {
	p := &countingProber{}
	c := newProbeCache(p, defaultProbeConcurrency)
	node, cms := remote.Target{Server: "MBX1A"}, remote.Target{Server: "CMS1"}
	if c.adopt(cms, node) {
		t.Fatal("adopted an answer never read")
	}
	// CMS1 probed, answered by MBX1A (countingProber answers as the name asked: set it here).
	c.results["cms1"] = probeResult{facts: exchange.Facts{Server: "MBX1A", Build: "8.1.240.6"}}
	if !c.adopt(cms, node) {
		t.Fatal("the CMS's answer was not adopted")
	}
	if f, _ := c.Facts(context.Background(), node); f.Build != "8.1.240.6" || p.calls.Load() != 0 {
		t.Fatalf("adopted facts: %+v after %d probes", f, p.calls.Load())
	}
	c.Forget(node)
	if f, _ := c.Facts(context.Background(), cms); f.Server != "MBX1A" || p.calls.Load() != 0 {
		t.Fatalf("the CMS's answer after Forget of its node: %+v after %d probes", f, p.calls.Load())
	}
	if c.adopt(cms, node) {
		t.Fatal("an answer the node gave before it changed was adopted")
	}
	if _, err := c.Facts(context.Background(), node); err != nil || p.calls.Load() != 1 {
		t.Fatalf("after Forget the node must be probed again: %v, %d probes", err, p.calls.Load())
	}
}
