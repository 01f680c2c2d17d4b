package exchange

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The planner turns a server's facts and a desired level into the ordered steps of
// the single-server procedure, or into every reason it cannot (Refusals). It is pure: the same facts and
// request always give the same plan, and nothing is read from or done to a server.

// LiveLevel is the catalog release of the server's live build, when the catalog knows that
// build exactly (a revision stated on only one side is ignored: 6.5.7638.2 is 2003 SP2).
func LiveLevel(f Facts, cat *Catalog) (Release, bool) {
	if cat == nil {
		cat = DefaultCatalog()
	}
	b, err := ParseBuild(f.Build)
	if err != nil {
		return Release{}, false
	}
	r, ok := cat.Lookup(b)
	if !ok || (f.Product != "" && r.Level.Product != f.Product) {
		return Release{}, false
	}
	return r, true
}

// PlanServicePack plans a service pack on one non-clustered server. A desired SP equal to
// the live one is an empty plan; a lower one is refused (SPs cannot be uninstalled). The
// error, when not nil, is Refusals.
func PlanServicePack(f Facts, r ServicePackRequest, cat *Catalog) (Plan, error) {
	p := newPlanning(f, r.Server, r.Options, cat)
	p.rollupFollows = r.RollupFollows
	p.rollupAdvice = r.RollupAdvice
	empty := Plan{Server: p.server, After: f}
	info, live, ok := p.serviceable()
	if !ok {
		return empty, p.err()
	}
	liveSP, ok := liveServicePack(f, p.cat)
	if !ok {
		p.refuse("", fmt.Sprintf("the live build is not a known Exchange %s build (%s): its service pack level cannot be told", f.Product, p.cat.Describe(live)),
			"check the build the probe read; if it is a real release the catalog lacks, update the provider")
		return empty, p.err()
	}
	target, findErr := p.cat.Find(f.Product, r.ServicePack, 0, 0)
	// An interrupted Exchange 2007 service pack setup may have updated ExSetup.exe already:
	// the build reads as the target while its Action/Watermark values say setup did not
	// finish. Setup run again resumes and completes it (Exchange Team Blog, "How does
	// Exchange 2007 setup know to resume a failed setup?", 2007-05-21), once the values that
	// keep it from starting are gone: the plan is the service pack's own again.
	// An apply that removed those values (clear_setup_watermark) and stopped before setup
	// ran leaves only its own record (Leftovers.SetupWatermarksRemoved): setup has not
	// finished unless a run of it succeeded since (then finished() continues after it).
	removedOnly := len(f.Setup.Watermarks) == 0 && len(f.Leftovers.SetupWatermarksRemoved) > 0
	if removedOnly {
		if j, ok := f.Job(JobID(Step{Kind: InstallServicePack{Build: target.Build}})); ok && j.State == JobSucceeded {
			removedOnly = false
		}
	}
	p.rerunSetup = r.ServicePack == liveSP && f.Product == "2007" && (len(f.Setup.Watermarks) > 0 || removedOnly) && !p.busy
	switch {
	case r.ServicePack < liveSP:
		// Only this refusal: nothing can be planned towards a lower SP, whatever else holds.
		p.refuse(FieldServicePack, fmt.Sprintf("service_pack = %d asks for Exchange %s %s, below the live level %s: a service pack cannot be uninstalled",
			r.ServicePack, f.Product, spName(r.ServicePack), p.cat.Describe(live)),
			fmt.Sprintf("set service_pack = %d to keep the server at its level; going back to %s means removing Exchange, reinstalling %s and restoring the databases from backup, which this provider does not do",
				liveSP, spName(r.ServicePack), spName(r.ServicePack)))
		return empty, p.err()
	case r.ServicePack == liveSP && !p.rerunSetup:
		var after []afterInstall
		if base, err := p.cat.Find(f.Product, liveSP, 0, 0); err == nil {
			after = append(after, afterInstall{
				job:  JobID(Step{Kind: InstallServicePack{Build: base.Build}}),
				what: "the service pack install", build: live, servicePack: true, umPath: r.UMLanguagePackPath})
		}
		return p.finished(after...), nil
	}

	if findErr != nil {
		p.refuse(FieldServicePack, findErr.Error(), fmt.Sprintf("set service_pack to a level the catalog knows for Exchange %s", f.Product))
	}
	targetName := fmt.Sprintf("Exchange %s %s", f.Product, spName(r.ServicePack))
	p.offersClearWatermark, p.runsSetup = true, true
	removeIUs := p.preChecks("exchange_service_pack", scopeServicing, r.ServicePack, targetName)
	p.servicePackChecks(liveSP, r.ServicePack)
	if findErr != nil {
		p.verifyBackups(true)
		return empty, p.err()
	}

	if r.MediaPath == "" {
		p.refuse(FieldMediaPath, fmt.Sprintf("media_path is not set, and the plan installs %s", targetName),
			fmt.Sprintf("set media_path to the folder with the %s setup on the server or a share it can read", targetName))
	}
	um := f.UMLanguagePacks
	if len(um) > 0 && r.UMLanguagePackPath == "" {
		p.refuse(FieldUMLanguagePackPath, fmt.Sprintf("the server has UM language packs %s, which must be removed before the service pack and added again after it, and um_language_pack_path is not set",
			strings.Join(um, ", ")),
			fmt.Sprintf("set um_language_pack_path to the folder with the UM language packs for %s (Setup.com /AddUmLanguagePack:<language> /s:<folder>)", spName(r.ServicePack)))
	}

	install := p.servicePackStep(info, target, r.MediaPath)
	switch {
	case p.rerunSetup && removedOnly:
		keys := setupKeys(f.Leftovers.SetupWatermarksRemoved)
		install.Description += fmt.Sprintf("; run again: the live build is %s's already, but an earlier apply removed the interrupted setup's Action/Watermark values (%s) and stopped before setup ran, as it recorded on the server, and setup run again completes it", target.Level, keys)
		p.warn("an earlier apply removed the Action/Watermark values of an interrupted setup (%s) and stopped before it ran setup again (its record on the server says so): setup has not finished, so the plan runs %s setup again", keys, target.Level)
	case p.rerunSetup:
		install.Description += fmt.Sprintf("; run again: the live build is %s's already, but the interrupted setup's values say setup did not finish, and setup run again completes it", target.Level)
	}
	steps := p.assemble(procedure{
		servicePack: true,
		removeIUs:   removeIUs,
		umPath:      r.UMLanguagePackPath,
		core:        []Step{install},
		installs:    true,
		rebootWhen:  RebootAlways,
		verify:      &target,
	})
	p.servicePackWarnings(liveSP, target)
	if err := p.err(); err != nil {
		return empty, err
	}

	after := p.after(target, removeIUs)
	after.UpdateRollups = nil                    // the rollup level starts again from zero
	after.Leftovers.SetupWatermarksRemoved = nil // setup has run since
	return Plan{Server: p.server, Steps: steps, Warnings: p.warnings, Target: target, After: after}, nil
}

