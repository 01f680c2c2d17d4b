package simulator

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// The servicing operations of wire/ops.go, run against the host model. Each takes the
// host's lock for its whole run, so an operation sees and leaves a consistent host, and
// finishes the jobs that are due first.

func opLock(h *Handler, c *call, req wire.LockRequest) (any, *wire.Fault) {
	host := h.host
	owner, ttl, release := req.Owner, req.TTLSeconds, req.Release
	// As lock.ps1: an empty owner or a TTL that is not positive is the caller's mistake.
	if strings.TrimSpace(owner) == "" {
		return nil, &wire.Fault{Code: "invalid", Message: "the lock owner must not be empty"}
	}
	if !release && ttl <= 0 {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf("the lock TTL must be a positive number of seconds, got %d", ttl)}
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	// The record stores whole seconds, as the probe reads them back.
	now := host.env.clock.Now().UTC().Truncate(time.Second)
	cur := host.state.Lock
	mine := cur != nil && cur.Owner == owner
	expired := cur != nil && !now.Before(cur.Expires)
	// As lock.ps1: a lock that is still exactly TakeOver's (an owner the caller proved
	// dead) is taken as if it had expired; checked under the host's lock.
	takenOver := cur != nil && !mine && !expired && req.TakeOver != "" && cur.Owner == req.TakeOver
	if takenOver {
		expired = true
	}
	if release {
		if mine {
			// As lock.ps1: releasing removes the lock, and the services record with it
			// unless the caller keeps it (an apply that stopped after changing the server).
			host.state.Lock, cur = nil, nil
			c.detail = "released"
			if req.KeepServiceRecord {
				c.detail = "released, services record kept"
			} else {
				host.state.LockServices = nil
			}
		}
		if cur == nil {
			if c.detail == "" {
				c.detail = "not held"
			}
			return wire.LockResult{}, nil
		}
		c.detail = fmt.Sprintf("not released: held by %s until %s", cur.Owner, cur.Expires.Format(time.RFC3339))
		return wire.LockResult{Owner: cur.Owner, Expires: cur.Expires}, nil
	}
	if cur != nil && !mine && !expired {
		c.detail = fmt.Sprintf("not taken: held by %s until %s", cur.Owner, cur.Expires.Format(time.RFC3339))
		return wire.LockResult{Owner: cur.Owner, Expires: cur.Expires}, nil
	}
	lock := &exchange.Lock{Owner: owner, Acquired: now, Expires: now.Add(time.Duration(ttl) * time.Second)}
	c.detail = "taken"
	if takenOver {
		c.detail = "taken over from " + cur.Owner
	}
	if mine {
		lock.Acquired = cur.Acquired
		c.detail = "renewed"
	}
	host.state.Lock = lock
	if host.state.LockServices == nil {
		// The services as they were before anything is serviced: exchange_services puts
		// them back by this record. An expired lock's record stays (lock.ps1).
		host.state.LockServices = slices.Clone(host.state.Services)
	}
	return wire.LockResult{Held: true, Owner: owner, Expires: lock.Expires}, nil
}

func opService(h *Handler, c *call, req wire.ServiceRequest) (any, *wire.Fault) {
	host := h.host
	name, action := req.Name, req.Action
	if action != wire.ActionStop && action != wire.ActionStart {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf(`the service action must be "stop" or "start", got %q`, action)}
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	var svc *exchange.ServiceFacts
	if strings.TrimSpace(name) != "" {
		svc = host.serviceLocked(name)
	}
	if svc == nil {
		return nil, &wire.Fault{Code: "not_found", Message: fmt.Sprintf("no service named %q on %s", name, host.name)}
	}
	before := svc.State
	if action == wire.ActionStart {
		if svc.StartMode == "Disabled" && before != "Running" {
			return nil, &wire.Fault{Code: "failed", Message: fmt.Sprintf(
				"service %s is disabled; set its start mode before starting it", svc.Name)}
		}
		if what := host.clusteredServiceLocked(svc.Name); what != "" && before != "Running" {
			return nil, &wire.Fault{Code: "refused", Message: clusteredStartRefusal(host.name, svc.Name, what)}
		}
		svc.State = "Running"
		host.state.LeftoverStopped = slices.DeleteFunc(host.state.LeftoverStopped, func(n string) bool { return strings.EqualFold(n, svc.Name) })
	} else {
		// Recorded before stopping, and only a running service: one stopped by its owner
		// stays theirs.
		if before == "Running" && !slices.ContainsFunc(host.state.LeftoverStopped, func(n string) bool { return strings.EqualFold(n, svc.Name) }) {
			host.state.LeftoverStopped = append(host.state.LeftoverStopped, svc.Name)
		}
		svc.State = "Stopped"
	}
	return wire.ServiceResult{Name: svc.Name, Before: before, After: svc.State, StartMode: svc.StartMode}, nil
}

// serviceLocked finds an Exchange or third-party service by name, ignoring case as Windows does.
func (h *Host) serviceLocked(name string) *exchange.ServiceFacts {
	for _, list := range [][]exchange.ServiceFacts{h.state.Services, h.state.WindowsServices} {
		for i := range list {
			if strings.EqualFold(list[i].Name, name) {
				return &list[i]
			}
		}
	}
	return nil
}

