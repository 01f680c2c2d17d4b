package remote

import (
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"
)

// faultTransport wraps the client's HTTP transport (Basic or NTLM) so that every WinRM
// request's failure arrives as a typed error:
//
//   - The pinned client only reports a non-200 status when the answer is not SOAP (it
//     computes the error in a defer that cannot change its unnamed results), so a SOAP fault
//     with HTTP 500 comes back as a successful body. faultTransport turns such bodies into
//     *wsmanFault. The w:TimedOut fault keeps the word "OperationTimeout" in its text, which
//     is how the client's Receive loop recognises it and polls again.
//   - "http response error: 401 - ..." texts become *httpStatusError.
//   - A failed Send is remembered per shell, because the client's stdin writer replaces
//     the cause with io.ErrShortWrite.
//   - The CommandId of a command just started is remembered per shell, because the pinned
//     client keeps it private and the pool sends the command's input itself (pool.go,
//     writeStdin).
type faultTransport struct {
	inner winrm.Transporter

	mu         sync.Mutex
	sendErrs   map[string]error  // by ShellId: the first failed Send
	commandIDs map[string]string // by ShellId: the command last started, until taken
}

func newFaultTransport(inner winrm.Transporter) *faultTransport {
	return &faultTransport{inner: inner, sendErrs: map[string]error{}, commandIDs: map[string]string{}}
}

func (t *faultTransport) Transport(ep *winrm.Endpoint) error { return t.inner.Transport(ep) }

func (t *faultTransport) Post(c *winrm.Client, m *soap.SoapMessage) (string, error) {
	body, err := t.inner.Post(c, m)
	if err == nil {
		if f := parseFault(body); f != nil {
			err = f
		}
	} else if hs := parseHTTPStatus(err); hs != nil {
		err = hs
	}
	if err != nil {
		// Only on failure: render the request to see what it was.
		text := m.String()
		if strings.Contains(text, "/windows/shell/Send<") {
			if id := shellIDOf(text); id != "" {
				t.mu.Lock()
				if _, seen := t.sendErrs[id]; !seen {
					t.sendErrs[id] = err
				}
				t.mu.Unlock()
			}
		}
		return "", err
	}
	if strings.Contains(body, "CommandResponse") {
		if id, perr := winrm.ParseExecuteCommandResponse(body); perr == nil {
			if shell := shellIDOf(m.String()); shell != "" {
				t.mu.Lock()
				t.commandIDs[shell] = id
				t.mu.Unlock()
			}
		}
	}
	return body, nil
}

// takeCommandID returns and forgets the CommandId of the command last started on a shell.
func (t *faultTransport) takeCommandID(shellID string) string { return take(t, t.commandIDs, shellID) }

// takeSendErr returns and forgets the first failed Send of a shell.
func (t *faultTransport) takeSendErr(shellID string) error { return take(t, t.sendErrs, shellID) }

// take returns and deletes m[key] under t.mu.
func take[V any](t *faultTransport, m map[string]V, key string) V {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := m[key]
	delete(m, key)
	return v
}

var shellIDRE = regexp.MustCompile(`Name="ShellId"[^>]*>\s*([^<\s]+)`)

func shellIDOf(request string) string {
	if m := shellIDRE.FindStringSubmatch(request); m != nil {
		return m[1]
	}
	return ""
}

// httpStatusError is an HTTP answer other than 200 that carried no SOAP fault.
type httpStatusError struct {
	Status int
	err    error
}

func (e *httpStatusError) Error() string { return e.err.Error() }
func (e *httpStatusError) Unwrap() error { return e.err }

// The client's texts for a non-200 answer: "http response error: 401 - invalid content type"
// (no SOAP body) and "http error 500: <body>".
var httpStatusRE = regexp.MustCompile(`^http (?:response error: |error )(\d{3})\b`)

func parseHTTPStatus(err error) *httpStatusError {
	m := httpStatusRE.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	status, _ := strconv.Atoi(m[1])
	if f := parseFault(err.Error()); f != nil {
		return &httpStatusError{Status: status, err: f}
	}
	return &httpStatusError{Status: status, err: err}
}

// wsmanFault is a SOAP fault from WinRM.
type wsmanFault struct {
	// Code is the SOAP code's local name: Sender or Receiver.
	Code string
	// Subcode is the local name of the subcode, e.g. TimedOut, InternalError, AccessDenied.
	Subcode string
	// WSManCode is the Windows error code from f:WSManFault, e.g. "2150859173".
	WSManCode string
	// Message is the WSManFault message, or the SOAP reason when there is none.
	Message string
}

