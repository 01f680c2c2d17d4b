package scripts_test

import (
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

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
// be a key of a hashtable in probe.ps1 or a prelude function it calls ('tag' = ...), and every
// snake_case key in probe.ps1 must be one of those tags. Adding a Go field without updating the script fails here.
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
	// Keys the probe writes itself, and those of the prelude functions it calls (the job,
	// lock and service shapes it shares with other operations).
	keys, all := calledKeys(t, body)
	var missing, unknown []string
	for tag := range tags {
		if !all[tag] {
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

// ---------------------------------------------------------------------------------------
// The operations of wire/ops.go: one script each, naming its operation, reading exactly its
// parameters, writing exactly its result type's keys.

// opConsts reads wire/ops.go and returns its Op* constants (name -> value) and their doc
// comments, so an operation added there without a script fails here.
func opConsts(t *testing.T) (map[string]string, map[string]string) {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filepath.Join("..", "wire", "ops.go"), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	values, docs := map[string]string{}, map[string]string{}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Op") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("ops.go: %s is not a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				values[name.Name] = v
				if vs.Doc != nil {
					docs[v] = vs.Doc.Text()
				}
			}
		}
	}
	if len(values) < 10 {
		t.Fatalf("only %d Op constants found in ops.go", len(values))
	}
	return values, docs
}

// contract is an operation's parameters (its wire request type's) and result type.
type contract struct {
	params []string
	result any
}

// contractOf reads the contract off a request type: the compiler ties its result type.
func contractOf[Res any](req wire.Request[Res]) (string, contract) {
	var c contract
	for _, p := range wire.ParamSpecs(req) {
		c.params = append(c.params, p.Name)
	}
	var res Res
	c.result = res
	return req.Op(), c
}

// opContract is each operation's contract, by name.
var opContract = func() map[string]contract {
	out := map[string]contract{}
	add := func(op string, c contract) { out[op] = c }
	add(contractOf(wire.ProbeRequest{}))
	add(contractOf(wire.LockRequest{}))
	add(contractOf(wire.ServiceRequest{}))
	add(contractOf(wire.ExchangeServicesRequest{}))
	add(contractOf(wire.RevocationCheckRequest{}))
	add(contractOf(wire.RemoteStreamingBackupRequest{}))
	add(contractOf(wire.CustomizationsRequest{}))
	add(contractOf(wire.OWACheckRequest{}))
	add(contractOf(wire.FirewallRequest{}))
	add(contractOf(wire.FrontEndRequest{}))
	add(contractOf(wire.JobStartRequest{}))
	add(contractOf(wire.JobStatusRequest{}))
	add(contractOf(wire.JobClearRequest{}))
	add(contractOf(wire.RebootRequest{}))
	add(contractOf(wire.DiscoverRequest{}))
	add(contractOf(wire.ClusterRequest{}))
	add(contractOf(wire.SetupWatermarkRequest{}))
	return out
}()

var parenRE = regexp.MustCompile(`\([^()]*\)`)

// docParams reads the parameter names out of an ops.go comment: "Params: A (string), B." or
// "No params".
func docParams(doc string) ([]string, bool) {
	text := strings.Join(strings.Fields(doc), " ")
	if strings.Contains(text, "No params") {
		return nil, true
	}
	_, after, ok := strings.Cut(text, "Params: ")
	if !ok {
		return nil, false
	}
	for parenRE.MatchString(after) {
		after = parenRE.ReplaceAllString(after, "")
	}
	after, _, _ = strings.Cut(after, ".")
	var names []string
	for _, p := range strings.Split(after, ",") {
		names = append(names, strings.TrimSpace(p))
	}
	return names, true
}

