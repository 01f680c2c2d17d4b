package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// A real `terraform plan`: when Terraform ends the provider process, every WinRM shell the
// provider opened has been deleted on the servers (real servers count abandoned shells
// against MaxShellsPerUser for hours). Checked at once after the CLI returns, before the
// provider's idle timer could have done it. The plan also runs NTLM sealed over HTTP.
func TestPlanLeavesNoShellOpen(t *testing.T) {
	providerDir := buildProvider(t)
	sim := startFleet(t)
	config := strings.Replace(header, `  ca_certificate = file(var.ca_file)`, `  https          = false
  auth           = "ntlm"`, 1) + `
data "exchange_server" "a" {
  server  = "EXA"
  address = "127.0.31.1"
}
data "exchange_server" "b" {
  server  = "EXB"
  address = "127.0.31.2"
}
`
	w := newWorkspace(t, providerDir, sim, config, "TF_VAR_password="+password, "EXCHANGE_PORT="+fmt.Sprint(sim.HTTPPort()))
	out, err := w.run("plan", "-input=false", "-no-color")
	if err != nil {
		t.Fatalf("terraform plan failed: %v\n%s", err, out)
	}
	for _, server := range []string{"EXA", "EXB"} {
		st := sim.Endpoint(server).Stats()
		if st.ShellsCreated == 0 || st.Sealed == 0 {
			t.Fatalf("%s: the plan did not reach it over sealed NTLM: %+v", server, st)
		}
		if st.OpenShells != 0 || st.ShellsDeleted != st.ShellsCreated {
			t.Errorf("%s: %d of %d shells left open after terraform plan returned (%d deleted)",
				server, st.OpenShells, st.ShellsCreated, st.ShellsDeleted)
		}
	}
	if strings.Contains(out, "unencrypted") || strings.Count(out, "Warning:") != 1 { // the one: dev_overrides
		t.Errorf("NTLM over HTTP must not warn:\n%s", out)
	}
}