// servicePackStep is step 8 for a service pack.
func (p *planning) servicePackStep(info productInfo, target Release, media string) Step {
	s := Step{Kind: InstallServicePack{ServicePack: target.Level.ServicePack, MediaPath: media, Build: target.Build},
		Server: p.server, Downtime: true}
	var what string
	if info.spIsMinor { // 2007
		what = fmt.Sprintf("Setup.com /mode:upgrade from %s (%s, %s)", media, target.Level, target.Build)
		s.Description = "run " + what + "; it stops the Exchange and IIS services and can take hours"
	} else {
		what = fmt.Sprintf("service pack installer (update.exe) from %s (%s, %s)", media, target.Level, target.Build)
		s.Description = "run the " + what + "; it stops the Exchange and IIS services"
	}
	return p.jobStep(s, what)
}

// servicePackWarnings are the version notes for a service pack.
func (p *planning) servicePackWarnings(liveSP int, target Release) {
	sp := target.Level.ServicePack
	switch p.f.Product {
	case "2007":
		if liveSP < 1 && sp >= 1 {
			p.warn("before Exchange 2007 SP1, every Exchange 2003 server in the organisation must run Exchange 2003 SP2 (not checked by this resource)")
		}
		if sp == 1 {
			p.warn("Exchange 2007 SP1 setup runs PrepareAD and PrepareDomain itself if they were not run; with split administration run Setup.com /PrepareAD and /PrepareDomain beforehand with an account that has the rights")
		}
		if liveSP < 2 && sp >= 2 {
			p.warn("Exchange 2007 SP2 and later create the \"Exchange Trusted Subsystem\" group and add it to the server's local Administrators group")
		}
		if newest, err := p.cat.Newest("2007", sp); err == nil && newest.Level.UpdateRollup > 0 && !p.clusterNode && !p.rollupFollows {
			p.warn("after %s the rollup level starts again from zero: the server runs %s without update rollups; the newest for %s is %s (%s): %s",
				spName(sp), target.Level, spName(sp), rollupName(newest.Level.UpdateRollup, newest.Level.ReRelease), newest.Build, cmp.Or(p.rollupAdvice, rollupResourceAdvice))
		}
		if p.f.HasRole("ClientAccess") {
			p.warn("the service pack can reset POP3/IMAP4 authentication settings and custom RPC-proxy registry settings: check them after the install")
		}
		if p.f.HasRole("UnifiedMessaging") {
			p.warn("the service pack overwrites the UM configuration files globalcfg.xml and recyclerconfig.xml: keep a copy of customised ones")
		}
	default: // 5.5, 2000, 2003
		p.warn("take a new full backup after the service pack: online backups taken before it cannot be restored on %s", target.Level)
		if p.f.Product == "5.5" {
			p.warn("run the Performance Optimizer after the service pack; Mailbox Manager and Exchsync are not updated by it")
		} else {
			p.warn("the Active Directory Connector is not updated by the service pack: it has its own setup under ADC\\I386 on the media; re-apply customised local.map / remote.map and export msExchServer1SchemaMap and msExchServer2SchemaMap before updating it")
		}
		for _, h := range p.f.InterimUpdates {
			p.warn("hotfix %s is installed: check whether %s contains its fix (it stays installed)", h.KB, target.Level)
		}
	}
}

