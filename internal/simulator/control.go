package simulator

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// The control endpoint: what an administrator does by hand on a real server, offered to
// tests and the demo over HTTP on a loopback address of its own (Options.ControlAddr),
// never on a server's WS-Management address, so no script the provider runs can reach it.
// `exchange-sim upgrade-evs` calls it. Each manual step of a plan (a step whose params say
// manual = "true") has its action here:
//
//	POST /control/upgrade-evs?evs=NAME[&node=NODE]
//	    Upgrade Exchange Virtual Server (UpgradeVirtualServer) of Exchange 2003 virtual
//	    server NAME in Cluster Administrator on NODE (default: the node that owns it).
//
// Answers are plain text: 200 with what was done, 404 when no cluster has the virtual
// server, 409 with the refusal (as Exchange refuses it), 400 for a bad request.

// ControlPathUpgradeEVS is the control endpoint's path for Upgrade Exchange Virtual Server.
const ControlPathUpgradeEVS = "/control/upgrade-evs"

// ControlHandler serves the control endpoint (see above); it refuses callers that are not
// on a loopback address.
func (s *Simulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(ControlPathUpgradeEVS, s.controlUpgradeEVS)
	return loopbackOnly(mux)
}

func (s *Simulator) controlUpgradeEVS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST: an administrator's action changes the simulated servers", http.StatusMethodNotAllowed)
		return
	}
	evs, node := r.URL.Query().Get("evs"), r.URL.Query().Get("node")
	if evs == "" {
		http.Error(w, "name the virtual server: ?evs=NAME (and optionally &node=NODE, the node Cluster Administrator runs on)", http.StatusBadRequest)
		return
	}
	c := s.Cluster(evs)
	g := (*ClusterGroupState)(nil)
	if c != nil {
		g = c.State().Group(evs)
	}
	if g == nil {
		http.Error(w, fmt.Sprintf("no cluster of the fleet has a virtual server %q", evs), http.StatusNotFound)
		return
	}
	if node == "" {
		node = g.Owner
	}
	detail, err := c.upgradeVirtualServer(evs, node)
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, detail)
}

// loopbackOnly refuses requests from addresses other than loopback ones.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			http.Error(w, "the simulator's control answers loopback callers only", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// listenControl serves the control endpoint on addr, which must be a loopback address.
func (s *Simulator) listenControl(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("simulator: control address %q: %w (give host:port, e.g. 127.0.0.1:0)", addr, err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return fmt.Errorf("simulator: control address %q: give a loopback IP address, e.g. 127.0.0.1:0: the control changes the simulated servers and must not be reachable from elsewhere", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("simulator: control: %w", err)
	}
	s.control = &http.Server{Handler: s.ControlHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: s.errLog}
	s.controlAddr = l.Addr().String()
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := s.control.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errLog.Printf("control: %v", err)
		}
	}()
	return nil
}

// ControlAddr is the address (host:port) the control endpoint listens on; "" when
// Options.ControlAddr was not set.
func (s *Simulator) ControlAddr() string { return s.controlAddr }

// upgradeVirtualServer is UpgradeVirtualServer returning what was done.
func (c *LiveCluster) upgradeVirtualServer(evs, on string) (string, error) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	views := c.views()
	c.mu.Lock()
	detail, err := c.upgradeVirtualServerLocked(evs, on, views)
	c.mu.Unlock()
	if err != nil {
		c.journalUpgrade(on, evs, outcomeRejected, err.Error())
		return "", err
	}
	c.journalUpgrade(on, evs, outcomeOK, detail)
	return detail, nil
}
