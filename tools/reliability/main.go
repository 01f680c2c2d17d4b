// Command reliability writes docs/reliability.md from the fault scenarios of
// internal/reliability and the tests that name each one (reliability.Held), so the report
// cannot drift from the tests.
//
//	go run ./tools/reliability              # write docs/reliability.md
//	go run ./tools/reliability -check       # fail if docs/reliability.md is not what it writes
//	go run ./tools/reliability -ran LOG     # fail unless every held scenario's tests ran and passed
//	                                        # (LOG: what the tests wrote under EXCHANGE_RELIABILITY_LOG)
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/reliability"
)

const docPath = "docs/reliability.md"

func main() {
	check := flag.Bool("check", false, "fail if "+docPath+" differs from what would be written")
	ran := flag.String("ran", "", "a log of held scenarios (EXCHANGE_RELIABILITY_LOG): fail unless every held scenario's tests are in it")
	flag.Parse()
	if err := run(*check, *ran); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
}

func run(check bool, ran string) error {
	held, tests, err := scan("internal")
	if err != nil {
		return err
	}
	for id, names := range held {
		if _, ok := reliability.Find(id); !ok {
			return fmt.Errorf("%s name scenario %q, which internal/reliability does not list", strings.Join(names, ", "), id)
		}
	}
	if ran != "" {
		return checkRan(ran, held)
	}
	doc := render(held, tests)
	if check {
		old, err := os.ReadFile(docPath)
		if err != nil || !bytes.Equal(old, doc) {
			return fmt.Errorf("%s is out of date: run `go run ./tools/reliability` and commit it", docPath)
		}
		fmt.Println(docPath + ": up to date")
		return nil
	}
	return os.WriteFile(docPath, doc, 0o644)
}

// scan finds, in every _test.go file under root, the Test functions that name a scenario
// (a string literal passed to reliability.Held, or to a helper that passes its parameter on
// to reliability.Held), by scenario, and the names of all Test functions.
func scan(root string) (held map[string][]string, tests map[string]bool, err error) {
	held, tests = map[string][]string{}, map[string]bool{}
	fset := token.NewFileSet()
	var funcs []*ast.FuncDecl
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Body != nil {
				funcs = append(funcs, fn)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// The helpers: which argument of each is the scenario.
	scenarioArg := map[string]int{"reliability.Held": 1}
	for _, fn := range funcs {
		params := paramNames(fn)
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && callee(call) == "reliability.Held" && len(call.Args) == 2 {
				if id, ok := call.Args[1].(*ast.Ident); ok && slices.Contains(params, id.Name) {
					scenarioArg[fn.Name.Name] = slices.Index(params, id.Name)
				}
			}
			return true
		})
	}
	for _, fn := range funcs {
		if !strings.HasPrefix(fn.Name.Name, "Test") {
			continue
		}
		tests[fn.Name.Name] = true
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			i, ok := scenarioArg[callee(call)]
			if !ok || i >= len(call.Args) {
				return true
			}
			lit, ok := call.Args[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				err = fmt.Errorf("%s: %s needs the scenario as a string literal", fset.Position(call.Pos()), callee(call))
				return false
			}
			id, _ := strconv.Unquote(lit.Value)
			if !slices.Contains(held[id], fn.Name.Name) {
				held[id] = append(held[id], fn.Name.Name)
			}
			return true
		})
		if err != nil {
			return nil, nil, err
		}
	}
	for _, names := range held {
		slices.Sort(names)
	}
	return held, tests, nil
}

// callee is "pkg.Func" or "Func" for a call of a package function or a local one.
func callee(call *ast.CallExpr) string {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if pkg, ok := f.X.(*ast.Ident); ok {
			return pkg.Name + "." + f.Sel.Name
		}
	}
	return ""
}

func paramNames(fn *ast.FuncDecl) []string {
	var names []string
	for _, field := range fn.Type.Params.List {
		for _, n := range field.Names {
			names = append(names, n.Name)
		}
	}
	return names
}

