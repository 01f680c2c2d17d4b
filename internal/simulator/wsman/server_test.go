package wsman

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/masterzen/winrm"
)

const (
	testUser = `corp\admin`
	testPass = "s3cret!"
)

// newTestServer serves a Server on httptest and returns it with a real winrm client.
func newTestServer(t *testing.T, o Options) (*Server, *httptest.Server, *winrm.Client) {
	t.Helper()
	if o.Authenticate == nil {
		o.Authenticate = func(u, p string) bool { return u == testUser && p == testPass }
	}
	if o.NTLM == nil {
		o.AllowUnencrypted = true // Basic over HTTP: these tests are about the protocol
	}
	s := NewServer(o)
	ts := httptest.NewUnstartedServer(s)
	ts.Config.ConnContext = s.ConnContext
	ts.Start()
	t.Cleanup(func() { s.Close(); ts.Close() })
	return s, ts, newClient(t, ts, testUser, testPass)
}

func newClient(t *testing.T, ts *httptest.Server, user, pass string) *winrm.Client {
	t.Helper()
	u, _ := url.Parse(ts.URL)
	host, portText, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portText)
	params := *winrm.DefaultParameters // a copy: DefaultParameters is shared
	c, err := winrm.NewClientWithParameters(winrm.NewEndpoint(host, port, false, false, nil, nil, nil, 10*time.Second), user, pass, &params)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRunWithoutStdin(t *testing.T) {
	var got Command
	var mu sync.Mutex
	_, _, c := newTestServer(t, Options{Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result {
		mu.Lock()
		got = cmd
		mu.Unlock()
		return Result{Stdout: []byte("hello & <world>\r\n"), Stderr: []byte("a warning"), ExitCode: 3}
	})})
	stdout, stderr, code, err := c.RunWithContextWithString(testCtx(t), `cmd /c "echo <x> & ver"`, "")
	if err != nil {
		t.Fatal(err)
	}
	if stdout != "hello & <world>\r\n" || stderr != "a warning" || code != 3 {
		t.Fatalf("got stdout %q stderr %q code %d", stdout, stderr, code)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.CommandLine != `cmd /c "echo <x> & ver"` {
		t.Errorf("command line %q", got.CommandLine)
	}
	if got.User != testUser || got.ShellID == "" || got.CommandID == "" {
		t.Errorf("command %+v", got)
	}
}

func TestRunWithStdinAndArguments(t *testing.T) {
	_, _, c := newTestServer(t, Options{Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result {
		in, err := io.ReadAll(cmd.Stdin)
		if err != nil {
			return Result{Stderr: []byte(err.Error()), ExitCode: 1}
		}
		return Result{Stdout: append([]byte(cmd.CommandLine+"|"), in...)}
	})})
	// Larger than one Send (the client sends at most about 150 KB per request) and than one
	// Receive answer, so both are split.
	big := bytes.Repeat([]byte("0123456789abcdef"), 30000)
	shell, err := c.CreateShell()
	if err != nil {
		t.Fatal(err)
	}
	defer shell.Close()
	cmd, err := shell.ExecuteWithContext(testCtx(t), "more", "/S", "x")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&out, cmd.Stdout); close(done) }()
	go func() { _, _ = io.Copy(io.Discard, cmd.Stderr) }()
	if _, err := cmd.Stdin.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Stdin.Close(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	<-done
	want := append([]byte("more /S x|"), big...)
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("stdout: got %d bytes, want %d", out.Len(), len(want))
	}
	if cmd.ExitCode() != 0 {
		t.Fatalf("exit code %d", cmd.ExitCode())
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("signal after done: %v", err)
	}
}

func TestSlowHandlerCompletesThroughTimedOutRetries(t *testing.T) {
	s, _, c := newTestServer(t, Options{
		ReceiveTimeout: 30 * time.Millisecond,
		Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result {
			time.Sleep(200 * time.Millisecond)
			return Result{Stdout: []byte("finally")}
		}),
	})
	stdout, _, code, err := c.RunWithContextWithString(testCtx(t), "slow", "")
	if err != nil || stdout != "finally" || code != 0 {
		t.Fatalf("stdout %q code %d err %v", stdout, code, err)
	}
	if s.Stats().TimedOutReceives == 0 {
		t.Fatal("expected at least one w:TimedOut answer")
	}
}

