package exchange

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the rules and the pre-checks of a servicing change: what must be
// true of a server before anything is installed on it. Each rule adds a Refusal (what is
// wrong and what to do) or a warning to the planning it runs in; every rule runs, so a user
// sees every problem in one round.

// planning collects what one plan is made of while it is made.
type planning struct {
	f      Facts
	cat    *Catalog
	opts   Options
	server string

	refusals Refusals
	warnings []string

	// busy: an installer job of ours is running on the server now (the apply attaches to it).
	busy bool
	// stop lists the third-party services to stop before the install and start after it.
	stop []string
	// clusterNode: the server is planned as one node of a cluster plan (PlanCluster, which
	// sequences the nodes): checkCluster does not refuse it, the stale CMS key is the cluster
	// plan's check, and its installer jobs are recorded under ClusterJobID.
	clusterNode bool
	// rollupFollows: a rollup is planned right after the service pack (an organisation's
	// unit), so the plan does not advise adding one.
	rollupFollows bool
	// rollupAdvice: how the warning after a service pack says to install the newest rollup
	// ("": rollupResourceAdvice).
	rollupAdvice string
	// offersClearWatermark: the request runs setup and offers clear_setup_watermark (a
	// service pack); clearWatermarks are the watermarks the plan clears on that opt-in.
	offersClearWatermark bool
	clearWatermarks      []SetupWatermark
	// runsSetup: the plan runs a service pack's setup (which an earlier apply's removal of
	// an interrupted setup's values, Leftovers.SetupWatermarksRemoved, waits for).
	runsSetup bool
	// rerunSetup: the server reads as the service pack asked for, but an interrupted setup's
	// values are there: the plan runs that service pack's setup again (PlanServicePack), or,
	// on a cluster node at the target, refuses saying that setup must be run again.
	rerunSetup bool
}

func newPlanning(f Facts, requested string, opts Options, cat *Catalog) *planning {
	if cat == nil {
		cat = DefaultCatalog()
	}
	server := f.Server
	if server == "" {
		server = requested
	}
	p := &planning{f: f, cat: cat, opts: opts, server: server}
	for _, j := range f.Jobs {
		if j.State == JobRunning {
			p.busy = true
		}
	}
	return p
}

// refuse records a refusal: what is wrong (problem) and what the user should do (action).
// Refusal.Error prints "server X: <problem>. <action>", so the action starts a sentence.
func (p *planning) refuse(field Field, problem, action string) {
	if action != "" {
		action = strings.ToUpper(action[:1]) + action[1:]
	}
	p.refusals = append(p.refusals, Refusal{Server: p.server, Field: field, Problem: problem, Action: action})
}

func (p *planning) warn(format string, args ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
}

// err is the plan's error: nil, or every refusal.
func (p *planning) err() error {
	if len(p.refusals) == 0 {
		return nil
	}
	return p.refusals
}

// product checks that the facts name a product the provider knows and a build that reads.
func (p *planning) product() (productInfo, Build, bool) {
	info, ok := productByName(p.f.Product)
	if !ok {
		p.refuse("", fmt.Sprintf("the server reports Exchange product %q, which this provider does not know (known: %s)", p.f.Product, productNames()),
			"check that the server runs Exchange 5.5, 2000, 2003 or 2007 and that the probe can read it")
		return productInfo{}, Build{}, false
	}
	b, err := ParseBuild(p.f.Build)
	if err != nil {
		p.refuse("", fmt.Sprintf("the live Exchange build could not be read: %v", err),
			"check that the probe can read the ExSetup.exe (2007) or STORE.EXE (5.5/2000/2003) file version")
		return info, Build{}, false
	}
	return info, b, true
}

// serviceable is product, for a single server: a front-end an organisation upgrade left
// offline (Leftovers.FrontEndOffline) is refused, alone, whatever the request.
func (p *planning) serviceable() (productInfo, Build, bool) {
	info, b, ok := p.product()
	if ok && p.f.Leftovers.FrontEndOffline {
		p.checkFrontEndOffline()
		return info, b, false
	}
	return info, b, ok
}

