package wire

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The five characters PowerShell treats as a single quote (its tokenizer's IsSingleQuote).
const (
	apostrophe = "\u0027"
	leftQuote  = "\u2018"
	rightQuote = "\u2019"
	lowQuote   = "\u201a"
	highQuote  = "\u201b"
)

var allQuotes = []string{apostrophe, leftQuote, rightQuote, lowQuote, highQuote}

// edgeStrings are the strings most likely to break out of a literal or to be mangled on the way.
func edgeStrings() []string {
	s := []string{
		"",
		"plain",
		"EX01",
		"$(Remove-Item C:\\ -Recurse)",
		"$env:COMPUTERNAME ${x} $null $true",
		"`", "a`b", "`'", "``",
		"\"", "\"\"", "say \"hi\"",
		"\r", "\n", "\r\n", "line1\nline2\r\nline3", "\n#--- prelude\n", "\n#--- operation\n",
		"\x00", "a\x00b",
		"\U0001F600", "mail \U0001F4E7 \u00e9\u00e8 \u65e5\u672c",
		"@'\nhere\n'@", "@\"\nhere\n\"@",
		"# comment", "<# block #>",
		"C:\\Program Files\\Microsoft\\Exchange Server\\",
		"; Stop-Computer", "| Out-Null", "& calc.exe",
		"\u201c\u201d\u201e", // double-quote look-alikes: plain text in a single-quoted string
		"\u2013\u2014\u2015", // dash look-alikes
	}
	for _, q := range allQuotes {
		s = append(s,
			q,          // alone
			q+q,        // doubled
			q+q+q,      // tripled
			q+"x",      // at the start
			"x"+q,      // at the end
			q+"x"+q,    // at both ends
			"it"+q+"s", // in the middle
		)
	}
	// Every pair of different quote characters, side by side.
	for _, a := range allQuotes {
		for _, b := range allQuotes {
			s = append(s, a+b, "x"+a+b+"y")
		}
	}
	return s
}

// normalize turns a rendered value into what Parse gives back (int64, non-nil slices).
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case []string:
		if x == nil {
			return []string{}
		}
	}
	return v
}

func TestLiteralRoundTrip(t *testing.T) {
	values := []any{nil, true, false, 0, 1, -1, 42, -42, int64(math.MaxInt64), int64(math.MinInt64),
		[]string{}, []string(nil), []string{"one"}, []string{"a", "b"}, []string{""}, []string{"", ""},
		[]string{"it's", "\u2018x\u2019", "$(x)", "a\nb", "\x00"}}
	for _, s := range edgeStrings() {
		values = append(values, s, []string{s}, []string{s, s})
	}
	for _, v := range values {
		lit, err := Literal(v)
		if err != nil {
			t.Fatalf("Literal(%#v): %v", v, err)
		}
		got, rest, err := parseLiteral(lit + "\nnext")
		if err != nil {
			t.Fatalf("parseLiteral(%q) of %#v: %v", lit, v, err)
		}
		if rest != "\nnext" {
			t.Errorf("parseLiteral(%q) left %q, want the text after the literal", lit, rest)
		}
		if want := normalize(v); !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %#v: literal %q parsed as %#v", v, lit, got)
		}
	}
}

func TestLiteralQuotesEveryQuoteCharacter(t *testing.T) {
	for _, q := range allQuotes {
		lit, err := Literal("a" + q + "b")
		if err != nil {
			t.Fatal(err)
		}
		if want := "'a" + q + q + "b'"; lit != want {
			t.Errorf("Literal(%q) = %q, want %q (the quote doubled)", "a"+q+"b", lit, want)
		}
		// Inside the literal no quote character may stand alone: PowerShell would end the
		// string there and read the rest as code.
		inner := []rune(lit[1 : len(lit)-1])
		for i := 0; i < len(inner); i++ {
			if isSingleQuote(inner[i]) {
				if i+1 >= len(inner) || !isSingleQuote(inner[i+1]) {
					t.Fatalf("Literal(%q) = %q has a lone quote at %d", "a"+q+"b", lit, i)
				}
				i++
			}
		}
	}
}

