package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// Kind says what went wrong, for callers that react differently (e.g. a data source that
// reports unreachable servers instead of failing).
type Kind string

const (
	// KindUnreachable: no connection (refused, reset, no route, name does not resolve).
	KindUnreachable Kind = "unreachable"
	// KindAuth: the server rejected the credentials (HTTP 401) or denied access.
	KindAuth Kind = "auth"
	// KindTLS: the TLS handshake failed, usually an unverified certificate.
	KindTLS Kind = "tls"
	// KindTimeout: the operation did not finish within its time budget.
	KindTimeout Kind = "timeout"
	// KindCanceled: the caller cancelled the context.
	KindCanceled Kind = "canceled"
	// KindQuota: WinRM refused a shell or operation over a per-user quota.
	KindQuota Kind = "quota"
	// KindServer: WinRM failed the request (HTTP 5xx or a server-side fault).
	KindServer Kind = "server"
	// KindFault: the operation's script reported a fault; errors.As(err, **wire.Fault) works.
	KindFault Kind = "fault"
	// KindProtocol: an answer that makes no sense: no result, a result that does not decode,
	// an unexpected HTTP status, a malformed reply.
	KindProtocol Kind = "protocol"
)

// Error is every error Run returns once the operation has started. Error() is one sentence
// naming the server and address, what happened and what to do. It never contains the password.
type Error struct {
	// Server is the target's name and Address the host:port connected to.
	Server, Address string
	// Operation is the operation's name.
	Operation string
	Kind      Kind
	// Err is the underlying error (a *wire.Fault, context.Canceled, a network error, ...).
	Err error
	// MayHaveRun: the server accepted the command before the failure, and the operation is
	// one that is not retried after that (see notRetriedAfterStart): it may have run. For
	// OpReboot, the server may be restarting.
	MayHaveRun bool

	msg string // after "server X (addr): ", already redacted
}

func (e *Error) Error() string { return "server " + e.Server + " (" + e.Address + "): " + e.msg }

// Unwrap returns the underlying error, so errors.Is and errors.As see through *Error.
func (e *Error) Unwrap() error { return e.Err }

// verdict is how a failure is reported and whether another attempt may succeed.
type verdict struct {
	kind  Kind
	retry bool
	// quota: the server is out of shells for this user; close idle shells before retrying.
	quota bool
	// freshShell: the shell is gone on the server (idle timeout, service restart).
	freshShell bool
}

// classify decides the kind of a failure and whether it is transient. Transient: connection
// refused or reset, EOF, timeouts, HTTP 5xx, WinRM quota and server-side faults. Permanent:
// HTTP 401/403, TLS verification, a name that does not resolve, a script's fault, a result
// that does not decode.
func classify(err error) verdict {
	var wf *wire.Fault
	if errors.As(err, &wf) {
		return verdict{kind: KindFault}
	}
	var de *decodeError
	var nr *noResultError
	if errors.As(err, &de) || errors.As(err, &nr) {
		return verdict{kind: KindProtocol}
	}
	var f *wsmanFault
	if errors.As(err, &f) {
		switch {
		case f.isQuota():
			return verdict{kind: KindQuota, retry: true, quota: true}
		case f.Subcode == "AccessDenied" || f.WSManCode == codeAccessDenied:
			return verdict{kind: KindAuth}
		case f.WSManCode == codeShellNotFound || f.Subcode == "InvalidSelectors":
			return verdict{kind: KindServer, retry: true, freshShell: true}
		case f.Code == "Sender":
			// The server says the request itself is wrong: sending it again will not help.
			return verdict{kind: KindProtocol}
		default:
			return verdict{kind: KindServer, retry: true}
		}
	}
	var hs *httpStatusError
	if errors.As(err, &hs) {
		switch {
		case hs.Status == 401 || hs.Status == 403:
			return verdict{kind: KindAuth}
		case hs.Status >= 500 || hs.Status == 408 || hs.Status == 429:
			return verdict{kind: KindServer, retry: true}
		default:
			return verdict{kind: KindProtocol}
		}
	}
	if isTLSError(err) {
		return verdict{kind: KindTLS}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return verdict{kind: KindUnreachable, retry: !dns.IsNotFound}
	}
	if errors.Is(err, errSendLost) {
		return verdict{kind: KindServer, retry: true}
	}
	if isTransientNetError(err) {
		return verdict{kind: KindUnreachable, retry: true}
	}
	return verdict{kind: KindProtocol}
}

func isTLSError(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
		rh tls.RecordHeaderError
		ae tls.AlertError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) ||
		errors.As(err, &rh) || errors.As(err, &ae) ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") ||
		strings.Contains(err.Error(), "tls: ")
}