func TestEveryOperationHasAScript(t *testing.T) {
	values, docs := opConsts(t)
	ops := map[string]bool{}
	for constName, op := range values {
		ops[op] = true
		if _, ok := scripts.Body(op); !ok {
			t.Errorf("wire.%s = %q has no script %s.ps1", constName, op, op)
		}
		c, ok := opContract[op]
		if !ok {
			t.Errorf("wire.%s = %q: give it a request type in wire/requests.go and add it to opContract in this test", constName, op)
			continue
		}
		params, ok := docParams(docs[op])
		if !ok {
			t.Errorf("wire.%s: its comment names no Params", constName)
		} else if !reflect.DeepEqual(params, c.params) {
			t.Errorf("wire.%s: ops.go names params %q, its request type %q", constName, params, c.params)
		}
	}
	for _, op := range scripts.Operations() {
		if !ops[op] {
			t.Errorf("script %s.ps1 is not an operation of wire/ops.go", op)
		}
	}
}

var paramRefRE = regexp.MustCompile(`\$Param_([A-Za-z0-9_]+)`)

// Each script reads exactly the parameters its operation has, by their exact names.
func TestScriptsReadTheirParameters(t *testing.T) {
	for op, c := range opContract {
		body, ok := scripts.Body(op)
		if !ok {
			continue // TestEveryOperationHasAScript reports it
		}
		used := map[string]bool{}
		for _, m := range paramRefRE.FindAllStringSubmatch(code(body), -1) {
			used[m[1]] = true
		}
		for _, p := range c.params {
			if !used[p] {
				t.Errorf("%s.ps1 never reads $Param_%s", op, p)
			}
			delete(used, p)
		}
		for p := range used {
			t.Errorf("%s.ps1 reads $Param_%s, which %s does not have", op, p, op)
		}
	}
	if refs := paramRefRE.FindAllString(code(scripts.Prelude()), -1); len(refs) > 0 {
		t.Errorf("prelude.ps1 reads parameters %v: only operation bodies may", refs)
	}
}

var preludeFuncRE = regexp.MustCompile(`(?m)^function ([A-Za-z][A-Za-z0-9-]*) \{\n`)

// preludeFunctions returns each prelude function's text (from "function" to its closing
// brace at the start of a line).
func preludeFunctions(t *testing.T) map[string]string {
	t.Helper()
	p := code(scripts.Prelude())
	funcs := map[string]string{}
	for _, loc := range preludeFuncRE.FindAllStringSubmatchIndex(p, -1) {
		name := p[loc[2]:loc[3]]
		end := strings.Index(p[loc[1]:], "\n}\n")
		if end < 0 {
			t.Fatalf("prelude.ps1: function %s has no closing brace at the start of a line", name)
		}
		funcs[name] = p[loc[0] : loc[1]+end+3]
	}
	if len(funcs) < 10 {
		t.Fatalf("only %d prelude functions found", len(funcs))
	}
	return funcs
}

// calledKeys returns the result keys a body writes itself and those of the prelude
// functions it calls (transitively).
func calledKeys(t *testing.T, body string) (own, all map[string]bool) {
	t.Helper()
	funcs := preludeFunctions(t)
	own, all = map[string]bool{}, map[string]bool{}
	for _, m := range keyRE.FindAllStringSubmatch(code(body), -1) {
		own[m[1]] = true
		all[m[1]] = true
	}
	seen := map[string]bool{}
	var visit func(text string)
	visit = func(text string) {
		for name, fn := range funcs {
			if seen[name] || !regexp.MustCompile(`(^|[^A-Za-z0-9-])`+regexp.QuoteMeta(name)+`($|[^A-Za-z0-9-])`).MatchString(text) {
				continue
			}
			seen[name] = true
			for _, m := range keyRE.FindAllStringSubmatch(fn, -1) {
				all[m[1]] = true
			}
			visit(fn)
		}
	}
	visit(code(body))
	return own, all
}

// Every result key a script writes is a json tag of its operation's result type, and every
// tag is written (by the script or a prelude function it calls).
func TestResultKeysMatchResultTypes(t *testing.T) {
	for op, c := range opContract {
		body, ok := scripts.Body(op)
		if !ok {
			continue
		}
		tags := map[string]bool{}
		jsonTags(reflect.TypeOf(c.result), map[reflect.Type]bool{}, tags)
		own, all := calledKeys(t, body)
		var missing, unknown []string
		for tag := range tags {
			if !all[tag] {
				missing = append(missing, tag)
			}
		}
		for key := range own {
			if !tags[key] {
				unknown = append(unknown, key)
			}
		}
		sort.Strings(missing)
		sort.Strings(unknown)
		if len(missing) > 0 {
			t.Errorf("%s.ps1 writes no key for these json tags of %T: %v", op, c.result, missing)
		}
		if len(unknown) > 0 {
			t.Errorf("%s.ps1 writes keys that %T does not have: %v", op, c.result, unknown)
		}
	}
}