// opExchangeServices puts the Exchange services back in service as exchange_services.ps1
// does: a Disabled service gets the start mode the lock recorded (Disabled then: stays;
// Manual: Manual; otherwise Automatic), and every service that should run (Automatic, or
// running when the lock recorded it) is started; on a cluster node a Manual service is
// left to the cluster (left_to_cluster). Referee: a clustered service (clusteredServices)
// that would be started is refused (listed in failed). The lists are in name order.
func opExchangeServices(h *Handler, c *call, _ wire.ExchangeServicesRequest) (any, *wire.Fault) {
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	res := wire.ExchangeServicesResult{Enabled: []string{}, Started: []string{}, Failed: []string{}, LeftToCluster: []string{}}
	installing := ""
	for _, r := range host.jobs {
		if r.services != nil {
			installing = r.id
		}
	}
	recorded := map[string]exchange.ServiceFacts{}
	for _, svc := range host.state.LockServices {
		recorded[strings.ToLower(svc.Name)] = svc
	}
	order := make([]int, len(host.state.Services))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return host.state.Services[order[a]].Name < host.state.Services[order[b]].Name
	})
	for _, i := range order {
		svc := &host.state.Services[i]
		if installing != "" {
			// Setup stopped them and starts them itself: starting them under a running
			// installer is what the referee refuses.
			if svc.State != "Running" && svc.StartMode != "Disabled" {
				res.Failed = append(res.Failed, fmt.Sprintf("%s: setup is running (job %s)", svc.Name, installing))
			}
			continue
		}
		rec, hasRecord := recorded[strings.ToLower(svc.Name)]
		if svc.StartMode == "Disabled" && !(hasRecord && rec.StartMode == "Disabled") {
			svc.StartMode = "Auto"
			if hasRecord && rec.StartMode == "Manual" {
				svc.StartMode = "Manual"
			}
			res.Enabled = append(res.Enabled, svc.Name)
		}
		if host.cluster != nil && svc.StartMode == "Manual" && svc.State != "Running" {
			// As the script on a node with ClusSvc: a Manual service is the cluster's.
			res.LeftToCluster = append(res.LeftToCluster, svc.Name)
			continue
		}
		shouldRun := svc.StartMode == "Auto" || (hasRecord && rec.State == "Running" && svc.StartMode != "Disabled")
		if svc.State != "Running" && shouldRun {
			if what := host.clusteredServiceLocked(svc.Name); what != "" {
				// Referee: a clustered service is not started outside the cluster.
				res.Failed = append(res.Failed, svc.Name+": "+clusteredStartRefusal(host.name, svc.Name, what))
				continue
			}
			svc.State = "Running"
			res.Started = append(res.Started, svc.Name)
		}
	}
	for _, i := range order {
		res.Services = append(res.Services, host.state.Services[i])
	}
	if res.Services == nil {
		res.Services = []exchange.ServiceFacts{}
	}
	return res, nil
}

func opRevocationCheck(h *Handler, c *call, req wire.RevocationCheckRequest) (any, *wire.Fault) {
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	before := host.state.RevocationCheck
	host.state.RevocationCheck = req.Enabled
	switch {
	case before && !host.state.RevocationCheck:
		host.state.LeftoverRevocationOff = true
	case host.state.RevocationCheck:
		host.state.LeftoverRevocationOff = false
	}
	return wire.SettingResult{Before: before, After: host.state.RevocationCheck}, nil
}

// opFirewall starts or restores the Windows Firewall service as firewall.ps1 does: start
// records a stopped service's state and start mode first (an existing record is kept),
// enables a Disabled one (Manual) and starts it; restore puts back what the record says and
// drops it. Boots start it by its start mode like any service.
func opFirewall(h *Handler, c *call, req wire.FirewallRequest) (any, *wire.Fault) {
	if req.Action != wire.ActionStart && req.Action != wire.ActionRestore {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf(`the firewall action must be "start" or "restore", got "%s"`, req.Action)}
	}
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	s := &host.state
	res := wire.FirewallResult{Service: s.Firewall.Name, Before: s.Firewall.State}
	if req.Action == wire.ActionStart {
		if s.Firewall.State != "Running" {
			if s.FirewallRecord == nil {
				rec := s.Firewall
				s.FirewallRecord = &rec
			}
			if s.Firewall.StartMode == "Disabled" {
				s.Firewall.StartMode = "Manual"
			}
			s.Firewall.State = "Running"
			res.Recorded = true
		}
	} else if s.FirewallRecord != nil {
		rec := *s.FirewallRecord
		if rec.State == "Stopped" {
			s.Firewall.State = "Stopped"
		}
		if rec.StartMode == "Disabled" {
			s.Firewall.StartMode = "Disabled"
		}
		s.FirewallRecord = nil
		res.Recorded = true
	}
	if s.FirewallRecord != nil {
		res.RecordedState, res.RecordedStartMode = s.FirewallRecord.State, s.FirewallRecord.StartMode
	} else if res.Recorded {
		// restore: what it put back
		res.RecordedState, res.RecordedStartMode = s.Firewall.State, s.Firewall.StartMode
	}
	res.After = s.Firewall.State
	return res, nil
}

