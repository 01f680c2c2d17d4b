package remote

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/scripts"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// Client runs operations on servers over WinRM. It is safe for concurrent use; it keeps
// one WinRM client and a pool of shells per host until Close.
type Client struct {
	cfg Config // validated, defaults applied; holds the password: never log or print it

	mu     sync.Mutex
	hosts  map[string]*host // by host:port
	closed bool

	// Retry backoff: backoffBase doubles per attempt up to backoffMax, with ±20% jitter.
	// Tests shorten them.
	backoffBase, backoffMax time.Duration
	// idleTTL is given to new hosts; tests shorten it.
	idleTTL time.Duration
}

// New validates cfg and returns a Client. It does not connect: the first Run does.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("invalid WinRM configuration: %w", err)
	}
	return &Client{
		cfg:         cfg,
		hosts:       map[string]*host{},
		backoffBase: 250 * time.Millisecond,
		backoffMax:  5 * time.Second,
		idleTTL:     defaultIdleTTL,
	}, nil
}

// Probe reads what a server is: Run(ctx, t, "probe", Server = t.Server).
func (c *Client) Probe(ctx context.Context, t Target) (exchange.Facts, error) {
	return Call(ctx, c, t, wire.ProbeRequest{Server: t.Server})
}

// Run runs operation op (a script of package scripts) with params on t and decodes its
// result into out (nil: ignore the result).
//
// Transient failures (connection refused or reset, HTTP 5xx, WinRM quota and server faults)
// are retried with exponential backoff until cfg.Timeout. When ctx is cancelled Run returns
// at once with an *Error of KindCanceled (errors.Is(err, context.Canceled) holds); the
// command is stopped and its shell cleaned up in the background. Errors after validation are
// *Error; a script's fault is reachable with errors.As(err, **wire.Fault).
//
// Scripts should be safe to run again: a failure after the command started (a lost
// connection while reading its output) is retried like any other transient failure, except
// for the operations in notRetriedAfterStart, whose failure after the server accepted the
// command is returned at once (the error says the operation may have run).
func (c *Client) Run(ctx context.Context, t Target, op string, params []wire.Param, out any) error {
	body, ok := scripts.Body(op)
	if !ok {
		return fmt.Errorf("remote: unknown operation %q", op)
	}
	text, err := wire.Script{Operation: op, Params: params, Prelude: scripts.Prelude(), Body: body}.Render()
	if err != nil {
		return fmt.Errorf("remote: operation %s: %w", op, err)
	}
	stdin := wire.Pack(text)

	hostname, port, err := c.cfg.endpoint(t)
	if err != nil {
		return err
	}
	h, err := c.host(hostname, port)
	if err != nil {
		return err
	}
	fields := map[string]any{"server": t.Server, "address": h.address, "operation": op}
	tflog.Debug(ctx, "remote: running operation", fields)
	// Sizes only: the script text carries parameter values.
	tflog.Trace(ctx, "remote: operation script", map[string]any{"server": t.Server, "operation": op,
		"script_bytes": len(text), "stdin_bytes": len(stdin), "command_line_chars": len(wire.CommandLine)})

	fl := failure{c: c, t: t, address: h.address, op: op}
	runCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	var last error // the last failure that was not the context ending
	for attempt := 1; ; attempt++ {
		fl.attempts = attempt
		r := c.attempt(runCtx, h, stdin)
		if r.err == nil {
			err := decode(r, op, out)
			if err == nil {
				tflog.Debug(ctx, "remote: operation done", with(fields, "attempts", attempt, "duration_ms", time.Since(start).Milliseconds()))
				return nil
			}
			c.scrub(err)
			fl.err = err
			return fl.newError(classify(err).kind)
		}
		c.scrub(r.err)

		if runCtx.Err() != nil {
			return c.stopped(ctx, fl, last)
		}
		if errors.Is(r.err, errClosed) {
			return errClosed
		}
		last = r.err
		fl.err = r.err
		v := classify(r.err)
		e := fl.newError(v.kind)
		if !v.retry {
			return e
		}
		if attempt >= refusedFirstContactAttempts && errors.Is(r.err, syscall.ECONNREFUSED) && !h.answered.Load() {
			// Nothing listens there, and nothing ever did in this run: a wrong port, a
			// stopped WinRM service, or a Windows that has none. Retrying until the timeout
			// would only delay the error (minutes per server in a plan). A server that
			// answered before and now refuses (its WinRM restarting) is retried as before.
			tflog.Debug(ctx, "remote: connection refused by a server that never answered; not retrying", with(fields, "attempt", attempt))
			return e
		}
		if r.started && notRetriedAfterStart[op] {
			e.MayHaveRun = true
			e.msg += fmt.Sprintf(" Operation %s was not retried: the server had accepted it, so it may have run, and running it twice could do harm; check the server before running it again.", op)
			tflog.Debug(ctx, "remote: not retrying an operation that may have run", with(fields, "attempt", attempt, "kind", string(v.kind), "error", e.Error()))
			return e
		}
		if v.quota {
			// Our own idle shells count against the quota too.
			n := h.closeIdle()
			tflog.Debug(ctx, "remote: WinRM quota exceeded, closed idle shells", with(fields, "closed", n))
		}
		wait := c.backoff(attempt)
		if deadline, ok := runCtx.Deadline(); ok && time.Until(deadline) < wait {
			// No time for another attempt: the last failure says more than a timeout would.
			return e
		}
		tflog.Debug(ctx, "remote: retrying after a transient failure", with(fields, "attempt", attempt, "kind", string(v.kind), "error", e.Error(), "wait_ms", wait.Milliseconds()))
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-runCtx.Done():
			timer.Stop()
			return c.stopped(ctx, fl, last)
		}
	}
}