// checkFrontEndOffline refuses a front-end an exchange_organization_upgrade took out of
// service and did not bring back. A single-server resource does not know the front-end's
// load-balanced group, so it cannot tell whether the others are at the same service pack:
// bringing this one back alone could let clients meet front-ends at different service
// packs (KB 328839), and upgrading it while offline leaves it offline with no one to bring
// it back. The organisation upgrade that took it offline finishes the group and brings
// every front-end back (organization_front_ends.go), so it is what the user must apply.
func (p *planning) checkFrontEndOffline() {
	p.refuse("", fmt.Sprintf("an exchange_organization_upgrade took it out of service for its clients (take_front_end_offline: W3SVC Disabled and stopped, its start mode recorded on the server) and did not bring it back: that apply was interrupted or another front-end of its load-balanced group failed. "+
		"A load-balanced group of Exchange 2003 front-ends is upgraded all at once and comes back only when every one is upgraded (KB 328839: clients get sync key errors while front-ends run different service packs), and this resource does not know %s's group", p.server),
		fmt.Sprintf("apply the exchange_organization_upgrade that took %s offline: it upgrades what is left of the group and then brings every front-end back online. Then plan this resource again", p.server))
}

// liveServicePack is the SP the live build belongs to: its exact release's, or else the
// nearest lower release's of the same version line (a hotfix or interim update raises the
// file version without changing the SP).
func liveServicePack(f Facts, cat *Catalog) (int, bool) {
	if r, ok := LiveLevel(f, cat); ok {
		return r.Level.ServicePack, true
	}
	b, err := ParseBuild(f.Build)
	if err != nil {
		return 0, false
	}
	sp, found := 0, false
	for _, r := range cat.Releases(f.Product) { // oldest first
		if r.Build.Major == b.Major && r.Build.Minor == b.Minor && !b.Less(r.Build) {
			sp, found = r.Level.ServicePack, true
		}
	}
	return sp, found
}

// --- Server state ---

// checkCluster: a cluster node is serviced by exchange_cluster_upgrade, which moves the
// clustered mailbox server / virtual servers and stops the cluster service.
func (p *planning) checkCluster(resource string) {
	c := p.f.Cluster
	if c == nil || p.clusterNode {
		return
	}
	role := "a passive node"
	if c.Active {
		role = "the active node"
	}
	p.refuse("", fmt.Sprintf("the server is %s of cluster %s (%s, nodes %s); servicing cluster nodes is exchange_cluster_upgrade's job, not %s's: nodes must be upgraded one at a time with the clustered server moved off them and the cluster service stopped",
		role, c.Name, c.Type, strings.Join(c.Nodes, ", "), resource),
		fmt.Sprintf("remove this %s resource and declare the cluster %s with an exchange_cluster_upgrade resource", resource, c.Name))
}

