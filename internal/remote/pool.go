package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/masterzen/winrm"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// host is one WinRM endpoint: one winrm.Client, its idle shells, and the slots that cap how
// many commands run on it at once. Every shell is owned by exactly one slot holder or sits in
// idle, and a new shell is only created when no idle one is left, so the host never has
// more shells open than slots: the cap keeps the provider under WinRM's MaxShellsPerUser.
type host struct {
	address   string // host:port, for messages
	url       string
	client    *winrm.Client
	transport *faultTransport
	params    winrm.Parameters
	idleTTL   time.Duration

	slots chan struct{}

	// answered: the server has given this client a shell at least once. A refused connection
	// to a server that never answered is not worth retrying for minutes (see Run).
	answered atomic.Bool

	mu     sync.Mutex
	idle   []*pooledShell
	closed bool
}

type pooledShell struct {
	shell     *winrm.Shell
	id        string
	idleSince time.Time
	reaper    *time.Timer // deletes the shell once idle for idleTTL
}

// Timing of the WinRM conversation.
const (
	// operationTimeout is the OperationTimeout the client sends: how long the server holds
	// a Receive open when there is no output yet.
	operationTimeout = 30 * time.Second
	// responseHeaderTimeout bounds the wait for any answer; it must exceed operationTimeout.
	responseHeaderTimeout = operationTimeout + 30*time.Second
	// defaultIdleTTL: an idle shell is deleted on the server this long after its last
	// command. Reuse pays within a burst of operations (an apply's steps); across bursts a
	// kept shell only costs quota: the provider process ends without a chance to close it,
	// and WinRM keeps an abandoned shell for hours while MaxShellsPerUser may be 5.
	defaultIdleTTL = 2 * time.Second
	// stdinChunk is the most script bytes one Send carries. Base64 grows it by a third, and
	// WinRM on Windows 2003/2008 refuses envelopes over MaxEnvelopeSizekb = 150.
	stdinChunk = 64 << 10
	// maxOutput bounds what a command may print before it is treated as broken.
	maxOutput = 64 << 20
)

func newHost(cfg Config, hostname string, port int) (*host, error) {
	h := &host{
		address: net.JoinHostPort(hostname, strconv.Itoa(port)),
		idleTTL: defaultIdleTTL,
		slots:   make(chan struct{}, cfg.MaxConnectionsPerHost),
	}
	scheme := "http"
	if cfg.HTTPS {
		scheme = "https"
	}
	h.url = fmt.Sprintf("%s://%s/wsman", scheme, h.address)

	epHost := hostname
	if strings.Contains(hostname, ":") {
		epHost = "[" + hostname + "]" // the client builds its URL without bracketing IPv6
	}
	ep := winrm.NewEndpoint(epHost, port, cfg.HTTPS, cfg.Insecure, cfg.CACertificate, nil, nil, responseHeaderTimeout)
	// A copy: winrm.DefaultParameters is one shared pointer; mutating it would change every
	// client in the process.
	h.params = *winrm.DefaultParameters
	h.params.Timeout = fmt.Sprintf("PT%dS", int(operationTimeout/time.Second))
	ntlm := cfg.Auth == AuthNTLM
	h.params.TransportDecorator = func() winrm.Transporter {
		var inner winrm.Transporter
		switch {
		case ntlm && !cfg.HTTPS:
			// Over HTTP every message is sealed with the NTLM session key.
			inner = newSealedNTLM(h.url, cfg.Username, cfg.Password)
		case ntlm:
			inner = &winrm.ClientNTLM{} // TLS protects the messages
		default:
			inner = winrm.NewClientWithDial(nil) // the client's plain (Basic) transport
		}
		h.transport = newFaultTransport(inner)
		return h.transport
	}
	client, err := winrm.NewClientWithParameters(ep, cfg.Username, cfg.Password, &h.params)
	if err != nil {
		return nil, err
	}
	h.client = client
	return h, nil
}

