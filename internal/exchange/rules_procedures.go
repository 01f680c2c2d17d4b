package exchange

import (
	"fmt"
	"slices"
	"strings"
)

// Pre-checks around an install that the seeds name and that the probe can read cheaply
// (issue 9 item 8): each refuses with the seed's advice or warns, from facts only.

// procedureChecks run for every servicing change (preChecks).
func (p *planning) procedureChecks(scope prerequisiteScope) {
	p.checkInstallerProcesses()
	if scope == scopeServicing {
		p.warnEventLogLevels()
	}
}

// checkInstallerProcesses: KB 328839: "several instances of the setup, update or
// Xcopy program can keep a service pack from installing; check with Task Manager that none
// runs". Setup itself is checkSetupState's; a job of ours (update.exe of a 2003 SP) is ours.
func (p *planning) checkInstallerProcesses() {
	procs := p.f.Procedure.InstallerProcesses
	if len(procs) == 0 || p.busy {
		return
	}
	p.refuse("", fmt.Sprintf("%s running on the server now: several setup, update or Xcopy instances at once keep a service pack or update from installing (KB 328839)", quoteList(procs)+pluralIs(procs)),
		"wait until they finish (Task Manager shows who runs them), then plan again")
}

func pluralIs(list []string) string {
	if len(list) == 1 {
		return " is"
	}
	return " are"
}

// warnEventLogLevels: "Changes to Exchange 2007 SP2 setup": every update rollup,
// as SP1 and RTM did, overwrites the diagnostic-logging registry entries with their
// defaults. The probe lists the categories above Lowest; Get-EventLogLevel cannot say
// which level is a category's default, so they are named, not judged.
func (p *planning) warnEventLogLevels() {
	if p.f.Product != "2007" {
		return
	}
	pr := p.f.Procedure
	if !pr.EventLogLevelsRead {
		p.warn("the diagnostic-logging levels could not be read (Get-EventLogLevel): an update rollup or service pack resets customised levels to their defaults; note any you set and set them again after the install (Set-EventLogLevel)")
		return
	}
	if len(pr.EventLogLevels) == 0 {
		return
	}
	var levels []string
	for _, l := range pr.EventLogLevels {
		levels = append(levels, l.Identity+" = "+l.Level)
	}
	p.warn("the install resets diagnostic logging to its defaults (every update rollup and service pack overwrites those registry entries); these categories are above Lowest now and must be set again afterwards with Set-EventLogLevel: %s", strings.Join(levels, "; "))
}

// servicePackChecks are "Service Packs für Exchange 2007"'s notes on installing Exchange 2007 SP1 (and so any SP
// from RTM, which contains it).
func (p *planning) servicePackChecks(liveSP, targetSP int) {
	if p.f.Product != "2007" || targetSP <= liveSP {
		return
	}
	p.checkReceiveConnectorNames()
	if liveSP < 1 && targetSP >= 1 {
		p.checkForefront()
		p.warn("Exchange 2007 SP1 setup deletes the address and display templates (cn=Display-Templates under cn=Addressing in the Exchange organisation's configuration): export customised templates before the install (e.g. ldifde -f templates.ldf -d \"CN=Display-Templates,CN=Addressing,CN=<organisation>,CN=Microsoft Exchange,CN=Services,CN=Configuration,<forest DN>\") and import them after it")
	}
}

// checkForefront: "Service Packs für Exchange 2007": Forefront must be updated to a compatible version or uninstalled
// before Exchange 2007 SP1 is installed. Which versions are compatible is not in the seeds,
// so the user attests it (forefront_compatible).
func (p *planning) checkForefront() {
	var found []string
	for _, ff := range p.f.Procedure.Forefront {
		found = append(found, strings.TrimSpace(ff.Name+" "+ff.Version))
	}
	// Its services, in the probe's list of third-party services, when no entry was read.
	for _, s := range slices.Concat(p.f.ThirdPartyServices, p.f.OtherServices) {
		forefront := slices.ContainsFunc([]string{"FSCController", "FSCMonitor", "FSEIMC", "FSEMailPickup"}, func(n string) bool { return strings.EqualFold(n, s.Name) })
		if forefront && len(p.f.Procedure.Forefront) == 0 {
			found = append(found, "service "+s.Name)
		}
	}
	if len(found) == 0 {
		return
	}
	if p.opts.ForefrontCompatible != "" {
		p.warn("Forefront Security for Exchange Server is installed (%s); forefront_compatible says: %s", strings.Join(found, ", "), p.opts.ForefrontCompatible)
		return
	}
	p.refuse(FieldForefrontCompatible, fmt.Sprintf("Forefront Security for Exchange Server is installed (%s); it must be updated to a version compatible with Exchange 2007 SP1 or uninstalled before SP1 is installed", strings.Join(found, ", ")),
		"update Forefront to a version its release notes declare compatible with Exchange 2007 SP1 (or uninstall it), then set forefront_compatible to the version and where you checked it")
}

// checkReceiveConnectorNames: "Service Packs für Exchange 2007" (a reader's note): a receive connector named like
// the domain was not allowed by SP1 setup and had to be renamed for the install. "Like the
// domain" is our reading: the DNS domain, or its first label.
func (p *planning) checkReceiveConnectorNames() {
	domain := strings.TrimSuffix(p.f.Procedure.Domain, ".")
	if domain == "" {
		return
	}
	label, _, _ := strings.Cut(domain, ".")
	for _, name := range p.f.Procedure.ReceiveConnectors {
		if strings.EqualFold(name, domain) || strings.EqualFold(name, label) {
			p.refuse("", fmt.Sprintf("receive connector %q is named like the domain %s; service pack setup does not accept it", name, domain),
				fmt.Sprintf("rename it for the install (Set-ReceiveConnector -Identity '%s\\%s' -Name '<another name>'), plan again, and rename it back after the service pack", p.server, name))
		}
	}
}