// checkSetupState refuses an interrupted setup (Action/Watermark values), a setup that runs
// and is not a job of ours, and a stale CMS key. While a job of ours runs, its watermark
// and process are expected: the apply attaches to the job. Only an interrupted service pack
// upgrade (SetupActionUpgrade) can be cleared on the opt-in; any other Action value, or
// none, is refused by name.
func (p *planning) checkSetupState() {
	s := p.f.Setup
	if !p.busy {
		for _, w := range s.Watermarks {
			var vals []string
			if w.Action != "" {
				vals = append(vals, fmt.Sprintf("Action = %q", w.Action))
			}
			if w.Watermark != "" {
				vals = append(vals, fmt.Sprintf("Watermark = %q", w.Watermark))
			}
			key := SetupKey(w.Role)
			problem := fmt.Sprintf("an interrupted Exchange setup left %s under %s: setup refuses to start again while they exist, taking them for another setup still running (e.g. in another terminal-server session)",
				strings.Join(vals, ", "), key)
			if !w.Upgrade() {
				// Not a service pack's: clearing the values and running /mode:upgrade would
				// guess at what that setup was doing.
				p.refuse("", problem+"; "+unknownSetupAction(w), fmt.Sprintf(
					"find out from the setup logs (C:\\ExchangeSetupLogs) which setup was interrupted on the server and finish it by hand (make sure no Exchange setup runs, export the key %s with reg export, delete its Action and Watermark values, run setup again in the mode that was interrupted); clear_setup_watermark clears only the values an interrupted service pack upgrade (Action = %q) leaves. Then plan again",
					key, SetupActionUpgrade))
				continue
			}
			switch {
			case p.offersClearWatermark && p.opts.ClearSetupWatermarkReason != "":
				p.clearWatermarks = append(p.clearWatermarks, w)
			case p.offersClearWatermark:
				then := "; then plan again, and the plan runs setup. "
				if p.rerunSetup {
					then = fmt.Sprintf("; then run Setup.com /mode:upgrade from the service pack's media again yourself: the build (%s) already reads as the service pack's, so a plan made once the values are gone sees nothing left to do. ", p.f.Build)
				}
				p.refuse(FieldClearSetupWatermark, problem, InterruptedSetupAdvice(key)+then+
					`Or let the apply do it: set clear_setup_watermark = { reason = "..." } (why it is safe, e.g. the change ticket) and the plan checks that no setup runs, exports the key to a file on the server, removes only the Action and Watermark values, then runs setup`)
			case p.clusterNode && p.rerunSetup:
				p.refuse("", problem, InterruptedSetupAdvice(key)+fmt.Sprintf(
					"; then run Setup.com /mode:upgrade from the service pack's media again on %s yourself, while it is a passive node (move the clustered server off it first): its build (%s) already reads as the target's, so a plan made once the values are gone sees nothing left to do",
					p.server, p.f.Build))
			case p.clusterNode:
				p.refuse("", problem, InterruptedSetupAdvice(key)+"; then plan again")
			default:
				p.refuse("", problem, InterruptedSetupAdvice(key)+"; then plan again. (If a service pack setup was interrupted, exchange_service_pack with clear_setup_watermark clears the values and runs it again)")
			}
		}
		if removed := p.f.Leftovers.SetupWatermarksRemoved; len(removed) > 0 && !p.runsSetup {
			p.refuse("", fmt.Sprintf("an earlier apply removed the Action/Watermark values of an interrupted Exchange setup (%s) and stopped before it ran setup again, as it recorded on the server: setup has not finished on the server, although nothing of Exchange's shows it any more",
				setupKeys(removed)),
				"apply the exchange_service_pack (or exchange_organization_upgrade) that cleared them: its plan runs the service pack's setup again. Then plan this again")
		}
		if len(p.clearWatermarks) > 0 {
			p.warn("clear_setup_watermark: the plan removes the Action and Watermark values an interrupted setup left, after checking that no setup runs and exporting each key; reason given: %s",
				p.opts.ClearSetupWatermarkReason)
		}
		if s.Running {
			p.refuse("", "an Exchange setup or installer that this provider did not start is running now; several setup instances block each other",
				"wait for it to finish (or find who runs it), then plan again")
		}
	}
	if s.StaleCMSKey && !p.clusterNode {
		p.refuse("", "the CMS setup key of a clustered mailbox server is still present: /upgradeCMS was forgotten after an earlier upgrade",
			"run Setup.com /upgradeCMS for the clustered mailbox server (or remove the stale CMS key if the server is no longer clustered), then plan again")
	}
}

