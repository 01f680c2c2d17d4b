package simulator

import (
	"path"
	"slices"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/scripts"
)

// thirdPartyPatterns are probe.ps1's own patterns for third-party services.
var thirdPartyPatterns = scripts.ThirdPartyServicePatterns()

// recognisedThirdParty reports whether the probe lists a service of this name as a
// third-party service: it matches one of the probe's patterns as PowerShell's -like does
// (wildcards * ? [..], ignoring case). Every other non-Exchange service is reported as an
// other service: the probe does not know it hooks into Exchange.
func recognisedThirdParty(name string) bool {
	for _, p := range thirdPartyPatterns {
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(name)); err == nil && ok {
			return true
		}
	}
	return false
}

// exchangeServices lists the Windows service names of the Exchange and IIS services a
// server runs, from its product and roles, in a fixed order.
//
// The lists are conventional, not exhaustive: they hold the services servicing cares about
// (those an install stops, and the ones to verify afterwards: "How to install the latest Service Pack or Update Rollup for Exchange 2007"). Real
// servers run more (MSExchangeMailSubmission, MSExchangeTransportLogSearch,
// MSExchangeAntispamUpdate, MSExchangeMonitoring, ...), and on real Exchange 2007 the POP3
// and IMAP4 services start Manual; here every listed service starts Running/Auto so that
// "all services started" is the healthy baseline (on a 2000/2003/5.5 cluster node the
// virtual server's services start Manual: clusteredServices). Extend the lists when a rule
// needs it.
func exchangeServices(product string, roles []string) []string {
	has := func(r string) bool { return slices.Contains(roles, r) }
	var s []string
	switch product {
	case "2007":
		if has("Edge") {
			// The Edge Transport server is outside the domain: no AD topology service;
			// its configuration lives in ADAM.
			s = append(s, "ADAM_MSExchange", "MSExchangeEdgeCredential", "MSExchangeTransport")
			break
		}
		s = append(s, "MSExchangeADTopology", "MSExchangeServiceHost")
		if has("Mailbox") {
			s = append(s, "MSExchangeIS", "MSExchangeSA", "MSExchangeRepl", "MSExchangeSearch", "MSExchangeMailboxAssistants")
		}
		if has("HubTransport") {
			s = append(s, "MSExchangeTransport", "MSExchangeEdgeSync")
		}
		if has("ClientAccess") {
			// The File Distribution Service runs on Client Access servers too (OAB, UM prompts).
			s = append(s, "MSExchangeFDS", "MSExchangeIMAP4", "MSExchangePOP3")
		}
		if has("UnifiedMessaging") {
			s = append(s, "MSExchangeFDS", "MSExchangeUM")
		}
		if has("ClientAccess") || has("Mailbox") {
			s = append(s, "W3SVC", "IISADMIN")
		}
	case "2000", "2003":
		// Front-ends run the same services as back-ends: the store just holds no mailboxes.
		s = []string{"MSExchangeIS", "MSExchangeSA", "MSExchangeMTA", "RESvc", "SMTPSVC", "W3SVC", "IISADMIN"}
	case "5.5":
		s = []string{"MSExchangeIS", "MSExchangeSA", "MSExchangeMTA", "MSExchangeDS"}
	}
	return dedupe(s)
}

func dedupe(s []string) []string {
	out := []string{}
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// procedureFacts is what Get-ExProcedureFacts in probe.ps1 reads on a server like s: the
// Forefront entry, the DNS domain, on a 2007 Hub Transport or Edge its receive connectors
// (setup creates "Default <server>" and "Client <server>"), on 2007 the diagnostic-logging
// categories above Lowest, and running update/xcopy processes.
func procedureFacts(s Server) exchange.ProcedureFacts {
	p := exchange.ProcedureFacts{Forefront: []exchange.InstalledProduct{}, ReceiveConnectors: []string{},
		EventLogLevels: []exchange.EventLogLevel{}, InstallerProcesses: []string{}}
	if _, domain, ok := strings.Cut(s.FQDN, "."); ok {
		p.Domain = domain
	}
	if s.ForefrontVersion != "" {
		p.Forefront = append(p.Forefront, exchange.InstalledProduct{Name: "Microsoft Forefront Security for Exchange Server", Version: s.ForefrontVersion})
	}
	for _, proc := range s.RunningProcesses {
		if n := strings.ToLower(proc); n == "update.exe" || n == "xcopy.exe" {
			p.InstallerProcesses = append(p.InstallerProcesses, proc)
		}
	}
	if s.Product != "2007" {
		return p
	}
	if slices.Contains(s.Roles, "HubTransport") || slices.Contains(s.Roles, "Edge") {
		p.ReceiveConnectorsRead = true
		p.ReceiveConnectors = append(p.ReceiveConnectors, s.ReceiveConnectors...)
		if s.ReceiveConnectors == nil {
			p.ReceiveConnectors = append(p.ReceiveConnectors, "Default "+s.Name, "Client "+s.Name)
		}
	}
	p.EventLogLevelsRead = true
	ids := make([]string, 0, len(s.DiagnosticLogging))
	for id := range s.DiagnosticLogging {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p.EventLogLevels = append(p.EventLogLevels, exchange.EventLogLevel{Identity: id, Level: s.DiagnosticLogging[id]})
	}
	return p
}

// clusteredServices are, on a node of an Exchange 2000/2003 or 5.5 cluster, the Exchange
// services that are resources of the virtual server, by the type of the resource that runs
// each (the simulator's default resources, defaultResources). The cluster starts and stops
// them where the group runs: they start Manual on every node, run on the node that owns the
// group while their resource is online, and are never started directly (KB 328839:
// "the Exchange services are cluster resources"). The Manual start mode
// is our reading of how Exchange cluster setup leaves them. The IIS services (W3SVC,
// IISADMIN, SMTPSVC) run on every node: the SMTP and HTTP virtual servers of an EVS are
// instances inside them. A 2007 CMS's resources are instances too: its services run on
// every node, so a 2007 node has none here.
func clusteredServices(product string) map[string]string {
	switch product {
	case "2000", "2003":
		return map[string]string{
			"MSExchangeSA": ResourceSystemAttendant, "MSExchangeIS": ResourceInformationStore,
			"MSExchangeMTA": ResourceMTA, "RESvc": ResourceRoutingEngine,
		}
	case "5.5":
		return map[string]string{
			"MSExchangeDS": ResourceDirectory, "MSExchangeIS": ResourceInformationStore,
			"MSExchangeSA": ResourceSystemAttendant, "MSExchangeMTA": ResourceMTA,
		}
	}
	return nil
}
