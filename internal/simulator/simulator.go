// Package simulator plays an Exchange organisation for tests and demos: every server of a
// fleet file listens on its own loopback address and speaks real WS-Management, runs the
// provider's operations against a model of the host, rejects what it does not understand
// and journals everything it did. See docs/simulator.md.
package simulator

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

// Options configure a Simulator. The zero value serves HTTP and HTTPS on ports picked free.
type Options struct {
	// HTTPPort and HTTPSPort are the ports every server listens on, each on its own
	// address. 0 picks a port that is free on all of the addresses, so the provider's
	// single `port` setting reaches every server.
	HTTPPort, HTTPSPort int
	// DisableHTTP and DisableHTTPS turn a listener off.
	DisableHTTP, DisableHTTPS bool
	// Journal, when set, receives every journal entry as a JSON line as soon as it happens.
	Journal io.Writer
	// ReceiveTimeout and MaxShellsPerUser are passed to each host's WS-Management endpoint
	// (0: the endpoint's defaults, one second and five shells).
	ReceiveTimeout   time.Duration
	MaxShellsPerUser int
	// Latency is added to every operation, to make benchmarks look like a real network
	// and a slow PowerShell start.
	Latency time.Duration
	// Log receives the HTTP servers' errors (e.g. TLS handshakes a client aborted);
	// nil discards them.
	Log *log.Logger
}

// Simulator runs a fleet. Start it, point the provider at its addresses, Close it.
type Simulator struct {
	fleet     *Fleet
	hosts     []*Host
	endpoints map[*Host]*wsman.Server
	journal   *journal
	caPEM     []byte
	httpPort  int
	httpsPort int
	servers   []*http.Server
	listeners []net.Listener
	fresh     *freshConns

	serving sync.WaitGroup // Serve goroutines

	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup // operations in progress; Add only under mu while !closed

	closeOnce sync.Once
	closeErr  error
}

// Start builds a host for each server of f and listens for every one of them. It returns
// once all listeners accept connections.
func Start(f *Fleet, o Options) (*Simulator, error) {
	if f == nil || len(f.Servers) == 0 {
		return nil, errors.New("simulator: the fleet has no servers")
	}
	if o.DisableHTTP && o.DisableHTTPS {
		return nil, errors.New("simulator: both HTTP and HTTPS are disabled: nothing to serve")
	}
	s := &Simulator{
		fleet:     f,
		endpoints: map[*Host]*wsman.Server{},
		journal:   &journal{w: o.Journal},
		fresh:     &freshConns{conns: map[net.Conn]bool{}},
	}

	clusters := map[string]*clusterState{} // lower-case node name -> its cluster
	for _, c := range f.Clusters {
		cs := &clusterState{name: c.Name, typ: c.Type, nodes: append([]string(nil), c.Nodes...), active: c.Active}
		for _, n := range c.Nodes {
			clusters[strings.ToLower(n)] = cs
		}
	}
	// Truncated to the second as WMI's LastBootUpTime is compared by people, and so the
	// value survives any JSON round trip unchanged.
	boot := time.Now().UTC().Truncate(time.Second)
	auth := func(user, password string) bool {
		// Windows account names ignore case; passwords do not.
		okUser := strings.EqualFold(user, f.Credentials.Username)
		okPass := subtle.ConstantTimeCompare([]byte(password), []byte(f.Credentials.Password)) == 1
		return okUser && okPass
	}
	var addrs []netip.Addr
	for _, srv := range f.Servers {
		h := newHost(srv, clusters[strings.ToLower(srv.Name)], boot)
		s.hosts = append(s.hosts, h)
		addrs = append(addrs, srv.Address)
		handler := &Handler{host: h, journal: s.journal, latency: o.Latency, password: f.Credentials.Password}
		s.endpoints[h] = wsman.NewServer(wsman.Options{
			Handler:          s.guard(handler),
			Authenticate:     auth,
			MaxShellsPerUser: o.MaxShellsPerUser,
			ReceiveTimeout:   o.ReceiveTimeout,
		})
	}

	errLog := o.Log
	if errLog == nil {
		errLog = log.New(io.Discard, "", 0)
	}
	serve := func(l net.Listener, h *Host) {
		hs := &http.Server{Handler: s.endpoints[h], ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog, ConnState: s.fresh.track}
		s.servers = append(s.servers, hs)
		s.listeners = append(s.listeners, l)
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			_ = hs.Serve(l) // returns http.ErrServerClosed on Close
		}()
	}

	if !o.DisableHTTP {
		ls, port, err := listenAll(addrs, o.HTTPPort)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("simulator: HTTP: %w", err)
		}
		s.httpPort = port
		for i, l := range ls {
			serve(l, s.hosts[i])
		}
	}
	if !o.DisableHTTPS {
		ca, err := newAuthority()
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("simulator: making the CA: %w", err)
		}
		s.caPEM = ca.pem
		ls, port, err := listenAll(addrs, o.HTTPSPort)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("simulator: HTTPS: %w", err)
		}
		s.httpsPort = port
		for i, l := range ls {
			srv := f.Servers[i]
			cert, err := ca.leaf(srv.Name, srv.FQDN, srv.Address)
			if err != nil {
				for _, l := range ls[i:] {
					l.Close()
				}
				s.Close()
				return nil, fmt.Errorf("simulator: certificate for %s: %w", srv.Name, err)
			}
			cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
			serve(tls.NewListener(l, cfg), s.hosts[i])
		}
	}
	return s, nil
}

