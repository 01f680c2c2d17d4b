package simulator

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// Defaults of the servicing model (Options).
const (
	defaultInstallDuration = 2 * time.Second
	defaultRebootDuration  = time.Second
	// shutdownFallback is how long a reboot waits for its answer to reach the client
	// before the host goes down anyway (a client that gave up on the command).
	shutdownFallback = 3 * time.Second
	// shutdownGrace lets the answer that carried the reboot's result leave the socket.
	shutdownGrace = 50 * time.Millisecond
)

// defaultDisabledAfterInstall are the Exchange services an SP or RU install leaves
// Disabled unless told otherwise: like a silent install, so that the
// fix-up step (exchange_services) has something to do in every test.
var defaultDisabledAfterInstall = []string{"MSExchangeTransport"}

// exchangeProductCode is the Windows Installer product code of Exchange 2007, which its
// patches belong to (probe.ps1 reads the patches under it).
const exchangeProductCode = "{24B2C164-DE66-44FE-B468-A46D9D5E6B31}"

// env is what the hosts of one simulator share: the clock, the journal, the servicing
// options and the package registry. It also tracks every timer it starts, so that Close
// can stop them and wait for callbacks that already run.
type env struct {
	clock                Clock
	journal              *journal
	installDuration      time.Duration
	rebootDuration       time.Duration
	disabledAfterInstall []string
	packages             *packageRegistry
	// organization and hosts are the directory discover reads: the organisation's name and
	// every host of the simulator. Set by Start before any host serves; a host made
	// outside Start has none and discovers itself alone.
	organization string
	hosts        []*Host

	mu     sync.Mutex
	closed bool
	seq    int
	stops  map[int]func() bool
	active sync.WaitGroup
}

func newEnv(o Options, j *journal) *env {
	e := &env{
		clock:                o.Clock,
		journal:              j,
		installDuration:      o.InstallDuration,
		rebootDuration:       o.RebootDuration,
		disabledAfterInstall: o.DisabledAfterInstall,
		packages:             newPackageRegistry(),
		stops:                map[int]func() bool{},
	}
	if e.clock == nil {
		e.clock = realClock{}
	}
	if e.journal == nil {
		e.journal = &journal{}
	}
	if e.journal.now == nil {
		e.journal.now = e.clock.Now
	}
	if e.installDuration <= 0 {
		e.installDuration = defaultInstallDuration
	}
	if e.rebootDuration <= 0 {
		e.rebootDuration = defaultRebootDuration
	}
	if e.disabledAfterInstall == nil {
		e.disabledAfterInstall = defaultDisabledAfterInstall
	}
	return e
}

// after runs f once d has passed on the simulated clock; realAfter on the wall clock.
func (e *env) after(d time.Duration, f func()) {
	e.track(func(g func()) func() bool { return e.clock.AfterFunc(d, g) }, f)
}

func (e *env) realAfter(d time.Duration, f func()) {
	e.track(func(g func()) func() bool { return time.AfterFunc(d, g).Stop }, f)
}

func (e *env) track(schedule func(func()) func() bool, f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.seq++
	id := e.seq
	// The timer may fire before schedule returns (a duration of zero); the callback
	// takes e.mu, which is held until the stop function is recorded.
	e.stops[id] = schedule(func() {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return
		}
		delete(e.stops, id)
		e.active.Add(1)
		e.mu.Unlock()
		defer e.active.Done()
		f()
	})
}

// close stops every timer and waits for callbacks that already started.
func (e *env) close() {
	e.mu.Lock()
	e.closed = true
	stops := e.stops
	e.stops = map[int]func() bool{}
	e.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	e.active.Wait()
}