// The prelude's result shapes (exchange.Job, exchange.Lock, exchange.ServiceFacts) use only
// json tags of the result types.
func TestPreludeKeysAreResultTags(t *testing.T) {
	tags := map[string]bool{}
	for _, c := range opContract {
		jsonTags(reflect.TypeOf(c.result), map[reflect.Type]bool{}, tags)
	}
	for _, m := range keyRE.FindAllStringSubmatch(code(scripts.Prelude()), -1) {
		if !tags[m[1]] {
			t.Errorf("prelude.ps1 writes key %q, a json tag of no result type", m[1])
		}
	}
}

// The faults ops.go names are the codes the scripts write.
func TestOperationFaultCodes(t *testing.T) {
	for op, codes := range map[string][]string{
		wire.OpService:        {"not_found"},
		wire.OpJobStart:       {"setup_running", "watermark", "refused"},
		wire.OpJobStatus:      {"not_found"},
		wire.OpDiscover:       {"not_found", "unavailable"},
		wire.OpCluster:        {"not_clustered", "not_found", "refused", "timeout", "unavailable"},
		wire.OpSetupWatermark: {"invalid", "setup_running", "not_found", "failed"},
	} {
		body, _ := scripts.Body(op)
		for _, code := range codes {
			if !strings.Contains(body, "Stop-ExOperation '"+code+"'") {
				t.Errorf("%s.ps1 never faults with %q", op, code)
			}
		}
	}
	body, _ := scripts.Body(wire.OpJobStart)
	if !strings.Contains(body, "Stop-ExOperation 'refused' ('package not found: ' + $Path)") {
		t.Error(`job_start.ps1 lacks the "package not found: <path>" refusal`)
	}
}

// jobWrapper returns the wrapper job_start.ps1 runs detached (its here-string).
func jobWrapper(t *testing.T) string {
	t.Helper()
	body, _ := scripts.Body(wire.OpJobStart)
	_, after, ok := strings.Cut(body, "\n$jobWrapper = @'\n")
	if !ok {
		t.Fatal("job_start.ps1 has no $jobWrapper = @' here-string")
	}
	wrapper, _, ok := strings.Cut(after, "\n'@\n")
	if !ok {
		t.Fatal("job_start.ps1: the $jobWrapper here-string does not end")
	}
	return wrapper
}