func opRemoteStreamingBackup(h *Handler, c *call, req wire.RemoteStreamingBackupRequest) (any, *wire.Fault) {
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	if host.serviceLocked("MSExchangeIS") == nil {
		return nil, &wire.Fault{Code: "not_found", Message: fmt.Sprintf(
			`no Information Store on %s (no HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIS)`, host.name)}
	}
	before := host.state.RemoteStreamingBackup != nil && *host.state.RemoteStreamingBackup
	after := req.Enabled
	if before != after {
		// Written only when it differs: "off" with no value stays without one.
		host.state.RemoteStreamingBackup = &after
	}
	return wire.SettingResult{Before: before, After: after}, nil
}

// owaLogonItem is the customisation the simulator models (OWA Logon.aspx);
// owaLogonFileItem is a page the user supplied (LogonFile) put in its place.
const (
	owaLogonItem     = "owa_logon"
	owaLogonFileItem = "owa_logon_file"
)

// opCustomizations moves the OWA logon page aside and back as customizations.ps1 does, on
// an Exchange 2007 Client Access server (elsewhere there is no page and nothing to do).
// save moves the live page to the saved copy when there is no saved copy yet (the live
// page is then absent, and the probe no longer sees a customisation); with a LogonFile it
// first checks that the file is there. restore puts LogonFile, when given, in place of
// the live page (a page the user made for the new build), and drops the saved copy (kept
// aside on a real server). The saved page is copied back only where no page is live (no
// update wrote one: an apply interrupted between the save and the install): copying it
// over the update's new page is what brings back the blank page ("How to install the latest Service Pack or Update Rollup for Exchange 2007").
func opCustomizations(h *Handler, c *call, req wire.CustomizationsRequest) (any, *wire.Fault) {
	host := h.host
	action, logonFile := req.Action, req.LogonFile
	if action != wire.ActionSave && action != wire.ActionRestore {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf(`the customizations action must be "save" or "restore", got %q`, action)}
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	s := &host.state
	items := []string{}
	if s.Product != "2007" || !slices.Contains(s.Roles, "ClientAccess") {
		return wire.CustomizationsResult{Items: items}, nil
	}
	if logonFile != "" && host.missing[normalizePath(logonFile)] {
		return nil, &wire.Fault{Code: "not_found", Message: fmt.Sprintf("the OWA logon page %s cannot be read from %s", logonFile, host.name)}
	}
	switch action {
	case wire.ActionSave:
		if !s.OWALogonSaved && !s.OWALogonAbsent {
			s.OWALogonSaved, s.OWALogonSavedCustomized, s.OWALogonSavedFor = true, s.OWALogonCustomized, s.Build
			s.OWALogonAbsent, s.OWALogonCustomized, s.OWALogonStale = true, false, false
			items = append(items, owaLogonItem)
		}
	case wire.ActionRestore:
		if s.OWALogonSaved && s.OWALogonAbsent && logonFile == "" {
			s.OWALogonCustomized, s.OWALogonAbsent = s.OWALogonSavedCustomized, false
			s.OWALogonStale = s.OWALogonSavedCustomized && s.OWALogonSavedFor != s.Build
		}
		if logonFile != "" {
			// The user's page, made (so they say) for the build the server runs now.
			s.OWALogonCustomized, s.OWALogonAbsent, s.OWALogonStale = true, false, false
			items = append(items, owaLogonFileItem)
		}
		if s.OWALogonSaved {
			s.OWALogonSaved, s.OWALogonSavedCustomized = false, false
			items = append(items, owaLogonItem)
		}
	}
	return wire.CustomizationsResult{Items: items}, nil
}

// jobIDRE is what job_status.ps1 accepts as a job id.
var jobIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func opJobStatus(h *Handler, c *call, req wire.JobStatusRequest) (any, *wire.Fault) {
	host := h.host
	id := req.ID
	if !jobIDRE.MatchString(id) {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf(`"%s" is not a job id (letters, digits, dot, dash and underscore, at most 128)`, id)}
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	for _, j := range host.state.Jobs {
		if j.ID == id {
			j.Finished = clonePtr(j.Finished)
			return j, nil
		}
	}
	return nil, &wire.Fault{Code: "not_found", Message: fmt.Sprintf("no job %s on %s", id, host.name)}
}

// opJobClear forgets every finished job record, as job_clear.ps1 does; running ones stay.
// With none running, the record of removed setup watermarks goes too.
func opJobClear(h *Handler, c *call, _ wire.JobClearRequest) (any, *wire.Fault) {
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	res := wire.JobClearResult{Cleared: []string{}}
	running := false
	host.state.Jobs = slices.DeleteFunc(host.state.Jobs, func(j exchange.Job) bool {
		if j.State == exchange.JobRunning {
			running = true
			return false
		}
		res.Cleared = append(res.Cleared, j.ID)
		return true
	})
	if !running {
		host.state.LeftoverWatermarksRemoved = nil
	}
	sort.Strings(res.Cleared)
	return res, nil
}