// Fault kinds a test or the fleet arms on a host (InjectFault, the server's `faults`).
const (
	// FaultFileInUse: the next job fails with exit code 1603 and Error "FileInUse:
	// STORE.EXE"; nothing is changed (failure signs).
	FaultFileInUse = "file_in_use"
	// FaultSetupAbort: the next service pack job fails and leaves a setup watermark on the
	// server's first role; setup is then refused until (*Host).ClearWatermark.
	FaultSetupAbort = "setup_abort"
	// FaultDropConnection: once the next job has started, the next Count requests to the
	// host fail with HTTP 503 while the job keeps running.
	FaultDropConnection = "drop_connection"
	// FaultNoRebootReturn: the next reboot never brings the server back (until
	// (*Host).PowerOn).
	FaultNoRebootReturn = "no_reboot_return"
	// FaultEVSWontComeOnline: the next time the CMS/EVS group is to come online on this
	// node (online_group, start_cms, move_group, a failover), its Information Store
	// resource fails: the group is Failed there. Bringing it online again works.
	FaultEVSWontComeOnline = "evs_wont_come_online"
	// FaultUpgradeCMSAbort: the next Setup.com /upgradeCMS job on this node fails (exit
	// 1603) half-way: the CMS is not upgraded and the CMS key stays behind
	// (Facts.Setup.StaleCMSKey) until a /upgradeCMS succeeds.
	FaultUpgradeCMSAbort = "upgradecms_abort"
	// FaultResetConnection: once the host has run Operation, the TCP connections of the
	// next Count requests (default 1) are reset, as a load balancer, a firewall's idle
	// timeout or a dropped VPN does: the operation ran, its answer is lost.
	FaultResetConnection = "reset_connection"
	// FaultUnauthorized: once the host has run Operation, the next Count requests (default
	// 1) answer HTTP 401, as when the account is locked out or its password changes while
	// an apply runs.
	FaultUnauthorized = "unauthorized"
	// FaultShellQuota: once the host has run Operation, the next Count shell Create
	// requests (default 1) are refused with WinRM's MaxShellsPerUser fault, as when other
	// sessions of the same account hold every shell the quota allows.
	FaultShellQuota = "shell_quota"
	// FaultSlowReply: the next Count runs (default 1) of Operation (any operation when
	// empty) answer Delay after they ran, as a loaded server does.
	FaultSlowReply = "slow_reply"
	// FaultRefuseOperation: the next Count runs (default 1) of Operation (required) whose
	// parameters include Params are refused before they run: the command is answered HTTP
	// 401, as when the account is locked out at that moment. Nothing runs and nothing is
	// journaled (the journal lists what happened to hosts). Unlike unauthorized, it picks
	// one operation's request whatever the requests before it, so a test can refuse, say,
	// only the lock's release.
	FaultRefuseOperation = "refuse_operation"
)

var faultKinds = []string{FaultFileInUse, FaultSetupAbort, FaultDropConnection, FaultNoRebootReturn,
	FaultEVSWontComeOnline, FaultUpgradeCMSAbort, FaultResetConnection, FaultUnauthorized, FaultShellQuota,
	FaultSlowReply, FaultRefuseOperation}

// requestFaults are the kinds that fail the host's next requests once it has run their
// Operation.
var requestFaults = []string{FaultResetConnection, FaultUnauthorized, FaultShellQuota}

// countedFaults take a count.
var countedFaults = append([]string{FaultDropConnection, FaultSlowReply, FaultRefuseOperation}, requestFaults...)

// defaultDropCount is how many requests drop_connection fails when no count is given.
const defaultDropCount = 3

// Fault is one armed fault. Each is used up by the event it waits for.
type Fault struct {
	Kind string `json:"kind"`
	// Count is how many requests (drop_connection: default 3; reset_connection,
	// unauthorized, shell_quota: default 1) or operations (slow_reply: default 1) the fault
	// affects; unused otherwise.
	Count int `json:"count"`
	// Operation is, for reset_connection, unauthorized and shell_quota (required), the
	// operation after which the host's requests fail (e.g. "probe", "job_start"); for
	// slow_reply, the operation that answers late ("" any).
	Operation string `json:"operation"`
	// Delay is, for slow_reply (required), how late the answer comes, as a Go duration
	// ("30s").
	Delay string `json:"delay"`
	// Params are, for refuse_operation, parameters the refused run must have (e.g.
	// {"Release": true} refuses only a lock's release); none: any run of Operation.
	Params map[string]any `json:"params"`

	delay time.Duration
}