func TestSignalCancelsHandlerContext(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	s, _, c := newTestServer(t, Options{
		ReceiveTimeout: 50 * time.Millisecond,
		Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result {
			close(started)
			select {
			case <-ctx.Done():
				close(cancelled)
				return Result{ExitCode: 1}
			case <-time.After(10 * time.Second):
				return Result{}
			}
		}),
	})
	shell, err := c.CreateShell()
	if err != nil {
		t.Fatal(err)
	}
	defer shell.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd, err := shell.ExecuteWithContext(ctx, "wait")
	if err != nil {
		t.Fatal(err)
	}
	<-started
	cancel() // the client signals terminate
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler context not cancelled by Signal")
	}
	cmd.Wait()
	if s.Stats().Signals == 0 {
		t.Fatal("no Signal request seen")
	}
}

func TestDeleteCancelsCommands(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{})
	s, _, c := newTestServer(t, Options{Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return Result{}
	})})
	shell, err := c.CreateShell()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shell.ExecuteWithContext(context.Background(), "wait"); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := shell.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler context not cancelled by Delete")
	}
	if n := s.OpenShells(testUser); n != 0 {
		t.Fatalf("open shells %d", n)
	}
}

func TestWrongPasswordIs401WithBasicChallenge(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	c := newClient(t, ts, testUser, "wrong")
	_, err := c.CreateShell()
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("want a 401 error, got %v", err)
	}
	resp, err := http.Post(ts.URL+"/wsman", contentType, strings.NewReader("<x/>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="WSMAN"` {
		t.Fatalf("status %d, challenge %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if st := s.Stats(); st.Unauthorized != 2 || st.ShellsCreated != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestShellQuotaFault(t *testing.T) {
	s, ts, c := newTestServer(t, Options{MaxShellsPerUser: 2, Authenticate: func(u, p string) bool { return p == testPass }})
	var shells []*winrm.Shell
	for i := 0; i < 2; i++ {
		sh, err := c.CreateShell()
		if err != nil {
			t.Fatal(err)
		}
		shells = append(shells, sh)
	}
	// The masterzen client does not report a fault answer as an error (it reads no ShellId
	// and returns a shell with an empty id), so look at the raw answer.
	status, text := post(t, ts, createBody)
	if status != http.StatusInternalServerError {
		t.Fatalf("status %d", status)
	}
	for _, want := range []string{"w:InternalError", `Code="` + CodeMaxShells + `"`, "The WS-Management service cannot process the request. This user is allowed a maximum number of 2 concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user."} {
		if !strings.Contains(text, want) {
			t.Errorf("fault lacks %q: %s", want, text)
		}
	}
	// The quota is per user.
	other := newClient(t, ts, "other", testPass)
	if _, err := other.CreateShell(); err != nil {
		t.Fatalf("another user: %v", err)
	}
	// Closing a shell frees quota.
	if err := shells[0].Close(); err != nil {
		t.Fatal(err)
	}
	createShell(t, ts)
	if st := s.Stats(); st.ShellQuotaFaults != 1 || st.ShellsCreated != 4 || st.OpenShells != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUnknownShellAndCommandAreInvalidSelectorFaults(t *testing.T) {
	_, ts, c := newTestServer(t, Options{
		Authenticate: func(u, p string) bool { return p == testPass },
		Handler:      HandlerFunc(func(ctx context.Context, cmd Command) Result { return Result{} }),
	})
	_, err := c.NewShell("00000000-0000-0000-0000-000000000000").ExecuteWithContext(context.Background(), "x")
	var ece *winrm.ExecuteCommandError
	if !errors.As(err, &ece) || !strings.Contains(ece.Body, CodeShellNotFound) || !strings.Contains(ece.Body, "shell was not found on the server") {
		t.Fatalf("unknown shell: %v", err)
	}
	id := createShell(t, ts)
	body := `<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr + `" xmlns:w="` + nsWSMan + `" xmlns:rsp="` + nsShell + `">` +
		`<s:Header><a:Action>` + actionSignal + `</a:Action><w:SelectorSet><w:Selector Name="ShellId">` + id +
		`</w:Selector></w:SelectorSet></s:Header><s:Body><rsp:Signal CommandId="NOPE"><rsp:Code>` + signalTerminate +
		`</rsp:Code></rsp:Signal></s:Body></s:Envelope>`
	status, text := post(t, ts, body)
	if status != 500 || !strings.Contains(text, "w:InvalidSelectors") || !strings.Contains(text, CodeInvalidSelectors) {
		t.Fatalf("unknown command: %d %s", status, text)
	}
	// A shell belongs to the user who created it.
	other := newClient(t, ts, "intruder", testPass)
	_, err = other.NewShell(id).ExecuteWithContext(context.Background(), "x")
	if !errors.As(err, &ece) || !strings.Contains(ece.Body, CodeShellNotFound) {
		t.Fatalf("another user's shell: %v", err)
	}
}

// createShell creates a shell with a hand-written request, using other prefixes than the
// masterzen client to show namespaces are resolved by URI, and returns its id.
func createShell(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	status, text := post(t, ts, createBody)
	if status != 200 {
		t.Fatalf("status %d: %s", status, text)
	}
	if !strings.Contains(text, "<a:RelatesTo>uuid:1234</a:RelatesTo>") {
		t.Errorf("no RelatesTo: %s", text)
	}
	id, err := winrm.ParseOpenShellResponse(text)
	if err != nil || id == "" {
		t.Fatalf("shell id %q, %v in %s", id, err, text)
	}
	return id
}

const createBody = `<soap:Envelope xmlns:soap="` + nsSOAP + `" xmlns:wsa="` + nsAddr + `" xmlns:wsman="` + nsWSMan + `" xmlns:shell="` + nsShell + `">` +
	`<soap:Header><wsa:Action>` + actionCreate + `</wsa:Action><wsa:MessageID>uuid:1234</wsa:MessageID>` +
	`<wsman:ResourceURI>` + resourceCmd + `</wsman:ResourceURI></soap:Header>` +
	`<soap:Body><shell:Shell><shell:InputStreams>stdin</shell:InputStreams></shell:Shell></soap:Body></soap:Envelope>`

// post sends a raw request as the test user and returns the status and body.
func post(t *testing.T, ts *httptest.Server, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/wsman", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.SetBasicAuth(testUser, testPass)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "application/soap+xml") {
		t.Fatalf("content type %q", ct)
	}
	return resp.StatusCode, string(b)
}

func TestBadXMLIsAFaultNotAPanic(t *testing.T) {
	s, ts, c := newTestServer(t, Options{Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result { return Result{Stdout: []byte("ok")} })})
	for _, body := range []string{
		"<not xml",
		"",
		`<s:Envelope xmlns:s="` + nsSOAP + `"><s:Header/><s:Body/></s:Envelope>`, // no action
		`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr + `"><s:Header><a:Action>` + actionCommand + `</a:Action></s:Header><s:Body/></s:Envelope>`,
		`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr + `"><s:Header><a:Action>` + actionReceive + `</a:Action></s:Header><s:Body/></s:Envelope>`,
		`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr + `"><s:Header><a:Action>` + actionSend + `</a:Action></s:Header><s:Body/></s:Envelope>`,
		`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr + `"><s:Header><a:Action>` + actionSignal + `</a:Action></s:Header><s:Body/></s:Envelope>`,
		`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr + `"><s:Header><a:Action>` + actionDelete + `</a:Action></s:Header><s:Body/></s:Envelope>`,
	} {
		status, text := post(t, ts, body)
		if status != http.StatusInternalServerError || !strings.Contains(text, "<s:Fault>") || !strings.Contains(text, nsFault) {
			t.Errorf("body %q: status %d, answer %s", body, status, text)
		}
	}
	// Still serving.
	if out, _, _, err := c.RunWithContextWithString(testCtx(t), "x", ""); err != nil || out != "ok" {
		t.Fatalf("after bad requests: %q %v", out, err)
	}
	if s.Stats().Faults < 8 {
		t.Fatalf("faults %d", s.Stats().Faults)
	}
}

func TestNamespacesResolvedByURINotPrefix(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	createShell(t, ts)
	if s.OpenShells(testUser) != 1 {
		t.Fatal("shell not recorded")
	}
}

func TestFailNextInjectsStatus(t *testing.T) {
	s, _, c := newTestServer(t, Options{Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result { return Result{Stdout: []byte("ok")} })})
	s.FailNext(2, http.StatusServiceUnavailable)
	for i := 0; i < 2; i++ {
		if _, err := c.CreateShell(); err == nil || !strings.Contains(err.Error(), "http response error: 503") {
			t.Fatalf("request %d: want 503, got %v", i, err)
		}
	}
	out, _, _, err := c.RunWithContextWithString(testCtx(t), "x", "")
	if err != nil || out != "ok" {
		t.Fatalf("after injected failures: %q %v", out, err)
	}
	s.FailNext(1, http.StatusUnauthorized)
	if _, err := c.CreateShell(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("want 401, got %v", err)
	}
	if st := s.Stats(); st.InjectedFailures != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestConcurrencyCounters(t *testing.T) {
	const n = 4
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(n)
	s, _, c := newTestServer(t, Options{Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result {
		started.Done()
		<-release
		return Result{Stdout: []byte(cmd.ShellID)}
	})})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _, err := c.RunWithContextWithString(testCtx(t), fmt.Sprint("job", i), "")
			errs <- err
		}()
	}
	started.Wait()
	if got := s.Stats().CommandsRunning; got != n {
		t.Errorf("running %d", got)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.MaxConcurrentCommands(testUser); got != n {
		t.Errorf("max concurrent %d, want %d", got, n)
	}
	st := s.Stats()
	if st.ShellsCreated != n || st.OpenShells != 0 || st.CommandsStarted != n || st.CommandsRunning != 0 || st.Requests == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestHandlerPanicBecomesExitCode(t *testing.T) {
	_, _, c := newTestServer(t, Options{Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result { panic("boom") })})
	_, stderr, code, err := c.RunWithContextWithString(testCtx(t), "x", "")
	if err != nil || code != 1 || !strings.Contains(stderr, "boom") {
		t.Fatalf("stderr %q code %d err %v", stderr, code, err)
	}
}

