package remote

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/masterzen/winrm"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/scripts"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

const (
	testUser = `corp\admin`
	testPass = "Pa55w0rd!secret"
)

// scriptFunc answers one operation, given the script the client sent.
type scriptFunc func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result

// scriptHandler is the remote end of the contract: unpack the command, parse the script,
// and let f answer. Anything malformed fails the test.
func scriptHandler(t *testing.T, f scriptFunc) wsman.Handler {
	return wsman.HandlerFunc(func(ctx context.Context, cmd wsman.Command) wsman.Result {
		stdin, err := io.ReadAll(cmd.Stdin)
		if err != nil {
			t.Errorf("reading stdin: %v", err)
			return wsman.Result{ExitCode: 1}
		}
		if len(cmd.CommandLine) >= 8191 {
			t.Errorf("command line of %d characters: cmd.exe drops lines over 8191", len(cmd.CommandLine))
		}
		text, err := wire.Unpack(cmd.CommandLine, stdin)
		if err != nil {
			t.Errorf("unpack: %v", err)
			return wsman.Result{ExitCode: 1}
		}
		s, err := wire.Parse(text)
		if err != nil {
			t.Errorf("parse: %v", err)
			return wsman.Result{ExitCode: 1}
		}
		if s.Prelude != scripts.Prelude() {
			t.Errorf("the script's prelude is not scripts.Prelude()")
		}
		if body, _ := scripts.Body(s.Operation); s.Body != body {
			t.Errorf("the script's body is not scripts.Body(%q)", s.Operation)
		}
		return f(ctx, s, cmd)
	})
}

// result answers with op's result.
func result(t *testing.T, op string, v any) wsman.Result {
	out, err := wire.EncodeResult(op, v)
	if err != nil {
		t.Fatal(err)
	}
	return wsman.Result{Stdout: []byte("some noise\r\n" + out)}
}

func okHandler(t *testing.T) wsman.Handler {
	return scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		server, _ := s.Param("Server")
		return result(t, s.Operation, exchange.Facts{Server: server.(string)})
	})
}

type fixture struct {
	srv    *wsman.Server
	ts     *httptest.Server
	client *Client
	target Target
	port   int
}

// newFixture serves a wsman.Server with h over HTTP (or TLS) and returns a Client for it.
func newFixture(t *testing.T, h wsman.Handler, tlsServer bool, opts wsman.Options, edit func(*Config)) *fixture {
	t.Helper()
	opts.Handler = h
	if opts.Authenticate == nil {
		opts.Authenticate = func(u, p string) bool { return u == testUser && p == testPass }
	}
	if opts.ReceiveTimeout == 0 {
		opts.ReceiveTimeout = 200 * time.Millisecond
	}
	if opts.NTLM == nil {
		// Basic tests are about WS-Management, not its security: take clear messages over
		// HTTP. Tests with NTLM get Windows' default, AllowUnencrypted = false.
		opts.AllowUnencrypted = true
	}
	srv := wsman.NewServer(opts)
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ConnContext = srv.ConnContext
	if tlsServer {
		// Failed handshakes are what some tests are about; keep them out of the output.
		ts.Config.ErrorLog = log.New(io.Discard, "", 0)
		ts.StartTLS()
	} else {
		ts.Start()
	}
	u, _ := url.Parse(ts.URL)
	_, portText, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portText)
	// Over plain HTTP the fixture's server takes Basic in the clear (the protocol under test
	// here is WS-Management, not its security); tests of the refusal turn it off in edit.
	cfg := Config{Username: testUser, Password: testPass, Port: port, HTTPS: tlsServer, Timeout: 5 * time.Second,
		AllowUnencrypted: !tlsServer}
	if edit != nil {
		edit(&cfg)
	}
	c := newTestClient(t, cfg)
	t.Cleanup(func() {
		_ = c.Close()
		srv.Close()
		ts.Close()
	})
	return &fixture{srv: srv, ts: ts, client: c, target: Target{Server: "EX01", Address: "127.0.0.1"}, port: port}
}

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.backoffBase, c.backoffMax = 5*time.Millisecond, 50*time.Millisecond
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("want *remote.Error, got %T: %v", err, err)
	}
	return re
}

