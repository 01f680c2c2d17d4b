package wire

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// The literals Literal writes, read by an independent PowerShell tokenizer: the tree-sitter
// PowerShell grammar (tools/pscheck/literal.js). Each must be exactly one single-quoted
// string token whose value is the input, so no input can end the string early and become
// code. The seeds run in every `go test` (one Node process for all of them); `go test -fuzz
// FuzzLiteral` explores further, one Node process per new input.
//
// Strings holding NUL are left out: the grammar stops at a NUL, and the provider refuses a
// NUL in every attribute at plan (internal/provider noNULValidator), so none reaches a script.

type tokenized struct {
	OK    bool   `json:"ok"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Why   string `json:"why"`
}

// literalTool returns the command that runs literal.js, or skips the test when Node or the
// grammar is missing outside CI (in CI, where `make test` installs them first, it fails).
func literalTool(t testing.TB) (node, script string) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "tools", "pscheck")
	script = filepath.Join(dir, "literal.js")
	missing := ""
	node, err := exec.LookPath("node")
	switch {
	case err != nil:
		missing = "node is not on PATH"
	case func() bool {
		_, err := os.Stat(filepath.Join(dir, "node_modules", "tree-sitter-powershell"))
		return err != nil
	}():
		missing = "tools/pscheck/node_modules is not installed (bash tools/pscheck/run.sh installs it)"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("FuzzLiteral needs the tree-sitter PowerShell grammar: %s", missing)
		}
		t.Skipf("skipping the check against the tree-sitter PowerShell grammar: %s", missing)
	}
	return node, script
}

func tokenize(t testing.TB, node, script string, literals []string) []tokenized {
	in, err := json.Marshal(literals)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("literal.js: %v\n%s", err, stderr.String())
	}
	var got []tokenized
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(literals) {
		t.Fatalf("literal.js answered %d results for %d literals (%v): %.300s", len(got), len(literals), err, out)
	}
	return got
}

func literalSeeds() []string {
	seeds := edgeStrings()
	seeds = append(seeds,
		"'; Remove-Item C:\\ -Recurse; '", "\u2018; calc; \u2019", "\u201a$(x)\u201b", "a\u201cb\u201dc",
		"x`'y", "\r\n'@\n", "Serveur-\u00c4\u00e9", "\u0421\u0435\u0440\u0432\u0435\u0440",
		strings.Repeat("'\u2019;|&$()`\r\n", 10000), strings.Repeat("A", 100000),
	)
	return seeds
}

func FuzzLiteral(f *testing.F) {
	node, script := literalTool(f)
	var texts, values []string
	for _, s := range literalSeeds() {
		if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
			continue
		}
		lit, err := Literal(s)
		if err != nil {
			f.Fatalf("Literal(%q): %v", s, err)
		}
		texts, values = append(texts, lit), append(values, s)
	}
	// The check itself can fail: texts that are not one string literal, or not the value,
	// must be caught (a renderer that forgot to double a quote would write the first).
	bad := []string{`'it's'`, `'a'; calc; 'b'`, `'x' + $(calc)`, `"double"`, `'unterminated`, `$x`}
	// One Node process for every seed and every bad text.
	results := tokenize(f, node, script, append(append([]string{`'it''s'`}, bad...), texts...))
	if r := results[0]; !r.OK || r.Value != "it's" {
		f.Fatalf("literal.js on 'it''s': %+v", r)
	}
	for i, r := range results[1 : 1+len(bad)] {
		if r.OK {
			f.Fatalf("literal.js accepted %q as one string (%q): the check proves nothing", bad[i], r.Value)
		}
	}
	known := map[string]tokenized{}
	for i, r := range results[1+len(bad):] {
		known[values[i]] = r
	}
	for _, s := range values {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
			return
		}
		lit, err := Literal(s)
		if err != nil {
			t.Fatalf("Literal(%q): %v", s, err)
		}
		r, ok := known[s]
		if !ok {
			r = tokenize(t, node, script, []string{lit})[0]
		}
		if !r.OK {
			t.Fatalf("the grammar does not read Literal(%.80q) = %.80q as one string: %s", s, lit, r.Why)
		}
		if r.Value != s {
			t.Fatalf("the grammar reads Literal(%.80q) as the string %.80q", s, r.Value)
		}
	})
}