// PlanUpdateRollup plans an Exchange 2007 update rollup on one non-clustered server:
// installing a higher one, or uninstalling the installed ones above a lower one (newest
// first) and installing it if it is not what remains. The error, when not nil, is Refusals.
func PlanUpdateRollup(f Facts, r UpdateRollupRequest, cat *Catalog) (Plan, error) {
	p := newPlanning(f, r.Server, r.Options, cat)
	empty := Plan{Server: p.server, After: f}
	info, live, ok := p.serviceable()
	if !ok {
		return empty, p.err()
	}
	if !info.rollups {
		p.refuse(FieldRollup, fmt.Sprintf("the server runs Exchange %s, which has no update rollups (only Exchange 2007 has them); its hotfixes and post-SP rollups are interim updates", f.Product),
			"manage them with exchange_interim_update resources (one per KB) instead of exchange_update_rollup")
		return empty, p.err()
	}
	liveSP, ok := liveServicePack(f, p.cat)
	if !ok {
		p.refuse("", fmt.Sprintf("the live build is not a known Exchange 2007 build (%s): its service pack level cannot be told", p.cat.Describe(live)),
			"check the build the probe read; if it is a real release the catalog lacks, update the provider")
		return empty, p.err()
	}
	sp := r.ServicePack
	if sp < 0 {
		sp = liveSP
	}

	// What is wanted: a rollup of SP sp. planable turns false when the steps cannot be
	// known; the pre-checks still run so that every refusal is reported in one round.
	var target Release
	spKnown, planable := true, true
	if err := p.cat.checkProductSP("2007", sp); err != nil {
		p.refuse(FieldServicePack, err.Error(), "set service_pack to a level the catalog knows for Exchange 2007, or leave it unset for the server's live level")
		spKnown, planable = false, false
	} else if r.Latest {
		target, _ = p.cat.Newest("2007", sp)
		if target.Level.UpdateRollup == 0 {
			p.refuse(FieldRollup, fmt.Sprintf("the catalog has no update rollups for Exchange 2007 %s", spName(sp)), "set rollup to \"0\" or add the rollups to the catalog")
			planable = false
		}
	} else {
		var err error
		if target, err = p.cat.Find("2007", sp, r.Rollup, r.ReRelease); err != nil {
			p.refuse(FieldRollup, err.Error(), "set rollup to one the catalog knows, or \"latest\"")
			planable = false
		}
	}
	kbOK := !planable || p.rollupKB(&target, r.KB)

	switch {
	case spKnown && sp > liveSP:
		// The provider passes the facts a service pack planned first on this server leaves
		// behind; a mismatch here means no service pack will be installed before the rollup.
		p.refuse(FieldServicePack, fmt.Sprintf("the rollup is for Exchange 2007 %s, but the server runs %s (%s), and no service pack is planned to be installed on it first",
			spName(sp), spName(liveSP), "build "+live.String()),
			fmt.Sprintf("the service pack must be installed first: add an exchange_service_pack resource with service_pack = %d for this server and reference it from this rollup (service_pack = exchange_service_pack.<name>.service_pack); an update rollup cannot be installed during a service pack install", sp))
		planable = false
	case sp < liveSP:
		action := fmt.Sprintf("set service_pack = %d (or leave it unset) and choose a rollup for %s", liveSP, spName(liveSP))
		if newest, err := p.cat.Newest("2007", liveSP); err == nil && newest.Level.UpdateRollup > 0 {
			action += fmt.Sprintf("; the newest is %s (%s)", rollupName(newest.Level.UpdateRollup, newest.Level.ReRelease), newest.Build)
		}
		p.refuse(FieldServicePack, fmt.Sprintf("the rollup is for Exchange 2007 %s, but the server runs %s (%s): an update rollup fits exactly one service pack level, and a service pack cannot be uninstalled",
			spName(sp), spName(liveSP), "build "+live.String()), action)
		return empty, p.err()
	}

	liveRel, exact := LiveLevel(f, p.cat)
	if planable && !exact {
		p.refuse("", fmt.Sprintf("the live build %s is not in the catalog%s: the update rollup the server runs cannot be told", live, p.nearestBelow(live)),
			"find which update rollup the server runs (Installed Updates): if an interim update raised the build, remove it first; if it is a release the catalog lacks, update the provider")
		planable = false
	}
	if planable && liveRel.Level == target.Level {
		// Nothing to install, so nothing to protect: only a wrong kb is reported.
		if err := p.err(); err != nil {
			return empty, err
		}
		return p.finished(
			afterInstall{job: JobID(Step{Kind: InstallUpdateRollup{Build: target.Build}}), what: "the update rollup install", build: live},
			afterInstall{job: JobID(Step{Kind: UninstallUpdateRollup{Build: target.Build}}), what: "the update rollup uninstall", build: live},
		), nil
	}

	targetName := "the update rollup"
	if planable {
		targetName = target.Level.String()
	}
	removeIUs := p.preChecks("exchange_update_rollup", scopeServicing, sp, targetName)
	if !planable || !kbOK {
		p.verifyBackups(false)
		return empty, p.err()
	}

	// The installer steps: uninstall what lies above the target, newest first, then install
	// the target unless it is what remains.
	var core []Step
	var removed []InstalledUpdate
	install := true
	if levelBefore(target.Level, liveRel.Level) {
		core, removed, install = p.lowerRollups(liveRel, target)
	}
	if install {
		if r.PackagePath == "" {
			p.refuse(FieldPackagePath, fmt.Sprintf("package_path is not set, and the plan installs %s", target.Level),
				fmt.Sprintf("set package_path to the %s .msp on the server or a share it can read", target.Level))
		}
		core = append(core, p.rollupStep(target, r.PackagePath))
		if newest, err := p.cat.Newest("2007", sp); err == nil && newest.Level != target.Level {
			p.warn("%s is not the newest rollup for %s: %s (%s) is; the newest rollup of the service pack is recommended",
				rollupName(target.Level.UpdateRollup, target.Level.ReRelease), spName(sp), rollupName(newest.Level.UpdateRollup, newest.Level.ReRelease), newest.Build)
		}
	}
	if len(removed) > 0 && sp < 2 {
		p.warn("before Exchange 2007 SP2, uninstalling an update rollup does not put back unversioned files (such as .ps1 scripts) it changed: check them afterwards")
	}

	steps := p.assemble(procedure{
		removeIUs:  removeIUs,
		core:       core,
		installs:   install,
		rebootWhen: RebootIfRequired,
		verify:     &target,
	})
	if err := p.err(); err != nil {
		return empty, err
	}

	after := p.after(target, removeIUs)
	after.UpdateRollups = nil
	for _, u := range f.UpdateRollups {
		if !containsUpdate(removed, u) {
			after.UpdateRollups = append(after.UpdateRollups, u)
		}
	}
	if install && target.Level.UpdateRollup > 0 {
		after.UpdateRollups = append(after.UpdateRollups, InstalledUpdate{KB: target.KB, DisplayName: rollupDisplayName(target.Level, target.KB)})
	}
	return Plan{Server: p.server, Steps: steps, Warnings: p.warnings, Target: target, After: after}, nil
}