func opReboot(h *Handler, c *call, _ wire.RebootRequest) (any, *wire.Fault) {
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	res := wire.RebootResult{BootTime: host.state.BootTime}
	// As reboot.ps1: a restart now would break an install.
	for _, r := range host.jobs {
		return nil, &wire.Fault{Code: "setup_running", Message: fmt.Sprintf(
			"job %s (%s) is still running; restarting now would interrupt it", r.id, r.action)}
	}
	if host.state.SetupRunning {
		return nil, &wire.Fault{Code: "setup_running", Message: "Exchange setup (ExSetup) is running; restarting now would interrupt it"}
	}
	if host.power != powerUp {
		c.detail = "a restart is already under way"
		return res, nil
	}
	host.power = powerGoingDown
	_, noReturn := host.takeFaultLocked(FaultNoRebootReturn)
	c.detail = "restart requested"
	down := func() { host.shutdown(noReturn) }
	c.after = append(c.after, func() {
		// The host goes down once this answer has reached the client, as Windows does a
		// few seconds after shutdown /r; without listeners (unit tests) at once.
		if host.net != nil {
			host.net.awaitDelivery(c.commandID, down)
		} else {
			down()
		}
	})
	return res, nil
}

// jobSpec is what a job_start asks for.
type jobSpec struct {
	ID, Action, MediaPath, PackagePath, PatchCode, KB, Language string
	// Group names the CMS of the cluster installer action upgrade_cms.
	Group string
}

// installing actions job_start runs, in job_start.ps1's order.
var jobActions = []string{
	exchange.ActionInstallServicePack, exchange.ActionInstallUpdateRollup, exchange.ActionInstallInterimUpdate,
	exchange.ActionUninstallUpdateRollup, exchange.ActionRemoveInterimUpdate,
	exchange.ActionRemoveUMLanguagePack, exchange.ActionAddUMLanguagePack,
	exchange.ActionUpgradeCMS,
}

// clusterJobActions are the cluster installer actions, which name their CMS/EVS in Group.
var clusterJobActions = []string{exchange.ActionUpgradeCMS}

// What job_start.ps1 accepts as parameter values (PowerShell's -match ignores case).
var (
	patchCodeRE = regexp.MustCompile(`^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$`)
	jobKBRE     = regexp.MustCompile(exchange.KBPattern) // job_start.ps1: -cnotmatch $ExKBPattern
	languageRE  = regexp.MustCompile(`^[A-Za-z]{2,3}-[A-Za-z]{2,4}$`)
)

// Where the simulated Windows keeps things, as job_start.ps1 computes them.
const (
	systemRoot       = `C:\WINDOWS`
	exchangeSetupLog = `C:\ExchangeSetupLogs\ExchangeSetup.log`
	msiexecExe       = systemRoot + `\System32\msiexec.exe`
	// exchangeInstallPath is MsiInstallPath, Exchange 2007's default install folder.
	exchangeInstallPath = `C:\Program Files\Microsoft\Exchange Server`
)

