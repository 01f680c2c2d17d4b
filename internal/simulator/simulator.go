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

	// Clock is the simulated time installs, locks, reboots and the journal use; nil is
	// real time. Tests that decide when a job finishes pass a *ManualClock.
	Clock Clock
	// InstallDuration is how long a service pack job runs (default 2s); update rollup
	// installs and uninstalls take half of it, interim updates and UM language packs a
	// quarter.
	InstallDuration time.Duration
	// RebootDuration is how long a rebooting host stays unreachable (default 1s).
	RebootDuration time.Duration
	// Packages says what the files and folders a job_start names install, by path (added
	// to the fleet's `packages`; see Package).
	Packages map[string]Package
	// MissingPaths are package or media paths absent on every host ("package not found").
	MissingPaths []string
	// DisabledAfterInstall are the Exchange services an SP or RU install leaves Disabled,
	// as a silent install can. nil means MSExchangeTransport; an empty,
	// non-nil list means none. A server's `disabled_after_install` overrides it.
	DisabledAfterInstall []string
	// ControlAddr, when set, is the loopback host:port the control endpoint (an
	// administrator's manual actions, control.go) listens on; port 0 picks a free one.
	ControlAddr string

	// modelOverWinRM serves the hosts without WinRM (servesWinRM) over WinRM all the same.
	// Only this package's own tests of its Exchange 5.5/2000 model set it, reaching those
	// hosts as a future management host would reach real ones by other means; nothing
	// outside the package can, so no provider test reaches such a host.
	modelOverWinRM bool
}

