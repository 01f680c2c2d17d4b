package remote

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

// A quota fault as Windows Server 2008 R2 writes it, with other prefixes than ours.
const quotaFaultXML = `<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:e="http://schemas.xmlsoap.org/ws/2004/08/eventing" xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">
<s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action><a:MessageID>uuid:3A77CF3E-B190-4AF4-8C8A-4175972A82F6</a:MessageID><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To></s:Header>
<s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:InternalError</s:Value></s:Subcode></s:Code>
<s:Reason><s:Text xml:lang="en-US">The WS-Management service cannot process the request. </s:Text></s:Reason>
<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150859173" Machine="ex01.corp.example"><f:Message>The WS-Management service cannot process the request. This user is allowed a maximum number of 5 concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. &amp; more<f:Line>1</f:Line></f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>`

func TestParseFault(t *testing.T) {
	f := parseFault(quotaFaultXML)
	if f == nil {
		t.Fatal("no fault found")
	}
	if f.Code != "Receiver" || f.Subcode != "InternalError" || f.WSManCode != "2150859173" || !f.isQuota() {
		t.Fatalf("%+v", f)
	}
	if !strings.HasPrefix(f.Message, "The WS-Management service cannot process the request. This user is allowed a maximum number of 5 concurrent shells") || !strings.Contains(f.Message, "& more 1") {
		t.Fatalf("message %q", f.Message)
	}
	// Other prefixes, no detail: the reason is the message.
	other := `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value><soap:Subcode><soap:Value>wsman:TimedOut</soap:Value></soap:Subcode></soap:Code><soap:Reason><soap:Text>Timed out.</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>`
	f = parseFault(other)
	if f == nil || f.Subcode != "TimedOut" || f.Message != "Timed out." {
		t.Fatalf("%+v", f)
	}
	// The client's Receive loop retries on this word.
	if !strings.Contains(f.Error(), "OperationTimeout") {
		t.Fatalf("timed-out fault text %q", f.Error())
	}
	// Ordinary answers are not faults, whatever their base64 holds.
	receive := `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body><rsp:ReceiveResponse><rsp:Stream Name="stdout">RmF1bHQ6RmF1bHQ=</rsp:Stream></rsp:ReceiveResponse></s:Body></s:Envelope>`
	if f := parseFault(receive); f != nil {
		t.Fatalf("false fault %+v", f)
	}
	if f := parseFault("<s:Fault>not xml"); f != nil {
		t.Fatalf("fault from garbage %+v", f)
	}
}

func TestParseHTTPStatus(t *testing.T) {
	hs := parseHTTPStatus(fmt.Errorf("http response error: 401 - %w", errors.New("invalid content type")))
	if hs == nil || hs.Status != 401 {
		t.Fatalf("%+v", hs)
	}
	hs = parseHTTPStatus(errors.New("http error 500: " + quotaFaultXML))
	var f *wsmanFault
	if hs == nil || hs.Status != 500 || !errors.As(hs, &f) || f.WSManCode != "2150859173" {
		t.Fatalf("%+v", hs)
	}
	if parseHTTPStatus(errors.New("unknown error Post: EOF")) != nil {
		t.Fatal("status from a network error")
	}
}

type fakeTransport struct{ err error }

func (f fakeTransport) Transport(*winrm.Endpoint) error { return nil }
func (f fakeTransport) Post(*winrm.Client, *soap.SoapMessage) (string, error) {
	return "", f.err
}