func TestProbeRoundTrip(t *testing.T) {
	boot := time.Date(2026, 3, 1, 4, 5, 6, 0, time.UTC)
	backup := boot.Add(-24 * time.Hour)
	want := exchange.Facts{
		Server: "EX01", FQDN: "ex01.corp.example", Product: "2007", Build: "8.3.83.6", BootTime: boot,
		OS:            exchange.OSFacts{Caption: "Microsoft Windows Server 2008 R2 Enterprise", Version: "6.1.7601", ServicePack: 1},
		Roles:         []string{"Mailbox", "ClientAccess"},
		Cluster:       &exchange.ClusterFacts{Name: "CMS01", Type: "ccr", Nodes: []string{"EX01", "EX02"}, ActiveNode: "EX01", Active: true},
		Backups:       exchange.BackupFacts{Databases: []exchange.DatabaseBackup{{Name: "DB1", LastFull: &backup}}},
		Services:      []exchange.ServiceFacts{{Name: "MSExchangeIS", State: "Running", StartMode: "Auto"}},
		PendingReboot: []string{},
	}
	var gotCommandLine string
	f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		gotCommandLine = cmd.CommandLine
		if s.Operation != "probe" {
			t.Errorf("operation %q", s.Operation)
		}
		if v, _ := s.Param("Server"); v != "EX01" {
			t.Errorf("Server param %v", v)
		}
		return result(t, "probe", want)
	}), false, wsman.Options{}, nil)

	got, err := f.client.Probe(testCtx(t), f.target)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if string(wantJSON) != string(gotJSON) {
		t.Fatalf("facts differ:\n got %s\nwant %s", gotJSON, wantJSON)
	}
	if gotCommandLine != wire.CommandLine {
		t.Errorf("command line is not wire.CommandLine: %q", gotCommandLine)
	}
}

func TestHugeParameterTravelsOnStdin(t *testing.T) {
	raw := make([]byte, 150<<10)
	_, _ = rand.Read(raw)
	big := base64.StdEncoding.EncodeToString(raw) // 200 KB that gzip cannot shrink much
	var lineLen int
	f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		lineLen = len(cmd.CommandLine)
		if v, _ := s.Param("Blob"); v != big {
			t.Errorf("Blob param did not survive the trip")
		}
		return result(t, s.Operation, exchange.Facts{Server: "EX01"})
	}), false, wsman.Options{}, nil)

	err := f.client.Run(testCtx(t), f.target, "probe", []wire.Param{{Name: "Server", Value: "EX01"}, {Name: "Blob", Value: big}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lineLen == 0 || lineLen > 4000 {
		t.Fatalf("command line of %d characters; want far under 8191", lineLen)
	}
	if sends := f.srv.Stats().Sends; sends < 4 {
		t.Errorf("stdin went in %d Sends; want it split into chunks", sends)
	}
}

func TestShellsAreReused(t *testing.T) {
	f := newFixture(t, okHandler(t), false, wsman.Options{}, nil)
	for i := 0; i < 10; i++ {
		if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
			t.Fatal(err)
		}
	}
	st := f.srv.Stats()
	if st.ShellsCreated != 1 || st.CommandsStarted != 10 {
		t.Fatalf("%d shells for %d commands; want 1 shell reused", st.ShellsCreated, st.CommandsStarted)
	}
	// One Send per command: the script and the end of input (End="true") travel together.
	if st.Sends != st.CommandsStarted {
		t.Errorf("%d Sends for %d commands; want the script and its end of input in one Send", st.Sends, st.CommandsStarted)
	}
	if err := f.client.Close(); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.OpenShells(testUser); n != 0 {
		t.Fatalf("Close left %d shells open", n)
	}
	if _, err := f.client.Probe(testCtx(t), f.target); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

func TestPerHostCap(t *testing.T) {
	const runs, perHost = 20, 2
	h := scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		time.Sleep(10 * time.Millisecond)
		return result(t, s.Operation, exchange.Facts{})
	})
	// The server allows only as many shells as the cap: any excess would be a quota fault.
	f := newFixture(t, h, false, wsman.Options{MaxShellsPerUser: perHost}, func(c *Config) { c.MaxConnectionsPerHost = perHost })
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for i := 0; i < runs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.client.Probe(testCtx(t), f.target)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := f.srv.Stats()
	if got := f.srv.MaxConcurrentCommands(testUser); got > perHost {
		t.Errorf("server saw %d concurrent commands; cap is %d", got, perHost)
	}
	if st.ShellsCreated > perHost || st.ShellQuotaFaults != 0 {
		t.Errorf("%d shells created, %d quota faults; want at most %d shells", st.ShellsCreated, st.ShellQuotaFaults, perHost)
	}
	if st.CommandsStarted != runs {
		t.Errorf("%d commands for %d runs", st.CommandsStarted, runs)
	}
}