// Simulator runs a fleet. Start it, point the provider at its addresses, Close it.
type Simulator struct {
	fleet     *Fleet
	hosts     []*Host
	endpoints map[*Host]*wsman.Server
	nets      map[*Host]*hostNet
	journal   *journal
	env       *env
	errLog    *log.Logger
	caPEM     []byte
	httpPort  int
	httpsPort int
	fresh     *freshConns

	control     *http.Server // the control endpoint, nil unless Options.ControlAddr
	controlAddr string
	// virtualServers serve the virtual names' own addresses (virtual.go); guarded by mu.
	virtualServers []*http.Server

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
		nets:      map[*Host]*hostNet{},
		journal:   &journal{w: o.Journal},
		fresh:     &freshConns{conns: map[net.Conn]bool{}},
	}
	s.env = newEnv(o, s.journal)
	for path, p := range f.Packages {
		if err := s.env.packages.register(path, p); err != nil {
			return nil, err
		}
	}
	for path, p := range o.Packages {
		if err := s.env.packages.register(path, p); err != nil {
			return nil, err
		}
	}
	for _, srv := range f.Servers {
		for _, flt := range srv.Faults {
			if _, err := flt.normalize(); err != nil {
				return nil, fmt.Errorf("simulator: %s: %w", srv.Name, err)
			}
		}
	}

	clusters := map[string]*LiveCluster{} // lower-case node name -> its cluster
	for _, c := range f.Clusters {
		cs := newLiveCluster(c, f.Servers)
		for _, n := range c.Nodes {
			clusters[strings.ToLower(n)] = cs
		}
	}
	// Truncated to the second as WMI's LastBootUpTime is compared by people, and so the
	// value survives any JSON round trip unchanged.
	boot := s.env.clock.Now().UTC().Truncate(time.Second)
	auth := func(user, password string) bool {
		// Windows account names ignore case; passwords do not.
		okUser := strings.EqualFold(user, f.Credentials.Username)
		okPass := subtle.ConstantTimeCompare([]byte(password), []byte(f.Credentials.Password)) == 1
		return okUser && okPass
	}
	var addrs []netip.Addr
	for _, srv := range f.Servers {
		h := newHost(srv, clusters[strings.ToLower(srv.Name)], boot)
		h.env = s.env
		for _, p := range o.MissingPaths {
			h.missing[normalizePath(p)] = true
		}
		s.hosts = append(s.hosts, h)
		addrs = append(addrs, srv.Address)
		handler := &Handler{host: h, journal: s.journal, latency: o.Latency, password: f.Credentials.Password}
		counts := &counters{}
		opts := wsman.Options{
			Handler:          s.guard(counts.countingProcesses(handler)),
			NTLM:             &wsman.Account{Username: f.Credentials.Username, Password: f.Credentials.Password},
			AllowUnencrypted: f.WinRM.AllowUnencrypted,
			ComputerName:     srv.Name,
			MaxShellsPerUser: o.MaxShellsPerUser,
			ReceiveTimeout:   o.ReceiveTimeout,
		}
		if f.WinRM.Basic {
			opts.Authenticate = auth
		}
		ep := wsman.NewServer(opts)
		s.endpoints[h] = ep
		n := &hostNet{s: s, host: h, endpoint: ep, counts: counts}
		s.nets[h] = n
		h.endpoint, h.net = ep, n
	}

	// The directory discover reads: every host, whatever the host discover runs on.
	s.env.organization = f.Organization
	if s.env.organization == "" {
		s.env.organization = DefaultOrganization
	}
	s.env.hosts = append([]*Host(nil), s.hosts...)

	s.errLog = o.Log
	if s.errLog == nil {
		s.errLog = log.New(io.Discard, "", 0)
	}
	// Every address is listened on, so a port picked free is free on all of them, then a
	// host without WinRM closes its listener at once: its port refuses connections, as a
	// Windows 2000 or NT 4.0 server's does (servesWinRM).
	serve := func(l net.Listener, h *Host, cfg *tls.Config) {
		if !h.winrm && !o.modelOverWinRM {
			l.Close()
			return
		}
		n := s.nets[h]
		ln := &listening{addr: l.Addr().String(), tls: cfg}
		n.listening = append(n.listening, ln)
		if cfg != nil {
			l = tls.NewListener(l, cfg)
		}
		s.mu.Lock()
		s.serveLocked(n, ln, l)
		s.mu.Unlock()
	}

	// The virtual names with an address of their own listen on the same ports.
	virtual := s.virtualNames()
	for _, v := range virtual {
		addrs = append(addrs, v.addr)
	}
	if !o.DisableHTTP {
		ls, port, err := listenAll(addrs, o.HTTPPort)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("simulator: HTTP: %w", err)
		}
		s.httpPort = port
		for i, l := range ls[:len(s.hosts)] {
			serve(l, s.hosts[i], nil)
		}
		for i, l := range ls[len(s.hosts):] {
			if !virtual[i].reachable() && !o.modelOverWinRM {
				l.Close()
				continue
			}
			s.serveVirtual(virtual[i], l)
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
		for i, v := range virtual {
			l := ls[len(s.hosts)+i]
			if !v.reachable() && !o.modelOverWinRM {
				l.Close()
				continue
			}
			cert, err := ca.leaf(v.group, "", v.addr)
			if err != nil {
				for _, l := range ls {
					l.Close()
				}
				s.Close()
				return nil, fmt.Errorf("simulator: certificate for %s: %w", v.group, err)
			}
			s.serveVirtual(v, tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
		}
		ls = ls[:len(s.hosts)]
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
			serve(l, s.hosts[i], cfg)
		}
	}
	if o.ControlAddr != "" {
		if err := s.listenControl(o.ControlAddr); err != nil {
			s.Close()
			return nil, err
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
				p = l.Addr().(*net.TCPAddr).Port //nolint:forcetypeassert // a "tcp" listener's address is a *net.TCPAddr
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
			return ls, ls[0].Addr().(*net.TCPAddr).Port, nil //nolint:forcetypeassert // a "tcp" listener's address is a *net.TCPAddr
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
		// No job finishes, no host goes down or comes back from now on.
		s.env.close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, e := range s.endpoints {
			// Cancels running commands, so a Receive waiting on one returns and the
			// connection goes idle for Shutdown.
			e.Close()
		}
		s.mu.Lock()
		var servers []*http.Server
		for _, n := range s.nets {
			for _, ln := range n.listening {
				if ln.hs != nil {
					ln.l.Close()
					servers = append(servers, ln.hs)
					ln.hs, ln.l = nil, nil
				}
			}
		}
		if s.control != nil {
			servers = append(servers, s.control)
		}
		servers = append(servers, s.virtualServers...)
		s.mu.Unlock()
		// Shutdown waits up to five seconds for connections that never sent a request
		// (Go's HTTP client dials spares); nothing is lost by closing them now.
		s.fresh.closeAll()
		for _, hs := range servers {
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

// RegisterPackage says what the file or folder at path installs (see Package), for every
// host; it replaces an earlier registration of the same path.
func (s *Simulator) RegisterPackage(path string, p Package) error {
	return s.env.packages.register(path, p)
}

// Clock is the clock the simulator runs on (Options.Clock, or real time).
func (s *Simulator) Clock() Clock { return s.env.clock }

// listening is one address a host serves on, and the server serving it while the host is up.
type listening struct {
	addr string
	tls  *tls.Config // nil: plain HTTP
	// hs and l are set while serving; guarded by Simulator.mu.
	hs *http.Server
	l  net.Listener
}

// serveLocked starts serving l for host n at ln. Called with s.mu held and !s.closed.
func (s *Simulator) serveLocked(n *hostNet, ln *listening, l net.Listener) {
	hs := &http.Server{Handler: n, ReadHeaderTimeout: 10 * time.Second, ErrorLog: s.errLog, ConnState: s.fresh.track,
		ConnContext: n.endpoint.ConnContext} // NTLM authenticates a connection
	ln.hs, ln.l = hs, l
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		_ = hs.Serve(l) // returns http.ErrServerClosed on Close
	}()
}

// hostNet is one host's side of the network: it serves the host's WS-Management endpoint,
// takes its listeners down for a reboot and opens them again on the same addresses, and
// tells when the answer of a given command has reached the client.
type hostNet struct {
	s         *Simulator
	host      *Host
	endpoint  *wsman.Server
	listening []*listening // fixed after Start
	counts    *counters

	mu        sync.Mutex
	watchID   string // the command whose answer is awaited, "" when none
	delivered func()
}

// ServeHTTP serves the endpoint and, while a reboot waits for its answer to be delivered,
// watches for the Receive that carries that command's end. The watch is read when the
// answer is written, not when the request arrives: the client's Receive is usually
// waiting already when the reboot operation finishes.
func (n *hostNet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.counts.http.Add(1)
	cw := &captureWriter{ResponseWriter: w, n: n}
	n.endpoint.ServeHTTP(cw, r)
	if cw.watched == "" {
		return
	}
	body := cw.buf.String()
	marker := `CommandId="` + cw.watched + `" State="`
	if i := strings.Index(body, marker); i >= 0 && strings.HasPrefix(body[i+len(marker):], stateDonePrefix) {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		n.fire(cw.watched)
	}
}

// stateDonePrefix starts the CommandState of a finished command.
const stateDonePrefix = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"

// captureWriter keeps a copy of what a handler writes while a delivery is awaited.
type captureWriter struct {
	http.ResponseWriter
	n       *hostNet
	watched string
	buf     strings.Builder
}

// Unwrap lets http.ResponseController reach the connection (a reset fault hijacks it).
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.watched == "" {
		c.n.mu.Lock()
		c.watched = c.n.watchID
		c.n.mu.Unlock()
	}
	if c.watched != "" {
		c.buf.Write(p)
	}
	return c.ResponseWriter.Write(p)
}

func (n *hostNet) awaitDelivery(commandID string, f func()) {
	n.mu.Lock()
	n.watchID, n.delivered = commandID, f
	n.mu.Unlock()
	// A client that gave up on the command never reads its answer: go down anyway.
	n.s.env.realAfter(shutdownFallback, func() { n.fire(commandID) })
}

// fire runs the delivery callback of commandID once, a moment later so the answer leaves
// the socket first.
func (n *hostNet) fire(commandID string) {
	n.mu.Lock()
	f := n.delivered
	if n.watchID != commandID || f == nil {
		n.mu.Unlock()
		return
	}
	n.watchID, n.delivered = "", nil
	n.mu.Unlock()
	n.s.env.realAfter(shutdownGrace, f)
}

// down closes the host's listeners and connections and drops its WinRM shells: new
// connections are refused until up.
func (n *hostNet) down() {
	s := n.s
	s.mu.Lock()
	var servers []*http.Server
	for _, ln := range n.listening {
		if ln.hs != nil {
			ln.l.Close()
			servers = append(servers, ln.hs)
			ln.hs, ln.l = nil, nil
		}
	}
	s.mu.Unlock()
	for _, hs := range servers {
		hs.Close()
	}
	n.endpoint.Close()
}

// up listens again on every address the host served before down.
func (n *hostNet) up() {
	s := n.s
	for _, ln := range n.listening {
		var l net.Listener
		var err error
		for attempt := 0; attempt < 100; attempt++ {
			if l, err = net.Listen("tcp", ln.addr); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			s.errLog.Printf("simulator: %s cannot listen on %s again after its reboot: %v", n.host.name, ln.addr, err)
			continue
		}
		if ln.tls != nil {
			l = tls.NewListener(l, ln.tls)
		}
		s.mu.Lock()
		if s.closed || ln.hs != nil {
			s.mu.Unlock()
			l.Close()
			continue
		}
		s.serveLocked(n, ln, l)
		s.mu.Unlock()
	}
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

// Addr is the IP address server listens on, e.g. "127.0.10.11" (or a CMS/EVS name's own address,
// when the fleet gives it one), or "" for an unknown name.
func (s *Simulator) Addr(server string) string {
	if h := s.Host(server); h != nil {
		return h.address.String()
	}
	for _, c := range s.fleet.Clusters {
		for _, g := range c.ExchangeGroups() {
			if strings.EqualFold(g.Name, server) && g.Address.IsValid() {
				return g.Address.String()
			}
		}
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

// Bounce restarts the simulator's serving side: every host's listeners close (connections
// drop, WinRM shells are gone), and after pause they listen again on the same addresses
// and ports. Each host's state (jobs, locks, services, builds) is kept, as the state of a
// real server is when the service in front of it restarts. Each host journals a system
// entry. It returns once every host listens again.
func (s *Simulator) Bounce(pause time.Duration) {
	for _, h := range s.hosts {
		if n := s.nets[h]; n != nil {
			s.journal.record(Entry{Server: h.name, Operation: operationSystem, Outcome: outcomeOK, Detail: "WinRM endpoint restarted with the simulator"})
			n.down()
		}
	}
	time.Sleep(pause)
	for _, h := range s.hosts {
		if n := s.nets[h]; n != nil && h.Reachable() {
			n.up()
		}
	}
}