func TestReceiveTimesOutWithTheWinRMFault(t *testing.T) {
	release := make(chan struct{})
	_, ts, _ := newTestServer(t, Options{
		ReceiveTimeout: 20 * time.Millisecond,
		Handler: HandlerFunc(func(ctx context.Context, cmd Command) Result {
			<-release
			return Result{Stdout: []byte("late"), ExitCode: 7}
		}),
	})
	defer close(release)
	shellID := createShell(t, ts)
	head := func(action string) string {
		return `<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr + `" xmlns:w="` + nsWSMan + `" xmlns:rsp="` + nsShell + `">` +
			`<s:Header><a:Action>` + action + `</a:Action><w:SelectorSet><w:Selector Name="ShellId">` + shellID +
			`</w:Selector></w:SelectorSet></s:Header><s:Body>`
	}
	status, text := post(t, ts, head(actionCommand)+`<rsp:CommandLine><rsp:Command><![CDATA[x & y]]></rsp:Command></rsp:CommandLine></s:Body></s:Envelope>`)
	if status != 200 {
		t.Fatalf("Command: %d %s", status, text)
	}
	commandID, err := winrm.ParseExecuteCommandResponse(text)
	if err != nil {
		t.Fatal(err)
	}
	receive := head(actionReceive) + `<rsp:Receive><rsp:DesiredStream CommandId="` + commandID + `">stdout stderr</rsp:DesiredStream></rsp:Receive></s:Body></s:Envelope>`
	status, text = post(t, ts, receive)
	for _, want := range []string{"<s:Value>w:TimedOut</s:Value>", `Code="` + CodeOperationTimeout + `"`, "within the time specified in OperationTimeout", faultAction} {
		if !strings.Contains(text, want) {
			t.Errorf("TimedOut fault lacks %q: %s", want, text)
		}
	}
	if status != http.StatusInternalServerError {
		t.Errorf("status %d", status)
	}
	release <- struct{}{}
	status, text = post(t, ts, receive)
	var out bytes.Buffer
	done, code, err := winrm.ParseSlurpOutputResponse(text, &out, "stdout")
	if status != 200 || err != nil || !done || code != 7 || out.String() != "late" {
		t.Fatalf("after the handler returned: %d done=%v code=%d out=%q err=%v", status, done, code, out.String(), err)
	}
}