func encodeUTF16Base64(s string) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// The detached wrapper travels in Win32_Process.Create's command line as -EncodedCommand:
// it must stay well under cmd.exe's 8191 characters (docs/architecture.md) even with a long
// %SystemRoot%, and the only thing job_start puts into it is its own token.
func TestJobWrapperCommandLine(t *testing.T) {
	wrapper := jobWrapper(t)
	if n := strings.Count(wrapper, "@@TOKEN@@"); n != 1 {
		t.Fatalf("the wrapper holds the token placeholder %d times, want once", n)
	}
	if strings.Contains(wrapper, "$Param_") {
		t.Error("the wrapper reads a parameter: values must reach it through the job record")
	}
	body, _ := scripts.Body(wire.OpJobStart)
	for _, want := range []string{
		"$wrapper = $jobWrapper.Replace('@@TOKEN@@', $token)",
		"$token = [guid]::NewGuid().ToString('N')",
		"if ($token -cnotmatch '^[0-9a-f]{32}\\z')",
		"[System.Text.Encoding]::Unicode.GetBytes($wrapper)",
		"$commandLine = $powershell + ' -NoProfile -NonInteractive -EncodedCommand ' + $encoded",
		"([wmiclass]'Win32_Process').Create($commandLine,",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("job_start.ps1 lacks %q", want)
		}
	}
	// The longest command line: a 64-character %SystemRoot%.
	systemRoot := `D:\` + strings.Repeat("W", 61)
	line := systemRoot + `\System32\WindowsPowerShell\v1.0\powershell.exe -NoProfile -NonInteractive -EncodedCommand ` +
		encodeUTF16Base64(strings.Replace(wrapper, "@@TOKEN@@", strings.Repeat("f", 32), 1))
	const limit = 6500 // cmd.exe drops lines over 8191; keep a wide margin
	t.Logf("wrapper: %d characters; command line: %d characters", len(wrapper), len(line))
	if len(line) > limit {
		t.Errorf("the wrapper's command line has %d characters; keep it under %d", len(line), limit)
	}
}

// packGUID is the Windows Installer packed form of a {GUID}: the first three groups
// reversed, each byte of the last eight with its two hex digits swapped.
func packGUID(guid string) string {
	g := strings.ToUpper(strings.Trim(guid, "{}"))
	parts := strings.Split(g, "-")
	rev := func(s string) string {
		r := []byte(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r)
	}
	swap := func(s string) string {
		var b strings.Builder
		for i := 0; i+1 < len(s); i += 2 {
			b.WriteByte(s[i+1])
			b.WriteByte(s[i])
		}
		return b.String()
	}
	return rev(parts[0]) + rev(parts[1]) + rev(parts[2]) + swap(parts[3]) + swap(parts[4])
}

// The product code job_start removes Exchange 2007 updates from is the product whose packed
// code the probe reads the patches under.
func TestExchange2007ProductCode(t *testing.T) {
	const packed = "461C2B4266EDEF444B864AD6D9E5B613"
	body, _ := scripts.Body(wire.OpJobStart)
	m := regexp.MustCompile(`\$exchange2007ProductCode = '(\{[0-9A-F-]{36}\})'`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("job_start.ps1 has no $exchange2007ProductCode")
	}
	if got := packGUID(m[1]); got != packed {
		t.Errorf("%s packs to %s, want %s", m[1], got, packed)
	}
	if probe, _ := scripts.Body(wire.OpProbe); !strings.Contains(code(probe), `Products\`+packed+`\Patches`) {
		t.Errorf("probe.ps1 does not read the patches of %s", packed)
	}
	if !strings.Contains(body, "'/package', $exchange2007ProductCode, '/uninstall', $patchCode") {
		t.Error("job_start.ps1 does not uninstall patches from $exchange2007ProductCode")
	}
}

// The installers run with fixed argument lists; user values only as whole arguments.
func TestJobInstallerCommands(t *testing.T) {
	body, _ := scripts.Body(wire.OpJobStart)
	c := code(body)
	for _, want := range []string{
		"$arguments = @('/mode:upgrade')",
		"[System.IO.Path]::Combine($mediaPath, 'Setup.com')",
		"[System.IO.Path]::Combine($mediaPath, 'i386\\update.exe')",
		"$arguments = @('/q')",
		"$arguments = @('/update', $packagePath, '/quiet', '/norestart', '/l*v', $msiLog)",
		"$arguments = @('/quiet', '/norestart')",
		"$arguments = @('/AddUmLanguagePack:' + $language, '/s:' + $source)",
		"$arguments = @('/RemoveUmLanguagePack:' + $language, '/s:' + $source)",
		"'ExchangeSetupLogs\\ExchangeSetup.log'",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("job_start.ps1 lacks %q", want)
		}
	}
	for _, action := range []string{
		exchange.ActionInstallServicePack, exchange.ActionInstallUpdateRollup, exchange.ActionUninstallUpdateRollup,
		exchange.ActionInstallInterimUpdate, exchange.ActionRemoveInterimUpdate,
		exchange.ActionRemoveUMLanguagePack, exchange.ActionAddUMLanguagePack,
	} {
		if !strings.Contains(c, "'"+action+"'") {
			t.Errorf("job_start.ps1 does not handle %s", action)
		}
	}
}

// discover.ps1 reads the Exchange server objects the way wire.OpDiscover documents, and
// spells roles as the probe does, in the probe's order.
func TestDiscoverReadsActiveDirectory(t *testing.T) {
	body, ok := scripts.Body(wire.OpDiscover)
	if !ok {
		t.Fatal("no discover.ps1")
	}
	c := code(body)
	for _, want := range []string{
		"New-Object System.DirectoryServices.DirectoryEntry('LDAP://RootDSE')",
		"$rootDse.Properties['configurationNamingContext'].Value",
		"$servicesDn = 'CN=Services,' + $configNC",
		"$exchangeDn = 'CN=Microsoft Exchange,' + $servicesDn",
		"'(objectClass=msExchOrganizationContainer)' 'OneLevel'",
		"'(objectCategory=msExchExchangeServer)' 'Subtree'",
		"if ($text -like 'ncacn_ip_tcp:*') {",
		"$fqdn = $text.Substring(13).Trim()",
		"if ($major -eq 8) { return '2007' }",
		"if ($major -eq 6 -and $minor -eq 5) { return '2003' }",
		"if ($major -eq 6 -and $minor -eq 0) { return '2000' }",
		"if ($major -eq 5 -and $minor -eq 5) { return '5.5' }",
		"if ($null -ne $legacyRole -and [int]$legacyRole -eq 1) { [void]$roles.Add('FrontEnd') } else { [void]$roles.Add('BackEnd') }",
		"if ((Get-ExHResult $_.Exception) -eq $ExNoSuchObject) { Stop-ExOperation 'not_found' $notFound }",
		"[System.Array]::Sort($keyArray, $itemArray, [System.StringComparer]::OrdinalIgnoreCase)",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("discover.ps1 lacks %q", want)
		}
	}
	if n := len("ncacn_ip_tcp:"); n != 13 {
		t.Errorf("the ncacn_ip_tcp: prefix is %d characters", n)
	}
	m := regexp.MustCompile(`\$ExNoSuchObject = (-?\d+)`).FindStringSubmatch(c)
	if m == nil {
		t.Fatal("discover.ps1 has no $ExNoSuchObject")
	}
	if v, err := strconv.ParseInt(m[1], 10, 32); err != nil || uint32(int32(v)) != 0x80072030 {
		t.Errorf("$ExNoSuchObject = %s, want 0x80072030 as a signed 32-bit number", m[1])
	}

	// msExchCurrentServerRoles bits, and the order: the probe's $roleKeys order.
	bits := regexp.MustCompile(`@\((\d+), '([A-Za-z]+)'\)`).FindAllStringSubmatch(c, -1)
	var order []string
	got := map[string]string{}
	for _, b := range bits {
		order = append(order, b[2])
		got[b[1]] = b[2]
	}
	wantBits := map[string]string{"2": "Mailbox", "4": "ClientAccess", "16": "UnifiedMessaging", "32": "HubTransport", "64": "Edge"}
	if !reflect.DeepEqual(got, wantBits) {
		t.Errorf("role bits %v, want %v", got, wantBits)
	}
	probe, _ := scripts.Body(wire.OpProbe)
	var probeOrder []string
	for _, m := range regexp.MustCompile(`@\('[A-Za-z]+Role', '([A-Za-z]+)'\)`).FindAllStringSubmatch(code(probe), -1) {
		probeOrder = append(probeOrder, m[1])
	}
	if !reflect.DeepEqual(order, probeOrder) {
		t.Errorf("discover.ps1 lists roles in the order %v, probe.ps1 in %v", order, probeOrder)
	}
}

// cluster.ps1 handles every cluster action of wire/ops.go, reads states through the cluster
// WMI provider and changes the cluster only through cluster.exe with separate arguments (or
// the Exchange 2007 cmdlets), never through text built from a parameter.
func TestClusterScript(t *testing.T) {
	body, ok := scripts.Body(wire.OpCluster)
	if !ok {
		t.Fatal("no cluster.ps1")
	}
	c := code(body)
	actions := []string{
		wire.ClusterMoveGroup, wire.ClusterStopService, wire.ClusterStartService, wire.ClusterStopCMS,
		wire.ClusterStartCMS, wire.ClusterOfflineEVSResources, wire.ClusterOnlineGroup,
		wire.ClusterBlockFailover, wire.ClusterAllowFailover,
	}
	m := regexp.MustCompile(`(?s)\$actions = @\((.*?)\)`).FindStringSubmatch(c)
	if m == nil {
		t.Fatal("cluster.ps1 has no $actions list")
	}
	var listed []string
	for _, q := range regexp.MustCompile(`'([a-z_]+)'`).FindAllStringSubmatch(m[1], -1) {
		listed = append(listed, q[1])
	}
	if !reflect.DeepEqual(listed, actions) {
		t.Errorf("cluster.ps1 accepts %v, ops.go has %v", listed, actions)
	}
	for _, a := range actions {
		if !strings.Contains(c, "'"+a+"' {") && !strings.Contains(c, "$_ -eq '"+a+"'") {
			t.Errorf("cluster.ps1 has no switch case for %s", a)
		}
	}
	for _, want := range []string{
		"$output = & $clusterExe $Arguments 2>&1",
		"Invoke-ExClusterExe @('group', (Get-ExSafeName ([string]$g['Name'])), ('/moveto:' + $target), ('/wait:' + $waitSeconds))",
		"Invoke-ExClusterExe @('group', (Get-ExSafeName ([string]$g['Name'])), '/online', ('/wait:' + $waitSeconds))",
		"Invoke-ExClusterExe @('resource', (Get-ExSafeName $resourceName), '/offline', ('/wait:' + $waitSeconds))",
		"Invoke-ExClusterExe @('group', $name, '/prop', 'FailoverThreshold=0')",
		"Invoke-ExClusterExe @('group', $name, '/prop:FailoverThreshold', '/usedefault')",
		"Stop-ClusteredMailboxServer -Identity (Get-ExShortGroupName $g) -StopReason $stopReason -Confirm:$false",
		"Start-ClusteredMailboxServer -Identity (Get-ExShortGroupName $g) -Confirm:$false",
		"$stopReason = 'terraform-provider-exchange servicing'",
		"$groupParam -notmatch $ExClusterGroupPattern",
		"$nodeParam -notmatch $ExClusterNodePattern",
		"$failoverKeyPath = $ExProviderKey + '\\ClusterFailover'",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("cluster.ps1 lacks %q", want)
		}
	}
	// cluster.exe is only ever called through Invoke-ExClusterExe.
	if n := strings.Count(c, "& $clusterExe"); n != 1 {
		t.Errorf("cluster.ps1 calls cluster.exe %d times directly, want once (in Invoke-ExClusterExe)", n)
	}
	// What reaches cluster.exe is the cluster's own names, never the parameters.
	for _, line := range strings.Split(c, "\n") {
		if strings.Contains(line, "Invoke-ExClusterExe @(") &&
			(strings.Contains(line, "$groupParam") || strings.Contains(line, "$nodeParam") || strings.Contains(line, "$Param_")) {
			t.Errorf("cluster.ps1 passes a parameter to cluster.exe: %s", strings.TrimSpace(line))
		}
	}
	prelude := code(scripts.Prelude())
	for _, want := range []string{
		"-Namespace 'root\\MSCluster' -Class $Class -Authentication PacketPrivacy",
		"'MSCluster_ResourceGroupToResource'",
		"'MSCluster_NodeToActiveGroup'",
		"$threshold = [long]$g.FailoverThreshold",
		"([long]$e.InstanceId -band 0xFFFF) -eq 1025 -and [string]$e.Source -eq 'MSExchangeCluster'",
		"Get-EventLog -LogName $logName -Newest 200",
		"$ExEvsBaseResourceTypes = @('IP Address', 'IPv6 Address', 'IPv6 Tunnel Address', 'Physical Disk', 'Network Name')",
	} {
		if !strings.Contains(prelude, want) {
			t.Errorf("prelude.ps1 lacks %q", want)
		}
	}
}

// The name patterns of the cluster parameters: nothing cluster.exe could read as an option,
// no quote, backslash or control character. (Go's \w is ASCII; .NET's also takes Unicode
// letters, which only widens what passes.)
func TestClusterNamePatterns(t *testing.T) {
	p := code(scripts.Prelude())
	pattern := func(name string) *regexp.Regexp {
		m := regexp.MustCompile(`\$` + name + ` = '([^']*)'`).FindStringSubmatch(p)
		if m == nil {
			t.Fatalf("prelude.ps1 has no $%s", name)
		}
		return regexp.MustCompile(m[1])
	}
	group, node := pattern("ExClusterGroupPattern"), pattern("ExClusterNodePattern")
	for _, ok := range []string{"EVS1", "EVS1 Group", "Cluster Group", "Exchange Virtual Server (EVS1)", "CMS-01.contoso", "g#1, a&b+c"} {
		if !group.MatchString(ok) {
			t.Errorf("group pattern refuses %q", ok)
		}
	}
	for _, bad := range []string{"", "/moveto:x", "-x", "_x", " x", "a\"b", "a\\b", "a\nb", "a'b", "a;b", "a$(b)", "a`b", "x\n", strings.Repeat("a", 129)} {
		if group.MatchString(bad) {
			t.Errorf("group pattern accepts %q", bad)
		}
	}
	for _, ok := range []string{"NODE1", "ex-node-02", "n_1"} {
		if !node.MatchString(ok) {
			t.Errorf("node pattern refuses %q", ok)
		}
	}
	for _, bad := range []string{"", "node1.contoso.local", "/x", "-x", "a b", "a\"b", "x\n"} {
		if node.MatchString(bad) {
			t.Errorf("node pattern accepts %q", bad)
		}
	}
}