func TestFaultTransportRemembersFailedSends(t *testing.T) {
	cause := fmt.Errorf("unknown error %w", &url.Error{Op: "Post", URL: "http://x/wsman", Err: syscall.ECONNRESET})
	tr := newFaultTransport(fakeTransport{err: cause})
	params := *winrm.DefaultParameters
	send := winrm.NewSendInputRequest("http://x/wsman", "SHELL-1", "CMD-1", []byte("abc"), false, &params)
	if _, err := tr.Post(nil, send); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Post: %v", err)
	}
	receive := winrm.NewGetOutputRequest("http://x/wsman", "SHELL-2", "CMD-2", "stdout stderr", &params)
	_, _ = tr.Post(nil, receive)
	if got := tr.takeSendErr("SHELL-1"); !errors.Is(got, syscall.ECONNRESET) {
		t.Fatalf("recorded %v", got)
	}
	if got := tr.takeSendErr("SHELL-1"); got != nil {
		t.Fatalf("not forgotten: %v", got)
	}
	if got := tr.takeSendErr("SHELL-2"); got != nil {
		t.Fatalf("a Receive was recorded as a Send: %v", got)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		kind  Kind
		retry bool
	}{
		{"refused", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), KindUnreachable, true},
		{"reset", urlErr(syscall.ECONNRESET), KindUnreachable, true},
		{"eof", urlErr(io.EOF), KindUnreachable, true},
		{"no such host", urlErr(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "ex01", IsNotFound: true}}), KindUnreachable, false},
		{"dns timeout", urlErr(&net.DNSError{Err: "i/o timeout", Name: "ex01", IsTimeout: true}), KindUnreachable, true},
		{"unknown CA", urlErr(x509.UnknownAuthorityError{}), KindTLS, false},
		{"hostname", urlErr(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "ex01"}), KindTLS, false},
		{"http to https", urlErr(errors.New("http: server gave HTTP response to HTTPS client")), KindTLS, false},
		{"401", &httpStatusError{Status: 401, err: errors.New("http response error: 401")}, KindAuth, false},
		{"403", &httpStatusError{Status: 403, err: errors.New("http response error: 403")}, KindAuth, false},
		{"503", &httpStatusError{Status: 503, err: errors.New("http response error: 503")}, KindServer, true},
		{"404", &httpStatusError{Status: 404, err: errors.New("http response error: 404")}, KindProtocol, false},
		{"quota", parseFault(quotaFaultXML), KindQuota, true},
		{"max operations", &wsmanFault{Code: "Receiver", Subcode: "InternalError", WSManCode: "2150859174"}, KindQuota, true},
		{"access denied", &wsmanFault{Code: "Sender", Subcode: "AccessDenied", WSManCode: "5", Message: "Access is denied."}, KindAuth, false},
		{"shell gone", &wsmanFault{Code: "Sender", Subcode: "InvalidSelectors", WSManCode: "2150858843"}, KindServer, true},
		{"bad request", &wsmanFault{Code: "Sender", Subcode: "SchemaValidationError", WSManCode: "2150858819"}, KindProtocol, false},
		{"server fault", &wsmanFault{Code: "Receiver", Subcode: "InternalError", WSManCode: "2147500037"}, KindServer, true},
		{"script fault", fmt.Errorf("x: %w", &wire.Fault{Code: "ACCESS_DENIED"}), KindFault, false},
		{"no result", &noResultError{exitCode: 1}, KindProtocol, false},
		{"bad result", &decodeError{errors.New("wire: result of probe: bad")}, KindProtocol, false},
		{"send lost", errSendLost, KindServer, true},
		{"header timeout", urlErr(timeoutErr{}), KindUnreachable, true},
	}
	for _, tc := range cases {
		v := classify(tc.err)
		if v.kind != tc.kind || v.retry != tc.retry {
			t.Errorf("%s: got %s retry=%v, want %s retry=%v", tc.name, v.kind, v.retry, tc.kind, tc.retry)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "net/http: timeout awaiting response headers" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestErrorMessages(t *testing.T) {
	c := newTestClient(t, Config{Username: testUser, Password: "hunter2-Secret", HTTPS: true})
	fl := failure{c: c, t: Target{Server: "EX01", Address: "127.0.0.11"}, address: "127.0.0.11:5986", op: "probe"}

	fl.err = fmt.Errorf("unknown error %w", &url.Error{Op: "Post", URL: "https://127.0.0.11:5986/wsman", Err: x509.UnknownAuthorityError{}})
	want := "server EX01 (127.0.0.11:5986): the TLS certificate did not verify (x509: certificate signed by unknown authority). Set ca_certificate to the CA that issued it, or insecure = true only for testing."
	if got := fl.newError(KindTLS).Error(); got != want {
		t.Errorf("TLS:\n got %s\nwant %s", got, want)
	}

	fl.err = &httpStatusError{Status: 401, err: errors.New("http response error: 401 - invalid content type")}
	want = `server EX01 (127.0.0.11:5986): WinRM rejected the credentials for user "corp\\admin" (HTTP 401). Check username/password and that the WinRM auth method matches (auth = "basic" needs Basic enabled on the server, and AllowUnencrypted when https is false).`
	if got := fl.newError(KindAuth).Error(); got != want {
		t.Errorf("401:\n got %s\nwant %s", got, want)
	}

	// Anything that echoes the password is redacted.
	fl.err = errors.New("the server said hunter2-Secret")
	if got := fl.newError(KindProtocol).Error(); strings.Contains(got, "hunter2-Secret") || !strings.Contains(got, "********") {
		t.Errorf("not redacted: %s", got)
	}

	fl.err, fl.attempts = urlErr(syscall.ECONNREFUSED), 4
	got := fl.newError(KindUnreachable).Error()
	if !strings.Contains(got, "connection refused; gave up after 4 attempts") {
		t.Errorf("unreachable: %s", got)
	}
	// A refused connection may be a Windows 2000/NT host, which has no WinRM.
	if !strings.Contains(got, "If the server runs Windows 2000 or Windows NT 4.0") || !strings.Contains(got, "cannot reach such a server yet") {
		t.Errorf("a refused connection does not mention Windows 2000 hosts: %s", got)
	}
	fl.err = urlErr(os.ErrDeadlineExceeded)
	if got := fl.newError(KindUnreachable).Error(); strings.Contains(got, "Windows 2000") {
		t.Errorf("a timeout is not a refused connection: %s", got)
	}
}

func urlErr(err error) error {
	return fmt.Errorf("unknown error %w", &url.Error{Op: "Post", URL: "http://127.0.0.11:5985/wsman", Err: err})
}

func TestCleanStderr(t *testing.T) {
	clixml := "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"Error\">Get-Thing : The term &apos;Get-Thing&apos; is not recognized_x000D__x000A_</S><S S=\"Error\">At line:1 char:10_x000D__x000A_</S><S S=\"progress\">ignored</S></Objs>"
	if got := cleanStderr([]byte(clixml)); got != "Get-Thing : The term 'Get-Thing' is not recognized At line:1 char:10" {
		t.Errorf("got %q", got)
	}
	if got := cleanStderr([]byte("plain\r\n  error ")); got != "plain error" {
		t.Errorf("got %q", got)
	}
	if got := cleanStderr([]byte(strings.Repeat("x", 5000))); len(got) > 610 {
		t.Errorf("not truncated: %d", len(got))
	}
}

func TestSlowCommandPollsThroughTimedOutFaults(t *testing.T) {
	f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		time.Sleep(250 * time.Millisecond)
		return result(t, s.Operation, exchange.Facts{Server: "EX01"})
	}), false, wsman.Options{ReceiveTimeout: 40 * time.Millisecond}, nil)
	if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
		t.Fatal(err)
	}
	st := f.srv.Stats()
	if st.TimedOutReceives == 0 || st.CommandsStarted != 1 {
		t.Fatalf("%d timed-out Receives, %d commands; want polling, not retries", st.TimedOutReceives, st.CommandsStarted)
	}
}