func render(held map[string][]string, tests map[string]bool) []byte {
	var b bytes.Buffer
	nHeld := 0
	var rows []string
	for _, s := range reliability.Scenarios {
		names := held[s.ID]
		var by, result string
		switch {
		case len(names) > 0:
			nHeld++
			by, result = "`"+strings.Join(names, "`, `")+"`", "held"
		case s.Elsewhere != "" && tests[s.Elsewhere]:
			by, result = "`"+s.Elsewhere+"`", "covered by "+s.Elsewhere+", which does not record its run: not counted"
		case s.Elsewhere != "":
			by, result = "—", "not covered in this tree ("+s.Elsewhere+" is another change's)"
		default:
			by, result = "—", "**not covered**"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", s.ID, s.Checks, by, result))
	}
	fmt.Fprintf(&b, tick(intro), reliability.LogEnv, len(reliability.Scenarios), nHeld, len(reliability.Scenarios)-nHeld)
	b.WriteString("| scenario | what is checked | tests | result |\n|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	b.WriteString(tick(soakNote))
	return b.Bytes()
}

// tick turns ¦ into a backquote: the texts below are raw strings.
func tick(s string) string { return strings.ReplaceAll(s, "¦", "`") }

const intro = `# Reliability

Issue 11's fault scenarios: what each test does to the servers (through the simulator's
fault injection, [simulator.md](simulator.md#faults)) and what it checks afterwards in the
simulator's journal, the hosts' state and Terraform's state. Every scenario test also checks,
with ¦TF_LOG=trace¦, that the fleet's password is in none of its output, state, errors, logs
or the simulator's journal (¦reliability.NoLeak¦). The end-to-end scenarios (¦TestFault*¦,
¦TestKilledApplyResumes¦) service one Exchange 2007 server to SP3 through the real CLI and end
with the same check: setup ran once; the server at SP3 with no job, lock or leftover and its
backup agent running; Terraform's state at SP3; the next plan empty. The acceptance tests of
¦internal/provider¦ run the provider in-process: their trace file holds the CLI's and the
provider's logs, errors included; the harness's dump of each step's configuration is left out
of the search, as it holds the password the test itself wrote into the configuration.

Generated by ¦go run ./tools/reliability¦ from ¦internal/reliability¦ and the tests that
name each scenario (¦reliability.Held¦); ¦make test¦ fails when this file differs from what
the tests say, and when a scenario marked held was not held by a test that ran and passed in
that run (every held scenario's tests record themselves under ¦%s¦).

**%d scenarios, %d held**, %d not held here.

`

const soakNote = `
The soak: ¦make soak¦ (¦SOAK_RUNS¦, ¦SOAK_SEED¦, ¦SOAK_TIME¦) upgrades an organisation of
four Exchange 2007 servers, two of them the nodes of a CCR cluster, again and again, each apply
under one to three faults drawn from the seed (the last two applies of a run without new
faults), at most six applies per run; ¦make test¦ runs two runs (none starting after a minute). It logs runs,
applies, faults injected by kind (armed faults no apply reached are not counted) and invariant
violations; a failing soak prints its seed and the command that repeats it. The groups checked
for "never two down at once" are those the procedure services one at a time: each cluster's
nodes. Exchange 2003 load-balanced front-ends are serviced all at once (¦exchange.Order¦), so
no group of them is checked.
`

// checkRan fails unless every test of every held scenario recorded itself in the log.
func checkRan(path string, held map[string][]string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%v: run the tests with %s set", err, reliability.LogEnv)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, test, ok := strings.Cut(sc.Text(), "\t")
		if ok {
			seen[id+"\t"+strings.Split(test, "/")[0]] = true
		}
	}
	var missing []string
	for _, s := range reliability.Scenarios {
		for _, name := range held[s.ID] {
			if !seen[s.ID+"\t"+name] {
				missing = append(missing, fmt.Sprintf("%q (%s)", s.ID, name))
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s reports these scenarios held, but their tests did not run and pass: %s", docPath, strings.Join(missing, ", "))
	}
	fmt.Printf("%s: every held scenario's tests ran and passed\n", docPath)
	return nil
}