// rollupKB settles the target rollup's KB: the catalog's, else the user's. It refuses a
// malformed KB and one that contradicts the catalog.
func (p *planning) rollupKB(target *Release, userKB string) bool {
	if userKB == "" || target.Level.UpdateRollup == 0 {
		return true
	}
	kb := normalizeKB(userKB)
	if err := checkKB(kb); err != nil {
		p.refuse(FieldKB, err.Error(), "write the rollup's KB as KB followed by its number, e.g. KB953469")
		return false
	}
	if target.KB != "" && target.KB != kb {
		p.refuse(FieldKB, fmt.Sprintf("kb = %q, but the catalog states %s for %s", userKB, target.KB, target.Level),
			"remove kb (the catalog's is used) or correct it")
		return false
	}
	target.KB = kb
	return true
}

// rollupTitle is "Update Rollup 9 for Exchange 2007 SP1 (KB123456)".
func rollupTitle(l Level, kb string) string {
	s := rollupName(l.UpdateRollup, l.ReRelease) + " for Exchange " + l.Product + " " + spName(l.ServicePack)
	if kb != "" {
		s += " (" + kb + ")"
	}
	return s
}

// rollupStep installs a rollup's .msp silently.
func (p *planning) rollupStep(target Release, pkg string) Step {
	s := Step{Kind: InstallUpdateRollup{Rollup: target.Level.UpdateRollup, ReRelease: target.Level.ReRelease,
		PackagePath: pkg, Build: target.Build, KB: target.KB}, Server: p.server, Downtime: true}
	title := rollupTitle(target.Level, target.KB)
	s.Description = fmt.Sprintf("install %s from %s, silently (build %s); it stops the Exchange and IIS services", title, pkg, target.Build)
	return p.jobStep(s, fmt.Sprintf("install of %s from %s", title, pkg))
}

// installedRollup is an installed rollup patch and the level it stands for.
type installedRollup struct {
	u InstalledUpdate
	l Level
}

// lowerRollups uninstalls the installed rollups above target, newest first. install says
// whether target must be installed afterwards (it is not what remains).
func (p *planning) lowerRollups(live, target Release) (steps []Step, removed []InstalledUpdate, install bool) {
	var above, below []installedRollup
	var unknown []string
	for _, u := range p.f.UpdateRollups {
		l, ok := p.installedRollupLevel(u)
		if !ok {
			unknown = append(unknown, strings.TrimSpace(u.KB+" "+u.DisplayName))
			continue
		}
		if l.ServicePack != live.Level.ServicePack {
			continue // a rollup of an earlier SP still listed; the SP replaced it
		}
		if levelBefore(target.Level, l) {
			above = append(above, installedRollup{u, l})
		} else {
			below = append(below, installedRollup{u, l})
		}
	}
	sort.SliceStable(above, func(i, j int) bool { return levelBefore(above[j].l, above[i].l) })
	sort.SliceStable(below, func(i, j int) bool { return levelBefore(below[j].l, below[i].l) })

	found := false
	for _, a := range above {
		found = found || a.l == live.Level
	}
	if !found {
		p.refuse("", fmt.Sprintf("the server runs %s, but no installed update entry names it, so it cannot be uninstalled by its KB or patch code (installed rollup entries: %s)",
			live.Level, describeUpdates(p.f.UpdateRollups)),
			"check Installed Updates on the server and uninstall the rollup by hand, then plan again")
		return nil, nil, false
	}
	if len(unknown) > 0 {
		p.warn("installed updates %s could not be identified as update rollups and are left as they are", quoteList(unknown))
	}

	remaining := Level{Product: "2007", ServicePack: live.Level.ServicePack}
	if len(below) > 0 {
		remaining = below[0].l
	}
	for i, a := range above {
		returnsTo := remaining
		if i+1 < len(above) {
			returnsTo = above[i+1].l
		}
		if a.u.KB == "" && a.u.PatchCode == "" {
			p.refuse("", fmt.Sprintf("installed %s has neither a KB nor a patch code, so it cannot be uninstalled", a.l), "uninstall it by hand from Installed Updates, then plan again")
		}
		steps = append(steps, p.uninstallRollupStep(a, returnsTo))
		removed = append(removed, a.u)
	}
	return steps, removed, remaining != target.Level
}