func (f Fault) normalize() (Fault, error) {
	if !slices.Contains(faultKinds, f.Kind) {
		return f, fmt.Errorf("fault kind %q is not known: use one of %s", f.Kind, strings.Join(faultKinds, ", "))
	}
	counted, request := slices.Contains(countedFaults, f.Kind), slices.Contains(requestFaults, f.Kind)
	switch {
	case !counted && f.Count != 0:
		return f, fmt.Errorf("fault %s takes no count", f.Kind)
	case f.Count < 0:
		return f, fmt.Errorf("fault %s: count %d is negative", f.Kind, f.Count)
	case f.Kind == FaultDropConnection && f.Count == 0:
		f.Count = defaultDropCount
	case counted && f.Count == 0:
		f.Count = 1
	}
	if f.Operation != "" {
		if _, ok := operations[f.Operation]; !ok {
			return f, fmt.Errorf("fault %s: operation %q is not known: use one of %s", f.Kind, f.Operation, strings.Join(sortedKeys(operations), ", "))
		}
	}
	switch {
	case request && f.Operation == "":
		return f, fmt.Errorf("fault %s needs operation: the operation after which requests fail, e.g. probe or job_start", f.Kind)
	case f.Kind == FaultRefuseOperation && f.Operation == "":
		return f, fmt.Errorf("fault %s needs operation: the operation to refuse, e.g. lock or job_clear", f.Kind)
	case f.Kind != FaultRefuseOperation && len(f.Params) > 0:
		return f, fmt.Errorf("fault %s takes no params", f.Kind)
	case !request && f.Kind != FaultSlowReply && f.Kind != FaultRefuseOperation && f.Operation != "":
		return f, fmt.Errorf("fault %s takes no operation", f.Kind)
	case f.Kind != FaultSlowReply && f.Delay != "":
		return f, fmt.Errorf("fault %s takes no delay", f.Kind)
	case f.Kind == FaultSlowReply:
		d, err := time.ParseDuration(f.Delay)
		if err != nil || d <= 0 {
			return f, fmt.Errorf("fault %s needs delay, a positive duration such as \"30s\" (got %q)", f.Kind, f.Delay)
		}
		f.delay = d
	}
	return f, nil
}

// endpointControl is what a fault needs of the host's WS-Management endpoint
// (*wsman.Server).
type endpointControl interface {
	FailNext(n, status int)
	ResetNext(n int)
	RefuseShellsNext(n int)
}

// netControl takes a host's listeners down and back up (simulator.go).
type netControl interface {
	// awaitDelivery calls f once the answer of command id has reached the client (or
	// after shutdownFallback).
	awaitDelivery(commandID string, f func())
	down()
	up()
}

// power is where a host is in a reboot.
type power int

const (
	powerUp        power = iota
	powerGoingDown       // the reboot was answered; going down once the answer is delivered
	powerDown            // unreachable
)

// jobRun is a running installer job; its record lives in State.Jobs.
type jobRun struct {
	id, action string
	command    string // what the journal says ran, e.g. `D:\SP3\Setup.com /mode:upgrade`
	logPath    string
	due        time.Time
	// fail is the armed fault this job ends in (FaultFileInUse, FaultSetupAbort), or "".
	fail string
	// setup: Facts.Setup.Running while it runs. servicePack: an SP install (an interrupt
	// leaves a watermark).
	setup, servicePack bool
	// services are the Exchange services before the job stopped them, put back when the
	// job fails having changed nothing.
	services []exchange.ServiceFacts
	// group is the Exchange 5.5 virtual server whose services this setup stopped on the
	// node that owns it (setupStopsGroupLocked), restarted when it ends; nil for none.
	group *clusterGroup
	// apply changes the state when the job succeeds and returns the exit code and whether
	// a reboot is required.
	apply func(s *State) (exitCode int, reboot bool)
}

// InjectFault arms a fault on the host (see the Fault* kinds). Faults wait, in the order
// they were armed, for the event that uses them up.
func (h *Host) InjectFault(f Fault) error {
	f, err := f.normalize()
	if err != nil {
		return fmt.Errorf("simulator: %s: %w", h.name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, f)
	return nil
}

// Faults lists the faults still armed.
func (h *Host) Faults() []Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.faults)
}

// ClearFaults disarms every fault still armed.
func (h *Host) ClearFaults() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = nil
}

// takeFaultLocked removes and returns the first armed fault of kind.
func (h *Host) takeFaultLocked(kind string) (Fault, bool) {
	for i, f := range h.faults {
		if f.Kind == kind {
			h.faults = slices.Delete(h.faults, i, i+1)
			return f, true
		}
	}
	return Fault{}, false
}

