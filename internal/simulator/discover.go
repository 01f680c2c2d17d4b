package simulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// opDiscover answers discover as discover.ps1 reads Active Directory: the organisation and
// every server of the simulator (whichever host it runs on, reachable or not: Active
// Directory lists a server that is down), sorted by name ordinally ignoring case. Product,
// FQDN and roles are each host's live state; an Exchange 5.5 server has no roles there (AD
// records none for it). Unlike real Active Directory, cluster nodes are listed themselves,
// not under their CMS/EVS name (wire.OpDiscover).
//
// A host whose fleet entry has ad_unreachable answers the fault "unavailable" with the text
// the script writes when the configuration partition cannot be read over a second hop.
func opDiscover(h *Handler, c *call) (any, *wire.Fault) {
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
	res := wire.DiscoverResult{Organization: org, Servers: []wire.DiscoveredServer{}}
	for _, o := range hosts {
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

// domainDN is the domain naming context of a DNS name's domain ("ex01.contoso.local" ->
// "DC=contoso,DC=local"); the fleet's default domain for a bare name.
func domainDN(fqdn string) string {
	domain := defaultDomain
	if i := strings.IndexByte(fqdn, '.'); i > 0 && i < len(fqdn)-1 {
		domain = fqdn[i+1:]
	}
	return "DC=" + strings.Join(strings.Split(domain, "."), ",DC=")
}
