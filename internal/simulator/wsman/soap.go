package wsman

import (
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// Namespace URIs. Requests are matched by URI, never by prefix: a client may bind any
// prefix (the masterzen client uses env:, a:, w:, rsp:; others use s:, wsa:, wsman:).
const (
	nsSOAP     = "http://www.w3.org/2003/05/soap-envelope"
	nsAddr     = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsTransfer = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	nsWSMan    = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	nsMSWSMan  = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
	nsShell    = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
	nsFault    = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

	// Actions the endpoint serves.
	actionCreate  = nsTransfer + "/Create"
	actionDelete  = nsTransfer + "/Delete"
	actionCommand = nsShell + "/Command"
	actionSend    = nsShell + "/Send"
	actionReceive = nsShell + "/Receive"
	actionSignal  = nsShell + "/Signal"

	resourceCmd     = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
	stateRunning    = nsShell + "/CommandState/Running"
	stateDone       = nsShell + "/CommandState/Done"
	signalTerminate = nsShell + "/signal/terminate"
	anonymous       = nsAddr + "/role/anonymous"
	faultAction     = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
)

// request is the part of a WS-Management request the endpoint reads.
type request struct {
	XMLName xml.Name      `xml:"http://www.w3.org/2003/05/soap-envelope Envelope"`
	Header  requestHeader `xml:"http://www.w3.org/2003/05/soap-envelope Header"`
	Body    requestBody   `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
}

type requestHeader struct {
	Action      string      `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing Action"`
	MessageID   string      `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing MessageID"`
	ResourceURI string      `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd ResourceURI"`
	SelectorSet selectorSet `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd SelectorSet"`
	// MaxEnvelopeSize bounds how much output one Receive answer may carry.
	MaxEnvelopeSize string `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd MaxEnvelopeSize"`
}

type selectorSet struct {
	Selectors []selector `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd Selector"`
}

type selector struct {
	Name  string `xml:"Name,attr"`
	Value string `xml:",chardata"`
}

type requestBody struct {
	CommandLine *commandLine `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell CommandLine"`
	Send        *sendBody    `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Send"`
	Receive     *receiveBody `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Receive"`
	Signal      *signalBody  `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Signal"`
}

type commandLine struct {
	// Command arrives in CDATA; encoding/xml returns CDATA as character data.
	Command   string   `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Command"`
	Arguments []string `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Arguments"`
}

type sendBody struct {
	Streams []stream `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Stream"`
}

type stream struct {
	Name      string `xml:"Name,attr"`
	CommandID string `xml:"CommandId,attr"`
	End       string `xml:"End,attr"`
	Data      string `xml:",chardata"`
}

type receiveBody struct {
	DesiredStream struct {
		CommandID string `xml:"CommandId,attr"`
		Streams   string `xml:",chardata"`
	} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell DesiredStream"`
}

type signalBody struct {
	CommandID string `xml:"CommandId,attr"`
	Code      string `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Code"`
}

// selector returns the value of the named selector, e.g. ShellId.
func (r *request) selector(name string) string {
	for _, s := range r.Header.SelectorSet.Selectors {
		if s.Name == name {
			return strings.TrimSpace(s.Value)
		}
	}
	return ""
}

// fault is a WS-Management fault as Windows sends it: a SOAP fault whose detail carries a
// WSManFault with the numeric error code clients match on.
type fault struct {
	Status  int    // HTTP status; WinRM answers its faults with 500
	Code    string // s:Sender or s:Receiver
	Subcode string // e.g. w:TimedOut
	Reason  string
	// WSManCode is the decimal Windows error code (Code attribute of f:WSManFault).
	WSManCode string
	Message   string
}

// Fault codes and texts as real WinRM (Windows Server 2008 R2) sends them.
const (
	// CodeOperationTimeout is ERROR_WSMAN_OPERATION_TIMEDOUT, the Receive long-poll expiry.
	CodeOperationTimeout = "2150858793"
	// CodeMaxShells is ERROR_WSMAN_QUOTA_MAX_SHELLS (0x803381A5), MaxShellsPerUser exceeded.
	CodeMaxShells = "2150859173"
	// CodeShellNotFound is the code WinRM sends for an unknown or deleted ShellId.
	CodeShellNotFound = "2150858843"
	// CodeInvalidSelectors is ERROR_WSMAN_INVALID_SELECTORS.
	CodeInvalidSelectors = "2150858813"
	// CodeInvalidXML is ERROR_WSMAN_INVALID_XML.
	CodeInvalidXML = "2150858819"
	// CodeActionNotSupported is ERROR_WSMAN_ACTION_NOT_SUPPORTED.
	CodeActionNotSupported = "2150858771"
)

func timedOutFault() *fault {
	const text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
	return &fault{Status: http.StatusInternalServerError, Code: "s:Receiver", Subcode: "w:TimedOut",
		Reason: text, WSManCode: CodeOperationTimeout, Message: text}
}

func maxShellsFault(limit int) *fault {
	text := fmt.Sprintf("The WS-Management service cannot process the request. This user is allowed a maximum number of %d concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. ", limit)
	return &fault{Status: http.StatusInternalServerError, Code: "s:Receiver", Subcode: "w:InternalError",
		Reason: text, WSManCode: CodeMaxShells, Message: text}
}

func shellNotFoundFault(shellID string) *fault {
	text := fmt.Sprintf("The request for the Windows Remote Shell with ShellId %s failed because the shell was not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. Provide the correct ShellId or create a new shell and retry the operation. ", shellID)
	return &fault{Status: http.StatusInternalServerError, Code: "s:Sender", Subcode: "w:InvalidSelectors",
		Reason:    "The WS-Management service cannot process the request because the request contained invalid selectors for the resource. ",
		WSManCode: CodeShellNotFound, Message: text}
}

func invalidSelectorsFault(detail string) *fault {
	text := "The WS-Management service cannot process the request because the request contained invalid selectors for the resource. "
	return &fault{Status: http.StatusInternalServerError, Code: "s:Sender", Subcode: "w:InvalidSelectors",
		Reason: text, WSManCode: CodeInvalidSelectors, Message: text + detail}
}

func invalidXMLFault(detail string) *fault {
	text := "The WS-Management service cannot process the request because the XML is invalid. "
	return &fault{Status: http.StatusInternalServerError, Code: "s:Sender", Subcode: "w:SchemaValidationError",
		Reason: text, WSManCode: CodeInvalidXML, Message: text + detail}
}

func actionNotSupportedFault(action string) *fault {
	text := "The WS-Management service cannot process the request because the WS-Addressing Action URI in the request is not compatible with the resource. "
	return &fault{Status: http.StatusInternalServerError, Code: "s:Sender", Subcode: "a:ActionNotSupported",
		Reason: text, WSManCode: CodeActionNotSupported, Message: text + "Action: " + action}
}

// esc escapes text for element content and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// newGUID returns a random GUID in the upper-case form WinRM uses for shell and command ids.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// envelope renders a whole response. relatesTo is the request's MessageID, if any.
func envelope(action, relatesTo, body string) string {
	var b strings.Builder
	b.WriteString(`<s:Envelope xml:lang="en-US" xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr +
		`" xmlns:x="` + nsTransfer + `" xmlns:w="` + nsWSMan + `" xmlns:rsp="` + nsShell +
		`" xmlns:p="` + nsMSWSMan + `">`)
	b.WriteString(`<s:Header><a:Action>` + esc(action) + `</a:Action>`)
	b.WriteString(`<a:MessageID>uuid:` + newGUID() + `</a:MessageID>`)
	b.WriteString(`<a:To>` + anonymous + `</a:To>`)
	if relatesTo != "" {
		b.WriteString(`<a:RelatesTo>` + esc(relatesTo) + `</a:RelatesTo>`)
	}
	b.WriteString(`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
	return b.String()
}

func (f *fault) body(machine string) string {
	return `<s:Fault><s:Code><s:Value>` + esc(f.Code) + `</s:Value><s:Subcode><s:Value>` + esc(f.Subcode) +
		`</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">` + esc(f.Reason) +
		`</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="` + nsFault + `" Code="` + esc(f.WSManCode) +
		`" Machine="` + esc(machine) + `"><f:Message>` + esc(f.Message) +
		`</f:Message></f:WSManFault></s:Detail></s:Fault>`
}

const contentType = "application/soap+xml;charset=UTF-8"

func writeSOAP(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text))
}

func writeFault(w http.ResponseWriter, r *http.Request, relatesTo string, f *fault) {
	writeSOAP(w, f.Status, envelope(faultAction, relatesTo, f.body(machineName(r))))
}

// machineName is what WinRM puts in the Machine attribute of its faults: its own host name.
func machineName(r *http.Request) string {
	host := r.Host
	if i := strings.LastIndex(host, ":"); i > 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return host
}
