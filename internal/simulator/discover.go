package simulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// opDiscover answers discover as discover.ps1 reads Active Directory: the organisation and
// its Exchange server objects (whichever host it runs on, reachable or not: Active
// Directory lists a server that is down), sorted by name ordinally ignoring case
// (wire.OpDiscover). A server that is no cluster node is listed under its name with its
// live product, FQDN and roles; an Exchange 5.5 server has no roles there (AD records none
// for it). A cluster's nodes have no server object of their own: each of its Exchange
// groups — the CMS (2007), each EVS (2000/2003), the 5.5 virtual server — is listed instead
// under its network name (see clusterServers).
//
// A host whose fleet entry has ad_unreachable answers the fault "unavailable" with the text
// the script writes when the configuration partition cannot be read over a second hop.
//
// Asked to (req.Server not ""), it probes itself first, as discover.ps1 runs probe.ps1
// before it reads Active Directory: the probe's answer, facts or fault, as the probe
// operation gives it, travels in the result (a fault there does not fail the discovery),
// and the discovery's own fault drops it, as the script's Stop-ExOperation ends the script.
func opDiscover(h *Handler, c *call, req wire.DiscoverRequest) (any, *wire.Fault) {
	var answer *wire.ProbeAnswer
	if req.Server != "" {
		answer = &wire.ProbeAnswer{}
		facts, fault := probe(h, c, wire.ProbeRequest(req)) // the same parameter: Server
		if f, ok := facts.(exchange.Facts); fault == nil && ok {
			answer.Facts = &f
		} else if fault != nil {
			answer.Fault = fault
		} else {
			answer.Fault = &wire.Fault{Code: "unexpected", Message: fmt.Sprintf("the probe answered %T, not facts", facts)}
		}
	}
	host := h.host
	if host.adUnreachable {
		configNC := "CN=Configuration," + domainDN(host.State().FQDN)
		return nil, &wire.Fault{Code: "unavailable", Message: fmt.Sprintf(
			"cannot read Active Directory from %s (reading CN=Services,%s: An operations error occurred. (0x80072020) "+
				"000004DC: LdapErr: DSID-0C0906E8, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v1db1). "+
				"No domain controller answers, or the account the provider connects as has no credentials for a second hop "+
				"(WinRM with NTLM or Kerberos passes none on without CredSSP or delegation): "+
				"name the servers explicitly (one resource or data source per server) instead of discovering them",
			host.name, configNC)}
	}
	hosts := host.env.hosts
	if len(hosts) == 0 {
		hosts = []*Host{host}
	}
	org := host.env.organization
	if org == "" {
		org = DefaultOrganization
	}
	res := wire.DiscoverResult{Organization: org, Servers: []wire.DiscoveredServer{}, Probe: answer}
	var listed []*LiveCluster
	for _, o := range hosts {
		if lc := o.cluster; lc != nil {
			if !slices.Contains(listed, lc) {
				listed = append(listed, lc)
				res.Servers = append(res.Servers, clusterServers(lc, hosts)...)
			}
			continue
		}
		// Each host's own lock, one at a time: this host's is not held here.
		st := o.State()
		roles := nonNil(slices.Clone(st.Roles))
		if st.Product == "5.5" {
			roles = []string{}
		}
		res.Servers = append(res.Servers, wire.DiscoveredServer{
			Name: o.name, FQDN: st.FQDN, Product: st.Product, Roles: roles, Site: o.site,
		})
	}
	// As [System.StringComparer]::OrdinalIgnoreCase orders (it compares upper-cased).
	slices.SortStableFunc(res.Servers, func(a, b wire.DiscoveredServer) int {
		return strings.Compare(strings.ToUpper(a.Name), strings.ToUpper(b.Name))
	})
	c.detail = fmt.Sprintf("%d servers in %s", len(res.Servers), org)
	return res, nil
}

// clusterServers are the server objects Active Directory holds for cluster lc, one per
// Exchange group, in the cluster's order: named after the group (its network name); FQDN
// that name in lower case in the fleet's default domain (as a server's default FQDN is
// made); product the cluster's; roles as AD records them for a clustered server (2007 CMS:
// Mailbox, 2000/2003 EVS: BackEnd, 5.5: none); site that of the node that owns the group
// now, else of the cluster's first node that is a host of hosts ("" when none is).
func clusterServers(lc *LiveCluster, hosts []*Host) []wire.DiscoveredServer {
	byName := map[string]*Host{}
	for _, h := range hosts {
		byName[strings.ToLower(h.name)] = h
	}
	siteOf := func(owner string) string {
		for _, n := range append([]string{owner}, lc.nodes...) {
			if h, ok := byName[strings.ToLower(n)]; ok {
				return h.site
			}
		}
		return ""
	}
	var roles []string
	switch lc.product {
	case "2007":
		roles = []string{"Mailbox"}
	case "2000", "2003":
		roles = []string{"BackEnd"}
	}
	var out []wire.DiscoveredServer
	for _, g := range lc.State().Groups {
		out = append(out, wire.DiscoveredServer{
			Name: g.Name, FQDN: strings.ToLower(g.Name) + "." + defaultDomain, Product: lc.product,
			Roles: nonNil(slices.Clone(roles)), Site: siteOf(g.Owner),
		})
	}
	return out
}

// domainDN is the domain naming context of a DNS name's domain ("ex01.contoso.local" ->
// "DC=contoso,DC=local"); the fleet's default domain for a bare name.
func domainDN(fqdn string) string {
	domain := defaultDomain
	if i := strings.IndexByte(fqdn, '.'); i > 0 && i < len(fqdn)-1 {
		domain = fqdn[i+1:]
	}
	return "DC=" + strings.Join(strings.Split(domain, "."), ",DC=")
}