// The cluster installer action of job_start: /upgradeCMS from the media on the node owning
// the stopped CMS. "Upgrade Exchange Virtual Server" has no command line: job_start has no
// action for it (the plan's manual step upgrade_evs_manually).
func TestJobClusterInstallers(t *testing.T) {
	body, _ := scripts.Body(wire.OpJobStart)
	c := code(body)
	if !strings.Contains(c, "'"+exchange.ActionUpgradeCMS+"' {") {
		t.Errorf("job_start.ps1 does not handle %s", exchange.ActionUpgradeCMS)
	}
	for _, gone := range []string{"'upgrade_evs'", "cluster.exe"} {
		if strings.Contains(c, gone) {
			t.Errorf("job_start.ps1 still holds %s: Upgrade Exchange Virtual Server is a manual step", gone)
		}
	}
	for _, want := range []string{
		"$arguments = @('/upgradeCMS')",
		// The CMS key's values stop every setup but the /upgradeCMS that completes it.
		"$cmsKey -and $action -ne 'upgrade_cms'",
		"$group -notmatch $ExClusterGroupPattern",
		"Test-ExExchangeResourcesOffline $cms",
		"$key.SetValue('Group', $group, $S)",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("job_start.ps1 lacks %q", want)
		}
	}
	if !strings.Contains(jobWrapper(t), "GetValue('Hint','')") {
		t.Error("the job wrapper does not add the record's Hint to a failure")
	}
}