// uninstallRollupStep removes one installed rollup by its patch.
func (p *planning) uninstallRollupStep(a installedRollup, returnsTo Level) Step {
	kb := normalizeKB(a.u.KB)
	k := UninstallUpdateRollup{KB: kb, PatchCode: a.u.PatchCode}
	back := returnsTo.String()
	if rel, err := p.cat.Find(returnsTo.Product, returnsTo.ServicePack, returnsTo.UpdateRollup, returnsTo.ReRelease); err == nil {
		k.Build = rel.Build
		back += " (" + rel.Build.String() + ")"
	}
	s := Step{Kind: k, Server: p.server, Downtime: true}
	title := rollupTitle(a.l, kb)
	patch := ""
	if a.u.PatchCode != "" {
		patch = ", patch " + a.u.PatchCode
	}
	s.Description = fmt.Sprintf("uninstall %s%s; the server returns to %s", title, patch, back)
	return p.jobStep(s, "uninstall of "+title)
}

// PlanInterimUpdate plans an interim update (2007) or hotfix (5.5/2000/2003) to be present
// or absent on one non-clustered server. The error, when not nil, is Refusals.
func PlanInterimUpdate(f Facts, r InterimUpdateRequest, cat *Catalog) (Plan, error) {
	p := newPlanning(f, r.Server, r.Options, cat)
	empty := Plan{Server: p.server, After: f}
	_, live, ok := p.serviceable()
	if !ok {
		return empty, p.err()
	}
	kb := normalizeKB(r.KB)
	if err := checkKB(kb); err != nil {
		p.refuse(FieldKB, err.Error(), "write the update's KB as KB followed by its number, e.g. KB953469")
		return empty, p.err()
	}
	for _, u := range f.UpdateRollups {
		if normalizeKB(u.KB) == kb {
			p.refuse(FieldKB, fmt.Sprintf("%s is an installed update rollup (%s), not an interim update", kb, u.DisplayName),
				"manage it with an exchange_update_rollup resource instead")
			return empty, p.err()
		}
	}
	kind := "hotfix"
	if f.Product == "2007" {
		kind = "interim update"
	}
	installed, isInstalled := InstalledUpdate{}, false
	for _, u := range f.InterimUpdates {
		if normalizeKB(u.KB) == kb {
			installed, isInstalled = u, true
		}
	}
	if r.Present == isInstalled {
		return p.finished(
			afterInstall{job: JobID(Step{Kind: InstallInterimUpdate{KB: kb}}), what: "the " + kind + " install", build: live},
			afterInstall{job: JobID(Step{Kind: RemoveInterimUpdate{KB: kb}}), what: "the " + kind + " removal", build: live},
		), nil
	}

	p.preChecks("exchange_interim_update", scopeInstaller, -1, kind+" "+kb)
	var core Step
	after := f
	after.InterimUpdates = nil
	if r.Present {
		if r.PackagePath == "" {
			p.refuse(FieldPackagePath, fmt.Sprintf("package_path is not set, and the plan installs %s %s", kind, kb),
				fmt.Sprintf("set package_path to the %s package (.msp or .exe) on the server or a share it can read", kb))
		}
		if f.Product == "2007" {
			p.warn("an interim update fits one exact build: check that %s is made for %s", kb, p.cat.Describe(live))
		}
		core = Step{Kind: InstallInterimUpdate{KB: kb, PackagePath: r.PackagePath}, Server: p.server, Downtime: true}
		core.Description = fmt.Sprintf("install %s %s from %s, silently; it stops the Exchange services it patches", kind, kb, r.PackagePath)
		core = p.jobStep(core, fmt.Sprintf("install of %s %s from %s", kind, kb, r.PackagePath))
		after.InterimUpdates = append(append(after.InterimUpdates, f.InterimUpdates...), InstalledUpdate{KB: kb})
	} else {
		core = p.removeInterimUpdateStep(installed)
		for _, u := range f.InterimUpdates {
			if normalizeKB(u.KB) != kb {
				after.InterimUpdates = append(after.InterimUpdates, u)
			}
		}
	}
	steps := p.assemble(procedure{core: []Step{core}, installs: r.Present, rebootWhen: RebootIfRequired})
	if err := p.err(); err != nil {
		return empty, err
	}
	after.PendingReboot = nil
	after.Setup.Running = false
	var target Release
	if rel, ok := LiveLevel(f, p.cat); ok {
		target = rel
	}
	return Plan{Server: p.server, Steps: steps, Warnings: p.warnings, Target: target, After: after}, nil
}

// preChecks runs the pre-checks every servicing change shares and returns
// the interim updates to remove (2007), refusing those the user did not allow.
func (p *planning) preChecks(resource string, scope prerequisiteScope, targetSP int, targetName string) []InstalledUpdate {
	p.checkCluster(resource)
	p.checkSetupState()
	p.checkLock()
	p.checkPrerequisites(scope, targetSP, targetName)
	p.servicesToStop()
	p.checkRevocationMode()
	p.procedureChecks(scope)
	if scope == scopeServicing {
		return p.interimUpdatesToRemove(targetName)
	}
	return nil
}

// procedure is what differs between the single-server plans: the installer steps and
// what surrounds them.
type procedure struct {
	servicePack bool              // SP only: UM language packs, Remote Streaming Backup
	removeIUs   []InstalledUpdate // step 4
	umPath      string            // the UM language pack folder (SP only)
	core        []Step            // step 8: the installer runs
	installs    bool              // core installs signed packages: the revocation check matters
	rebootWhen  RebootWhen        // step 9
	verify      *Release          // step 16: the build to read back; nil for none
}