// refuses uses up a refuse_operation fault that matches a run of op with params, and
// reports whether it did (the run is then refused before it runs).
func (h *Host) refuses(op string, params map[string]any) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, f := range h.faults {
		if f.Kind != FaultRefuseOperation || f.Operation != op {
			continue
		}
		matches := true
		for k, v := range f.Params {
			matches = matches && fmt.Sprint(params[k]) == fmt.Sprint(v)
		}
		if !matches {
			continue
		}
		if f.Count--; f.Count > 0 {
			h.faults[i] = f
		} else {
			h.faults = slices.Delete(h.faults, i, i+1)
		}
		return true
	}
	return false
}

// afterOperation uses up the faults that wait for op, now that the host has run it: the
// request faults are handed to the endpoint, and a slow_reply's delay is returned.
func (h *Host) afterOperation(op string) (slow time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	kept := h.faults[:0]
	for _, f := range h.faults {
		switch {
		case f.Kind == FaultSlowReply && (f.Operation == "" || f.Operation == op) && slow == 0:
			slow = f.delay
			if f.Count--; f.Count > 0 {
				kept = append(kept, f)
			}
		case slices.Contains(requestFaults, f.Kind) && f.Operation == op && h.endpoint != nil:
			switch f.Kind {
			case FaultResetConnection:
				h.endpoint.ResetNext(f.Count)
			case FaultUnauthorized:
				h.endpoint.FailNext(f.Count, http.StatusUnauthorized)
			case FaultShellQuota:
				h.endpoint.RefuseShellsNext(f.Count)
			}
		default:
			kept = append(kept, f)
		}
	}
	h.faults = kept
	return slow
}

// ClearWatermark removes every setup watermark (what an administrator does after an
// interrupted setup), so setup runs again.
func (h *Host) ClearWatermark() {
	h.Update(func(s *State) { s.SetupWatermarks = []exchange.SetupWatermark{} })
}

// SetPathMissing marks a package or media path as absent on this host (or present again):
// a job that needs it is refused "package not found".
func (h *Host) SetPathMissing(path string, missing bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if missing {
		h.missing[normalizePath(path)] = true
	} else {
		delete(h.missing, normalizePath(path))
	}
}

// SetDisabledAfterInstall names the Exchange services an SP or RU install leaves
// Disabled on this host (none when called without names), instead of the simulator's
// default (Options.DisabledAfterInstall).
func (h *Host) SetDisabledAfterInstall(services ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.disabledAfterInstall = append([]string{}, services...)
}

// Job returns the record of job id.
func (h *Host) Job(id string) (exchange.Job, bool) {
	for _, j := range h.State().Jobs {
		if j.ID == id {
			return j, true
		}
	}
	return exchange.Job{}, false
}

// Reachable reports whether the host answers: false while it reboots.
func (h *Host) Reachable() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.power != powerDown
}

// Restart restarts the host now, as an administrator or a power cut would (the reboot
// operation refuses while an installer runs; this does not): a running job fails with
// exit code -1 ("interrupted by reboot"), an interrupted service pack leaves a setup
// watermark, and the host is unreachable for the reboot duration. An armed
// FaultNoRebootReturn applies.
func (h *Host) Restart() {
	h.mu.Lock()
	if h.power != powerUp {
		h.mu.Unlock()
		return
	}
	h.power = powerGoingDown
	_, noReturn := h.takeFaultLocked(FaultNoRebootReturn)
	h.mu.Unlock()
	h.shutdown(noReturn)
}

// PowerOn brings back a host that is down (after FaultNoRebootReturn, or before its
// reboot duration has passed). It does nothing to a host that is up.
func (h *Host) PowerOn() { h.boot() }

// packageAtLocked is the package at path on this host, if it is registered and not missing.
func (h *Host) packageAtLocked(path string) (Package, bool) {
	if strings.TrimSpace(path) == "" || h.missing[normalizePath(path)] {
		return Package{}, false
	}
	return h.env.packages.lookup(path)
}

