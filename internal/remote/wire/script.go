package wire

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"regexp"
	"strings"
	"sync"
	"unicode/utf16"
)

// Param is one named parameter of an operation. Its value becomes the PowerShell variable
// $Param_<Name>, rendered by Literal: user input is data, never code.
type Param struct {
	Name  string
	Value any
}

const (
	headerPrefix  = "# exchange-provider operation: "
	preludeMarker = "#--- prelude"
	bodyMarker    = "#--- operation"
	paramPrefix   = "$Param_"
)

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// Script is an operation ready to run: its name, parameters, the shared prelude and the body.
type Script struct {
	Operation string
	Params    []Param
	Prelude   string
	Body      string
}

// Render writes the script text. Layout (parsed back by Parse):
//
//	# exchange-provider operation: <name>
//	$Param_<Name> = <literal>        (one per parameter)
//	#--- prelude
//	<prelude>
//	#--- operation
//	<body>
func (s Script) Render() (string, error) {
	if !nameRE.MatchString(s.Operation) {
		return "", fmt.Errorf("wire: bad operation name %q", s.Operation)
	}
	var b strings.Builder
	b.WriteString(headerPrefix + s.Operation + "\n")
	for _, p := range s.Params {
		if !nameRE.MatchString(p.Name) {
			return "", fmt.Errorf("wire: bad parameter name %q", p.Name)
		}
		lit, err := Literal(p.Value)
		if err != nil {
			return "", fmt.Errorf("wire: parameter %s: %w", p.Name, err)
		}
		b.WriteString(paramPrefix + p.Name + " = " + lit + "\n")
	}
	b.WriteString(preludeMarker + "\n" + s.Prelude + "\n" + bodyMarker + "\n" + s.Body)
	return b.String(), nil
}

// Parse reads a rendered script back. Values come back as string, int64, bool, []string or nil.
func Parse(text string) (Script, error) {
	var s Script
	line, rest, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(line, headerPrefix) {
		return s, errors.New("wire: not an operation script (no header)")
	}
	s.Operation = strings.TrimPrefix(line, headerPrefix)
	if !nameRE.MatchString(s.Operation) {
		return s, fmt.Errorf("wire: bad operation name %q", s.Operation)
	}
	for strings.HasPrefix(rest, paramPrefix) {
		name, after, ok := strings.Cut(rest[len(paramPrefix):], " = ")
		if !ok || !nameRE.MatchString(name) {
			return s, errors.New("wire: malformed parameter line")
		}
		v, r, err := parseLiteral(after)
		if err != nil {
			return s, fmt.Errorf("wire: parameter %s: %w", name, err)
		}
		if !strings.HasPrefix(r, "\n") {
			return s, fmt.Errorf("wire: parameter %s: trailing text after literal", name)
		}
		s.Params = append(s.Params, Param{Name: name, Value: v})
		rest = r[1:]
	}
	if !strings.HasPrefix(rest, preludeMarker+"\n") {
		return s, errors.New("wire: missing prelude marker")
	}
	rest = rest[len(preludeMarker)+1:]
	prelude, body, ok := strings.Cut(rest, "\n"+bodyMarker+"\n")
	if !ok {
		return s, errors.New("wire: missing operation marker")
	}
	s.Prelude, s.Body = prelude, body
	return s, nil
}

// Param returns the value of the named parameter and whether it was given.
func (s Script) Param(name string) (any, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return nil, false
}

// bootstrap is the whole command line's PowerShell. It reads the real script from stdin
// (base64 of gzip of UTF-8), so any script travels in a command line of constant, short
// length: cmd.exe silently drops lines over 8191 characters.
const bootstrap = `$ErrorActionPreference='Stop';` +
	`$b=[Convert]::FromBase64String((($input|Out-String) -replace '\s',''));` +
	`$m=New-Object IO.MemoryStream(,$b);` +
	`$g=New-Object IO.Compression.GZipStream($m,[IO.Compression.CompressionMode]::Decompress);` +
	`$r=New-Object IO.StreamReader($g,[Text.Encoding]::UTF8);` +
	`$t=$r.ReadToEnd();$r.Close();` +
	`& ([ScriptBlock]::Create($t))`

// CommandLine is the fixed command every operation runs; the script itself is its stdin.
var CommandLine = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand " + encodeUTF16(bootstrap)

// Bootstrap returns the PowerShell text behind CommandLine, for syntax checks.
func Bootstrap() string { return bootstrap }

func encodeUTF16(s string) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Pack turns a rendered script into the stdin that CommandLine reads: base64 of one gzip
// member. Every operation of one kind sends the same prelude and body (about 83 KB for a
// probe) behind a few lines of parameters, so that constant part is compressed once per
// process and kept (packedTails); each call only adds the parameter lines, uncompressed, in
// front of it. The gzip member stays one ordinary DEFLATE stream (RFC 1951: stored blocks
// for the parameters, then the cached compressed blocks; RFC 1952 CRC-32 and size over the
// whole text), so the bootstrap's GZipStream on .NET 2.0 reads it as before and the command
// line does not change.
func Pack(script string) []byte {
	head, tail, ok := splitScript(script)
	if !ok {
		return packWhole(script)
	}
	t := packedTail(tail)
	var raw bytes.Buffer
	raw.Grow(len(gzipHeader) + len(head) + 5*(len(head)/maxStored+1) + len(t.deflate) + 8)
	raw.Write(gzipHeader)
	writeStored(&raw, head)
	raw.Write(t.deflate)
	crc := crc32.Update(crc32.ChecksumIEEE([]byte(head)), crc32.IEEETable, t.text)
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[0:4], crc)
	binary.LittleEndian.PutUint32(trailer[4:8], uint32(len(head)+len(t.text)))
	raw.Write(trailer[:])
	return encodeStdin(raw.Bytes())
}

