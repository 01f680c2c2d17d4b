package simulator

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// A virtual name's own address. On a real cluster a CMS's or an EVS's network name resolves
// to the group's IP Address resource, which is online on the node that owns the group and
// moves with it; WinRM on that node listens on every address it has, so a connection to the
// name reaches whichever node runs the group, and nobody answers while the IP Address
// resource is offline. (Windows Server 2003 cluster documentation, "IP Address resource
// type" and "Network Name resource type"; WinRM's listener on Address=* by default,
// "Installation and Configuration for Windows Remote Management".) A fleet cluster's
// `address` (and each virtual server's) is such an address: the simulator listens on it
// and hands each request to the node that owns the group at that moment.

// virtualName serves one CMS/EVS network name's address.
type virtualName struct {
	s       *Simulator
	cluster *LiveCluster
	group   string
	addr    netip.Addr
}

// ServeHTTP hands the request to the owner node's endpoint while the group's IP Address
// resource is online there and the node is up; otherwise the connection is dropped
// unanswered, as an address no node holds would be.
func (v *virtualName) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := v.owner(); n != nil {
		n.ServeHTTP(w, r)
		return
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	http.Error(w, "", http.StatusServiceUnavailable)
}

// owner is the network of the node that answers the virtual name now, or nil.
func (v *virtualName) owner() *hostNet {
	c := v.cluster
	c.mu.Lock()
	g := c.findGroupLocked(v.group)
	online := false
	var node string
	if g != nil && c.service[strings.ToLower(g.owner)] {
		node = g.owner
		for _, r := range g.resources {
			online = online || r.Type == ResourceIPAddress && r.State == StateOnline
		}
	}
	c.mu.Unlock()
	n := v.s.nets[c.hosts[strings.ToLower(node)]]
	if !online || n == nil {
		return nil
	}
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	for _, ln := range n.listening {
		if ln.hs != nil {
			return n // the node is up (not rebooting)
		}
	}
	return nil
}

// virtualNames are the fleet's virtual names that have an address of their own.
func (s *Simulator) virtualNames() []*virtualName {
	var out []*virtualName
	for _, c := range s.fleet.Clusters {
		for _, g := range c.ExchangeGroups() {
			if g.Address.IsValid() {
				out = append(out, &virtualName{s: s, cluster: s.Cluster(c.Name), group: g.Name, addr: g.Address})
			}
		}
	}
	return out
}

// serveVirtual serves virtual name v on l (TLS already applied when HTTPS).
func (s *Simulator) serveVirtual(v *virtualName, l net.Listener) {
	hs := &http.Server{Handler: v, ReadHeaderTimeout: 10 * time.Second, ErrorLog: s.errLog, ConnState: s.fresh.track,
		ConnContext: s.endpoints[s.hosts[0]].ConnContext} // per-connection NTLM state, the same for every endpoint
	s.mu.Lock()
	s.virtualServers = append(s.virtualServers, hs)
	s.mu.Unlock()
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		_ = hs.Serve(l)
	}()
}