// opJobStart runs job_start.ps1's steps: (1) a record under the ID that is running or
// succeeded is returned and nothing starts (a failed one is run again, its record
// replaced); then the parameters are checked (fault invalid); (2) another installation
// running -> setup_running; (3) a setup watermark -> watermark (the stale CMS key's not for
// upgrade_cms, which completes it); (4) the installer and
// package must exist -> refused "package not found: <path>". Beyond what the script
// checks, the simulator refuses (fault refused) what the installer itself would refuse,
// instead of starting a job that fails: an SP not above the live one, an RU for another
// SP, interim updates or UM language packs in the way, a pending restart before an SP.
func opJobStart(h *Handler, c *call, req wire.JobStartRequest) (any, *wire.Fault) {
	host := h.host
	spec := jobSpec{ID: req.ID, Action: req.Action, MediaPath: strings.TrimSpace(req.MediaPath),
		PackagePath: strings.TrimSpace(req.PackagePath), PatchCode: strings.TrimSpace(req.PatchCode),
		KB: strings.TrimSpace(req.KB), Language: strings.TrimSpace(req.Language), Group: strings.TrimSpace(req.Group)}
	invalid := func(format string, args ...any) (any, *wire.Fault) {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf(format, args...)}
	}
	if !jobIDRE.MatchString(spec.ID) {
		return invalid(`"%s" is not a job id (letters, digits, dot, dash and underscore, at most 128)`, spec.ID)
	}

	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	s := &host.state
	if j, ok := host.jobRecordLocked(spec.ID); ok && j.State != exchange.JobFailed {
		// Idempotent: the job runs or ran; nothing is started.
		c.outcome, c.detail = outcomeAttached, fmt.Sprintf("job %s exists (%s): nothing started", j.ID, j.State)
		j.Finished = clonePtr(j.Finished)
		return j, nil
	}

	if !slices.Contains(jobActions, spec.Action) {
		return invalid(`"%s" is not an installing action (%s)`, spec.Action, strings.Join(jobActions, ", "))
	}
	for _, p := range [][2]string{{"MediaPath", spec.MediaPath}, {"PackagePath", spec.PackagePath}} {
		if wire.PathProblem(p[1]) != "" {
			return invalid(`%s "%s" holds a double quote or a control character`, p[0], p[1])
		}
	}
	switch {
	case spec.PatchCode != "" && !patchCodeRE.MatchString(spec.PatchCode):
		return invalid(`"%s" is not a Windows Installer patch code ({GUID})`, spec.PatchCode)
	case spec.KB != "" && !jobKBRE.MatchString(spec.KB):
		return invalid(`"%s" is not a KB number (KBnnnnnn)`, spec.KB)
	case spec.Language != "" && !languageRE.MatchString(spec.Language):
		return invalid(`"%s" is not a culture name (e.g. de-DE)`, spec.Language)
	case spec.Group != "" && !clusterGroupRE.MatchString(spec.Group):
		return invalid(`"%s" is not a cluster group name (letters, digits, space and . _ ( ) # , & + -, at most 128, a letter or digit first)`, spec.Group)
	}

	if why := host.setupRunningLocked(); why != "" {
		return nil, &wire.Fault{Code: "setup_running", Message: why}
	}
	if len(s.SetupWatermarks) > 0 {
		// Setup refuses while they exist ("Service Packs für Exchange 2007"), whatever runs it.
		w := s.SetupWatermarks[0]
		return nil, &wire.Fault{Code: "watermark", Message: fmt.Sprintf(
			`%s holds Action = %s, Watermark = %s: an Exchange setup was interrupted, and setup refuses to start while they exist`,
			exchange.SetupKey(w.Role), w.Action, w.Watermark)}
	}
	if s.StaleCMSKey && spec.Action != exchange.ActionUpgradeCMS {
		// The CMS key's values stop every setup but the /upgradeCMS that completes it
		// (TechNet cc540457), as job_start.ps1 checks.
		return nil, &wire.Fault{Code: "watermark", Message: `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\ClusteredMailboxServer holds Action = Install, Watermark = ClusteredMailboxServer: ` +
			"a clustered mailbox server setup did not finish; run Setup.com /upgradeCMS on the node that owns the CMS first"}
	}
	now := host.env.clock.Now().UTC().Truncate(time.Second) // records hold whole seconds
	r, code, why := host.planJobLocked(spec, now)
	if why == "" {
		code, why = "refused", host.clusterJobCheckLocked(spec)
	}
	if why != "" {
		return nil, &wire.Fault{Code: code, Message: why}
	}

	r.id, r.action = spec.ID, spec.Action
	duration := host.env.installDuration
	switch spec.Action {
	case exchange.ActionInstallServicePack:
	case exchange.ActionInstallUpdateRollup, exchange.ActionUninstallUpdateRollup:
		duration /= 2
	default:
		duration /= 4
	}
	r.due = now.Add(duration)
	if f, ok := host.takeFaultLocked(FaultFileInUse); ok {
		r.fail = f.Kind
	} else if r.servicePack {
		if f, ok := host.takeFaultLocked(FaultSetupAbort); ok {
			r.fail = f.Kind
		}
	} else if spec.Action == exchange.ActionUpgradeCMS {
		if f, ok := host.takeFaultLocked(FaultUpgradeCMSAbort); ok {
			r.fail = f.Kind
		}
	}
	if r.services != nil {
		r.services = host.stopExchangeServicesLocked()
		r.group = host.setupStopsGroupLocked()
	}
	if r.setup {
		s.SetupRunning = true
	}
	job := exchange.Job{ID: spec.ID, Action: spec.Action, State: exchange.JobRunning, Started: now, LogPath: r.logPath}
	// A failed run's record is replaced whole.
	s.Jobs = slices.DeleteFunc(s.Jobs, func(j exchange.Job) bool { return j.ID == spec.ID })
	s.Jobs = append(s.Jobs, job)
	host.jobs[spec.ID] = r
	host.env.journal.record(Entry{Server: host.name, Operation: operationInstaller,
		Params: map[string]any{"ID": spec.ID, "Action": spec.Action}, Outcome: outcomeOK, Detail: r.command + " started"})
	host.env.after(duration, func() {
		host.mu.Lock()
		defer host.mu.Unlock()
		host.settleLocked()
	})
	if f, ok := host.takeFaultLocked(FaultDropConnection); ok && host.endpoint != nil {
		ep := host.endpoint
		c.after = append(c.after, func() { ep.FailNext(f.Count, http.StatusServiceUnavailable) })
	}
	c.detail = "started"
	return job, nil
}

