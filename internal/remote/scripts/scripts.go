// Package scripts holds the only PowerShell the provider runs: a shared prelude and one body
// per operation, embedded at build time. Targets PowerShell 2.0.
package scripts

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.ps1
var files embed.FS

// Prelude is the text every operation starts with (JSON writer, result and fault helpers).
func Prelude() string { return mustRead("prelude.ps1") }

// Body returns the script of operation op and whether it exists.
func Body(op string) (string, bool) {
	b, err := files.ReadFile(op + ".ps1")
	if err != nil || op == "prelude" {
		return "", false
	}
	return expandIncludes(normalize(b)), true
}

// includePrefix starts a line that Body replaces with the named file: discover.ps1 carries
// probe.ps1 that way, so one process both discovers and probes (wire.OpDiscover), from one
// copy of the probe.
const includePrefix = "# include: "

func expandIncludes(text string) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if name, ok := strings.CutPrefix(line, includePrefix); ok {
			lines[i] = strings.TrimSuffix(mustRead(name), "\n")
		}
	}
	return strings.Join(lines, "\n")
}

// Operations lists the operation names, sorted.
func Operations() []string {
	entries, _ := fs.Glob(files, "*.ps1")
	var ops []string
	for _, e := range entries {
		if name := strings.TrimSuffix(e, ".ps1"); name != "prelude" {
			ops = append(ops, name)
		}
	}
	sort.Strings(ops)
	return ops
}

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return normalize(b)
}

// normalize makes line endings LF so a checkout with CRLF renders the same script.
func normalize(b []byte) string { return strings.ReplaceAll(string(b), "\r\n", "\n") }

// ThirdPartyServicePatterns is the list of service-name patterns (PowerShell -like, case
// insensitive) by which probe.ps1 recognises third-party services that hook into Exchange,
// read from the script itself: the simulator classifies its hosts' services with the very
// list a real probe uses, so the two cannot disagree about what the probe reports.
func ThirdPartyServicePatterns() []string {
	text := mustRead("probe.ps1")
	start := strings.Index(text, "\n$thirdPartyPatterns = @(")
	if start < 0 {
		panic("probe.ps1 has no $thirdPartyPatterns list")
	}
	text = text[start+len("\n$thirdPartyPatterns = @("):]
	end := strings.Index(text, "\n)")
	if end < 0 {
		panic("probe.ps1: $thirdPartyPatterns is not closed")
	}
	var patterns []string
	for _, field := range strings.Split(text[:end], ",") {
		field = strings.TrimSpace(field)
		if len(field) >= 2 && field[0] == '\'' && field[len(field)-1] == '\'' {
			patterns = append(patterns, field[1:len(field)-1])
		}
	}
	return patterns
}