// splitScript cuts a rendered script before its prelude marker: head is the operation
// header and parameter lines, tail the prelude and body. Where it cuts only decides what
// is cached; the packed text is the script either way.
func splitScript(script string) (head, tail string, ok bool) {
	i := strings.Index(script, "\n"+preludeMarker+"\n")
	if i < 0 {
		return "", "", false
	}
	return script[:i+1], script[i+1:], true
}

// gzipHeader is a gzip member header (RFC 1952): deflate, no flags, no time, unknown OS.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// maxStored is the most bytes one stored DEFLATE block holds.
const maxStored = 0xffff

// writeStored writes b as non-final stored DEFLATE blocks. Each starts byte-aligned (the
// stream's start, or after another stored block) and ends byte-aligned, so the cached
// compressed blocks can follow.
func writeStored(w *bytes.Buffer, b string) {
	for len(b) > 0 {
		n := min(len(b), maxStored)
		w.Write([]byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)}) // BFINAL=0 BTYPE=00, LEN, NLEN
		w.WriteString(b[:n])
		b = b[n:]
	}
}

// tail is the constant part of a script, compressed once: text for the CRC, deflate for
// the stream (it ends with the final block).
type tail struct {
	text    []byte
	deflate []byte
}

// maxTails bounds the cache: there are a few dozen operations; anything past the bound is
// compressed per call, as before.
const maxTails = 64

var tails struct {
	sync.Mutex
	m map[string]*tail
}

func packedTail(text string) *tail {
	tails.Lock()
	t, ok := tails.m[text]
	tails.Unlock()
	if ok {
		return t
	}
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = zw.Write([]byte(text))
	_ = zw.Close()
	t = &tail{text: []byte(text), deflate: buf.Bytes()}
	tails.Lock()
	defer tails.Unlock()
	if tails.m == nil {
		tails.m = map[string]*tail{}
	}
	if len(tails.m) < maxTails {
		// A copy as the key: the script it was cut from carries parameter values.
		tails.m[strings.Clone(text)] = t
	}
	return t
}

// packWhole gzips a text that is not a rendered operation script.
func packWhole(script string) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write([]byte(script))
	_ = zw.Close()
	return encodeStdin(buf.Bytes())
}

func encodeStdin(raw []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw))+2)
	base64.StdEncoding.Encode(out, raw)
	copy(out[len(out)-2:], "\r\n")
	return out
}

// maxScript bounds what Unpack inflates: a script over it is refused, never cut short.
const maxScript = 16 << 20

// Unpack is Pack's inverse, for the simulator: it checks the command line is CommandLine and
// returns the script text from stdin.
func Unpack(commandLine string, stdin []byte) (string, error) {
	if strings.TrimSpace(commandLine) != CommandLine {
		return "", errors.New("wire: unknown command line")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(stdin)), ""))
	if err != nil {
		return "", fmt.Errorf("wire: stdin is not base64: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return "", fmt.Errorf("wire: stdin is not gzip: %w", err)
	}
	text, err := io.ReadAll(io.LimitReader(zr, maxScript+1))
	if err != nil {
		return "", fmt.Errorf("wire: stdin: %w", err)
	}
	if len(text) > maxScript {
		return "", fmt.Errorf("wire: script over %d bytes", maxScript)
	}
	return string(text), nil
}

// ResultMarker precedes the one JSON document a script writes on stdout.
const ResultMarker = "#EXCHANGE-RESULT#"

// Envelope is what a script writes after ResultMarker: a result or a structured fault.
type Envelope struct {
	Operation string          `json:"operation"`
	OK        bool            `json:"ok"`
	Result    json.RawMessage `json:"result,omitempty"`
	Fault     *Fault          `json:"fault,omitempty"`
}

// Fault is an error a script reports on purpose (access denied, not an Exchange server, ...).
type Fault struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (f *Fault) Error() string { return f.Code + ": " + f.Message }

// EncodeResult writes the stdout of a successful operation (used by the simulator).
func EncodeResult(op string, result any) (string, error) {
	raw, err := json.Marshal(result)
	if err != nil {
		return "", err
	}
	return encodeEnvelope(Envelope{Operation: op, OK: true, Result: raw})
}

// EncodeFault writes the stdout of an operation that reports a fault.
func EncodeFault(op, code, message string) (string, error) {
	return encodeEnvelope(Envelope{Operation: op, Fault: &Fault{Code: code, Message: message}})
}

func encodeEnvelope(e Envelope) (string, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	return ResultMarker + string(raw) + "\r\n", nil
}

// ErrNoResult means the script wrote no result: it died, or something else answered.
var ErrNoResult = errors.New("wire: the operation wrote no result")

// DecodeResult reads the last ResultMarker line of stdout. A fault comes back as *Fault;
// on success the result is decoded into out.
func DecodeResult(stdout string, op string, out any) error {
	i := strings.LastIndex(stdout, ResultMarker)
	if i < 0 {
		return ErrNoResult
	}
	line, _, _ := strings.Cut(stdout[i+len(ResultMarker):], "\n")
	var e Envelope
	if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &e); err != nil {
		return fmt.Errorf("wire: result of %s is not valid JSON: %w", op, err)
	}
	if e.Operation != op {
		return fmt.Errorf("wire: expected the result of %s, got %q", op, e.Operation)
	}
	if !e.OK {
		if e.Fault == nil {
			return fmt.Errorf("wire: %s failed without a fault", op)
		}
		return e.Fault
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(e.Result, out); err != nil {
		return fmt.Errorf("wire: result of %s: %w", op, err)
	}
	return nil
}