// execResult is the outcome of one command.
type execResult struct {
	stdout, stderr []byte
	exitCode       int
	err            error
	// badShell: the command finished but releasing it failed, so its shell is not reused.
	badShell bool
	// started: the server accepted the command, so its script may have run (in part or in
	// full) even when the attempt failed afterwards.
	started bool
}

// execute runs the command line with stdin on a shell of this host, waiting for a slot
// first. It is the whole of one attempt and always runs to completion (in its own goroutine
// when the caller gave up), so shells are returned or closed and slots released in the
// background.
func (h *host) execute(ctx context.Context, stdin []byte) execResult {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return execResult{err: ctx.Err()}
	}
	defer func() { <-h.slots }()

	for {
		ps, reused, err := h.take(ctx)
		if err != nil {
			return execResult{err: err}
		}
		h.answered.Store(true)
		r, started := h.runOn(ctx, ps, stdin)
		r.started = started
		if r.err == nil && !r.badShell {
			h.putIdle(ps)
			return r
		}
		// A shell whose command failed at transport level is not trusted again.
		h.discard(ps)
		// A reused shell may be gone on the server (idle timeout, WinRM restarted): when
		// not even the command started, try the next shell, and finally a fresh one.
		if reused && !started && ctx.Err() == nil {
			continue
		}
		return r
	}
}

// take returns an idle shell (reused) or creates one. Shells idle for longer than idleTTL
// are closed first.
func (h *host) take(ctx context.Context) (*pooledShell, bool, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, false, errClosed
	}
	var stale []*pooledShell
	var ps *pooledShell
	for len(h.idle) > 0 {
		last := h.idle[len(h.idle)-1]
		h.idle = h.idle[:len(h.idle)-1]
		if time.Since(last.idleSince) > h.idleTTL {
			stale = append(stale, last)
			continue
		}
		ps = last
		ps.reaper.Stop()
		break
	}
	h.mu.Unlock()
	for _, s := range stale {
		h.discard(s)
	}
	if ps != nil {
		return ps, true, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	ps, err := h.createShell()
	return ps, false, err
}

// createShell is the client's CreateShell, done through the transport so the shell id is
// known (the winrm.Shell keeps it private, and errors of Send are recorded by shell id).
func (h *host) createShell() (*pooledShell, error) {
	req := winrm.NewOpenShellRequest(h.url, &h.client.Parameters)
	body, err := h.transport.Post(h.client, req)
	if err != nil {
		return nil, err
	}
	id, err := winrm.ParseOpenShellResponse(body)
	if err != nil || id == "" {
		return nil, fmt.Errorf("the answer to Create shell has no ShellId (%v)", err)
	}
	return &pooledShell{shell: h.client.NewShell(id), id: id}, nil
}

func (h *host) putIdle(ps *pooledShell) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.discard(ps)
		return
	}
	ps.idleSince = time.Now()
	h.idle = append(h.idle, ps)
	ps.reaper = time.AfterFunc(h.idleTTL, func() { h.expire(ps) })
	h.mu.Unlock()
}

// expire deletes a shell that stayed idle for idleTTL, unless it was taken meanwhile.
func (h *host) expire(ps *pooledShell) {
	h.mu.Lock()
	i := slices.Index(h.idle, ps)
	if i < 0 {
		h.mu.Unlock()
		return
	}
	h.idle = slices.Delete(h.idle, i, i+1)
	h.mu.Unlock()
	h.discard(ps)
}

// discard deletes a shell on the server, best effort: it may be gone already.
func (h *host) discard(ps *pooledShell) {
	_ = ps.shell.Close()
	_ = h.transport.takeSendErr(ps.id)
}

