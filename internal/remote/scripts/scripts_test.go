package scripts_test

import (
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/scripts"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// allScripts returns every embedded script by file name.
func allScripts(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{"prelude.ps1": scripts.Prelude()}
	for _, op := range scripts.Operations() {
		body, ok := scripts.Body(op)
		if !ok {
			t.Fatalf("Operations lists %q but Body has none", op)
		}
		m[op+".ps1"] = body
	}
	return m
}

// code returns the script without its comment lines, so rules about code do not trip over
// comments that explain the rules.
func code(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func TestOperations(t *testing.T) {
	ops := scripts.Operations()
	if !sort.StringsAreSorted(ops) {
		t.Errorf("Operations not sorted: %v", ops)
	}
	found := false
	for _, op := range ops {
		if op == "prelude" {
			t.Error("prelude listed as an operation")
		}
		if op == "probe" {
			found = true
		}
	}
	if !found {
		t.Errorf("no probe operation in %v", ops)
	}
	if _, ok := scripts.Body("prelude"); ok {
		t.Error(`Body("prelude") found: the prelude is not an operation`)
	}
	if _, ok := scripts.Body("nope"); ok {
		t.Error(`Body("nope") found`)
	}
}

// The console code page would corrupt any non-ASCII character in a script, so none may
// contain one; the JSON writer escapes non-ASCII output for the same reason.
func TestScriptsAreASCII(t *testing.T) {
	for name, text := range allScripts(t) {
		for i, line := range strings.Split(text, "\n") {
			for col, r := range line {
				if r > 0x7e || (r < 0x20 && r != '\t' && r != '\r') {
					t.Errorf("%s:%d:%d: character %U is not printable ASCII", name, i+1, col+1, r)
				}
			}
		}
	}
}

// Every operation names itself first, so the prelude's trap reports faults under the right
// operation (DecodeResult rejects a result of another operation).
func TestBodiesNameTheirOperation(t *testing.T) {
	for _, op := range scripts.Operations() {
		body, _ := scripts.Body(op)
		first := ""
		for _, line := range strings.Split(code(body), "\n") {
			if strings.TrimSpace(line) != "" {
				first = strings.TrimSpace(line)
				break
			}
		}
		if want := "$ExOperation = '" + op + "'"; first != want {
			t.Errorf("%s.ps1: first statement is %q, want %q", op, first, want)
		}
		if !strings.Contains(body, "Write-Result $ExOperation ") && !strings.Contains(body, "Write-Result '"+op+"' ") {
			t.Errorf("%s.ps1 never calls Write-Result for its operation", op)
		}
	}
}

func TestPreludeContract(t *testing.T) {
	p := code(scripts.Prelude())
	for _, want := range []string{
		"$ErrorActionPreference = 'Stop'",
		"$ExResultMarker = '" + wire.ResultMarker + "'",
		"function ConvertTo-ExJson",
		"function Write-Result",
		"function Write-Fault",
		`',"ok":true,"result":'`,
		`',"ok":false,"fault":{"code":'`,
		`',"message":'`,
		"trap {",
		"'unexpected'",
		"exit 1", // the trap: an unexpected error
		"exit 0", // Stop-ExOperation: a deliberate fault, as the simulator answers it
		"[Console]::Out.WriteLine(",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("prelude.ps1 lacks %q", want)
		}
	}
}

// PowerShell 2.0 has none of these; and no script may turn data into code.
func TestPowerShell2Only(t *testing.T) {
	forbidden := []struct{ re, why string }{
		{`(?i)ConvertTo-Json|ConvertFrom-Json`, "PowerShell 3.0+ cmdlet"},
		{`(?i)\[ordered\]`, "PowerShell 3.0+ accelerator"},
		{`(?i)\[pscustomobject\]`, "PowerShell 3.0+ accelerator"},
		{`(?i)::new\(`, "PowerShell 5.0+ constructor syntax"},
		{`(?i)\s-(not)?in\s`, "PowerShell 3.0+ operator"},
		{`(?i)(^|\s)class\s+\w+`, "PowerShell 5.0+ class"},
		{`(?i)Get-CimInstance|Invoke-CimMethod`, "PowerShell 3.0+ cmdlet (use Get-WmiObject)"},
		{`(?i)Invoke-Expression|\biex\b`, "builds code from text"},
		{`(?i)\[ScriptBlock\]::Create|\.InvokeScript\(|Add-Type`, "builds code from text"},
		{`(?i)-Depth\b`, "PowerShell 3.0+ parameter"},
		{`(?i)\$PSItem\b`, "PowerShell 3.0+ variable"},
		{`(?i)\?\.|\?\?`, "PowerShell 7 operator"},
		{`(?i)-ErrorAction\s+Ignore\b`, "PowerShell 3.0+ preference value"},
	}
	for name, text := range allScripts(t) {
		c := code(text)
		for _, f := range forbidden {
			if m := regexp.MustCompile(f.re).FindString(c); m != "" {
				t.Errorf("%s: %q: %s", name, strings.TrimSpace(m), f.why)
			}
		}
	}
}

// jsonTags returns every json tag of a struct type, recursively through nested structs,
// pointers and slices (time.Time is a leaf: it is written as a date).
func jsonTags(t reflect.Type, seen map[reflect.Type]bool, tags map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(time.Time{}) || seen[t] {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		tags[name] = true
		jsonTags(f.Type, seen, tags)
	}
}

var keyRE = regexp.MustCompile(`'([a-z0-9_]+)'\s*=`)

// The probe writes exchange.Facts: every json tag of the struct and its nested structs must
// be a key of a hashtable in probe.ps1 ('tag' = ...), and every snake_case key there must be
// one of those tags. Adding a Go field without updating the script fails here.
func TestProbeWritesEveryFactsField(t *testing.T) {
	tags := map[string]bool{}
	jsonTags(reflect.TypeOf(exchange.Facts{}), map[reflect.Type]bool{}, tags)
	if len(tags) < 40 {
		t.Fatalf("only %d tags found in exchange.Facts: the reflection walk is broken", len(tags))
	}
	body, ok := scripts.Body("probe")
	if !ok {
		t.Fatal("no probe.ps1")
	}
	c := code(body)
	keys := map[string]bool{}
	for _, m := range keyRE.FindAllStringSubmatch(c, -1) {
		keys[m[1]] = true
	}
	var missing, unknown []string
	for tag := range tags {
		if !keys[tag] {
			missing = append(missing, tag)
		}
	}
	for key := range keys {
		if !tags[key] {
			unknown = append(unknown, key)
		}
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	if len(missing) > 0 {
		t.Errorf("probe.ps1 writes no key for these exchange.Facts json tags: %v", missing)
	}
	if len(unknown) > 0 {
		t.Errorf("probe.ps1 writes keys that exchange.Facts does not have: %v", unknown)
	}
}

// The probe's faults are the codes the provider switches on.
func TestProbeFaultCodes(t *testing.T) {
	body, _ := scripts.Body("probe")
	c := code(body)
	for _, want := range []string{
		"Stop-ExOperation 'wrong_server' ('this host is ' + $computer + ', not ' + $requested)",
		"Stop-ExOperation 'not_exchange'",
		"$Param_Server",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("probe.ps1 lacks %q", want)
		}
	}
	// wrong_server is decided before anything else can fault.
	if strings.Index(c, "'wrong_server'") > strings.Index(c, "'not_exchange'") {
		t.Error("probe.ps1 checks not_exchange before wrong_server")
	}
}

// What runs is prelude and body rendered together: the texts must come back unchanged
// through wire.Render/Parse (no marker line inside them) and end in one operation script.
func TestRenderedScriptsParseBack(t *testing.T) {
	for _, op := range scripts.Operations() {
		body, _ := scripts.Body(op)
		s := wire.Script{
			Operation: op,
			Params:    []wire.Param{{Name: "Server", Value: "EX01\u2019; $(x)"}},
			Prelude:   scripts.Prelude(),
			Body:      body,
		}
		text, err := s.Render()
		if err != nil {
			t.Fatalf("%s: Render: %v", op, err)
		}
		back, err := wire.Parse(text)
		if err != nil {
			t.Fatalf("%s: Parse: %v", op, err)
		}
		if back.Prelude != s.Prelude || back.Body != s.Body || back.Operation != op {
			t.Errorf("%s: prelude or body changed through Render/Parse", op)
		}
		if v, _ := back.Param("Server"); v != "EX01\u2019; $(x)" {
			t.Errorf("%s: Server came back as %#v", op, v)
		}
		stdin := wire.Pack(text)
		if got, err := wire.Unpack(wire.CommandLine, stdin); err != nil || got != text {
			t.Errorf("%s: Pack/Unpack: %v", op, err)
		}
	}
}
