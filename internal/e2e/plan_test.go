package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/reliability"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// The password of the test fleet: if it shows up in any output, a secret leaked.
const password = "Sup3r-S3cret-e2e-pw'\"$x"

const fleetJSON = `{
  "credentials": {"username": "LAB\\tester", "password": %q},
  "winrm": {"basic": true},
  "servers": [
    {"name": "EXA", "address": "127.0.31.1", "product": "2007", "build": "8.2.254.0", "roles": ["Mailbox"],
     "last_full_backup": "2026-01-02T03:04:05Z"},
    {"name": "EXB", "address": "127.0.31.2", "product": "2003", "build": "6.5.7638.2", "roles": ["FrontEnd"], "internet_facing": true}
  ],
  "clusters": []
}`

func terraformPath(t *testing.T) string {
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		return p
	}
	for _, cli := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(cli); err == nil {
			return p
		}
	}
	t.Skip("no terraform or tofu: make test provides one")
	return ""
}

// buildProvider compiles the provider into a directory of its own and returns the directory.
func buildProvider(t *testing.T) string {
	return filepath.Dir(goBuild(t, "terraform-provider-exchange", "."))
}

// goBuild compiles the repository's package pkg into a temporary file called name.
func goBuild(t *testing.T, name, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	return bin
}

type workspace struct {
	t   *testing.T
	tf  string
	dir string
	env []string
}

func newWorkspace(t *testing.T, providerDir string, sim *simulator.Simulator, config string, extraEnv ...string) *workspace {
	dir := t.TempDir()
	rc := filepath.Join(dir, "terraformrc")
	must(t, os.WriteFile(rc, []byte(fmt.Sprintf(`provider_installation {
  dev_overrides {
    "buildlevel/exchange" = %q
  }
  direct {}
}
`, providerDir)), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o600))
	ca := filepath.Join(dir, "ca.pem")
	must(t, os.WriteFile(ca, sim.CACertPEM(), 0o600))
	env := append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"EXCHANGE_PORT="+fmt.Sprint(sim.HTTPSPort()),
		"TF_VAR_ca_file="+ca,
	)
	env = append(env, extraEnv...)
	return &workspace{t: t, tf: terraformPath(t), dir: dir, env: env}
}

func (w *workspace) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.tf, args...)
	cmd.Dir = w.dir
	cmd.Env = w.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const header = `
terraform {
  required_providers {
    exchange = { source = "buildlevel/exchange" }
  }
}
variable "ca_file" { type = string }
variable "password" {
  type      = string
  sensitive = true
}
provider "exchange" {
  username       = "LAB\\tester"
  password       = var.password
  ca_certificate = file(var.ca_file)
}
`

func startFleet(t *testing.T) *simulator.Simulator {
	t.Helper()
	return startFleetWith(t, password)
}

func startFleetWith(t *testing.T, pw string) *simulator.Simulator {
	t.Helper()
	f, err := simulator.ParseFleet(strings.NewReader(fmt.Sprintf(fleetJSON, pw)))
	must(t, err)
	sim, err := simulator.Start(f, simulator.Options{})
	must(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func probesPerServer(sim *simulator.Simulator) map[string]int {
	n := map[string]int{}
	for _, e := range sim.Journal() {
		if e.Operation == "probe" {
			n[e.Server]++
		}
	}
	return n
}

// One `terraform plan` probes each server exactly once, however many data sources name it.
func TestPlanProbesEachServerOnce(t *testing.T) {
	providerDir := buildProvider(t)
	sim := startFleet(t)
	config := header + `
data "exchange_server" "a1" {
  server  = "EXA"
  address = "127.0.31.1"
}
data "exchange_server" "a2" {
  server  = "EXA"
  address = "127.0.31.1"
}
data "exchange_server" "a3" {
  server  = "EXA"
  address = "127.0.31.1"
}
data "exchange_server" "b" {
  server  = "EXB"
  address = "127.0.31.2"
}
output "levels" {
  value = [data.exchange_server.a1.level, data.exchange_server.b.level]
}
`
	w := newWorkspace(t, providerDir, sim, config, "TF_VAR_password="+password)
	out, err := w.run("plan", "-input=false", "-no-color")
	if err != nil {
		t.Fatalf("terraform plan failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"Exchange 2007 SP2 Update Rollup 4"`, `"Exchange 2003 SP2"`} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %s:\n%s", want, out)
		}
	}
	got := probesPerServer(sim)
	if got["EXA"] != 1 || got["EXB"] != 1 || len(got) != 2 {
		t.Fatalf("one plan must probe each server exactly once; journal shows %v", got)
	}
}

// With TF_LOG=trace and every kind of failure, the password appears nowhere: neither the
// fleet's nor a wrong one, nor passwords of one to three characters (looked for where a
// leak would put them: reliability.Leaks).
func TestPasswordNeverInOutputOrTrace(t *testing.T) {
	reliability.Held(t, "the password never leaks")
	providerDir := sharedProvider(t)
	config := header + `
data "exchange_server" "ok" {
  server  = "EXA"
  address = "127.0.31.1"
}
data "exchange_server" "wrong_name" {
  server  = "EXZ"
  address = "127.0.31.2"
}
data "exchange_server" "unreachable" {
  server  = "EXU"
  address = "127.0.31.250"
}
`
	for _, tc := range []struct{ name, fleet, pw string }{
		{"right password", password, password},
		{"wrong password", password, password + "-wrong"},
		{"one character", "Z", "Z"},
		{"two characters", "Zq", "Zq"},
		{"three characters, wrong", "Zq7", "Zq"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := startFleetWith(t, tc.fleet)
			logFile := filepath.Join(t.TempDir(), "trace.log")
			w := newWorkspace(t, providerDir, sim, config,
				"TF_VAR_password="+tc.pw, "TF_LOG=trace", "TF_LOG_PATH="+logFile, "EXCHANGE_TIMEOUT=3s")
			out, err := w.run("plan", "-input=false", "-no-color")
			if err == nil {
				t.Fatalf("plan with an unreachable server must fail:\n%s", out)
			}
			trace, _ := os.ReadFile(logFile)
			if len(trace) < 1000 {
				t.Fatalf("TF_LOG=trace wrote no log (%d bytes): the check below would prove nothing", len(trace))
			}
			j, _ := json.Marshal(sim.Journal())
			texts := map[string]string{"output": out, "trace log": string(trace), "journal": string(j)}
			reliability.NoLeak(t, "LAB\\tester", tc.pw, texts)
			reliability.NoLeak(t, "LAB\\tester", tc.fleet, texts)
			if !strings.Contains(out, "EXU") || !strings.Contains(out, "EXZ") {
				t.Errorf("errors must name the failing servers:\n%s", out)
			}
		})
	}
}