// assemble orders the single-server steps around the installer steps.
func (p *planning) assemble(pr procedure) []Step {
	f := p.f
	var steps []Step
	add := func(s Step) {
		s.Server = p.server
		steps = append(steps, s)
	}

	// 1. A pending reboot first. While a job of ours runs, a pending rename is its own and
	// must not interrupt it: the reboot after the install covers it.
	if len(f.PendingReboot) > 0 {
		if p.busy {
			p.warn("a reboot is pending (%s) while an install of ours runs: it is left to the reboot after the install", strings.Join(f.PendingReboot, ", "))
		} else {
			add(Step{Kind: Reboot{When: RebootAlways}, Downtime: true, Reboot: true,
				Description: fmt.Sprintf("reboot first: a reboot is pending (%s); wait until the server answers again", strings.Join(f.PendingReboot, ", "))})
		}
	}

	// 2. Backups. Once an install of ours runs, checking them again protects nothing.
	if p.busy {
		p.warn("an install of ours is already running on the server: backups are not checked again")
	} else {
		add(p.verifyBackups(pr.servicePack))
	}

	// 2b. An interrupted setup's values, on the user's opt-in: before any installer, which
	// (setup, and job_start for every installer) refuses while they exist.
	if len(p.clearWatermarks) > 0 {
		add(Step{Kind: CheckNoSetupRunning{},
			Description: "check that no setup or installer runs on the server (no ExSetup, setup or update process, no Windows Installer installation, no job of ours): the values below are only stale if none does; the apply stops otherwise"})
	}
	for _, w := range p.clearWatermarks {
		export := ExportSetupKey{Key: SetupKeyName(w.Role), File: SetupKeyExportFile(w)}
		file := export.Params()["file"]
		add(Step{Kind: export,
			Description: fmt.Sprintf("export %s to %s on the server with reg.exe export, so that it can be put back (reg import); skipped when that file exists (an earlier run exported these values)",
				SetupKey(w.Role), file)})
		add(Step{Kind: RemoveSetupWatermark{Key: export.Key},
			Description: fmt.Sprintf("remove the Action and Watermark values of %s (nothing else), which keep setup from starting again", SetupKey(w.Role))})
	}

	// 3. Customisations an update overwrites.
	saved := p.saveCustomizations(add)

	// 4. Interim updates.
	for _, iu := range pr.removeIUs {
		add(p.removeInterimUpdateStep(iu))
	}

	// 5. UM language packs (SP only).
	var um []string
	if pr.servicePack {
		um = f.UMLanguagePacks
		for _, lang := range um {
			add(p.umStep(ActionRemoveUMLanguagePack, "RemoveUmLanguagePack", lang, pr.umPath,
				"remove UM language pack %s before the service pack: %s"))
		}
	}

	// 6. Third-party services.
	for _, name := range p.stop {
		add(Step{Kind: StopService{Service: name},
			Description: fmt.Sprintf("stop %s (it hooks into Exchange and can hold files the installer replaces); it is started again after the install", name)})
	}

	// 7. Certificate revocation check.
	revocation := false
	if pr.installs {
		var why string
		if revocation, why = p.revocationOff(); revocation {
			add(Step{Kind: DisableRevocationCheck{},
				Description: "turn the publisher's certificate revocation check off for the installing account: " + why})
		}
	}

	// 8. The installer.
	for _, s := range pr.core {
		add(s)
	}

	// 9. Reboot.
	if pr.rebootWhen == RebootAlways {
		add(Step{Kind: Reboot{When: RebootAlways}, Downtime: true, Reboot: true,
			Description: "reboot after the service pack and wait until the server answers again"})
	} else {
		add(Step{Kind: Reboot{When: RebootIfRequired}, Downtime: true, Reboot: true,
			Description: "reboot if the installer asks for it, and wait until the server answers"})
	}

	// 10. Exchange services.
	add(Step{Kind: StartExchangeServices{},
		Description: "set Exchange services the install left Disabled back to Automatic and start them"})

	// 11. Customisations (also those an interrupted apply left aside), then OWA checked.
	if saved || f.Leftovers.SavedCustomizations {
		add(p.restoreCustomizations())
	}
	if p.owa() && (pr.verify != nil || saved) {
		add(verifyOWAStep())
	}

	// 12. UM language packs back.
	for _, lang := range um {
		add(p.umStep(ActionAddUMLanguagePack, "AddUmLanguagePack", lang, pr.umPath,
			"add UM language pack %s again after the service pack: %s"))
	}

	// 13. Revocation check back on; third-party services back, in reverse order.
	if revocation || f.Leftovers.RevocationCheckOff {
		add(Step{Kind: EnableRevocationCheck{},
			Description: "turn the publisher's certificate revocation check back on for the installing account"})
	}
	for i := len(p.stop) - 1; i >= 0; i-- {
		add(Step{Kind: StartService{Service: p.stop[i]},
			Description: fmt.Sprintf("start %s again (stopped before the install)", p.stop[i])})
	}
	for _, s := range p.leftoverServices() {
		add(s)
	}

	// 14. Settings the SP reset.
	if pr.servicePack && f.Product == "2007" && f.RemoteStreamingBackup != nil && *f.RemoteStreamingBackup {
		add(Step{Kind: SetRemoteStreamingBackup{},
			Description: "re-apply Enable Remote Streaming Backup = 1; the service pack resets it"})
	}

	// 15. Read the build back.
	if pr.verify != nil {
		add(Step{Kind: VerifyBuild{Build: pr.verify.Build},
			Description: fmt.Sprintf("read the build again and compare it with %s (%s)", pr.verify.Build, pr.verify.Level)})
	}

	p.checkRunningJobs(steps)
	// 0. The preflight, before all of them (even a pending reboot): a missing or unreadable
	// media, package or file stops the apply before anything has changed.
	return withPreflight(p.server, p.f, steps, p.jobID)
}