// guard counts operations in progress so Close can wait for them, and refuses new ones
// once closing has begun.
func (s *Simulator) guard(h wsman.Handler) wsman.Handler {
	return wsman.HandlerFunc(func(ctx context.Context, cmd wsman.Command) wsman.Result {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return wsman.Result{Stderr: []byte("simulator: shutting down\n"), ExitCode: 1}
		}
		s.running.Add(1)
		s.mu.Unlock()
		defer s.running.Done()
		return h.Run(ctx, cmd)
	})
}

// listenAll listens on port at every address. Port 0 picks one port free on all of them:
// the kernel picks a free port on the first address, the others try the same, and on a
// conflict everything is closed and tried again.
func listenAll(addrs []netip.Addr, port int) ([]net.Listener, int, error) {
	listen := func(p int) ([]net.Listener, error) {
		var ls []net.Listener
		for _, a := range addrs {
			l, err := net.Listen("tcp", netip.AddrPortFrom(a, uint16(p)).String())
			if err != nil {
				for _, l := range ls {
					l.Close()
				}
				return nil, err
			}
			ls = append(ls, l)
			if p == 0 {
				p = l.Addr().(*net.TCPAddr).Port
			}
		}
		return ls, nil
	}
	if port != 0 {
		ls, err := listen(port)
		return ls, port, explainListen(err)
	}
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		var ls []net.Listener
		ls, err = listen(0)
		if err == nil {
			return ls, ls[0].Addr().(*net.TCPAddr).Port, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, 0, explainListen(err)
}

func explainListen(err error) error {
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		// Linux routes all of 127.0.0.0/8 to the loopback interface; macOS only 127.0.0.1.
		return fmt.Errorf("%w (on macOS, add each loopback address first: sudo ifconfig lo0 alias 127.0.10.11 up)", err)
	}
	return err
}

// Close stops every listener, cancels the commands still running and waits for them and
// for the servers' goroutines. It returns the first error writing the journal, if any.
func (s *Simulator) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, e := range s.endpoints {
			// Cancels running commands, so a Receive waiting on one returns and the
			// connection goes idle for Shutdown.
			e.Close()
		}
		for _, l := range s.listeners {
			l.Close()
		}
		// Shutdown waits up to five seconds for connections that never sent a request
		// (Go's HTTP client dials spares); nothing is lost by closing them now.
		s.fresh.closeAll()
		for _, hs := range s.servers {
			if hs.Shutdown(ctx) != nil {
				hs.Close()
			}
		}
		s.serving.Wait()
		s.running.Wait()
		s.closeErr = s.journal.writeErr()
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("simulator: writing the journal: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// Fleet is the fleet the simulator was started with.
func (s *Simulator) Fleet() *Fleet { return s.fleet }

// Hosts lists the hosts in fleet order.
func (s *Simulator) Hosts() []*Host { return append([]*Host(nil), s.hosts...) }

// Host returns the host called name (case-insensitive), or nil.
func (s *Simulator) Host(name string) *Host {
	for _, h := range s.hosts {
		if strings.EqualFold(h.name, name) {
			return h
		}
	}
	return nil
}

// Endpoint returns the WS-Management endpoint of server, for tests that inspect or
// disturb the transport (Stats, FailNext); nil for an unknown server.
func (s *Simulator) Endpoint(server string) *wsman.Server {
	if h := s.Host(server); h != nil {
		return s.endpoints[h]
	}
	return nil
}

// Addr is the IP address server listens on, e.g. "127.0.10.11", or "" for an unknown server.
func (s *Simulator) Addr(server string) string {
	if h := s.Host(server); h != nil {
		return h.address.String()
	}
	return ""
}

// HTTPPort is the port every server serves plain HTTP on; 0 when disabled.
func (s *Simulator) HTTPPort() int { return s.httpPort }

// HTTPSPort is the port every server serves HTTPS on; 0 when disabled.
func (s *Simulator) HTTPSPort() int { return s.httpsPort }

// URL is server's WS-Management endpoint, e.g. "https://127.0.10.11:5986/wsman"; "" when
// the server is unknown or the scheme is disabled.
func (s *Simulator) URL(server string, https bool) string {
	addr, port, scheme := s.Addr(server), s.httpPort, "http"
	if https {
		port, scheme = s.httpsPort, "https"
	}
	if addr == "" || port == 0 {
		return ""
	}
	return scheme + "://" + net.JoinHostPort(addr, strconv.Itoa(port)) + "/wsman"
}

// CACertPEM is the certificate of the authority that signed every server's HTTPS
// certificate; clients trust it to verify the servers. Nil when HTTPS is disabled.
func (s *Simulator) CACertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// Journal returns a copy of every entry so far, in order.
func (s *Simulator) Journal() []Entry { return s.journal.snapshot() }

// freshConns tracks connections that have not sent a request yet, so Close can drop them.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (f *freshConns) track(c net.Conn, state http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state == http.StateNew {
		f.conns[c] = true
	} else {
		delete(f.conns, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
		delete(f.conns, c)
	}
}