// The probe reads the IIS compression hotfix 831464 the way it reads the time-zone update.
func TestProbeReadsHotfix831464(t *testing.T) {
	body, _ := scripts.Body(wire.OpProbe)
	c := code(body)
	for _, want := range []string{
		"Test-ExWindowsHotfix 'KB831464'",
		"Test-ExWindowsHotfix 'KB931836'",
		"Get-WmiObject -Class Win32_QuickFixEngineering",
		"'iis_compression_hotfix_831464' = $iisHotfix831464",
		"'failover_blocked'        = ($selectedGroup['Threshold'] -eq 0)",
		"$clusterEvents = Get-ExClusterEvents $bootTime",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("probe.ps1 lacks %q", want)
		}
	}
	// The boot time is read before the cluster events that need it.
	if strings.Index(c, "$bootTime = [System.Management.ManagementDateTimeConverter]") > strings.Index(c, "Get-ExClusterEvents $bootTime") {
		t.Error("probe.ps1 reads the cluster events before the boot time")
	}
}

// The simulator classifies services with the probe's own list: it must read all of it.
func TestThirdPartyServicePatterns(t *testing.T) {
	got := scripts.ThirdPartyServicePatterns()
	for _, want := range []string{"BackupExec*", "McShield", "Symantec AntiVirus", "Zabbix Agent", "FSCController"} {
		if !slices.Contains(got, want) {
			t.Errorf("patterns %q lack %q", got, want)
		}
	}
	if len(got) != 32 {
		t.Errorf("read %d patterns, the list in probe.ps1 has 32: %q", len(got), got)
	}
}