// settleLocked finishes every running job whose time has come, in the order they fall due.
func (h *Host) settleLocked() {
	defer h.syncClusteredServicesLocked()
	if len(h.jobs) == 0 {
		return
	}
	now := h.env.clock.Now()
	var due []*jobRun
	for _, r := range h.jobs {
		if !r.due.After(now) {
			due = append(due, r)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].due.Before(due[j].due) })
	for _, r := range due {
		h.finishLocked(r, r.due)
	}
}

// finishLocked ends job r at time at, as its armed fault or its success says.
func (h *Host) finishLocked(r *jobRun, at time.Time) {
	var exit int
	var reboot bool
	var errText string
	switch r.fail {
	case FaultFileInUse:
		exit, errText = 1603, "FileInUse: STORE.EXE"
		if r.services != nil {
			h.state.Services = r.services
		}
	case FaultUpgradeCMSAbort:
		// /upgradeCMS broke off: the CMS is not upgraded and its key stays behind.
		exit, errText = 1603, "the installer exited with code 1603"
		h.state.StaleCMSKey = true
	case FaultSetupAbort:
		// Setup stops half-way: the first role's key keeps its Action and Watermark
		// values; the services it stopped stay stopped.
		exit, errText = 1603, "the installer exited with code 1603"
		if len(h.state.Roles) > 0 {
			h.addWatermarkLocked(h.state.Roles[0])
		}
	default:
		exit, reboot = r.apply(&h.state)
	}
	if r.group != nil && r.fail != FaultSetupAbort {
		// Setup starts the services it stopped (an aborted one leaves them stopped).
		h.setupRestartsGroupLocked(r.group)
	}
	h.endLocked(r, at, exit, reboot, errText)
}

// endLocked writes job r's final record and journals the installer's end.
func (h *Host) endLocked(r *jobRun, at time.Time, exit int, reboot bool, errText string) {
	delete(h.jobs, r.id)
	for i := range h.state.Jobs {
		j := &h.state.Jobs[i]
		if j.ID != r.id {
			continue
		}
		j.State = exchange.JobSucceeded
		if exit != 0 && exit != 3010 {
			j.State = exchange.JobFailed
		}
		j.ExitCode, j.Error, j.RebootRequired = exit, errText, reboot
		finished := at.UTC().Truncate(time.Second) // records hold whole seconds
		j.Finished = &finished
	}
	if r.setup && !slices.ContainsFunc(mapValues(h.jobs), func(o *jobRun) bool { return o.setup }) {
		h.state.SetupRunning = false
	}
	outcome, detail := outcomeOK, fmt.Sprintf("%s finished exit %d", r.command, exit)
	if exit != 0 && exit != 3010 {
		outcome = outcomeFailed
	}
	if errText != "" {
		detail += ": " + errText
	}
	h.env.journal.record(Entry{Server: h.name, Operation: operationInstaller,
		Params: map[string]any{"ID": r.id, "Action": r.action}, Outcome: outcome, Detail: detail})
}