func isTransientNetError(err error) bool {
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EPIPE, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ETIMEDOUT} {
		if errors.Is(err, errno) {
			return true
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// errSendLost: the client's stdin writer failed and the transport saw no cause.
var errSendLost = errors.New("sending the script to the server failed")

// decodeError: the script's output did not decode into the result type.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// noResultError: the script wrote no result; it carries what it did write.
type noResultError struct {
	exitCode int
	stderr   string
}

func (e *noResultError) Error() string { return wire.ErrNoResult.Error() }
func (e *noResultError) Unwrap() error { return wire.ErrNoResult }

// failure is what one Run knows when it builds its error.
type failure struct {
	c        *Client
	t        Target
	address  string
	op       string
	err      error
	attempts int
}

// newError builds the one-sentence error for err, naming what to do about it.
func (fl failure) newError(kind Kind) *Error {
	user := fl.c.cfg.Username
	cause := fl.c.redact(causeText(fl.err))
	if fl.attempts > 1 {
		cause += fmt.Sprintf("; gave up after %d attempts", fl.attempts)
	}
	var msg string
	switch kind {
	case KindAuth:
		var f *wsmanFault
		var hs *httpStatusError
		if errors.As(fl.err, &f) || (errors.As(fl.err, &hs) && hs.Status == 403) {
			msg = fmt.Sprintf("WinRM denied access to user %q (%s). The user must be a local administrator on the server or be granted WinRM access.", user, cause)
		} else if fl.c.cfg.Auth == AuthNTLM {
			msg = fmt.Sprintf(`WinRM rejected the credentials for user %q (%s). Check username/password (as DOMAIN\user) and that the WinRM auth method matches (auth = "ntlm" needs Negotiate enabled on the server).`, user, cause)
		} else {
			msg = fmt.Sprintf(`WinRM rejected the credentials for user %q (%s). Check username/password and that the WinRM auth method matches (auth = "basic" needs Basic enabled on the server, and AllowUnencrypted when https is false).`, user, cause)
		}
	case KindTLS:
		if strings.Contains(fl.err.Error(), "HTTP response to HTTPS client") || strings.Contains(fl.err.Error(), "first record does not look like a TLS handshake") {
			msg = fmt.Sprintf("the server does not speak TLS on this port (%s). Set https = false for an HTTP listener, or use the HTTPS listener's port (usually 5986).", cause)
		} else {
			msg = fmt.Sprintf("the TLS certificate did not verify (%s). Set ca_certificate to the CA that issued it, or insecure = true only for testing.", cause)
		}
	case KindUnreachable:
		var dns *net.DNSError
		if errors.As(fl.err, &dns) && dns.IsNotFound {
			msg = fmt.Sprintf("the address does not resolve (%s). Set address to a name DNS resolves, or to the server's IP address.", cause)
		} else {
			msg = fmt.Sprintf("could not connect to WinRM (%s). Check the address and port, that the WinRM service runs and listens there (winrm quickconfig), and that no firewall blocks it.", cause)
			if errors.Is(fl.err, syscall.ECONNREFUSED) {
				// No WinRM exists for Windows 2000, NT 4.0 or Server 2003 before SP2 (KB 968930, "Windows Management Framework Core package").
				msg += " If the server runs Windows 2000 or Windows NT 4.0 (every Exchange 5.5 and 2000 server, and Exchange 2003 on Windows 2000), or Windows Server 2003 before Service Pack 2, it has no WinRM or PowerShell 2.0 at all and refuses the connection: this provider cannot reach such a server yet (servicing it through a Windows management host comes later)."
			}
		}
	case KindQuota:
		msg = fmt.Sprintf(`WinRM refused another shell or operation for user %q (%s). Close other WinRM sessions of this user, raise the quota on the server (winrm set winrm/config/winrs @{MaxShellsPerUser="10"}), or lower max_connections_per_host.`, user, cause)
	case KindServer:
		msg = fmt.Sprintf("the WinRM service failed the request (%s). Check that the WinRM service is healthy (event log Microsoft-Windows-WinRM/Operational), then retry.", cause)
	case KindFault:
		msg = fmt.Sprintf("operation %s failed: %s", fl.op, strings.TrimSuffix(cause, "."))
		if !strings.HasSuffix(msg, ".") {
			msg += "."
		}
	case KindCanceled:
		msg = fmt.Sprintf("operation %s was cancelled.", fl.op)
	case KindTimeout:
		msg = fmt.Sprintf("operation %s did not finish in time (%s). Check that the server responds, or raise the timeout.", fl.op, cause)
	default: // KindProtocol
		var nr *noResultError
		var de *decodeError
		switch {
		case errors.As(fl.err, &nr):
			detail := fmt.Sprintf("exit code %d", nr.exitCode)
			if nr.stderr != "" {
				detail += "; stderr: " + fl.c.redact(nr.stderr)
			}
			msg = fmt.Sprintf("operation %s wrote no result (%s). Check that PowerShell 2.0 or later runs for this user and that no profile or logon script writes to the console.", fl.op, detail)
		case errors.As(fl.err, &de):
			msg = fmt.Sprintf("operation %s returned a result this provider cannot read (%s). The provider and its scripts disagree: report this as a bug.", fl.op, cause)
		default:
			msg = fmt.Sprintf("WinRM answered something unexpected (%s). Check that address and port point at a WinRM listener.", cause)
		}
	}
	return &Error{Server: fl.t.Server, Address: fl.address, Operation: fl.op, Kind: kind, Err: fl.err, msg: msg}
}

// causeText is a short description of err: the innermost useful message.
func causeText(err error) string {
	if err == nil {
		return "no answer"
	}
	var hs *httpStatusError
	var f *wsmanFault
	var ue *url.Error
	var text string
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		text = err.Error()
	case errors.As(err, &f):
		text = f.Error()
		if errors.As(err, &hs) {
			text = fmt.Sprintf("HTTP %d, %s", hs.Status, text)
		}
	case errors.As(err, &hs):
		text = fmt.Sprintf("HTTP %d", hs.Status)
	case errors.As(err, &ue):
		text = ue.Err.Error()
	default:
		text = err.Error()
	}
	return truncate(squash(text), 400)
}

// Redaction is by structure. Our own sentences never hold the password, so they are never
// masked (a short password must not cut them apart: "WinRM ********ejected"). What a server
// sends back (a SOAP fault's text, a script's fault, stderr) may echo anything: Run scrubs
// those texts where they enter the error chain (scrub), so every reader of the chain (Error(),
// the *wire.Fault the executor and the provider's diagnostics take out) sees them masked.

// redact masks the password in text that came from the server.
func (c *Client) redact(text string) string { return maskTokens(text, c.cfg.Password) }

// scrub masks the password in the server's texts that err carries, in place: the errors are
// this Run's own.
func (c *Client) scrub(err error) {
	var wf *wire.Fault
	if errors.As(err, &wf) {
		wf.Message = c.redact(wf.Message)
		wf.Code = c.redact(wf.Code)
	}
	var f *wsmanFault
	if errors.As(err, &f) {
		f.Message = c.redact(f.Message)
	}
	var nr *noResultError
	if errors.As(err, &nr) {
		nr.stderr = c.redact(nr.stderr)
	}
}

// mask replaces a secret.
const mask = "********"

// maskTokens replaces every occurrence of secret in text that is a whole token: one not run
// together with letters or digits on either side. A secret inside a longer word reveals
// nothing and is left, so a password such as "e" or "the" does not garble the text around it.
func maskTokens(text, secret string) string {
	if secret == "" || !strings.Contains(text, secret) {
		return text
	}
	first, _ := utf8.DecodeRuneInString(secret)
	last, _ := utf8.DecodeLastRuneInString(secret)
	var b strings.Builder
	from := 0 // text[from:] is not written yet
	for i := 0; i < len(text); {
		j := strings.Index(text[i:], secret)
		if j < 0 {
			break
		}
		j += i
		end := j + len(secret)
		before, _ := utf8.DecodeLastRuneInString(text[:j])
		after, _ := utf8.DecodeRuneInString(text[end:])
		startOK := j == 0 || !isWordRune(first) || !isWordRune(before)
		endOK := end == len(text) || !isWordRune(last) || !isWordRune(after)
		if startOK && endOK {
			b.WriteString(text[from:j])
			b.WriteString(mask)
			from, i = end, end
			continue
		}
		_, n := utf8.DecodeRuneInString(text[j:]) // not a token: look again one rune on
		i = j + n
	}
	b.WriteString(text[from:])
	return b.String()
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

var (
	clixmlErrorRE = regexp.MustCompile(`(?s)<S S="Error">(.*?)</S>`)
	clixmlEscRE   = regexp.MustCompile(`_x([0-9A-Fa-f]{4})_`)
)

// cleanStderr makes PowerShell's stderr readable in one line: over WinRM it is often CLIXML
// ("#< CLIXML" then <S S="Error">...</S> with _x000D__x000A_ escapes).
func cleanStderr(b []byte) string {
	s := string(b)
	if strings.HasPrefix(strings.TrimSpace(s), "#< CLIXML") {
		var parts []string
		for _, m := range clixmlErrorRE.FindAllStringSubmatch(s, -1) {
			text := clixmlEscRE.ReplaceAllStringFunc(m[1], func(e string) string {
				var r rune
				_, _ = fmt.Sscanf(e[2:6], "%04x", &r)
				return string(r)
			})
			parts = append(parts, innerText(text))
		}
		s = strings.Join(parts, " ")
	}
	return truncate(squash(s), 600)
}