// Windows 2000 hosts: the probe refuses Windows NT 4.0/2000 and no longer takes
// 5.0 for Windows Server 2003 in the update checks; reboot.ps1 restarts through WMI where
// there is no shutdown.exe; exchange_services.ps1 leaves a cluster node's Manual services to
// the cluster. There is no PowerShell runtime here: these pin the code paths by their text.
func TestScriptsKnowWindows2000AndClusterNodes(t *testing.T) {
	all := allScripts(t)
	for file, wants := range map[string][]string{
		"probe.ps1": {
			"if ($osVersion.StartsWith('4.') -or $osVersion.StartsWith('5.0')) {",
			"Stop-ExOperation 'unsupported'",
			"$windows2003 = $osVersion.StartsWith('5.2')",
		},
		"reboot.ps1": {
			"if (-not [System.IO.File]::Exists($shutdown)) {",
			"$os.psbase.Scope.Options.EnablePrivileges = $true",
			"$os.Win32Shutdown(2)",
		},
		"exchange_services.ps1": {
			`Get-WmiObject -Class Win32_Service -Filter "Name = 'ClusSvc'"`,
			"if ($clusterNode -and [string]$s.StartMode -eq 'Manual') {",
			"'left_to_cluster' = $leftToCluster",
		},
	} {
		c := code(all[file])
		for _, want := range wants {
			if !strings.Contains(c, want) {
				t.Errorf("%s lacks %q", file, want)
			}
		}
	}
	if strings.Contains(code(all["probe.ps1"]), "$osVersion.StartsWith('5.'))") {
		t.Error("probe.ps1 still takes every 5.x version for Windows Server 2003")
	}
}

