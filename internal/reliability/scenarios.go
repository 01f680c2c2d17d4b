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
		Checks: "the probe's answer is lost to a TCP reset; the plan succeeds, reading the server again; no servicing operation runs"},
	{ID: "reset during an install",
		Checks: "the job_start answer is lost to a TCP reset; the apply attaches to the running setup: setup runs once, the final build is reached, no lock or stopped service is left"},
	{ID: "HTTP 401 mid-run",
		Checks: "the account is refused after setup started: the apply fails naming the server and the authentication error, the state keeps the resource, the next apply attaches (setup once) and restarts what was stopped"},
	{ID: "MaxShellsPerUser quota fault",
		Checks: "shell creations refused over the quota during an install are retried: the apply succeeds, setup runs once"},
	{ID: "operation timeout faults",
		Checks: "every Receive answers w:TimedOut before the installer's output comes (a 50 ms OperationTimeout): the apply succeeds, setup runs once"},
	{ID: "a response slower than the timeout",
		Checks: "job_start answers after the provider's operation timeout: the apply fails naming the server and that the operation may have run; the next apply attaches (setup once) and finishes"},
	{ID: "a reboot longer than expected",
		Checks: "the server stays down well past its usual reboot time and comes back: the apply waits for it and finishes, the services are restarted, the reboot was requested once"},
	{ID: "a server that never comes back",
		Checks: "a cluster node does not return from its reboot: the apply fails naming it, the other node is not touched, the state records where it stopped"},
	{ID: "two applies at once from one host",
		Checks: "a second provider process on the same host is refused while the first holds the servicing lock, changes nothing, and takes the lock over once that process is gone; setup runs once"},
	{ID: "two applies at once from two hosts",
		Checks: "an apply from another host holds the lock: this apply is refused naming that host, stops nothing, leaves that lock as it was; once it expires the apply services the server once"},
	{ID: "SIGINT of Terraform mid-install, then apply again",
		Checks: "Ctrl-C during setup: the apply stops saying setup may still run, the lock is released or left to expire, the state keeps the resource; the next apply attaches (setup once) and restarts the backup agent"},
	{ID: "SIGKILL of Terraform mid-install, then apply again",
		Checks: "kill -9 of Terraform and the provider during setup: setup keeps running; the next apply attaches (setup once), finishes, restarts the stopped service"},
	{ID: "an installer failure",
		Checks: "setup exits 1603 (file in use): the apply fails naming the exit code and the log, services are put back; the next apply runs setup again and succeeds"},
	{ID: "the simulator restarted mid-apply",
		Checks: "every WinRM endpoint of the fleet goes away and comes back while setup runs (shells lost, host state kept): the apply rides it out or the next one attaches; setup runs once"},
	{ID: "a saved plan applied after the server changed",
		Checks:    "a plan saved before the server was changed by hand is applied: refused as stale, nothing run",
		Elsewhere: "TestSavedPlanServerChanged"},
	{ID: "the password never leaks",
		Checks: "with TF_LOG=trace, the password (and 1-3 character passwords) is in no output, state, error, trace log or simulator journal"},
	{ID: "seeded fault soak",
		Checks: "an organisation upgrade with clusters applied again and again under a seeded random schedule of the faults above, until every server reaches its target: no installer ran twice for one step, no two nodes of one cluster or servers of one load-balanced group down at once where the procedure forbids it, nothing stopped left stopped without a record, the state agrees with the servers"},
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
