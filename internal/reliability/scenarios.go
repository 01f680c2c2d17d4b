// Package reliability is the registry of issue 11's fault scenarios: each scenario test
// names the scenario it proves with Held, and docs/reliability.md is generated from this
// table and from the tests that name each scenario (tools/reliability), so the report
// cannot claim a scenario no test runs.
package reliability

// Scenario is one promise of the fault suite.
type Scenario struct {
	// ID is what a test passes to Held.
	ID string
	// Checks says what the tests assert afterwards.
	Checks string
	// Elsewhere names a test that covers the scenario but does not call Held (written
	// by another change); the report says whether it exists and never counts it as held.
	Elsewhere string
}

// Scenarios are issue 11's fault scenarios, in the report's order.
var Scenarios = []Scenario{
	{ID: "reset during a probe",
		Checks: "the probe's answer is lost to a TCP reset: the plan reads the server again and shows the install, nothing else runs; the apply then services the server"},
	{ID: "reset during an install",
		Checks: "job_start's answer is lost to a TCP reset: the apply succeeds, finding the setup it had started"},
	{ID: "HTTP 401 mid-run",
		Checks: "the account is refused (HTTP 401) from the moment setup started: the apply fails naming the server and the authentication error, the stopped backup agent is running or recorded; once the account works the next apply finishes"},
	{ID: "the clean-up after the last step refused",
		Checks: "every step done, the lock's release refused (HTTP 401 for that request only): the apply succeeds with the warning \"Apply finished, but could not clean up after itself\" naming the server, its lock and when it expires; the job records are cleared, the lock is left, the next plan is empty"},
	{ID: "MaxShellsPerUser quota fault",
		Checks: "three shell creations refused with the MaxShellsPerUser fault after setup started (a reset forcing a new shell): the apply rides them out"},
	{ID: "operation timeout faults",
		Checks: "with a 50 ms OperationTimeout and 150 ms operations, Receives answer w:TimedOut (at least 10): the apply succeeds"},
	{ID: "a response slower than the timeout",
		Checks: "job_start answers 4 s late against a 2 s operation timeout: the apply fails naming the server and the timeout, the stopped backup agent is running or recorded; the next apply finishes without starting setup again"},
	{ID: "a reboot longer than expected",
		Checks: "the server stays down 5 s after its restart instead of 0.3 s: the apply waits and finishes; the server was restarted once"},
	{ID: "a server that never comes back",
		Checks: "a cluster node does not return from its reboot: the apply stops naming the node, the step and what to do, the clustered server still online on the other node; once the node is powered on the next apply goes on from its reboot: setup once, one reboot, the CMS moved and upgraded in the procedure's order"},
	{ID: "two applies at once from one host",
		Checks: "while another provider process on this host holds the servicing lock, the apply is refused naming it and its process, changes nothing and leaves its lock; once that process is gone the lock is taken over (journal), the service pack installed once in the procedure's order, the lock released"},
	{ID: "two applies at once from two hosts",
		Checks: "an apply from host ci02 holds the lock: this apply is refused naming that apply, stops nothing and leaves that lock untouched; once the lock expires the next apply services the server"},
	{ID: "SIGINT of Terraform mid-install, then apply again",
		Checks: "Ctrl-C (SIGINT to Terraform and the provider) during setup: the apply fails saying where it stopped, setup still runs on the server, the stopped backup agent is running or recorded; the next apply attaches to the running setup and finishes"},
	{ID: "SIGKILL of Terraform mid-install, then apply again",
		Checks: "kill -9 of Terraform and the provider during setup: setup still runs on the server, the stopped backup agent is running or recorded; the next apply attaches to the running setup and finishes"},
	{ID: "an installer failure",
		Checks: "the rollup installer exits 1603 (FileInUse: STORE.EXE): the apply stops naming the step, exit code, error and log, after restarting the backup agent it stopped; the next apply runs the install once more, through dropped connections, and reaches the rollup"},
	{ID: "the simulator restarted mid-apply",
		Checks: "every host's WinRM endpoint goes away for 2 s while setup runs (connections and shells lost, host state kept): the apply rides it out, or fails and the next apply attaches"},
	{ID: "a saved plan applied after the server changed",
		Checks: "`terraform plan -out` saved, then a server changed by hand before `terraform apply PLANFILE`: a resource with state (update rollup, cluster upgrade, organisation upgrade) is refused with \"Server HUB5 changed since the plan\", \"Cluster CMS1 …\", \"The organisation (server HUB1) …\"; one the saved plan creates (update rollup, cluster upgrade, organisation upgrade) is stopped by Terraform with \"Provider produced inconsistent final plan\" (the protocol gives the provider no way to see a create's saved plan); either way the journal after the plan holds only probes and discovery"},
	{ID: "a saved plan applied in a later maintenance window",
		Checks: "a saved plan with a downtime step is applied a day later, in the next window: with `plan_timestamp = plantimestamp()` refused naming the window it was made for (a rollup the plan creates, and one it updates after a refresh); without, Terraform's \"Provider produced inconsistent final plan\"; either way the journal after the plan holds only probes and discovery"},
	{ID: "the password never leaks",
		Checks: "the fleet's password, a wrong one and ones of 1, 2 and 3 characters are in no output, TF_LOG=trace log or journal of plans reading a reachable, a misnamed and an unreachable server"},
	{ID: "seeded fault soak",
		Checks: "an organisation upgrade with a CCR cluster applied again and again under a seeded random schedule of the faults above (resets, 401s, quota faults, slow replies, overrunning reboots, installer failures, Terraform killed or interrupted, two applies at once, the simulator restarted) until every server reaches its target in an apply that left nothing to clean up (one that could not clear a server's job records or release its lock says so in a warning naming the server, and the soak applies again); after every apply: no installer ran twice for one step, no two nodes of one cluster down at once, nothing stopped left stopped without a record; at the end no lock, job or leftover, the state agrees with the servers, the plan is empty, the password in no output or journal"},
}

// Find returns the scenario with id.
func Find(id string) (Scenario, bool) {
	for _, s := range Scenarios {
		if s.ID == id {
			return s, true
		}
	}
	return Scenario{}, false
}