// One rule for path parameters: the pattern job_start.ps1 refuses a path by is the text of
// wire.PathForbiddenPattern, which the provider refuses at plan; and job_start applies it to
// both path parameters as sent, before any Trim could drop a trailing CR or LF.
func TestPathRuleIsShared(t *testing.T) {
	m := regexp.MustCompile(`(?m)^\$ExPathForbiddenPattern = '([^']*)'$`).FindStringSubmatch(code(scripts.Prelude()))
	if m == nil {
		t.Fatal("prelude.ps1 has no $ExPathForbiddenPattern")
	}
	if m[1] != wire.PathForbiddenPattern {
		t.Errorf("prelude.ps1 $ExPathForbiddenPattern = %q, Go's wire.PathForbiddenPattern = %q: one rule, keep them equal", m[1], wire.PathForbiddenPattern)
	}
	body, _ := scripts.Body(wire.OpJobStart)
	c := code(body)
	for _, want := range []string{
		"if ($Value -match $ExPathForbiddenPattern) {",
		"Test-ExPathValue 'MediaPath' ([string]$Param_MediaPath)",
		"Test-ExPathValue 'PackagePath' ([string]$Param_PackagePath)",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("job_start.ps1 lacks %q", want)
		}
	}
	// What the rule means, character by character: a quote and U+0000..U+001F, nothing else.
	for r := rune(0); r < 0x300; r++ {
		bad := r < 32 || r == '"'
		if got := wire.PathProblem("D:\\media"+string(r)+"x") != ""; got != bad {
			t.Errorf("PathProblem with U+%04X: refused %v, want %v", r, got, bad)
		}
	}
	for _, ok := range []string{`D:\Exchange2007SP3`, `\\files\media share\SP3`, `C:\Updates\Exchange2007-KB972705-x64-EN.msp`, `D:\Média\UM`} {
		if p := wire.PathProblem(ok); p != "" {
			t.Errorf("PathProblem(%q) = %q", ok, p)
		}
	}
}