func (f *wsmanFault) Error() string {
	s := "WinRM fault " + f.Subcode
	if f.WSManCode != "" {
		s += " (code " + f.WSManCode + ")"
	}
	s += ": " + f.Message
	// The client's Receive loop polls again only when the error text says OperationTimeout;
	// make sure it does for every form of the timed-out fault.
	if f.isTimedOut() && !strings.Contains(s, "OperationTimeout") {
		s += " (OperationTimeout)"
	}
	return s
}

func (f *wsmanFault) isTimedOut() bool {
	return f.Subcode == "TimedOut" || f.WSManCode == codeOperationTimed
}

type faultEnvelope struct {
	Body struct {
		Fault *struct {
			Code struct {
				Value   string `xml:"http://www.w3.org/2003/05/soap-envelope Value"`
				Subcode struct {
					Value string `xml:"http://www.w3.org/2003/05/soap-envelope Value"`
				} `xml:"http://www.w3.org/2003/05/soap-envelope Subcode"`
			} `xml:"http://www.w3.org/2003/05/soap-envelope Code"`
			Reason struct {
				Text []string `xml:"http://www.w3.org/2003/05/soap-envelope Text"`
			} `xml:"http://www.w3.org/2003/05/soap-envelope Reason"`
			Detail struct {
				WSManFault struct {
					Code    string `xml:"Code,attr"`
					Message struct {
						Inner string `xml:",innerxml"`
					} `xml:"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault Message"`
				} `xml:"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault WSManFault"`
			} `xml:"http://www.w3.org/2003/05/soap-envelope Detail"`
		} `xml:"http://www.w3.org/2003/05/soap-envelope Fault"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
}

// parseFault returns the SOAP fault in body, or nil. Namespaces are matched by URI.
func parseFault(body string) *wsmanFault {
	// Cheap test first: output streams are base64, which has neither '<' nor ':'.
	if !strings.Contains(body, ":Fault") && !strings.Contains(body, "<Fault") {
		return nil
	}
	var env faultEnvelope
	if err := xml.Unmarshal([]byte(body[strings.Index(body, "<"):]), &env); err != nil || env.Body.Fault == nil {
		return nil //nolint:nilerr // a body that is not a SOAP fault is not one: the caller reads it as output
	}
	sf := env.Body.Fault
	f := &wsmanFault{
		Code:      localName(sf.Code.Value),
		Subcode:   localName(sf.Code.Subcode.Value),
		WSManCode: strings.TrimSpace(sf.Detail.WSManFault.Code),
		Message:   squash(innerText(sf.Detail.WSManFault.Message.Inner)),
	}
	if f.Message == "" {
		f.Message = squash(strings.Join(sf.Reason.Text, " "))
	}
	if f.Subcode == "" {
		f.Subcode = f.Code
	}
	return f
}

func localName(qname string) string {
	qname = strings.TrimSpace(qname)
	if i := strings.LastIndex(qname, ":"); i >= 0 {
		return qname[i+1:]
	}
	return qname
}

// innerText turns an element's inner XML (a message may hold f:Line or f:ProviderFault
// children, and entities) into its text.
func innerText(inner string) string {
	dec := xml.NewDecoder(strings.NewReader("<x>" + inner + "</x>"))
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if cd, ok := tok.(xml.CharData); ok {
			b.Write(cd)
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// squash collapses whitespace and trims.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncate shortens s to at most n bytes at a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// quotaCodes are WinRM quota faults: too many shells, operations or users.
var quotaCodes = map[string]bool{
	"2150859173": true, // ERROR_WSMAN_QUOTA_MAX_SHELLS
	"2150859174": true, // ERROR_WSMAN_QUOTA_MAX_OPERATIONS
	"2150859175": true, // ERROR_WSMAN_QUOTA_USER
	"2150859176": true, // ERROR_WSMAN_QUOTA_SYSTEM
	"2150859179": true, // ERROR_WSMAN_QUOTA_MAX_SHELLUSERS
}

const (
	codeShellNotFound  = "2150858843"
	codeAccessDenied   = "5"
	codeOperationTimed = "2150858793"
)

func (f *wsmanFault) isQuota() bool {
	return quotaCodes[f.WSManCode] || f.Subcode == "QuotaLimit" ||
		strings.Contains(f.Message, "raise the quota") || strings.Contains(f.Message, "Quota")
}