func TestRetriesTransientHTTPFailures(t *testing.T) {
	f := newFixture(t, okHandler(t), false, wsman.Options{}, nil)
	f.srv.FailNext(3, http.StatusServiceUnavailable)
	if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
		t.Fatalf("want success after 3 injected 503s, got %v", err)
	}
	if n := f.srv.Stats().InjectedFailures; n != 3 {
		t.Fatalf("%d injected failures seen", n)
	}
}

func TestFailureDuringCommandDiscardsShell(t *testing.T) {
	// The first command makes the server fail the next request (its Send or Receive): the
	// command fails at transport level, its shell is discarded, and the retry runs on a
	// new shell.
	var srv *wsman.Server
	var calls atomic.Int32
	f := newFixture(t, wsman.HandlerFunc(func(ctx context.Context, cmd wsman.Command) wsman.Result {
		first := calls.Add(1) == 1
		if first {
			srv.FailNext(1, http.StatusServiceUnavailable)
		}
		_, _ = io.ReadAll(cmd.Stdin)
		out, _ := wire.EncodeResult("probe", exchange.Facts{Server: "EX01"})
		if first {
			return wsman.Result{ExitCode: 1}
		}
		return wsman.Result{Stdout: []byte(out)}
	}), false, wsman.Options{}, nil)
	srv = f.srv
	if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
		t.Fatal(err)
	}
	if st := f.srv.Stats(); st.ShellsCreated != 2 || st.CommandsStarted != 2 {
		t.Fatalf("%d shells, %d commands; want the failed shell replaced", st.ShellsCreated, st.CommandsStarted)
	}
	waitFor(t, func() bool { return f.srv.OpenShells(testUser) == 1 }, "the failed shell deleted")
}

func TestTransientFailureExhaustsBudget(t *testing.T) {
	f := newFixture(t, okHandler(t), false, wsman.Options{}, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	f.srv.FailNext(1<<30, http.StatusBadGateway)
	start := time.Now()
	_, err := f.client.Probe(testCtx(t), f.target)
	re := asError(t, err)
	if re.Kind != KindServer {
		t.Fatalf("kind %s: %v", re.Kind, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	if !strings.Contains(err.Error(), "HTTP 502") || !strings.Contains(err.Error(), "attempts") {
		t.Errorf("message: %v", err)
	}
	if f.srv.Stats().InjectedFailures < 2 {
		t.Errorf("not retried")
	}
}

func TestUnauthorizedIsNotRetried(t *testing.T) {
	for _, auth := range []Auth{AuthBasic, AuthNTLM} {
		t.Run(string(auth), func(t *testing.T) {
			f := newFixture(t, okHandler(t), false, wsman.Options{}, func(c *Config) {
				c.Password = "Wr0ng-Pa55w0rd!"
				c.Auth = auth
			})
			_, err := f.client.Probe(testCtx(t), f.target)
			re := asError(t, err)
			if re.Kind != KindAuth || re.Server != "EX01" {
				t.Fatalf("kind %s server %s: %v", re.Kind, re.Server, err)
			}
			msg := err.Error()
			for _, want := range []string{"server EX01 (127.0.0.1:" + strconv.Itoa(f.port) + ")", `user "corp\\admin"`, "HTTP 401", `auth = "` + string(auth) + `"`} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q: %s", want, msg)
				}
			}
			if strings.Contains(msg, "Wr0ng-Pa55w0rd!") || strings.Contains(msg, testPass) {
				t.Errorf("message contains the password: %s", msg)
			}
			// Basic: one request. NTLM: the anonymous request, then the Basic fallback.
			st := f.srv.Stats()
			if st.Unauthorized > 2 || st.ShellsCreated != 0 {
				t.Errorf("retried: %+v", st)
			}
		})
	}
}

// Over HTTPS (only: see TestNTLMOverHTTPNeverFallsBackToBasic) the password travels under TLS.
func TestNTLMFallsBackToBasicWhenOnlyBasicIsOffered(t *testing.T) {
	f := newFixture(t, okHandler(t), true, wsman.Options{}, func(c *Config) { c.Auth = AuthNTLM; c.Insecure = true })
	if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
		t.Fatal(err)
	}
}