// commandLine joins an executable and its arguments as job_start.ps1 quotes them for
// Windows: an argument with a space, a tab or a quote, or an empty one, in double quotes.
func commandLine(exe string, args ...string) string {
	parts := []string{exe}
	for _, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\"") {
			parts = append(parts, a)
			continue
		}
		trailing := len(a) - len(strings.TrimRight(a, `\`))
		parts = append(parts, `"`+a+strings.Repeat(`\`, trailing)+`"`)
	}
	return strings.Join(parts, " ")
}

// joinPath joins Windows path parts.
func joinPath(dir, name string) string { return strings.TrimRight(dir, `\/`) + `\` + name }

// planJobLocked decides whether the installer would run spec on this host, and what it
// does when it succeeds. A refusal comes with its fault code and says why, as job_start.ps1,
// the installer or setup would.
func (h *Host) planJobLocked(spec jobSpec, now time.Time) (*jobRun, string, string) {
	s := &h.state
	cat := exchange.DefaultCatalog()
	live, known := releaseAtOrBelow(s.Product, s.Build)
	liveSP := live.Level.ServicePack
	if !known && s.Product == "2007" {
		liveSP = s.Build.Minor
	}
	product := "Exchange " + s.Product
	leaveDisabled := h.disabledAfterInstall
	if leaveDisabled == nil {
		leaveDisabled = h.env.disabledAfterInstall
	}
	leaveDisabled = slices.Clone(leaveDisabled)
	msiLog := systemRoot + `\Temp\ExchangeProvider\jobs\` + spec.ID + "-" + now.Format("20060102150405") + ".log"

	const refused = "refused"
	notFound := func(path string) (*jobRun, string, string) {
		return nil, refused, "package not found: " + path
	}
	// exists: the path is there (registered and not missing on this host).
	exists := func(path string) bool { _, ok := h.packageAtLocked(path); return ok }
	// pkgAt: what the package at path is, or why it is not a package of kind what here.
	pkgAt := func(path, what string) (Package, string) {
		p, _ := h.packageAtLocked(path)
		switch {
		case p.Kind != what:
			return p, fmt.Sprintf("%s holds a %s, not a %s", path, p.Kind, what)
		case p.Product != s.Product:
			return p, fmt.Sprintf("%s is for Exchange %s; the server runs %s", path, p.Product, product)
		}
		return p, ""
	}
	interimBlock := func(what string) string {
		if s.Product != "2007" || len(s.InterimUpdates) == 0 {
			return ""
		}
		if len(s.InterimUpdates) == 1 {
			return fmt.Sprintf("interim update %s must be removed first: it blocks the installation of %s", s.InterimUpdates[0], what)
		}
		return fmt.Sprintf("interim updates %s must be removed first: they block the installation of %s", strings.Join(s.InterimUpdates, ", "), what)
	}
	// msiPackage: the installer command of an update package, as job_start.ps1 builds it.
	msiPackage := func() (string, string, string) {
		switch strings.ToLower(filepathExt(spec.PackagePath)) {
		case ".msp":
			return commandLine(msiexecExe, "/update", spec.PackagePath, "/quiet", "/norestart", "/l*v", msiLog), msiLog, ""
		case ".exe":
			log := ""
			if spec.KB != "" {
				log = systemRoot + `\` + spec.KB + ".log"
			}
			return commandLine(spec.PackagePath, "/quiet", "/norestart"), log, ""
		}
		return "", "", "package " + spec.PackagePath + " is neither an .msp nor an .exe"
	}

	if slices.Contains(clusterJobActions, spec.Action) {
		return h.planClusterJobLocked(spec)
	}
	switch spec.Action {
	case exchange.ActionInstallServicePack:
		if spec.MediaPath == "" {
			return nil, refused, "no media path: a service pack installs from its setup media"
		}
		exe, args, logPath := joinPath(spec.MediaPath, "Setup.com"), []string{"/mode:upgrade"}, exchangeSetupLog
		if s.Product != "2007" {
			exe, args, logPath = joinPath(spec.MediaPath, `i386\update.exe`), []string{"/q"}, `C:\Exchange Server Setup Progress.log`
		}
		if !exists(spec.MediaPath) {
			return notFound(exe)
		}
		p, why := pkgAt(spec.MediaPath, PackageServicePack)
		if why != "" {
			return nil, refused, why
		}
		target, err := cat.Find(s.Product, p.ServicePack, 0, 0)
		if err != nil {
			return nil, refused, err.Error()
		}
		switch {
		case p.ServicePack < liveSP || p.ServicePack == liveSP && !s.PartlyConfigured:
			return nil, refused, fmt.Sprintf("the server already runs %s %s; %s is not newer (a service pack cannot be uninstalled)",
				product, spName(liveSP), spName(p.ServicePack))
		case interimBlock(target.Level.String()) != "":
			return nil, refused, interimBlock(target.Level.String())
		case s.Product == "2007" && s.Firewall.State != "Running":
			// Our reading of "Service Packs für Exchange 2007" ("start the firewall so that setup can add its
			// exceptions"): setup stops when it cannot add them.
			return nil, refused, fmt.Sprintf("Setup.com /mode:upgrade cannot add its Windows Firewall exceptions: the Windows Firewall service %s is %s (%s); start it before setup",
				s.Firewall.Name, strings.ToLower(s.Firewall.State), s.Firewall.StartMode)
		case s.Product == "2007" && len(s.UMLanguagePacks) > 0:
			return nil, refused, fmt.Sprintf("UM language packs %s must be removed first (Setup.com /RemoveUmLanguagePack)", strings.Join(s.UMLanguagePacks, ", "))
		case len(s.PendingReboot) > 0:
			return nil, refused, "a restart from a previous installation is pending: restart the server first"
		}
		return &jobRun{command: commandLine(exe, args...), logPath: logPath, setup: true, servicePack: true, services: []exchange.ServiceFacts{},
			apply: func(s *State) (int, bool) {
				s.Build = target.Build
				s.PartlyConfigured = false
				s.UpdateRollups = []exchange.InstalledUpdate{}
				s.InterimUpdates = []string{}
				if s.RemoteStreamingBackup != nil {
					off := false
					s.RemoteStreamingBackup = &off // SP1 resets it
				}
				afterInstall(s, leaveDisabled)
				if s.Product == "5.5" {
					// A 5.5 service pack needs no reboot.
					s.PendingReboot = slices.DeleteFunc(s.PendingReboot, func(r string) bool { return r == pendingRebootReason })
					return 0, false
				}
				return 3010, true
			}}, "", ""

	case exchange.ActionInstallUpdateRollup:
		if !exists(spec.PackagePath) {
			return notFound(spec.PackagePath)
		}
		command, logPath, why := msiPackage()
		if why != "" {
			return nil, refused, why
		}
		p, why := pkgAt(spec.PackagePath, PackageUpdateRollup)
		if why != "" {
			return nil, refused, why
		}
		target, err := cat.Find(p.Product, p.ServicePack, p.UpdateRollup, p.ReRelease)
		if err != nil {
			return nil, refused, err.Error()
		}
		target.KB = p.KB
		code := RollupPatchCode(target.Level)
		switch {
		case p.ServicePack != liveSP:
			return nil, refused, fmt.Sprintf("this update rollup is for Exchange %s %s; the server runs %s", p.Product, spName(p.ServicePack), spName(liveSP))
		case slices.ContainsFunc(s.UpdateRollups, func(u exchange.InstalledUpdate) bool { return strings.EqualFold(u.PatchCode, code) }):
			return nil, refused, fmt.Sprintf("%s is already installed", rollupDisplayName(target.Level, target.KB))
		case !s.Build.Less(target.Build):
			return nil, refused, fmt.Sprintf("the server's build %s is already at or above %s (build %s)", s.Build, target.Level, target.Build)
		case interimBlock(target.Level.String()) != "":
			return nil, refused, interimBlock(target.Level.String())
		}
		return &jobRun{command: command, logPath: logPath, setup: true, services: []exchange.ServiceFacts{},
			apply: func(s *State) (int, bool) {
				s.Build = target.Build
				s.UpdateRollups = append(s.UpdateRollups, installedRollup(target))
				afterInstall(s, leaveDisabled)
				return 3010, true
			}}, "", ""

	case exchange.ActionInstallInterimUpdate:
		if !exists(spec.PackagePath) {
			return notFound(spec.PackagePath)
		}
		command, logPath, why := msiPackage()
		if why != "" {
			return nil, refused, why
		}
		p, why := pkgAt(spec.PackagePath, PackageInterimUpdate)
		if why != "" {
			return nil, refused, why
		}
		if slices.ContainsFunc(s.InterimUpdates, func(kb string) bool { return strings.EqualFold(kb, p.KB) }) {
			return nil, refused, fmt.Sprintf("interim update %s is already installed", p.KB)
		}
		if !known || p.level() != live.Level {
			runs := "build " + s.Build.String()
			if known {
				runs = live.Level.String()
			}
			return nil, refused, fmt.Sprintf("interim update %s is for %s; the server runs %s", p.KB, p.level(), runs)
		}
		kb := p.KB
		return &jobRun{command: command, logPath: logPath,
			apply: func(s *State) (int, bool) {
				s.InterimUpdates = append(s.InterimUpdates, kb)
				return 0, false
			}}, "", ""

	case exchange.ActionUninstallUpdateRollup, exchange.ActionRemoveInterimUpdate:
		if spec.PatchCode == "" {
			return nil, refused, "no Windows Installer patch code for " + spec.KB +
				": only Exchange 2007 updates (.msp) can be removed by the provider; remove this one by hand"
		}
		if s.Product != "2007" {
			return nil, refused, "removing an update by patch code needs Exchange Server 2007 (no ExSetup.exe under MsiInstallPath)"
		}
		command := commandLine(msiexecExe, "/package", exchangeProductCode, "/uninstall", strings.ToUpper(spec.PatchCode), "/quiet", "/norestart", "/l*v", msiLog)
		if spec.Action == exchange.ActionUninstallUpdateRollup {
			i := slices.IndexFunc(s.UpdateRollups, func(u exchange.InstalledUpdate) bool { return strings.EqualFold(u.PatchCode, spec.PatchCode) })
			if i < 0 {
				return nil, refused, fmt.Sprintf("update rollup %s is not installed", spec.PatchCode)
			}
			patch := s.UpdateRollups[i].PatchCode
			return &jobRun{command: command, logPath: msiLog, setup: true, services: []exchange.ServiceFacts{},
				apply: func(s *State) (int, bool) {
					s.UpdateRollups = slices.DeleteFunc(s.UpdateRollups, func(u exchange.InstalledUpdate) bool { return u.PatchCode == patch })
					s.Build = buildWithRollups(s, liveSP)
					restartServices(s, nil)
					return 0, false
				}}, "", ""
		}
		i := slices.IndexFunc(s.InterimUpdates, func(kb string) bool { return strings.EqualFold(InterimUpdatePatchCode(kb), spec.PatchCode) })
		if i < 0 {
			return nil, refused, fmt.Sprintf("interim update %s is not installed", orName(spec.KB, spec.PatchCode))
		}
		kb := s.InterimUpdates[i]
		return &jobRun{command: command, logPath: msiLog,
			apply: func(s *State) (int, bool) {
				s.InterimUpdates = slices.DeleteFunc(s.InterimUpdates, func(k string) bool { return k == kb })
				return 0, false
			}}, "", ""

	case exchange.ActionAddUMLanguagePack, exchange.ActionRemoveUMLanguagePack:
		if spec.Language == "" {
			return nil, "invalid", "no language: a UM language pack is named by its culture (e.g. de-DE)"
		}
		if spec.MediaPath == "" {
			return nil, refused, "no media path: UM language packs are added and removed with Setup.com from the Exchange media"
		}
		setup := joinPath(spec.MediaPath, "Setup.com")
		if !exists(spec.MediaPath) {
			return notFound(setup)
		}
		lang, ok := canonicalCulture(spec.Language)
		if s.Product != "2007" || !slices.Contains(s.Roles, "UnifiedMessaging") {
			return nil, refused, fmt.Sprintf("%s has no Unified Messaging role: UM language packs cannot be added or removed", h.name)
		}
		if !ok {
			return nil, refused, fmt.Sprintf("%s is not a UM language", spec.Language)
		}
		source := spec.PackagePath
		i := slices.IndexFunc(s.UMLanguagePacks, func(l string) bool { return strings.EqualFold(l, lang) })
		if spec.Action == exchange.ActionRemoveUMLanguagePack {
			args := []string{"/RemoveUmLanguagePack:" + spec.Language}
			if source != "" {
				args = append(args, "/s:"+source)
			}
			if i < 0 {
				return nil, refused, fmt.Sprintf("UM language pack %s is not installed", lang)
			}
			installed := s.UMLanguagePacks[i]
			return &jobRun{command: commandLine(setup, args...), logPath: exchangeSetupLog, setup: true,
				apply: func(s *State) (int, bool) {
					s.UMLanguagePacks = slices.DeleteFunc(s.UMLanguagePacks, func(l string) bool { return l == installed })
					return 0, false
				}}, "", ""
		}
		if source == "" {
			source = spec.MediaPath
		}
		if !exists(source) {
			return notFound(source)
		}
		if i >= 0 {
			return nil, refused, fmt.Sprintf("UM language pack %s is already installed", s.UMLanguagePacks[i])
		}
		p, why := pkgAt(source, PackageUMLanguagePack)
		switch {
		case why != "":
			return nil, refused, why
		case p.ServicePack != liveSP:
			return nil, refused, fmt.Sprintf("the UM language packs at %s are for Exchange %s %s; the server runs %s", source, p.Product, spName(p.ServicePack), spName(liveSP))
		case p.Language != "" && !strings.EqualFold(p.Language, lang):
			return nil, refused, fmt.Sprintf("%s holds the %s UM language pack, not %s", source, p.Language, lang)
		}
		return &jobRun{command: commandLine(setup, "/AddUmLanguagePack:"+spec.Language, "/s:"+source), logPath: exchangeSetupLog, setup: true,
			apply: func(s *State) (int, bool) {
				s.UMLanguagePacks = append(s.UMLanguagePacks, lang)
				return 0, false
			}}, "", ""
	}
	return nil, "invalid", fmt.Sprintf("%s is not an installing action", spec.Action)
}

// filepathExt is a Windows path's extension (".msp").
func filepathExt(p string) string {
	base := p[strings.LastIndexAny(p, `\/`)+1:]
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		return base[i:]
	}
	return ""
}

// canonicalCulture writes a culture name as Windows does (de-de is de-DE).
func canonicalCulture(s string) (string, bool) {
	lang, region, ok := strings.Cut(strings.TrimSpace(s), "-")
	c := strings.ToLower(lang) + "-" + strings.ToUpper(region)
	return c, ok && cultureRE.MatchString(c)
}

// buildWithRollups is the build a 2007 server runs with its remaining rollups: the highest
// one's, or the SP's own.
func buildWithRollups(s *State, sp int) exchange.Build {
	cat := exchange.DefaultCatalog()
	best, _ := cat.Find(s.Product, sp, 0, 0)
	for _, u := range s.UpdateRollups {
		l, ok := rollupLevel(s.Product, u)
		if !ok || l.ServicePack != sp {
			continue
		}
		if r, err := cat.Find(l.Product, l.ServicePack, l.UpdateRollup, l.ReRelease); err == nil && best.Build.Less(r.Build) {
			best = r
		}
	}
	return best.Build
}

// spName is "RTM" for 0, "SPn" otherwise.
func spName(sp int) string {
	if sp == 0 {
		return "RTM"
	}
	return fmt.Sprintf("SP%d", sp)
}

// opOWACheck answers as owa_check.ps1 reads the server's own OWA logon page: a Client
// Access server whose IIS (W3SVC) runs answers 200 with the logon form; a customised page
// made for an earlier build renders blank (no form: "How to install the latest Service Pack or Update Rollup for Exchange 2007"); no page at all is 404.
// Elsewhere nothing listens on 443. The simulator's certificate errors are what a real
// server's would be for "localhost": a name mismatch.
func opOWACheck(h *Handler, c *call, _ wire.OWACheckRequest) (any, *wire.Fault) {
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	s := &host.state
	res := wire.OWACheckResult{URL: "https://localhost/owa/auth/logon.aspx"}
	w3svc := slices.ContainsFunc(s.Services, func(svc exchange.ServiceFacts) bool {
		return strings.EqualFold(svc.Name, "W3SVC") && svc.State == "Running"
	})
	if s.Product != "2007" || !slices.Contains(s.Roles, "ClientAccess") || !w3svc {
		res.Error = "No connection could be made because the target machine actively refused it 127.0.0.1:443"
		return res, nil
	}
	res.CertificateErrors = "RemoteCertificateNameMismatch"
	switch {
	case s.OWALogonAbsent:
		res.Status, res.Length = 404, 1245
	case s.OWALogonStale:
		res.Status = 200
	default:
		res.Status, res.LogonForm, res.Length = 200, true, 8412
	}
	return res, nil
}
