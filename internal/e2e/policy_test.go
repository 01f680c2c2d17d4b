package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// The example policy of the servicing guide, as users copy it.
func policyPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "policy", "servicing.rego")
}

// deny evaluates data.main.deny, as conftest does, over a plan's JSON and the data document.
func deny(t *testing.T, planJSON []byte, data map[string]any) []string {
	t.Helper()
	src, err := os.ReadFile(policyPath())
	must(t, err)
	var input any
	must(t, json.Unmarshal(planJSON, &input))
	ctx := context.Background()
	q, err := rego.New(rego.Query("data.main.deny"), rego.Module("servicing.rego", string(src)),
		rego.Store(inmem.NewFromObject(data))).PrepareForEval(ctx)
	if err != nil {
		t.Fatalf("the policy does not compile: %v", err)
	}
	rs, err := q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		t.Fatalf("evaluating the policy: %v", err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		t.Fatalf("data.main.deny is not defined: %v", rs)
	}
	var msgs []string
	for _, m := range rs[0].Expressions[0].Value.([]any) {
		msgs = append(msgs, m.(string))
	}
	sort.Strings(msgs)
	return msgs
}

func startPolicyFleet(t *testing.T) *simulator.Simulator {
	t.Helper()
	backup := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	fleet := fmt.Sprintf(`{
  "credentials": {"username": "LAB\\tester", "password": %q},
  "winrm": {"basic": true},
  "packages": {
    "D:\\SP3":      {"kind": "service_pack", "product": "2007", "service_pack": 3},
    "D:\\RU10.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 10}
  },
  "servers": [
    {"name": "MBX", "address": "127.0.33.1", "product": "2007", "build": "8.2.176.2", "roles": ["Mailbox"],
     "last_full_backup": %q, "last_system_state_backup": %q},
    {"name": "HUB", "address": "127.0.33.2", "product": "2007", "build": "8.3.213.1", "roles": ["HubTransport"],
     "last_system_state_backup": %q}
  ],
  "clusters": []
}`, password, backup, backup, backup)
	f, err := simulator.ParseFleet(strings.NewReader(fleet))
	must(t, err)
	sim, err := simulator.Start(f, simulator.Options{})
	must(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// planJSON runs terraform plan -out and terraform show -json, as a pipeline does.
func planJSON(t *testing.T, providerDir string, sim *simulator.Simulator, config string) []byte {
	t.Helper()
	w := newWorkspace(t, providerDir, sim, header+config, "TF_VAR_password="+password)
	if out, err := w.run("plan", "-input=false", "-no-color", "-out=tfplan"); err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	out, err := w.run("show", "-json", "tfplan")
	if err != nil {
		t.Fatalf("show -json: %v\n%s", err, out)
	}
	// The CLI may print a warning about its configuration before the JSON.
	if i := strings.Index(out, `{"format_version"`); i > 0 {
		out = out[i:]
	}
	return []byte(out)
}

const mailboxRoles = `
data "exchange_server" "mbx" {
  server  = "MBX"
  address = "127.0.33.1"
}
`

// The Rego policy next to the jq one: a plan that restarts a Mailbox server is denied, a
// plan whose downtime falls outside the declared window is denied, and a plan that does
// neither is allowed: each against the real CLI's plan JSON.
func TestRegoPolicyOnPlanJSON(t *testing.T) {
	providerDir := buildProvider(t)
	sim := startPolicyFleet(t)

	mailboxSP := planJSON(t, providerDir, sim, mailboxRoles+`
resource "exchange_service_pack" "mbx" {
  server       = "MBX"
  address      = "127.0.33.1"
  service_pack = 3
  media_path   = "D:\\SP3"
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "`+evidenceTime+`"
  }
}
`)
	hubRollup := planJSON(t, providerDir, sim, mailboxRoles+`
resource "exchange_update_rollup" "hub" {
  server       = "HUB"
  address      = "127.0.33.2"
  rollup       = "10"
  package_path = "D:\\RU10.msp"
  backup {
    max_system_state_age = "168h"
    waiver_reason        = "Hub Transport server: no databases"
  }
}
`)
	window := map[string]any{"start": "2026-12-05T22:00:00Z", "end": "2026-12-06T04:00:00Z"}
	inside := map[string]any{"maintenance": map[string]any{"apply_at": "2026-12-05T22:30:00Z", "windows": []any{window}}}
	after := map[string]any{"maintenance": map[string]any{"apply_at": "2026-12-06T09:00:00Z", "windows": []any{window}}}
	otherServers := map[string]any{"maintenance": map[string]any{"apply_at": "2026-12-05T22:30:00Z", "windows": []any{
		map[string]any{"start": "2026-12-05T22:00:00Z", "end": "2026-12-06T04:00:00Z", "servers": []any{"MBX"}}}}}

	// Allowed: a Hub Transport server's rollup, applied inside its window.
	if got := deny(t, hubRollup, inside); len(got) != 0 {
		t.Errorf("the Hub Transport rollup inside the window must be allowed; denied:\n%s", strings.Join(got, "\n"))
	}

	// Denied: the service pack restarts the Mailbox server (inside the window all the same).
	got := deny(t, mailboxSP, inside)
	if want := "exchange_service_pack.mbx: step reboot restarts Mailbox server MBX"; !contains(got, want) {
		t.Errorf("the Mailbox service pack must be denied with %q; got:\n%s", want, strings.Join(got, "\n"))
	}
	for _, m := range got {
		if !strings.Contains(m, "restarts Mailbox server MBX") {
			t.Errorf("inside the window only the Mailbox rule may deny; also: %s", m)
		}
	}

	// Denied: the same rollup applied after the window ends, or in a window for other servers,
	// once per downtime step.
	for name, data := range map[string]map[string]any{"after the window": after, "a window for MBX only": otherServers, "no window": {}} {
		got := deny(t, hubRollup, data)
		if len(got) == 0 {
			t.Errorf("%s: the rollup's downtime steps must be denied", name)
		}
		for _, m := range got {
			if !strings.HasPrefix(m, "exchange_update_rollup.hub: downtime step ") || !strings.Contains(m, " on HUB would run at ") ||
				!strings.HasSuffix(m, "outside every maintenance window for HUB") {
				t.Errorf("%s: unexpected denial %q", name, m)
			}
		}
	}
	if got := deny(t, hubRollup, after); !contains(got, "exchange_update_rollup.hub: downtime step install_update_rollup on HUB would run at 2026-12-06T09:00:00Z, outside every maintenance window for HUB") {
		t.Errorf("after the window: the install step must be named with the time; got:\n%s", strings.Join(got, "\n"))
	}

	// A resource with a maintenance_window: the policy reads the window from the plan
	// (scheduled_window), not from data; the apply must start inside it.
	open := time.Now().UTC().Truncate(time.Hour).Add(2 * time.Hour)
	rfc := func(t time.Time) string { return t.Format(time.RFC3339) }
	declared := planJSON(t, providerDir, sim, mailboxRoles+`
resource "exchange_update_rollup" "hub" {
  server       = "HUB"
  address      = "127.0.33.2"
  rollup       = "10"
  package_path = "D:\\RU10.msp"
  backup {
    max_system_state_age = "168h"
    waiver_reason        = "Hub Transport server: no databases"
  }
  maintenance_window {
    intervals = [{ start = "`+rfc(open)+`", end = "`+rfc(open.Add(4*time.Hour))+`" }]
  }
}
`)
	applyAt := func(t time.Time) map[string]any {
		return map[string]any{"maintenance": map[string]any{"apply_at": rfc(t)}}
	}
	if got := deny(t, declared, applyAt(open.Add(time.Hour))); len(got) != 0 {
		t.Errorf("inside the declared window the rollup must be allowed without data windows; denied:\n%s", strings.Join(got, "\n"))
	}
	late := open.Add(5 * time.Hour)
	want := fmt.Sprintf("exchange_update_rollup.hub: downtime step install_update_rollup on HUB would run at %s, outside its maintenance window %s",
		rfc(late), open.Format("Mon 2006-01-02 15:04")+"–"+open.Add(4*time.Hour).Format("15:04")+" UTC")
	if got := deny(t, declared, applyAt(late)); !contains(got, want) {
		t.Errorf("after the declared window the rollup must be denied with %q; got:\n%s", want, strings.Join(got, "\n"))
	}
	// The data's windows do not open a resource's own window wider.
	if got := deny(t, declared, map[string]any{"maintenance": map[string]any{"apply_at": rfc(late),
		"windows": []any{map[string]any{"start": rfc(late.Add(-time.Hour)), "end": rfc(late.Add(time.Hour))}}}}); !contains(got, want) {
		t.Errorf("a data window must not override the declared one; got:\n%s", strings.Join(got, "\n"))
	}

	// A window that cannot be read is denied, not ignored.
	broken := map[string]any{"maintenance": map[string]any{"apply_at": "2026-12-05T22:30:00Z",
		"windows": []any{map[string]any{"start": "tonight", "end": "2026-12-06T04:00:00Z"}}}}
	if got := deny(t, hubRollup, broken); len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "maintenance window 0: start and end must be RFC 3339 times") {
		t.Errorf("a malformed window must be denied with its index; got:\n%s", strings.Join(got, "\n"))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
