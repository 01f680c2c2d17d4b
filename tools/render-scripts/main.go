// Command render-scripts writes every piece of PowerShell the provider runs into a folder, so
// a syntax checker (tools/pscheck) checks exactly what runs:
//
//	<op>.ps1            each embedded script as it is (prelude.ps1 and one per operation)
//	bootstrap.ps1       the command line's PowerShell (wire.Bootstrap)
//	<op>.rendered.ps1   each operation rendered by wire.Script.Render with awkward parameters
//	job_start.wrapper.ps1  the wrapper job_start runs detached (-EncodedCommand)
//
// Usage: go run ./tools/render-scripts -out DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote/scripts"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// sampleParams are rendered into every operation: every kind of value Literal writes, with
// strings that would break out of a badly quoted literal (the five PowerShell single quotes,
// double quotes, $ and $(...), backticks, newlines, a here-string opener, a comment).
func sampleParams() []wire.Param {
	return []wire.Param{
		{Name: "Server", Value: "EX01"},
		{Name: "Quotes", Value: "it's \u2018a\u2019 \u201aquote\u201b \"double\" ''"},
		{Name: "QuoteOnly", Value: "'"},
		{Name: "UnicodeQuoteEnds", Value: "\u2019start and end\u2018"},
		{Name: "Dollar", Value: "$env:COMPUTERNAME $(Remove-Item C:\\ -Recurse) ${x}"},
		{Name: "Backtick", Value: "a`b`n`'c`"},
		{Name: "Lines", Value: "line one\nline two\r\nline three\n'@\n\"@\n# not a comment\n"},
		{Name: "Empty", Value: ""},
		{Name: "List", Value: []string{"KB930809", "it's", "\u2018x\u2019", "$(whoami)", "a\nb"}},
		{Name: "OneItem", Value: []string{"only"}},
		{Name: "NoItems", Value: []string{}},
		{Name: "Count", Value: 42},
		{Name: "Negative", Value: -7},
		{Name: "Big", Value: int64(9007199254740993)},
		{Name: "Yes", Value: true},
		{Name: "No", Value: false},
		{Name: "Nothing", Value: nil},
		// The parameters of the operations of wire/ops.go, with the same awkward values.
		{Name: "Owner", Value: "apply-1 it's \u2019$(whoami)\u2018"},
		{Name: "TTLSeconds", Value: 3600},
		{Name: "Release", Value: false},
		{Name: "TakeOver", Value: "apply-0 pid 1 run x'; $(Stop-Computer) \u2019"},
		{Name: "Name", Value: "BackupExecRPCService'; Stop-Computer #"},
		{Name: "Action", Value: "stop\u2019 + $(Remove-Item C:\\)"},
		{Name: "Enabled", Value: true},
		{Name: "ID", Value: "install_service_pack-8.3.83.6'\n$x"},
		{Name: "MediaPath", Value: "\\\\files\\media\\E2007 SP3\\'\u201b; & calc"},
		{Name: "PackagePath", Value: "C:\\Updates\\Exchange2007-KB2530488-x64-EN.msp\" /q"},
		{Name: "PatchCode", Value: "{9A3B1C2D-0000-4000-8000-00C04F000000}"},
		{Name: "KB", Value: "KB2530488"},
		{Name: "Language", Value: "de-DE`n"},
		{Name: "Group", Value: "EVS1 Group' /moveto:NODE9 \u2019$(calc)\u2018\n#"},
		{Name: "Node", Value: "NODE2\"; & shutdown /s `n"},
	}
}

// wrapperStart and wrapperEnd delimit the wrapper job_start.ps1 runs detached (a
// single-quoted here-string): it is checked on its own too, as powershell.exe parses it.
const (
	wrapperStart = "\n$jobWrapper = @'\n"
	wrapperEnd   = "\n'@\n"
)

// jobWrapper returns the detached wrapper of job_start.ps1 with a sample token in place.
func jobWrapper(body string) (string, error) {
	_, after, ok := strings.Cut(body, wrapperStart)
	if !ok {
		return "", fmt.Errorf("job_start.ps1 has no $jobWrapper here-string")
	}
	wrapper, _, ok := strings.Cut(after, wrapperEnd)
	if !ok {
		return "", fmt.Errorf("job_start.ps1: the $jobWrapper here-string does not end")
	}
	return strings.Replace(wrapper, "@@TOKEN@@", "0123456789abcdef0123456789abcdef", 1) + "\n", nil
}

func main() {
	out := flag.String("out", "", "folder to write the scripts into (created if missing)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: render-scripts -out DIR")
		os.Exit(2)
	}
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "render-scripts:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name, text string) error {
		return os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	if err := write("prelude.ps1", scripts.Prelude()); err != nil {
		return err
	}
	if err := write("bootstrap.ps1", wire.Bootstrap()+"\n"); err != nil {
		return err
	}
	ops := scripts.Operations()
	if len(ops) == 0 {
		return fmt.Errorf("no operations embedded")
	}
	params := sampleParams()
	for _, op := range ops {
		body, ok := scripts.Body(op)
		if !ok {
			return fmt.Errorf("operation %s has no body", op)
		}
		if err := write(op+".ps1", body); err != nil {
			return err
		}
		s := wire.Script{Operation: op, Params: params, Prelude: scripts.Prelude(), Body: body}
		text, err := s.Render()
		if err != nil {
			return fmt.Errorf("render %s: %w", op, err)
		}
		// What is checked must also read back as what was rendered.
		back, err := wire.Parse(text)
		if err != nil {
			return fmt.Errorf("parse rendered %s: %w", op, err)
		}
		if err := sameParams(params, back.Params); err != nil {
			return fmt.Errorf("rendered %s: %w", op, err)
		}
		if err := write(op+".rendered.ps1", text); err != nil {
			return err
		}
		if op == "job_start" {
			wrapper, err := jobWrapper(body)
			if err != nil {
				return err
			}
			if err := write(op+".wrapper.ps1", wrapper); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameParams compares rendered parameters with parsed ones (Parse returns int64 for ints).
func sameParams(want, got []wire.Param) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d parameters rendered, %d parsed", len(want), len(got))
	}
	for i, p := range want {
		w := p.Value
		switch x := w.(type) {
		case int:
			w = int64(x)
		}
		if got[i].Name != p.Name || !reflect.DeepEqual(w, got[i].Value) {
			return fmt.Errorf("parameter %s: rendered %#v, parsed %s = %#v", p.Name, w, got[i].Name, got[i].Value)
		}
	}
	return nil
}