// closeIdle deletes every idle shell, e.g. to free quota, and reports how many.
func (h *host) closeIdle() int {
	h.mu.Lock()
	idle := h.idle
	h.idle = nil
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, ps := range idle {
		wg.Add(1)
		go func() { defer wg.Done(); h.discard(ps) }()
	}
	wg.Wait()
	return len(idle)
}

// runOn runs the command on one shell. started reports whether the server accepted the
// command (so a failure before that leaves nothing running).
func (h *host) runOn(ctx context.Context, ps *pooledShell, stdin []byte) (execResult, bool) {
	// The command's own context: cancelling it makes the client signal terminate and stop
	// polling. Only the client's output goroutine ever calls Command.Close while the command
	// runs (two concurrent Close calls can panic in the pinned client).
	cmdCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, err := ps.shell.ExecuteWithContext(cmdCtx, wire.CommandLine)
	if err != nil {
		var ece *winrm.ExecuteCommandError
		if errors.As(err, &ece) && ece.Inner != nil {
			// The command answer had no CommandId; faults are already typed by the transport.
			err = ece.Inner
		}
		return execResult{err: err}, false
	}

	var stdout, stderr capBuffer
	var outErr, errErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, outErr = io.Copy(&stdout, cmd.Stdout) }()
	go func() { defer wg.Done(); _, errErr = io.Copy(&stderr, cmd.Stderr) }()

	sendErr := h.writeStdin(ps, stdin)
	if sendErr != nil {
		cancel()
	}
	cmd.Wait()
	wg.Wait()

	r := execResult{stdout: stdout.Bytes(), stderr: stderr.Bytes(), exitCode: cmd.ExitCode()}
	switch {
	case sendErr != nil:
		r.err = errSendLost
		if cause := h.transport.takeSendErr(ps.id); cause != nil {
			r.err = cause
		}
	case outErr != nil:
		r.err = outErr
	case errErr != nil:
		r.err = errErr
	case stdout.overflow || stderr.overflow:
		r.err = fmt.Errorf("the command printed more than %d MiB", maxOutput>>20)
	default:
		// Done. Release the command on the server, as WinRM clients do, before the shell
		// runs another one.
		if err := cmd.Close(); err != nil {
			// The output is complete; only the shell is in doubt.
			r.badShell = true
		}
	}
	if r.err != nil && ctx.Err() != nil {
		r.err = ctx.Err()
	}
	return r, true
}

// writeStdin sends the script in chunks, the last one marked as the end of input: its
// stream carries End="true" ([MS-WSMV], the Send message: End on a stream says no more input
// follows), so the end of input costs no Send of its own. The pinned client's writer cannot
// do that (its WriteClose refuses to write once it has marked the end), so the pool builds
// each Send with the client's own NewSendInputRequest and posts it through the transport,
// which saw the command's id in the answer that started it.
func (h *host) writeStdin(ps *pooledShell, stdin []byte) error {
	cmdID := h.transport.takeCommandID(ps.id)
	if cmdID == "" {
		return errors.New("remote: the answer that started the command carried no CommandId")
	}
	for {
		n := min(len(stdin), stdinChunk)
		last := n == len(stdin)
		req := winrm.NewSendInputRequest(h.url, ps.id, cmdID, stdin[:n], last, &h.params)
		_, err := h.transport.Post(h.client, req)
		req.Free()
		if err != nil || last {
			return err
		}
		stdin = stdin[n:]
	}
}

// capBuffer keeps up to maxOutput bytes and drains the rest, so a runaway command cannot
// exhaust memory and the client's output pipe never blocks.
type capBuffer struct {
	bytes.Buffer
	overflow bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); len(p) > room {
		b.overflow = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// close marks the host closed and deletes its idle shells; shells in use are deleted when
// their command ends.
func (h *host) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.closeIdle()
	if h.transport != nil {
		if s, ok := h.transport.inner.(*sealedNTLM); ok {
			s.closeIdle() // and their NTLM security contexts
		}
	}
}

var errClosed = errors.New("remote: the client is closed")