// removeInterimUpdateStep uninstalls one interim update or hotfix.
func (p *planning) removeInterimUpdateStep(u InstalledUpdate) Step {
	kb := normalizeKB(u.KB)
	kind := "hotfix"
	if p.f.Product == "2007" {
		kind = "interim update"
	}
	s := Step{Kind: RemoveInterimUpdate{KB: kb, PatchCode: u.PatchCode}, Server: p.server, Downtime: true}
	name := kind + " " + kb
	if u.DisplayName != "" && !strings.Contains(strings.ToUpper(u.DisplayName), kb) {
		name += " (" + u.DisplayName + ")"
	}
	s.Description = "remove " + name
	return p.jobStep(s, "removal of "+name)
}

// umStep removes or adds one UM language pack with Setup.com.
func (p *planning) umStep(action, switchName, lang, path, format string) Step {
	cmd := fmt.Sprintf("Setup.com /%s:%s /s:%s", switchName, lang, path)
	var k StepKind = RemoveUMLanguagePack{Language: lang, Path: path}
	if action == ActionAddUMLanguagePack {
		k = AddUMLanguagePack{Language: lang, Path: path}
	}
	s := Step{Kind: k, Server: p.server, Downtime: true, Description: fmt.Sprintf(format, lang, cmd)}
	return p.jobStep(s, cmd)
}

// jobStep ties an installer step to the job record of an earlier run of the same step
// (same JobID): a running or finished one is attached to, never started twice; a failed
// one is planned again with a warning.
func (p *planning) jobStep(s Step, what string) Step {
	j, ok := p.f.Job(p.jobID(s))
	if !ok {
		return s
	}
	log := ""
	if j.LogPath != "" {
		log = ", log " + j.LogPath
	}
	switch j.State {
	case JobRunning:
		s.Description = fmt.Sprintf("attach to the running %s started at %s (job %s%s) instead of starting it a second time",
			what, fmtTime(j.Started), j.ID, log)
	case JobSucceeded:
		finished := ""
		if j.Finished != nil {
			finished = " at " + fmtTime(*j.Finished)
		}
		s.Description = fmt.Sprintf("attach to the finished %s (job %s succeeded%s%s): it is not started again",
			what, j.ID, finished, log)
	case JobFailed:
		reason := ""
		if j.Error != "" {
			reason = ": " + j.Error
		}
		where := "; no log path was recorded"
		if j.LogPath != "" {
			where = "; log " + j.LogPath
		}
		p.warn("the last run of the %s (job %s, started %s) failed with exit code %d%s%s: this plan runs it again; read the log first",
			what, j.ID, fmtTime(j.Started), j.ExitCode, reason, where)
	}
	return s
}

// jobID is the id under which the executor records the job of an installer step: JobID,
// or ClusterJobID for a node of a cluster plan.
func (p *planning) jobID(s Step) string {
	if p.clusterNode {
		return ClusterJobID(s)
	}
	return JobID(s)
}

// after is the facts once the plan has run: the target build, the removed interim
// updates gone, no pending reboot, no setup running. Jobs and services stay as they are.
func (p *planning) after(target Release, removedIUs []InstalledUpdate) Facts {
	a := p.f
	a.Build = target.Build.String()
	a.InterimUpdates = nil
	for _, u := range p.f.InterimUpdates {
		if !containsUpdate(removedIUs, u) {
			a.InterimUpdates = append(a.InterimUpdates, u)
		}
	}
	a.PendingReboot = nil
	a.Setup.Running = false
	if len(p.clearWatermarks) > 0 {
		a.Setup.Watermarks = nil
	}
	if p.owa() && p.opts.PreserveOWACustomizations {
		// The update's own page stays, or the user's page for the new build is put in place.
		a.OWALogonCustomized = p.opts.OWALogonFile != ""
	}
	return a
}

func containsUpdate(list []InstalledUpdate, u InstalledUpdate) bool {
	for _, x := range list {
		if normalizeKB(x.KB) == normalizeKB(u.KB) && x.PatchCode == u.PatchCode && x.DisplayName == u.DisplayName {
			return true
		}
	}
	return false
}

// nearestBelow names the nearest known release below a build that is not in the catalog,
// as " (the nearest known release below it is Exchange 2007 SP3 Update Rollup 10, 8.3.298.3)".
func (p *planning) nearestBelow(b Build) string {
	var below *Release
	for _, r := range p.cat.Releases(p.f.Product) {
		if r.Build.Major == b.Major && r.Build.Minor == b.Minor && r.Build.Less(b) {
			below = &r
		}
	}
	if below == nil {
		return ""
	}
	return fmt.Sprintf(" (the nearest known release below it is %s, %s)", below.Level, below.Build)
}