// refusedFirstContactAttempts bounds the attempts at a server that refuses the connection
// and has not answered this client before: two, so that a listener that was restarting at
// that very moment still gets its chance.
const refusedFirstContactAttempts = 2

// notRetriedAfterStart lists the operations that must not run twice: once the server has
// accepted the command (its script may have run, in part or in full), a transient failure
// is returned instead of retried. A failure before that (no connection, no shell, the
// command refused) is still retried: nothing ran. Every other operation is read-only or
// idempotent (it checks before it acts, or, like job_start, finds the job it started), so a
// second run is harmless.
//
// OpReboot: a retry after the restart was scheduled could restart the server twice (the
// second time in the middle of the boot the caller waits for, or after the caller has
// moved on to the next step).
var notRetriedAfterStart = map[string]bool{
	wire.OpReboot: true,
}

// attempt runs the command once. The work happens in its own goroutine because the WinRM
// client cannot abandon an HTTP request in flight: when ctx ends first, attempt returns at
// once and the goroutine finishes (signals the command, deletes its shell, frees the slot)
// in the background.
func (c *Client) attempt(ctx context.Context, h *host, stdin []byte) execResult {
	ch := make(chan execResult, 1)
	go func() { ch <- h.execute(ctx, stdin) }()
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return execResult{err: ctx.Err()}
	}
}

// stopped builds the error of a Run whose context ended: the caller cancelled, the caller's
// deadline passed, or the Run's own budget (cfg.Timeout) ran out. When the budget ran out
// after failures, the last failure is the error (it says what to fix); KindTimeout is for
// an operation that was merely slow.
func (c *Client) stopped(ctx context.Context, fl failure, last error) *Error {
	if err := ctx.Err(); err != nil {
		fl.err = err
		if errors.Is(err, context.Canceled) {
			return fl.newError(KindCanceled)
		}
		return fl.newError(KindTimeout)
	}
	if last != nil {
		fl.err = last
		return fl.newError(classify(last).kind)
	}
	fl.err = fmt.Errorf("no result within %s: %w", c.cfg.Timeout, context.DeadlineExceeded)
	return fl.newError(KindTimeout)
}

// decode reads the operation's result from its output.
func decode(r execResult, op string, out any) error {
	err := wire.DecodeResult(string(r.stdout), op, out)
	var fault *wire.Fault
	switch {
	case err == nil || errors.As(err, &fault):
		return err
	case errors.Is(err, wire.ErrNoResult):
		return &noResultError{exitCode: r.exitCode, stderr: cleanStderr(r.stderr)}
	default:
		return &decodeError{err}
	}
}

// backoff is the wait before attempt+1: exponential, capped, with ±20% jitter so that many
// Runs failing together do not retry in lockstep.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.backoffBase
	for i := 1; i < attempt && d < c.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.backoffMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// host returns the pool of hostname:port, creating it on first use.
func (c *Client) host(hostname string, port int) (*host, error) {
	key := net.JoinHostPort(hostname, strconv.Itoa(port))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if h, ok := c.hosts[key]; ok {
		return h, nil
	}
	h, err := newHost(c.cfg, hostname, port)
	if err != nil {
		return nil, fmt.Errorf("remote: %s: %w", key, err)
	}
	h.idleTTL = c.idleTTL
	c.hosts[key] = h
	return h, nil
}

// Close deletes the pooled shells on every host (waiting at most a few seconds). Commands
// still running finish and then delete their shells. Later Runs fail. It returns nil: a
// shell that cannot be deleted expires on the server.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	hosts := c.hosts
	c.hosts = map[string]*host{}
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, h := range hosts {
			wg.Add(1)
			go func() { defer wg.Done(); h.close() }()
		}
		wg.Wait()
		close(done)
	}()
	// Deleting a shell on a dead server can hang until the HTTP timeout; do not hold up
	// the provider's shutdown for it.
	select {
	case <-done:
	case <-time.After(closeWait):
	}
	return nil
}

// closeWait bounds how long Close waits for shells to be deleted.
const closeWait = 10 * time.Second

// with returns a copy of fields plus key/value pairs (keys are strings; one that is not is
// printed, not a panic in the middle of a log call).
func with(fields map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(fields)+len(kv)/2)
	for k, v := range fields {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}