func (h *Host) jobRecordLocked(id string) (exchange.Job, bool) {
	for _, j := range h.state.Jobs {
		if j.ID == id {
			return j, true
		}
	}
	return exchange.Job{}, false
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (h *Host) addWatermarkLocked(role string) {
	if h.state.Product != "2007" {
		return
	}
	for _, w := range h.state.SetupWatermarks {
		if w.Role == role {
			return
		}
	}
	h.state.SetupWatermarks = append(h.state.SetupWatermarks, exchange.SetupWatermark{
		Role: role, Action: "BuildToBuildUpgrade", Watermark: "InstallFiles",
	})
}

// stopExchangeServicesLocked stops every Exchange service, as setup does, and returns the
// services as they were.
func (h *Host) stopExchangeServicesLocked() []exchange.ServiceFacts {
	before := slices.Clone(h.state.Services)
	for i := range h.state.Services {
		h.state.Services[i].State = "Stopped"
	}
	return before
}

// restartServices starts the Exchange services again after an install: every Automatic
// service runs, except the ones the install leaves Disabled (and stopped).
func restartServices(s *State, leaveDisabled []string) {
	for i := range s.Services {
		svc := &s.Services[i]
		switch {
		case slices.ContainsFunc(leaveDisabled, func(n string) bool { return strings.EqualFold(n, svc.Name) }):
			svc.StartMode, svc.State = "Disabled", "Stopped"
		case svc.StartMode == "Auto":
			svc.State = "Running"
		default:
			svc.State = "Stopped"
		}
	}
}

// afterInstall is what every SP and RU install does on success: OWA files overwritten, a
// reboot pending, the services back except the ones left Disabled.
func afterInstall(s *State, leaveDisabled []string) {
	// Setup writes a new logon page where there is none or where setup's own page is.
	// Windows Installer does not replace an unversioned file modified since it was
	// installed: a customised Logon.aspx left in place stays, made for the old build, and
	// OWA shows a blank page ("How to install the latest Service Pack or Update Rollup for
	// Exchange 2007").
	if s.OWALogonCustomized && !s.OWALogonAbsent {
		s.OWALogonStale = true
	} else {
		s.OWALogonCustomized, s.OWALogonAbsent, s.OWALogonStale = false, false, false
	}
	if !slices.Contains(s.PendingReboot, pendingRebootReason) {
		s.PendingReboot = append(s.PendingReboot, pendingRebootReason)
	}
	restartServices(s, leaveDisabled)
}

// shutdown takes the host down after a reboot was answered: running jobs are interrupted,
// the listeners close and, unless noReturn, the host boots after the reboot duration.
func (h *Host) shutdown(noReturn bool) {
	h.mu.Lock()
	if h.power != powerGoingDown {
		h.mu.Unlock()
		return
	}
	h.settleLocked()
	h.power = powerDown
	now := h.env.clock.Now()
	for _, r := range mapValues(h.jobs) {
		if r.servicePack {
			// An interrupted setup leaves its Action/Watermark behind.
			if len(h.state.Roles) > 0 {
				h.addWatermarkLocked(h.state.Roles[0])
			}
		}
		if r.action == exchange.ActionUpgradeCMS {
			// An interrupted /upgradeCMS leaves the CMS key behind.
			h.state.StaleCMSKey = true
		}
		// As Read-ExJob reads a running record whose process is gone.
		errText := "interrupted by reboot: the job ended without recording a result (the server restarted or its process was stopped while the installer ran)"
		if r.logPath != "" {
			errText += "; see " + r.logPath
		}
		h.endLocked(r, now, -1, false, errText)
	}
	h.state.SetupRunning = false
	detail := "shutting down for a restart"
	if noReturn {
		detail = "shutting down; it will not come back (fault no_reboot_return)"
	}
	h.env.journal.record(Entry{Server: h.name, Operation: operationSystem, Outcome: outcomeOK, Detail: detail})
	h.noteServingLocked()
	h.mu.Unlock()
	if h.cluster != nil {
		// The node's cluster service goes down with it: its groups fail over.
		h.cluster.nodeDown(h.name)
	}
	if h.net != nil {
		h.net.down()
	}
	if !noReturn {
		h.env.after(h.env.rebootDuration, h.boot)
	}
}

// boot brings a host that is down back: a newer boot time, no reboot pending, the
// services started by their start modes, then the listeners open again.
func (h *Host) boot() {
	h.mu.Lock()
	if h.power != powerDown {
		h.mu.Unlock()
		return
	}
	h.power = powerUp
	boot := h.env.clock.Now().UTC().Truncate(time.Second)
	if !boot.After(h.state.BootTime) {
		boot = h.state.BootTime.Add(time.Second)
	}
	h.state.BootTime = boot
	h.state.PendingReboot = []string{}
	fw := []exchange.ServiceFacts{h.state.Firewall}
	for _, list := range [][]exchange.ServiceFacts{h.state.Services, h.state.WindowsServices, fw} {
		for i := range list {
			if list[i].StartMode == "Auto" {
				list[i].State = "Running"
			} else {
				list[i].State = "Stopped"
			}
		}
	}
	h.state.Firewall = fw[0]
	h.env.journal.record(Entry{Server: h.name, Operation: operationSystem, Outcome: outcomeOK,
		Detail: "started, boot time " + boot.Format(time.RFC3339)})
	h.noteServingLocked()
	h.mu.Unlock()
	if h.cluster != nil {
		// The cluster service starts with Windows (Automatic); the events are the last boot's.
		h.cluster.nodeUp(h.name)
	}
	if h.net != nil {
		h.net.up()
	}
}