// describeUpdates lists installed updates for a message: "KB1 (name), KB2" or "none".
func describeUpdates(us []InstalledUpdate) string {
	if len(us) == 0 {
		return "none"
	}
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = strings.TrimSpace(u.KB + " " + u.DisplayName)
	}
	return strings.Join(names, ", ")
}

// leftoverServices starts the services an interrupted apply stopped and this plan does not
// stop (and so start) itself.
func (p *planning) leftoverServices() []Step {
	var steps []Step
	for _, name := range p.f.Leftovers.StoppedServices {
		if slices.ContainsFunc(p.stop, func(s string) bool { return strings.EqualFold(s, name) }) {
			continue
		}
		steps = append(steps, Step{Kind: StartService{Service: name}, Server: p.server,
			Description: fmt.Sprintf("start %s again (an earlier apply stopped it and was interrupted)", name)})
	}
	return steps
}

// finished is the plan for a server already at the desired level. Nothing is installed,
// but an apply that stopped after its install (the server still holds the install's job
// record: an apply that runs its whole plan clears them) left the rest of the procedure
// undone — reboot, Exchange services, UM language packs, the build check — and an apply
// interrupted anywhere may have left services stopped, customisations aside or the
// revocation check off. All of that is planned here.
func (p *planning) finished(after ...afterInstall) Plan {
	f := p.f
	plan := Plan{Server: p.server, After: f}
	// An install of ours still runs (another resource's, for the same server): what is
	// left over is that apply's, and the steps after an earlier install wait for it too —
	// putting services back or rebooting now would disturb the installer.
	for _, j := range f.Jobs {
		if j.State == JobRunning {
			p.warn("an install of this provider (%s, started %s) is still running on the server: the apply of the resource that started it continues it; anything this resource has left to do is planned once it has finished",
				j.ID, fmtTime(j.Started))
			plan.Warnings = p.warnings
			return plan
		}
	}
	add := func(s Step) {
		s.Server = p.server
		plan.Steps = append(plan.Steps, s)
	}
	var done *afterInstall
	for i := range after {
		if j, ok := f.Job(after[i].job); ok && j.State == JobSucceeded {
			done = &after[i]
			break
		}
	}
	if done != nil {
		add(Step{Kind: Reboot{When: RebootIfRequired}, Downtime: true, Reboot: true,
			Description: fmt.Sprintf("continue after %s, which finished while no apply watched: reboot if it asked for it, and wait until the server answers", done.what)})
		add(Step{Kind: StartExchangeServices{},
			Description: "set Exchange services the install left Disabled back to Automatic and start them"})
	}
	if f.Leftovers.SavedCustomizations {
		add(p.restoreCustomizations())
	}
	if p.owa() && (done != nil || f.Leftovers.SavedCustomizations) {
		add(verifyOWAStep())
	}
	if done != nil && done.umPath != "" {
		for _, j := range f.Jobs {
			lang, ok := strings.CutPrefix(j.ID, ActionRemoveUMLanguagePack+"-")
			if !ok || j.State != JobSucceeded || slices.ContainsFunc(f.UMLanguagePacks, func(l string) bool { return strings.EqualFold(l, lang) }) {
				continue
			}
			add(p.umStep(ActionAddUMLanguagePack, "AddUmLanguagePack", lang, done.umPath,
				"add UM language pack %s again (an earlier apply removed it before the service pack): %s"))
		}
	}
	if f.Leftovers.RevocationCheckOff {
		add(Step{Kind: EnableRevocationCheck{},
			Description: "turn the publisher's certificate revocation check back on (an earlier apply turned it off and was interrupted)"})
	}
	plan.Steps = append(plan.Steps, p.leftoverServices()...)
	if done != nil {
		if done.servicePack && f.Product == "2007" {
			p.warn("an earlier apply stopped after the service pack: if the server had Enable Remote Streaming Backup = 1 (CCR reseeding needs it), set it again; the service pack resets it")
		}
		add(Step{Kind: VerifyBuild{Build: done.build},
			Description: fmt.Sprintf("read the build again and compare it with %s", done.build)})
		plan.Warnings = p.warnings
	}
	plan.After.Leftovers = Leftovers{}
	return plan
}

// afterInstall names the install whose job record, when still on the server, means the
// rest of its procedure is left to do.
type afterInstall struct {
	job         string // the install step's job id (JobID)
	what        string // for the reviewer, e.g. "the service pack install (Setup.com /mode:upgrade)"
	build       Build  // the build it reaches
	servicePack bool
	umPath      string // the UM language pack folder, for packs removed before a service pack
}

// RollupBeneath is the update rollup a 2007 server returns to when its live rollup is
// uninstalled: the highest other rollup of the same service pack still installed, or 0.
// Destroying an exchange_update_rollup removes what it installed, not the rollups that
// were on the server before. ok is false when the live build is not an exact catalog
// release (what is installed cannot be told).
func RollupBeneath(f Facts, cat *Catalog) (ru, reRelease int, ok bool) {
	if cat == nil {
		cat = DefaultCatalog()
	}
	live, exact := LiveLevel(f, cat)
	if !exact || live.Level.Product != "2007" {
		return 0, 0, false
	}
	p := newPlanning(f, f.Server, Options{}, cat)
	var best Level
	for _, u := range f.UpdateRollups {
		l, ok := p.installedRollupLevel(u)
		if !ok || l.ServicePack != live.Level.ServicePack || !levelBefore(l, live.Level) {
			continue
		}
		if levelBefore(best, l) {
			best = l
		}
	}
	return best.UpdateRollup, best.ReRelease, true
}