func TestTLS(t *testing.T) {
	f := newFixture(t, okHandler(t), true, wsman.Options{}, nil)
	_, err := f.client.Probe(testCtx(t), f.target)
	re := asError(t, err)
	if re.Kind != KindTLS || !strings.Contains(err.Error(), "ca_certificate") || !strings.Contains(err.Error(), "x509") {
		t.Fatalf("kind %s: %v", re.Kind, err)
	}
	if n := f.srv.Requests(); n != 0 {
		t.Errorf("the server saw %d requests", n)
	}

	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ts.Certificate().Raw})
	withCA := newTestClient(t, Config{Username: testUser, Password: testPass, HTTPS: true, Port: f.port, CACertificate: caPEM, Timeout: 5 * time.Second})
	defer withCA.Close()
	if _, err := withCA.Probe(testCtx(t), f.target); err != nil {
		t.Fatalf("with ca_certificate: %v", err)
	}

	insecure := newTestClient(t, Config{Username: testUser, Password: testPass, HTTPS: true, Port: f.port, Insecure: true, Timeout: 5 * time.Second})
	defer insecure.Close()
	if _, err := insecure.Probe(testCtx(t), f.target); err != nil {
		t.Fatalf("with insecure: %v", err)
	}
}

func TestHTTPSAgainstPlainHTTPListener(t *testing.T) {
	f := newFixture(t, okHandler(t), false, wsman.Options{}, func(c *Config) { c.HTTPS = true; c.Insecure = true })
	_, err := f.client.Probe(testCtx(t), f.target)
	if re := asError(t, err); re.Kind != KindTLS || !strings.Contains(err.Error(), "https = false") {
		t.Fatalf("kind %s: %v", re.Kind, err)
	}
}

func TestCancellationReturnsPromptly(t *testing.T) {
	started := make(chan struct{}, 1)
	stopped := make(chan struct{}, 1)
	f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			stopped <- struct{}{}
		case <-time.After(20 * time.Second):
		}
		return wsman.Result{ExitCode: 1}
	}), false, wsman.Options{ReceiveTimeout: 50 * time.Millisecond}, nil)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := f.client.Probe(ctx, f.target)
		errc <- err
	}()
	<-started
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || asError(t, err).Kind != KindCanceled {
			t.Fatalf("want a cancellation, got %v", err)
		}
		if !strings.Contains(err.Error(), "server EX01") {
			t.Errorf("message: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return promptly after cancel")
	}
	// In the background the client signals the command and deletes its shell.
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the command was not stopped on the server")
	}
	waitFor(t, func() bool { return f.srv.OpenShells(testUser) == 0 }, "the shell of a cancelled command is deleted")
}

func TestBudgetTimeout(t *testing.T) {
	f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		<-ctx.Done()
		return wsman.Result{ExitCode: 1}
	}), false, wsman.Options{ReceiveTimeout: 50 * time.Millisecond}, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	start := time.Now()
	_, err := f.client.Probe(context.Background(), f.target)
	re := asError(t, err)
	if re.Kind != KindTimeout || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "raise the timeout") {
		t.Fatalf("kind %s: %v", re.Kind, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
}

func TestScriptFaultReachesCaller(t *testing.T) {
	f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		out, _ := wire.EncodeFault(s.Operation, "NOT_EXCHANGE", "Exchange is not installed on this server.")
		return wsman.Result{Stdout: []byte(out), ExitCode: 1}
	}), false, wsman.Options{}, nil)
	_, err := f.client.Probe(testCtx(t), f.target)
	var fault *wire.Fault
	if !errors.As(err, &fault) || fault.Code != "NOT_EXCHANGE" {
		t.Fatalf("want a *wire.Fault through the error, got %v", err)
	}
	if re := asError(t, err); re.Kind != KindFault || re.Operation != "probe" {
		t.Fatalf("kind %s op %s", re.Kind, re.Operation)
	}
	if !strings.Contains(err.Error(), "server EX01") || !strings.Contains(err.Error(), "Exchange is not installed") {
		t.Errorf("message: %v", err)
	}
	if n := f.srv.Stats().CommandsStarted; n != 1 {
		t.Errorf("a fault was retried: %d commands", n)
	}
}