func TestLiteralShapes(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{nil, "$null"},
		{true, "$true"},
		{false, "$false"},
		{-5, "-5"},
		{int64(7), "7"},
		{"", "''"},
		{"it's", "'it''s'"},
		{[]string{}, "@()"},
		{[]string{"one"}, "@('one')"},
		{[]string{"a", "b"}, "@('a','b')"},
	}
	for _, c := range cases {
		got, err := Literal(c.in)
		if err != nil || got != c.want {
			t.Errorf("Literal(%#v) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestLiteralRejects(t *testing.T) {
	for _, v := range []any{3.5, []int{1}, map[string]string{}, struct{}{}, "bad \xff utf-8", []string{"ok", "\xc3"}} {
		if lit, err := Literal(v); err == nil {
			t.Errorf("Literal(%#v) = %q, want an error", v, lit)
		}
	}
}

func TestParseLiteralRejects(t *testing.T) {
	for _, s := range []string{"", "'unterminated", "abc", "\"double\"", "@('a' 'b')", "@('a'", "-", "@(1)"} {
		if v, rest, err := parseLiteral(s); err == nil {
			t.Errorf("parseLiteral(%q) = %#v, rest %q; want an error", s, v, rest)
		}
	}
}

func renderParse(t *testing.T, s Script) Script {
	t.Helper()
	text, err := s.Render()
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	back, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse of\n%s\n: %v", text, err)
	}
	return back
}

func TestRenderParse(t *testing.T) {
	s := Script{
		Operation: "probe",
		Params: []Param{
			{Name: "Server", Value: "EX01"},
			{Name: "Count", Value: -3},
			{Name: "Big", Value: int64(1) << 40},
			{Name: "Force", Value: true},
			{Name: "Off", Value: false},
			{Name: "Nothing", Value: nil},
			{Name: "None", Value: []string{}},
			{Name: "One", Value: []string{"KB930809"}},
		},
		Prelude: "$ErrorActionPreference = 'Stop'\nfunction F { 1 }",
		Body:    "$ExOperation = 'probe'\nWrite-Result 'probe' 1\n",
	}
	for i, e := range edgeStrings() {
		s.Params = append(s.Params, Param{Name: "S" + strings.Repeat("x", i%3) + string(rune('A'+i%26)) + itoa(i), Value: e})
	}
	back := renderParse(t, s)
	if back.Operation != s.Operation || back.Prelude != s.Prelude || back.Body != s.Body {
		t.Errorf("operation/prelude/body changed: %q %q %q", back.Operation, back.Prelude, back.Body)
	}
	if len(back.Params) != len(s.Params) {
		t.Fatalf("%d params back, want %d", len(back.Params), len(s.Params))
	}
	for i, p := range s.Params {
		if back.Params[i].Name != p.Name || !reflect.DeepEqual(back.Params[i].Value, normalize(p.Value)) {
			t.Errorf("param %s: got %s = %#v", p.Name, back.Params[i].Name, back.Params[i].Value)
		}
	}
	if v, ok := back.Param("Server"); !ok || v != "EX01" {
		t.Errorf("Param(Server) = %#v, %v", v, ok)
	}
	if _, ok := back.Param("Missing"); ok {
		t.Error("Param(Missing) found")
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestRenderRejectsBadNames(t *testing.T) {
	for _, s := range []Script{
		{Operation: ""},
		{Operation: "probe; rm"},
		{Operation: "pro be"},
		{Operation: "probe", Params: []Param{{Name: "A B", Value: "x"}}},
		{Operation: "probe", Params: []Param{{Name: "X = 1; $Y", Value: "x"}}},
		{Operation: "probe", Params: []Param{{Name: "", Value: "x"}}},
		{Operation: "probe", Params: []Param{{Name: "F", Value: 1.5}}},
	} {
		if text, err := s.Render(); err == nil {
			t.Errorf("Render(%+v) = %q, want an error", s, text)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, text := range []string{
		"",
		"no header",
		"# exchange-provider operation: bad name\n#--- prelude\n\n#--- operation\n",
		"# exchange-provider operation: probe\n$Param_X = 'open\n#--- prelude\n\n#--- operation\n",
		"# exchange-provider operation: probe\n$Param_X = 'a' + 'b'\n#--- prelude\n\n#--- operation\n",
		"# exchange-provider operation: probe\n#--- operation\n",
		"# exchange-provider operation: probe\n#--- prelude\nno body marker",
	} {
		if s, err := Parse(text); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", text, s)
		}
	}
}

// FuzzRenderParse: any parameter values render to a script that parses back to the same
// values (docs/architecture.md: "Fuzz the renderer: render -> parse -> equal"). The seeds
// are the edge cases, so a plain `go test` runs them.
func FuzzRenderParse(f *testing.F) {
	edges := edgeStrings()
	for i, e := range edges {
		f.Add(e, edges[(i+1)%len(edges)], int64(i)-20, i%2 == 0)
	}
	f.Add("\xff", "", int64(math.MinInt64), true)
	f.Add("", "\xc3", int64(math.MaxInt64), false)
	f.Fuzz(func(t *testing.T, a, b string, n int64, flag bool) {
		s := Script{
			Operation: "probe",
			Params: []Param{
				{Name: "A", Value: a},
				{Name: "List", Value: []string{a, b}},
				{Name: "One", Value: []string{b}},
				{Name: "N", Value: n},
				{Name: "Flag", Value: flag},
				{Name: "B", Value: b},
			},
			Prelude: "# prelude",
			Body:    "Write-Result 'probe' $Param_A",
		}
		text, err := s.Render()
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			if err == nil {
				t.Fatalf("Render accepted invalid UTF-8 %q / %q", a, b)
			}
			return
		}
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		back, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q): %v", text, err)
		}
		want := []Param{{"A", a}, {"List", []string{a, b}}, {"One", []string{b}}, {"N", n}, {"Flag", flag}, {"B", b}}
		if !reflect.DeepEqual(back.Params, want) || back.Prelude != s.Prelude || back.Body != s.Body {
			t.Fatalf("round trip changed the script:\nrendered %q\nparsed   %#v", text, back)
		}
	})
}

func TestCommandLineFitsCmdExe(t *testing.T) {
	// cmd.exe silently drops a command line longer than 8191 characters (Microsoft:
	// "Command prompt (Cmd.exe) command-line string limitation"), so the fixed command line
	// must stay under it whatever the script: the script travels on stdin, not here.
	if n := len(CommandLine); n >= 8191 {
		t.Fatalf("CommandLine is %d characters, cmd.exe drops lines of 8191 and more", n)
	}
	if !strings.HasPrefix(CommandLine, "powershell.exe -NoProfile -NonInteractive ") {
		t.Errorf("CommandLine must run powershell.exe -NoProfile -NonInteractive: %q", CommandLine)
	}
}

func TestPackUnpack(t *testing.T) {
	// A 1 MB script of random printable text (it compresses badly, so stdin is large too).
	r := rand.New(rand.NewSource(1))
	var b strings.Builder
	for b.Len() < 1<<20 {
		if r.Intn(80) == 0 {
			b.WriteString("\r\n")
		}
		b.WriteByte(byte(' ' + r.Intn(95)))
	}
	b.WriteString("\u2018\u00e9\U0001F600\x00")
	for _, script := range []string{"", "Write-Output 1", b.String()} {
		stdin := Pack(script)
		got, err := Unpack(CommandLine, stdin)
		if err != nil {
			t.Fatalf("Unpack of a %d-byte script: %v", len(script), err)
		}
		if got != script {
			t.Fatalf("Unpack changed a %d-byte script", len(script))
		}
		// Whitespace inside stdin (line breaks added in transit) is ignored, as the bootstrap's
		// -replace '\s','' ignores it.
		spaced := strings.Join(chunks(string(stdin), 76), "\r\n")
		if got, err := Unpack(" "+CommandLine+"\r\n", []byte(spaced)); err != nil || got != script {
			t.Fatalf("Unpack of line-broken stdin: %v", err)
		}
	}
}

func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func TestUnpackRejects(t *testing.T) {
	stdin := Pack("Write-Output 1")
	for _, cl := range []string{
		"",
		"cmd.exe /c whoami",
		"powershell.exe -NoProfile -NonInteractive -Command Get-Process",
		CommandLine + " -Command Get-Process",
		strings.Replace(CommandLine, "-NoProfile ", "", 1),
	} {
		if _, err := Unpack(cl, stdin); err == nil {
			t.Errorf("Unpack accepted command line %q", cl)
		}
	}
	for _, in := range []string{"not base64 !!", "aGVsbG8=" /* base64 of "hello", not gzip */} {
		if _, err := Unpack(CommandLine, []byte(in)); err == nil {
			t.Errorf("Unpack accepted stdin %q", in)
		}
	}
}

func TestUnpackRefusesOversizedScript(t *testing.T) {
	big := strings.Repeat("x", maxScript+1)
	if _, err := Unpack(CommandLine, Pack(big)); err == nil {
		t.Fatal("Unpack cut an oversized script short instead of refusing it")
	}
	if got, err := Unpack(CommandLine, Pack(big[:maxScript])); err != nil || len(got) != maxScript {
		t.Fatalf("Unpack of a script of exactly the limit: %d bytes, %v", len(got), err)
	}
}

func TestDecodeResultSuccess(t *testing.T) {
	out, err := EncodeResult("probe", map[string]any{"server": "EX01", "roles": []string{}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Server string   `json:"server"`
		Roles  []string `json:"roles"`
	}
	if err := DecodeResult(out, "probe", &got); err != nil {
		t.Fatalf("DecodeResult: %v", err)
	}
	if got.Server != "EX01" || got.Roles == nil || len(got.Roles) != 0 {
		t.Errorf("decoded %+v", got)
	}
	if err := DecodeResult(out, "probe", nil); err != nil {
		t.Errorf("DecodeResult with nil out: %v", err)
	}
}

func TestDecodeResultAsThePreludeWritesIt(t *testing.T) {
	// The shape prelude.ps1's Write-Result writes: ASCII only, \u escapes, CRLF, a date.
	out := ResultMarker + `{"operation":"probe","ok":true,"result":{"server":"EX\u00e9","when":"2024-02-29T23:59:58Z","list":[]}}` + "\r\n"
	var got struct {
		Server string   `json:"server"`
		When   string   `json:"when"`
		List   []string `json:"list"`
	}
	if err := DecodeResult(out, "probe", &got); err != nil {
		t.Fatal(err)
	}
	if got.Server != "EX\u00e9" || got.When != "2024-02-29T23:59:58Z" || got.List == nil {
		t.Errorf("decoded %+v", got)
	}
}

func TestDecodeResultFault(t *testing.T) {
	out, err := EncodeFault("probe", "wrong_server", "this host is EX02, not EX01")
	if err != nil {
		t.Fatal(err)
	}
	err = DecodeResult(out, "probe", &struct{}{})
	var fault *Fault
	if !errors.As(err, &fault) {
		t.Fatalf("DecodeResult = %v, want a *Fault", err)
	}
	if fault.Code != "wrong_server" || fault.Message != "this host is EX02, not EX01" {
		t.Errorf("fault = %+v", fault)
	}
	if fault.Error() != "wrong_server: this host is EX02, not EX01" {
		t.Errorf("Error() = %q", fault.Error())
	}
	// ok:false without a fault object is an error, not a success.
	fault = nil
	if err := DecodeResult(ResultMarker+`{"operation":"probe","ok":false}`, "probe", nil); err == nil || errors.As(err, &fault) {
		t.Errorf("ok:false without a fault object = %v, want a plain error", err)
	}
}

func TestDecodeResultWrongOperation(t *testing.T) {
	out, _ := EncodeResult("install", 1)
	err := DecodeResult(out, "probe", nil)
	if err == nil || !strings.Contains(err.Error(), "install") {
		t.Fatalf("DecodeResult of another operation's result = %v", err)
	}
}

func TestDecodeResultNoMarker(t *testing.T) {
	for _, out := range []string{"", "hello\r\n", `{"operation":"probe","ok":true,"result":1}`} {
		if err := DecodeResult(out, "probe", nil); !errors.Is(err, ErrNoResult) {
			t.Errorf("DecodeResult(%q) = %v, want ErrNoResult", out, err)
		}
	}
}

func TestDecodeResultGarbage(t *testing.T) {
	for _, out := range []string{
		ResultMarker,
		ResultMarker + "\r\n",
		ResultMarker + "{not json}",
		ResultMarker + `{"operation":"probe","ok":true,"result":` + "\r\n" + `1}`,
	} {
		err := DecodeResult(out, "probe", nil)
		if err == nil || errors.Is(err, ErrNoResult) {
			t.Errorf("DecodeResult(%q) = %v, want a JSON error", out, err)
		}
	}
	// Valid envelope, result of the wrong shape for out.
	out, _ := EncodeResult("probe", "text")
	var n int
	if err := DecodeResult(out, "probe", &n); err == nil {
		t.Error("DecodeResult decoded a string into an int")
	}
}

func TestDecodeResultNoise(t *testing.T) {
	result, _ := EncodeResult("probe", map[string]int{"n": 2})
	stale, _ := EncodeResult("probe", map[string]int{"n": 1})
	for _, out := range []string{
		"WARNING: something\r\nprogress 50%\r\n" + result,
		"noise on the same line " + result,
		stale + "more output\r\n" + result, // the last result wins
		result + "trailing noise\r\n",
		"\xef\xbb\xbf" + result, // a byte order mark in front
	} {
		var got struct{ N int }
		if err := DecodeResult(out, "probe", &got); err != nil || got.N != 2 {
			t.Errorf("DecodeResult(%q) = %+v, %v; want n=2", out, got, err)
		}
	}
}

// Pack compresses an operation's prelude and body once and puts the parameter lines in
// front of them uncompressed: every packed script still unpacks (as the bootstrap's
// GZipStream reads it, one gzip member) to exactly the rendered text, whatever its
// parameters, and the same operation with other parameters reuses the cached part.
func TestPackCachesTheConstantPart(t *testing.T) {
	prelude := strings.Repeat("function Write-Result { param($x) $x }\n", 900)
	body := strings.Repeat("$facts = Get-Item 'HKLM:\\SOFTWARE\\Microsoft\\Exchange'\n", 1200)
	render := func(params ...Param) string {
		text, err := Script{Operation: "probe", Params: params, Prelude: prelude, Body: body}.Render()
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	big := strings.Repeat("EX", 70000) // a parameter line longer than one stored block
	texts := []string{
		render(),
		render(Param{"Server", "EX01"}),
		render(Param{"Server", "EX02"}, Param{"Names", []string{"a", "#--- prelude", "c"}}),
		render(Param{"Server", big}),
	}
	var sizes []int
	for _, text := range texts {
		stdin := Pack(text)
		got, err := Unpack(CommandLine, stdin)
		if err != nil {
			t.Fatalf("Unpack of a %d-byte script: %v", len(text), err)
		}
		if got != text {
			t.Fatalf("Unpack changed a %d-byte script", len(text))
		}
		// One gzip member, as .NET 2.0's GZipStream reads only the first.
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(stdin)))
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		first, err := io.ReadAll(zr)
		if err != nil || string(first) != text {
			t.Fatalf("the first gzip member is not the whole script (%d of %d bytes): %v", len(first), len(text), err)
		}
		sizes = append(sizes, len(stdin))
	}
	// The constant part compresses well and was compressed once: the first three differ by
	// only their parameter lines.
	if sizes[1]-sizes[0] > 40 || sizes[2]-sizes[0] > 120 {
		t.Errorf("packed sizes %v: parameters should only add their own bytes", sizes[:3])
	}
	tails.Lock()
	n := len(tails.m)
	tails.Unlock()
	if n == 0 {
		t.Error("no constant part was cached")
	}
}