// setupKeys names setup keys (subkeys of SetupKeyRoot) in full, for a message.
func setupKeys(names []string) string {
	full := make([]string, len(names))
	for i, n := range names {
		full[i] = SetupKeyRoot + `\` + n
	}
	return strings.Join(full, ", ")
}

// unknownSetupAction says why w is not an interrupted service pack upgrade.
func unknownSetupAction(w SetupWatermark) string {
	if w.Action == "" {
		return fmt.Sprintf("there is no Action value, so which setup was interrupted cannot be told (an interrupted service pack upgrade leaves Action = %q)", SetupActionUpgrade)
	}
	return fmt.Sprintf("Action = %q is not the %q an interrupted service pack upgrade (Setup.com /mode:upgrade) leaves: a setup in another mode was interrupted, and this provider does not know what finishing it takes", w.Action, SetupActionUpgrade)
}

// checkLock only warns: the executor takes the servicing lock at apply time and stops on a
// lock another apply holds.
func (p *planning) checkLock() {
	l := p.f.Lock
	if l == nil || (!l.Expires.IsZero() && !l.Expires.After(p.opts.Now)) {
		return
	}
	until := "without expiry"
	if !l.Expires.IsZero() {
		until = "until " + fmtTime(l.Expires)
	}
	p.warn("the server's servicing lock is held by %s %s (taken %s): while it is held an apply stops before doing anything",
		l.Owner, until, fmtTime(l.Acquired))
}

// checkRunningJobs warns about a running job of ours that this plan does not attach to.
func (p *planning) checkRunningJobs(steps []Step) {
	ids := map[string]bool{}
	for _, s := range steps {
		ids[p.jobID(s)] = true
	}
	for _, j := range p.f.Jobs {
		if j.State == JobRunning && !ids[j.ID] {
			p.warn("job %s (%s) started at %s is still running and is not part of this plan: setup refuses a second install while it runs, so let it finish (the apply of the resource that started it continues it) before applying this",
				j.ID, j.Action, fmtTime(j.Started))
		}
	}
}

// --- Interim updates ---

// interimUpdatesToRemove: on Exchange 2007 every interim update must be removed before an
// update rollup or service pack is installed (or a rollup removed: the interim update fits
// only the build it was made for). Each must be allowed in remove_interim_updates.
func (p *planning) interimUpdatesToRemove(target string) []InstalledUpdate {
	if p.f.Product != "2007" {
		return nil
	}
	allowed := map[string]bool{}
	for _, kb := range p.opts.RemoveInterimUpdates {
		allowed[normalizeKB(kb)] = true
	}
	var remove []InstalledUpdate
	for _, iu := range p.f.InterimUpdates {
		if !allowed[normalizeKB(iu.KB)] {
			name := iu.KB
			if iu.DisplayName != "" {
				name += " (" + iu.DisplayName + ")"
			}
			p.refuse(FieldRemoveInterimUpdates,
				fmt.Sprintf("interim update %s is installed; every interim update must be removed before %s is installed, and it is not in remove_interim_updates", name, target),
				fmt.Sprintf("add %q to remove_interim_updates, and check in its KB article whether %s contains its fix or whether a replacement interim update for the new build is needed", iu.KB, target))
			continue
		}
		remove = append(remove, iu)
	}
	return remove
}

// normalizeKB writes a KB as "KB123456" ("kb123456" and "123456" are the same update).
func normalizeKB(kb string) string {
	kb = strings.ToUpper(strings.TrimSpace(kb))
	if allDigits(kb) {
		return "KB" + kb
	}
	return kb
}

// --- Prerequisites ---

// prerequisiteScope says which prerequisites apply to what a plan installs.
type prerequisiteScope int

const (
	// scopeInstaller: an interim update or hotfix; only the account's rights matter.
	scopeInstaller prerequisiteScope = iota
	// scopeServicing: a service pack or update rollup; the product's prerequisites apply.
	scopeServicing
)

// checkPrerequisites refuses a missing prerequisite, each only where it
// applies: targetSP is the SP level the server will run.
func (p *planning) checkPrerequisites(scope prerequisiteScope, targetSP int, target string) {
	pr := p.f.Prerequisites
	if !pr.LocalAdministrator {
		p.refuse("", "the account the provider connects with is not a local administrator of the server; installing updates needs local administrator rights (and, on Exchange 2007, read access to the Exchange organisation in Active Directory and server-level rights)",
			"connect with an account in the server's local Administrators group")
	}
	if scope != scopeServicing || p.f.Product != "2007" {
		return
	}
	if targetSP >= 2 {
		if v, ok := windowsInstallerVersion(pr.WindowsInstaller); !ok || v[0] < 4 || v[0] == 4 && v[1] < 5 {
			have := "could not be read"
			if pr.WindowsInstaller != "" {
				have = "is " + pr.WindowsInstaller
			}
			p.refuse("", fmt.Sprintf("Windows Installer (msi.dll) %s; %s needs Windows Installer 4.5 (Exchange 2007 SP2 and later are WiX-built packages)", have, target),
				"install Windows Installer 4.5 on the server and reboot, then plan again")
		}
	}
	if pr.DotNet20ServicePack < 1 {
		have := "is not installed"
		if pr.DotNet20ServicePack == 0 {
			have = "is installed without its service pack"
		}
		p.refuse("", fmt.Sprintf(".NET Framework 2.0 %s; %s needs .NET Framework 2.0 SP1 (a CLR that supports generatePublisherEvidence; without it some Exchange services do not start after the update)", have, target),
			"install .NET Framework 2.0 SP1 on the server, then plan again")
	}
	if strings.HasPrefix(p.f.OS.Version, "5.2") && p.f.OS.ServicePack < 2 {
		p.refuse("", fmt.Sprintf("the server runs Windows Server 2003 %s (%s); Exchange 2007 servicing needs Windows Server 2003 SP2", spName(p.f.OS.ServicePack), p.f.OS.Version),
			"install Windows Server 2003 SP2 and reboot, then plan again")
	}
	if !pr.TimeZoneUpdate931836 {
		p.refuse("", fmt.Sprintf("the time-zone update 931836 is not installed; %s needs it", target),
			"install update KB931836 on the server, then plan again")
	}
	if !pr.FQDNSet {
		p.refuse("", "the server's fully qualified domain name is not set (no primary DNS suffix); Exchange setup can hang without it",
			"set the computer's primary DNS suffix (System Properties, Computer Name, More) and reboot, then plan again")
	}
	if pr.SingleLabelDomain {
		p.refuse("", "the server's Active Directory domain has a single-label DNS name, which Exchange 2007 setup does not support",
			"see KB300684 on configuring Windows for domains with single-label DNS names; the domain must be fixed before Exchange 2007 can be serviced")
	}
}

// windowsInstallerVersion reads major.minor of msi.dll's version.
func windowsInstallerVersion(s string) ([2]int, bool) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 || !allDigits(parts[0]) || !allDigits(parts[1]) {
		return [2]int{}, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return [2]int{major, minor}, err1 == nil && err2 == nil
}

// --- Backups ---

// verifyBackups checks r.Backup against the facts and returns the verify_backups step that
// re-checks it at apply time. A waiver turns refusals into one warning.
func (p *planning) verifyBackups(servicePack bool) Step {
	b := p.opts.Backup
	// The step shows the limits and the waiver; the evidence is re-checked when the apply
	// plans again against fresh facts.
	step := Step{Kind: VerifyBackups{MaxDatabaseAge: b.MaxDatabaseAge, MaxSystemStateAge: b.MaxSystemStateAge, WaiverReason: b.WaiverReason}, Server: p.server}
	if b.WaiverReason != "" {
		step.Description = "backup check waived: " + b.WaiverReason
		p.warn("the backup check is waived (%s): nothing ensures a recent full backup of every database and of the system state before the install", b.WaiverReason)
		return step
	}
	if b.MaxDatabaseAge <= 0 && b.MaxSystemStateAge <= 0 {
		step.Description = "backups are not checked (no maximum backup age is set); " + p.backupsFound(servicePack)
		p.warn("no maximum backup age is set: the plan does not check that the databases and the system state were backed up before the install")
		return step
	}
	if p.opts.Now.IsZero() {
		p.refuse(FieldBackup, "the plan has no current time to measure backup ages against", "this is a provider error: report it")
		return step
	}
	var limits []string
	if b.MaxDatabaseAge > 0 {
		limits = append(limits, "every database's last full backup younger than "+fmtDuration(b.MaxDatabaseAge))
		p.checkDatabaseBackups(b.MaxDatabaseAge)
	}
	if b.MaxSystemStateAge > 0 {
		of := "the system state of the server"
		if servicePack {
			of += " and of a domain controller"
		}
		limits = append(limits, of+" younger than "+fmtDuration(b.MaxSystemStateAge))
		p.checkSystemStateBackups(b.MaxSystemStateAge, servicePack)
	}
	step.Description = "verify backups: " + strings.Join(limits, " and ") + "; " + p.backupsFound(servicePack)
	return step
}

// when is "at 2024-05-01 22:00 UTC". Never an age: a step's description must read the same
// when Terraform plans again at apply time, minutes or hours later, or the apply stops
// with "Provider produced inconsistent final plan".
func (p *planning) when(t time.Time) string {
	return "at " + fmtTime(t)
}

// durationParam is a duration for Params: Go's form ("24h0m0s"), "0" when not checked.
func durationParam(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return d.String()
}

// fmtDuration writes a duration for people: "3d 4h", "36h" is "1d 12h", "90m" is "1h 30m".
func fmtDuration(d time.Duration) string {
	if d < time.Minute {
		return "under a minute"
	}
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, strconv.Itoa(days)+"d")
	}
	if hours > 0 {
		parts = append(parts, strconv.Itoa(hours)+"h")
	}
	if mins > 0 && days == 0 {
		parts = append(parts, strconv.Itoa(mins)+"m")
	}
	if len(parts) == 0 {
		return strconv.Itoa(days) + "d"
	}
	return strings.Join(parts, " ")
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// --- Request attributes ---

// servicesToStop decides which third-party services are stopped before the install and
// started after it: the ones named in stop_services, or when none are
// named every running third-party service the probe found. A named service may be any
// service on the server: the probe's list of third-party services is a hint for the
// default, not a gate ("Service Packs für Exchange 2007" stops a virus scanner, ScanMail, that no list can know).
// Only running ones are stopped, so only they are started again.
func (p *planning) servicesToStop() {
	if p.opts.StopServices == nil {
		for _, s := range p.f.ThirdPartyServices {
			if s.State == "Running" {
				p.stop = append(p.stop, s.Name)
			}
		}
		return
	}
	var unknown []string
	for _, name := range p.opts.StopServices {
		s, ok := findService(slices.Concat(p.f.ThirdPartyServices, p.f.OtherServices, p.f.Services), name)
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if s.State == "Running" {
			p.stop = append(p.stop, s.Name)
		}
	}
	if len(unknown) > 0 {
		var known []string
		for _, s := range p.f.ThirdPartyServices {
			known = append(known, s.Name)
		}
		knownText := "the probe's list of third-party services found none on it"
		if len(known) > 0 {
			knownText = "third-party services the probe recognised: " + strings.Join(known, ", ")
		}
		p.refuse(FieldStopServices, fmt.Sprintf("stop_services names %s, which is not a service on the server (no Windows service has that name)", quoteList(unknown)),
			fmt.Sprintf("use the service's name as Windows knows it, not its display name (sc query lists both; %s), or remove it from stop_services", knownText))
	}
}

func findService(list []ServiceFacts, name string) (ServiceFacts, bool) {
	for _, s := range list {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return ServiceFacts{}, false
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// revocationOff decides whether the certificate revocation check is turned off for the
// install, and why. The CRL wait is an Exchange 2007 setup problem
// (it checks the signature of every assembly it compiles), so "auto" acts on 2007 only.
func (p *planning) revocationOff() (bool, string) {
	if !p.f.RevocationCheck {
		return false, ""
	}
	switch p.opts.RevocationCheck {
	case RevocationAlways:
		return true, "revocation_check = \"always\""
	case RevocationAuto, "":
		if !p.f.InternetAccess && p.f.Product == "2007" {
			return true, "the server has no internet access, and without it the installer waits on the certificate revocation (CRL) check for minutes per file"
		}
	}
	return false, ""
}

// checkRevocationMode refuses a revocation_check mode the planner does not know.
func (p *planning) checkRevocationMode() {
	switch p.opts.RevocationCheck {
	case RevocationAuto, RevocationAlways, RevocationNever, "":
	default:
		p.refuse(FieldRevocationCheck, fmt.Sprintf("revocation_check is %q", p.opts.RevocationCheck),
			fmt.Sprintf("write %q, %q or %q", RevocationAuto, RevocationAlways, RevocationNever))
	}
}

// --- Installed update rollups ---

// rollupNamePattern reads "Update Rollup 9 for Exchange Server 2007 Service Pack 1 (KB…)"
// and the RTM form without "Service Pack"; "-v3" / "v3" mark a re-release.
var rollupNamePattern = regexp.MustCompile(`(?i)update\s+rollup\s+(\d+)(?:\s*-?\s*v(\d+))?\b.*?\bexchange(?:\s+server)?\s+2007(?:\s+service\s+pack\s+(\d+))?`)

// installedRollupLevel tells which rollup an installed patch is: by its KB when the catalog
// states it, else by its display name.
func (p *planning) installedRollupLevel(u InstalledUpdate) (Level, bool) {
	if kb := normalizeKB(u.KB); kb != "" {
		for _, r := range p.cat.Releases("2007") {
			if r.KB == kb && r.Level.UpdateRollup > 0 {
				return r.Level, true
			}
		}
	}
	m := rollupNamePattern.FindStringSubmatch(u.DisplayName)
	if m == nil {
		return Level{}, false
	}
	l := Level{Product: "2007"}
	l.UpdateRollup, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		l.ReRelease, _ = strconv.Atoi(m[2])
	}
	if m[3] != "" {
		l.ServicePack, _ = strconv.Atoi(m[3])
	}
	return l, l.UpdateRollup > 0
}

// rollupDisplayName is how Windows Installer lists a 2007 rollup; a
// re-release is written as users write it ("Update Rollup 8-v3"), which installedRollupLevel reads back.
func rollupDisplayName(l Level, kb string) string {
	s := "Update Rollup " + FormatRollup(l.UpdateRollup, l.ReRelease) + " for Exchange Server 2007"
	if l.ServicePack > 0 {
		s += " Service Pack " + strconv.Itoa(l.ServicePack)
	}
	if kb != "" {
		s += " (" + kb + ")"
	}
	return s
}