func TestUnreadableResultsAreNotRetried(t *testing.T) {
	for name, res := range map[string]wsman.Result{
		"no result":  {Stdout: []byte("hello"), Stderr: []byte("#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"Error\">The term 'Get-Thing' is not recognized_x000D__x000A_</S></Objs>"), ExitCode: 1},
		"bad JSON":   {Stdout: []byte(wire.ResultMarker + "{not json\r\n")},
		"wrong type": {Stdout: []byte(wire.ResultMarker + `{"operation":"probe","ok":true,"result":{"server":42}}` + "\r\n")},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result { return res }), false, wsman.Options{}, nil)
			_, err := f.client.Probe(testCtx(t), f.target)
			if re := asError(t, err); re.Kind != KindProtocol {
				t.Fatalf("kind %s: %v", re.Kind, err)
			}
			if n := f.srv.Stats().CommandsStarted; n != 1 {
				t.Errorf("retried: %d commands", n)
			}
			if name == "no result" && (!strings.Contains(err.Error(), "exit code 1") || !strings.Contains(err.Error(), "The term 'Get-Thing' is not recognized")) {
				t.Errorf("message: %v", err)
			}
		})
	}
}

func TestUnknownOperation(t *testing.T) {
	c := newTestClient(t, Config{Username: testUser, Password: testPass, AllowUnencrypted: true})
	if err := c.Run(testCtx(t), Target{Server: "EX01"}, "no-such-op", nil, nil); err == nil || !strings.Contains(err.Error(), "unknown operation") {
		t.Fatalf("got %v", err)
	}
}

// A server that refuses the connection and never answered this client is tried twice, not
// until the timeout (a wrong port or a Windows without WinRM: retrying only delays the error,
// minutes per server in a plan); the error says so and what to check.
func TestRefusedFirstContactIsReportedAfterTwoAttempts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := newTestClient(t, Config{Username: testUser, Password: testPass, AllowUnencrypted: true, Timeout: time.Minute})
	_, err = c.Probe(testCtx(t), Target{Server: "EX01", Address: addr})
	re := asError(t, err)
	if re.Kind != KindUnreachable || re.Address != addr {
		t.Fatalf("kind %s address %s: %v", re.Kind, re.Address, err)
	}
	if !strings.Contains(err.Error(), "connection refused; gave up after 2 attempts") || !strings.Contains(err.Error(), "winrm quickconfig") {
		t.Errorf("message: %v", err)
	}
}

// A server that answered before and now refuses (its WinRM service restarting, a reboot)
// is retried as any transient failure, until the operation's timeout.
func TestRefusedAfterAnsweringIsRetried(t *testing.T) {
	f := newFixture(t, okHandler(t), false, wsman.Options{}, func(c *Config) { c.Timeout = 2 * time.Second })
	if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
		t.Fatal(err)
	}
	f.ts.Close() // the listener is gone: connections are refused from now on
	_, err := f.client.Probe(testCtx(t), f.target)
	re := asError(t, err)
	if re.Kind != KindUnreachable || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("kind %s: %v", re.Kind, err)
	}
	if strings.Contains(err.Error(), "after 2 attempts") || !strings.Contains(err.Error(), "attempts") {
		t.Errorf("a server that answered before was not retried beyond two attempts: %v", err)
	}
}

func TestQuotaFaultClosesIdleShellsAndRetries(t *testing.T) {
	f := newFixture(t, okHandler(t), false, wsman.Options{MaxShellsPerUser: 1}, nil)
	// Another client of the same user holds the only shell the quota allows.
	params := *winrm.DefaultParameters
	other, err := winrm.NewClientWithParameters(winrm.NewEndpoint("127.0.0.1", f.port, false, false, nil, nil, nil, 5*time.Second), testUser, testPass, &params)
	if err != nil {
		t.Fatal(err)
	}
	held, err := other.CreateShell()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		waitFor(t, func() bool { return f.srv.Stats().ShellQuotaFaults > 0 }, "a quota fault")
		_ = held.Close()
	}()
	if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
		t.Fatalf("want success once the quota frees up, got %v", err)
	}

	// A quota that never frees up is reported as such: now f.client's idle shell holds it.
	c := newTestClient(t, Config{Username: testUser, Password: testPass, AllowUnencrypted: true, Port: f.port, Timeout: 200 * time.Millisecond})
	defer c.Close()
	_, err = c.Probe(testCtx(t), f.target)
	if re := asError(t, err); re.Kind != KindQuota || !strings.Contains(err.Error(), "MaxShellsPerUser") || !strings.Contains(err.Error(), "2150859173") {
		t.Fatalf("kind %s: %v", re.Kind, err)
	}
}

func TestStaleShellIsReplaced(t *testing.T) {
	f := newFixture(t, okHandler(t), false, wsman.Options{}, nil)
	if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
		t.Fatal(err)
	}
	f.srv.Close() // WinRM restarted: the pooled shell is gone on the server
	if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
		t.Fatalf("want a fresh shell, got %v", err)
	}
	if n := f.srv.ShellsCreated(); n != 2 {
		t.Fatalf("%d shells created", n)
	}
}

func TestIdleShellsExpire(t *testing.T) {
	f := newFixture(t, okHandler(t), false, wsman.Options{}, nil)
	f.client.idleTTL = time.Nanosecond
	for i := 0; i < 3; i++ {
		if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.srv.ShellsCreated(); n != 3 {
		t.Fatalf("%d shells created; want each expired shell replaced", n)
	}
	// Nobody calls again, yet the last shell is deleted on the server: a provider process
	// ends without closing its client, and an abandoned shell would hold quota for hours.
	waitFor(t, func() bool { return f.srv.OpenShells(testUser) == 0 }, "the idle shell deleted without another call")
}

func TestAddressWithPort(t *testing.T) {
	f := newFixture(t, okHandler(t), false, wsman.Options{}, func(c *Config) { c.Port = 1 })
	facts, err := f.client.Probe(testCtx(t), Target{Server: "EX01", Address: "127.0.0.1:" + strconv.Itoa(f.port)})
	if err != nil || facts.Server != "EX01" {
		t.Fatalf("%+v %v", facts, err)
	}
}

func TestConfigValidation(t *testing.T) {
	valid := Config{Username: testUser, Password: testPass, AllowUnencrypted: true}
	cases := []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Username = "" }, "username must be set"},
		{func(c *Config) { c.Password = "" }, "password must be set"},
		{func(c *Config) { c.Port = 70000 }, "port must be between 1 and 65535"},
		{func(c *Config) { c.Port = -1 }, "port must be between 1 and 65535"},
		{func(c *Config) { c.Auth = "kerberos" }, `auth "kerberos" is not supported`},
		{func(c *Config) { c.Auth = "digest" }, `auth must be "basic" or "ntlm"`},
		{func(c *Config) { c.Timeout = -time.Second }, "timeout must not be negative"},
		{func(c *Config) { c.MaxConnectionsPerHost = 5 }, "max_connections_per_host must be between 1 and 4"},
		{func(c *Config) { c.HTTPS = true; c.CACertificate = []byte("not pem") }, "ca_certificate must be a PEM certificate"},
		{func(c *Config) { c.CACertificate = []byte("x") }, "https is false"},
		{func(c *Config) { c.Insecure = true }, "insecure is set but https is false"},
		{func(c *Config) { c.HTTPS = true; c.Insecure = true; c.CACertificate = testCAPEM(t) }, "insecure and ca_certificate are both set"},
		{func(c *Config) { c.AllowUnencrypted = false }, `auth "basic" with https = false sends the password`},
		{func(c *Config) { c.Auth = AuthBasic; c.AllowUnencrypted = false }, "set allow_unencrypted = true"},
	}
	for _, tc := range cases {
		cfg := valid
		cfg.Password = "Sup3r-S3cret"
		tc.edit(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
			continue
		}
		if strings.Contains(err.Error(), "Sup3r-S3cret") {
			t.Errorf("the error echoes the password: %v", err)
		}
	}
	c, err := New(valid)
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Port != 5985 || c.cfg.Auth != AuthBasic || c.cfg.Timeout != DefaultTimeout || c.cfg.MaxConnectionsPerHost != 2 {
		t.Errorf("defaults: port %d auth %q timeout %s max %d", c.cfg.Port, c.cfg.Auth, c.cfg.Timeout, c.cfg.MaxConnectionsPerHost)
	}
	valid.HTTPS = true
	if c, _ := New(valid); c.cfg.Port != 5986 {
		t.Errorf("HTTPS default port %d", c.cfg.Port)
	}
	// Basic over HTTPS and NTLM over HTTP (sealed) need no consent.
	for _, ok := range []Config{
		{Username: testUser, Password: testPass, HTTPS: true},
		{Username: testUser, Password: testPass, Auth: AuthNTLM},
	} {
		if _, err := New(ok); err != nil {
			t.Errorf("%+v: %v", ok.Auth, err)
		}
	}
}

// testCAPEM is a certificate in PEM, for configuration checks.
func testCAPEM(t *testing.T) []byte {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for: %s", what)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
