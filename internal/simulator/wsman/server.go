package wsman

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a WS-Management endpoint (POST /wsman) that runs every command with the
// Options' Handler. It is safe for concurrent use.
type Server struct {
	opts      Options
	receive   time.Duration
	maxShells int

	// base is the parent of every command's context; Close cancels it.
	base context.Context
	stop context.CancelFunc

	mu         sync.Mutex
	shells     map[string]*shell
	openShells map[string]int // per user
	running    map[string]int // commands whose handler runs, per user
	maxRunning map[string]int // the most running at once, per user
	failN      int
	failStatus int
	resetN     int // requests whose connection is reset (ResetNext)
	refuseN    int // shell Creates refused over the quota (RefuseShellsNext)
	stats      Stats
}

// Stats are counters for tests.
type Stats struct {
	// Requests counts every HTTP request, including rejected and failed ones.
	Requests int
	// Unauthorized counts requests answered 401, NTLM challenges included.
	Unauthorized int
	// UnencryptedRefused counts requests refused because they came over HTTP unsealed (or
	// with Basic) while AllowUnencrypted is off; they are among Unauthorized too.
	UnencryptedRefused int
	// Sealed counts requests that arrived sealed with NTLM (multipart/encrypted).
	Sealed int
	// InjectedFailures counts requests answered by FailNext.
	InjectedFailures int
	// InjectedResets counts requests whose connection ResetNext reset.
	InjectedResets int
	// ShellsCreated counts successful Create requests; OpenShells is how many remain open.
	ShellsCreated, OpenShells int
	// ShellsDeleted counts shells the client deleted (a Delete request).
	ShellsDeleted int
	// ShellQuotaFaults counts Create requests refused by MaxShellsPerUser.
	ShellQuotaFaults int
	// CommandsStarted counts commands; CommandsRunning is how many handlers run now.
	CommandsStarted, CommandsRunning int
	// Sends counts Send requests (stdin chunks).
	Sends int
	// TimedOutReceives counts Receive requests answered with the w:TimedOut fault.
	TimedOutReceives int
	// Signals counts Signal requests.
	Signals int
	// Faults counts all SOAP faults sent, TimedOut included.
	Faults int
}

type shell struct {
	id, user string
	commands map[string]*command
}

type command struct {
	id     string
	shell  *shell
	cancel context.CancelFunc
	stdin  *stdinPipe
	// finished is closed when the handler has returned; the fields below are then set.
	finished chan struct{}

	// Guarded by Server.mu.
	stdout, stderr []byte // output not yet delivered by a Receive
	done           bool
	exitCode       int
	signalled      bool
	unauthorized   bool // Result.Unauthorized: the Receive answers HTTP 401
}

// NewServer returns an endpoint configured by o.
func NewServer(o Options) *Server {
	s := &Server{
		opts:       o,
		receive:    o.ReceiveTimeout,
		maxShells:  o.MaxShellsPerUser,
		shells:     map[string]*shell{},
		openShells: map[string]int{},
		running:    map[string]int{},
		maxRunning: map[string]int{},
	}
	if s.receive <= 0 {
		s.receive = time.Second
	}
	if s.maxShells <= 0 {
		s.maxShells = 5
	}
	s.base, s.stop = context.WithCancel(context.Background())
	return s
}

// FailNext makes the next n requests answer HTTP status (e.g. 503) without being processed,
// as an overloaded server, HTTP.sys or a proxy in front of WinRM would: an HTML body, not a
// SOAP fault. Status 401 answers like a failed login. n <= 0 cancels injected failures.
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// ResetNext resets the TCP connection of the next n requests instead of answering them
// (the peer sees "connection reset by peer"), as a load balancer or a firewall dropping the
// connection would; a Receive already waiting for a command that finishes is reset as it
// would answer. n <= 0 cancels injected resets.
func (s *Server) ResetNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetN = max(n, 0)
}

// RefuseShellsNext refuses the next n shell Create requests with the MaxShellsPerUser
// fault, as when other sessions of the same user hold every shell the quota allows.
// n <= 0 cancels.
func (s *Server) RefuseShellsNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseN = max(n, 0)
}

// reset closes the request's connection with an RST: linger 0 on the TCP socket under
// any TLS layer.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // not hijackable (HTTP/2): abort the stream instead
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.OpenShells = len(s.shells)
	return st
}

// Requests is the number of HTTP requests served.
func (s *Server) Requests() int { return s.Stats().Requests }

// ShellsCreated is the number of shells created.
func (s *Server) ShellsCreated() int { return s.Stats().ShellsCreated }

// OpenShells is the number of shells open now for user.
func (s *Server) OpenShells(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.openShells[user]
}

// MaxConcurrentCommands is the most commands of user that ever ran at the same time.
func (s *Server) MaxConcurrentCommands(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxRunning[user]
}

// Close deletes every shell and cancels every running command. The server keeps answering
// requests afterwards (with faults for the old shells); it is for test clean-up.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.shells {
		s.deleteShellLocked(id)
	}
	s.stop()
	s.base, s.stop = context.WithCancel(context.Background())
}

// maxBody bounds a request body; the client's MaxEnvelopeSize is 150 KiB.
const maxBody = 16 << 20

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Requests++
	if s.resetN > 0 {
		s.resetN--
		s.stats.InjectedResets++
		s.mu.Unlock()
		reset(w)
		return
	}
	if s.failN > 0 {
		s.failN--
		s.stats.InjectedFailures++
		status := s.failStatus
		s.mu.Unlock()
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
		if status == http.StatusUnauthorized {
			s.unauthorized(w, r)
			return
		}
		// Like HTTP.sys or a proxy in front of WinRM: an HTML page, not a SOAP fault.
		text := http.StatusText(status)
		w.Header().Set("Content-Type", "text/html; charset=us-ascii")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "<HTML><HEAD><TITLE>%s</TITLE></HEAD><BODY><h2>%s</h2><hr><p>HTTP Error %d. %s</p></BODY></HTML>", text, text, status, text)
		return
	}
	s.mu.Unlock()

	if r.URL.Path != "/wsman" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	user, conn, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.fail(w, r, "", invalidXMLFault("The request body could not be read."))
		return
	}
	authenticated := s.opts.Authenticate != nil || s.opts.NTLM != nil
	contentType := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(strings.ToLower(contentType), "multipart/encrypted"):
		if conn == nil || conn.session == nil {
			// A sealed message on a connection that has no security context.
			s.mu.Lock()
			s.stats.Unauthorized++
			s.mu.Unlock()
			s.unauthorized(w, r)
			return
		}
		plain, err := openSealed(raw, contentType, conn.session)
		if err != nil {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.stats.Sealed++
		s.mu.Unlock()
		raw = plain
		// The answer is sealed too: collect it, then seal it.
		rec := &recorder{header: http.Header{}}
		defer rec.sealTo(w, conn.session)
		w = rec
	case len(raw) == 0 && conn != nil && conn.authenticated:
		// The end of the NTLM handshake: the client authenticated with an empty request
		// before it sends sealed ones (MS-WSMV 2.2.9.1). WinRM answers 200 with no body.
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	case authenticated && r.TLS == nil && !s.opts.AllowUnencrypted:
		s.mu.Lock()
		s.stats.UnencryptedRefused++
		s.stats.Unauthorized++
		s.mu.Unlock()
		s.unauthorized(w, r)
		return
	}
	if !strings.Contains(contentType, "application/soap+xml") && !strings.HasPrefix(strings.ToLower(contentType), "multipart/encrypted") {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}

	var req request
	if err := xml.Unmarshal(raw, &req); err != nil {
		s.fail(w, r, "", invalidXMLFault(err.Error()))
		return
	}
	action := strings.TrimSpace(req.Header.Action)
	msgID := strings.TrimSpace(req.Header.MessageID)
	var f *fault
	switch action {
	case actionCreate:
		f = s.create(w, user, msgID)
	case actionCommand:
		f = s.command(w, &req, user, msgID)
	case actionSend:
		f = s.send(w, &req, user, msgID)
	case actionReceive:
		f = s.receiveOutput(w, r, &req, user, msgID)
	case actionSignal:
		f = s.signal(w, &req, user, msgID)
	case actionDelete:
		f = s.delete(w, &req, user, msgID)
	default:
		f = actionNotSupportedFault(action)
	}
	if f != nil {
		s.fail(w, r, msgID, f)
	}
}

// authenticate checks the request's Authorization: Basic, or a step of NTLM's handshake
// (NEGOTIATE answered with a CHALLENGE, AUTHENTICATE checked), or none on a connection NTLM
// has already authenticated. When it returns false it has answered the request.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (user string, conn *ntlmConn, ok bool) {
	conn, _ = r.Context().Value(connKey{}).(*ntlmConn)
	if s.opts.Authenticate == nil && s.opts.NTLM == nil {
		return "", conn, true
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case strings.EqualFold(scheme, "Negotiate") && s.opts.NTLM != nil && conn != nil:
		msg, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
		if err == nil && len(msg) >= 12 && binary.LittleEndian.Uint32(msg[8:]) == 1 {
			challenge, err := conn.ntlmChallenge(msg, s.computerName(), s.opts.NTLM.domain())
			if err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
				s.mu.Lock()
				s.stats.Unauthorized++
				s.mu.Unlock()
				w.Header().Set("WWW-Authenticate", "Negotiate "+base64.StdEncoding.EncodeToString(challenge))
				w.Header().Set("Content-Length", "0")
				w.WriteHeader(http.StatusUnauthorized)
				return "", nil, false
			}
		} else if err == nil {
			if user, err := conn.ntlmAuthenticate(msg, *s.opts.NTLM); err == nil {
				return user, conn, true
			}
		}
		// A Kerberos or SPNEGO token, or a response that does not prove the password.
	case strings.EqualFold(scheme, "Basic") && s.opts.Authenticate != nil:
		if r.TLS == nil && !s.opts.AllowUnencrypted {
			// Basic over HTTP sends the password in the clear: WinRM does not take it.
			s.mu.Lock()
			s.stats.UnencryptedRefused++
			s.mu.Unlock()
			break
		}
		if user, pass, ok := r.BasicAuth(); ok && s.opts.Authenticate(user, pass) {
			return user, nil, true
		}
	case scheme == "" && conn != nil && conn.authenticated && r.ContentLength != 0:
		// A message on a connection NTLM authenticated. An empty request is a client
		// starting the handshake again (the pinned client does so before every message):
		// it gets the 401 that starts it. (Our reading; MS-WSMV is silent.)
		return conn.user, conn, true
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
	s.mu.Lock()
	s.stats.Unauthorized++
	s.mu.Unlock()
	s.unauthorized(w, r)
	return "", nil, false
}

func (s *Server) computerName() string {
	if s.opts.ComputerName != "" {
		return s.opts.ComputerName
	}
	return "WSMAN"
}

// unauthorized answers 401 with no body, offering the methods this endpoint takes on this
// channel: Negotiate when NTLM is on, Basic when it is on and the channel is HTTPS (or
// AllowUnencrypted).
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	_, hasConn := r.Context().Value(connKey{}).(*ntlmConn)
	if s.opts.NTLM != nil && hasConn {
		w.Header().Add("WWW-Authenticate", "Negotiate")
	}
	if s.opts.Authenticate != nil && (r.TLS != nil || s.opts.AllowUnencrypted) {
		w.Header().Add("WWW-Authenticate", `Basic realm="WSMAN"`)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusUnauthorized)
}

// connKey is the context key of a connection's *ntlmConn.
type connKey struct{}

// ConnContext gives every connection its own NTLM state; set it as the http.Server's
// ConnContext. NTLM authenticates a connection, not a request.
func (s *Server) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &ntlmConn{})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, msgID string, f *fault) {
	s.mu.Lock()
	s.stats.Faults++
	s.mu.Unlock()
	writeFault(w, r, msgID, f)
}

func (s *Server) create(w http.ResponseWriter, user, msgID string) *fault {
	s.mu.Lock()
	refused := s.refuseN > 0
	if refused {
		s.refuseN--
	}
	if refused || s.openShells[user] >= s.maxShells {
		s.stats.ShellQuotaFaults++
		s.mu.Unlock()
		return maxShellsFault(s.maxShells)
	}
	sh := &shell{id: newGUID(), user: user, commands: map[string]*command{}}
	s.shells[sh.id] = sh
	s.openShells[user]++
	s.stats.ShellsCreated++
	s.mu.Unlock()

	body := `<x:ResourceCreated><a:Address>` + anonymous + `</a:Address><a:ReferenceParameters>` +
		`<w:ResourceURI>` + resourceCmd + `</w:ResourceURI><w:SelectorSet>` +
		`<w:Selector Name="ShellId">` + sh.id + `</w:Selector></w:SelectorSet>` +
		`</a:ReferenceParameters></x:ResourceCreated>` +
		`<rsp:Shell><rsp:ShellId>` + sh.id + `</rsp:ShellId><rsp:ResourceUri>` + resourceCmd +
		`</rsp:ResourceUri><rsp:Owner>` + esc(user) + `</rsp:Owner><rsp:InputStreams>stdin</rsp:InputStreams>` +
		`<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`
	writeSOAP(w, http.StatusOK, envelope(nsTransfer+"/CreateResponse", msgID, body))
	return nil
}

// lookupShellLocked finds the request's shell; a shell belongs to the user who created it.
func (s *Server) lookupShellLocked(req *request, user string) (*shell, *fault) {
	id := req.selector("ShellId")
	if id == "" {
		return nil, invalidSelectorsFault("The ShellId selector is missing.")
	}
	sh, ok := s.shells[id]
	if !ok || sh.user != user {
		return nil, shellNotFoundFault(id)
	}
	return sh, nil
}

func (s *Server) lookupCommandLocked(req *request, user, commandID string) (*command, *fault) {
	sh, f := s.lookupShellLocked(req, user)
	if f != nil {
		return nil, f
	}
	c, ok := sh.commands[strings.TrimSpace(commandID)]
	if !ok {
		return nil, invalidSelectorsFault(fmt.Sprintf("The command with CommandId %s was not found in shell %s.", commandID, sh.id))
	}
	return c, nil
}

func (s *Server) command(w http.ResponseWriter, req *request, user, msgID string) *fault {
	if req.Body.CommandLine == nil {
		return invalidXMLFault("The Command request has no rsp:CommandLine.")
	}
	line := strings.Join(append([]string{req.Body.CommandLine.Command}, req.Body.CommandLine.Arguments...), " ")

	s.mu.Lock()
	sh, f := s.lookupShellLocked(req, user)
	if f != nil {
		s.mu.Unlock()
		return f
	}
	ctx, cancel := context.WithCancel(s.base)
	c := &command{id: newGUID(), shell: sh, cancel: cancel, stdin: newStdinPipe(), finished: make(chan struct{})}
	sh.commands[c.id] = c
	s.stats.CommandsStarted++
	s.stats.CommandsRunning++
	s.running[user]++
	if s.running[user] > s.maxRunning[user] {
		s.maxRunning[user] = s.running[user]
	}
	s.mu.Unlock()

	go s.run(ctx, c, Command{User: user, ShellID: sh.id, CommandID: c.id, CommandLine: line, Stdin: c.stdin})

	body := `<rsp:CommandResponse><rsp:CommandId>` + c.id + `</rsp:CommandId></rsp:CommandResponse>`
	writeSOAP(w, http.StatusOK, envelope(nsShell+"/CommandResponse", msgID, body))
	return nil
}

// run calls the handler and records its result. A panicking handler becomes exit code 1 with
// the panic on stderr, so one bad handler cannot take the endpoint down.
func (s *Server) run(ctx context.Context, c *command, cmd Command) {
	var res Result
	func() {
		defer func() {
			if p := recover(); p != nil {
				res = Result{Stderr: []byte(fmt.Sprintf("wsman: handler panic: %v", p)), ExitCode: 1}
			}
		}()
		if s.opts.Handler == nil {
			res = Result{Stderr: []byte("wsman: no handler"), ExitCode: 1}
			return
		}
		res = s.opts.Handler.Run(ctx, cmd)
	}()
	c.cancel() // release the context's resources

	s.mu.Lock()
	c.stdout, c.stderr = res.Stdout, res.Stderr
	c.exitCode = res.ExitCode
	c.unauthorized = res.Unauthorized
	c.done = true
	s.stats.CommandsRunning--
	s.running[cmd.User]--
	if c.signalled {
		delete(c.shell.commands, c.id)
	}
	s.mu.Unlock()
	close(c.finished)
}

func (s *Server) send(w http.ResponseWriter, req *request, user, msgID string) *fault {
	if req.Body.Send == nil {
		return invalidXMLFault("The Send request has no rsp:Send.")
	}
	type chunk struct {
		c    *command
		data []byte
		end  bool
	}
	var chunks []chunk
	s.mu.Lock()
	s.stats.Sends++
	for _, st := range req.Body.Send.Streams {
		if st.Name != "stdin" {
			continue
		}
		c, f := s.lookupCommandLocked(req, user, st.CommandID)
		if f != nil {
			s.mu.Unlock()
			return f
		}
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(st.Data))
		if err != nil {
			s.mu.Unlock()
			return invalidXMLFault("The stdin stream is not valid base64.")
		}
		chunks = append(chunks, chunk{c, data, st.End == "true" || st.End == "1"})
	}
	s.mu.Unlock()
	for _, ch := range chunks {
		ch.c.stdin.write(ch.data, ch.end)
	}
	writeSOAP(w, http.StatusOK, envelope(nsShell+"/SendResponse", msgID, `<rsp:SendResponse/>`))
	return nil
}

// receiveOutput long-polls for the command's output. The handler's output is complete when
// it returns, so a Receive waits for that (or the timeout), then hands out the output in
// pieces that fit the client's envelope, and reports Done with the exit code after the last.
func (s *Server) receiveOutput(w http.ResponseWriter, r *http.Request, req *request, user, msgID string) *fault {
	if req.Body.Receive == nil {
		return invalidXMLFault("The Receive request has no rsp:Receive.")
	}
	commandID := strings.TrimSpace(req.Body.Receive.DesiredStream.CommandID)
	s.mu.Lock()
	c, f := s.lookupCommandLocked(req, user, commandID)
	s.mu.Unlock()
	if f != nil {
		return f
	}

	timer := time.NewTimer(s.receive)
	defer timer.Stop()
	select {
	case <-c.finished:
	case <-timer.C:
		s.mu.Lock()
		s.stats.TimedOutReceives++
		s.mu.Unlock()
		return timedOutFault()
	case <-r.Context().Done():
		return nil // the client went away; nobody reads an answer
	}
	// A reset armed while this Receive waited (by the command that just finished) loses
	// the command's answer: the connection drops as the answer was to be sent.
	s.mu.Lock()
	lost := s.resetN > 0
	if lost {
		s.resetN--
		s.stats.InjectedResets++
	}
	refused := c.unauthorized
	if refused {
		s.stats.InjectedFailures++
	}
	s.mu.Unlock()
	if lost {
		reset(w)
		return nil
	}
	if refused {
		s.unauthorized(w, r)
		return nil
	}

	budget := outputBudget(req.Header.MaxEnvelopeSize)
	var b strings.Builder
	b.WriteString(`<rsp:ReceiveResponse>`)
	s.mu.Lock()
	for _, name := range []string{"stdout", "stderr"} {
		buf := &c.stdout
		if name == "stderr" {
			buf = &c.stderr
		}
		for len(*buf) > 0 && budget > 0 {
			n := min(len(*buf), budget, 32<<10)
			b.WriteString(`<rsp:Stream Name="` + name + `" CommandId="` + c.id + `">` +
				base64.StdEncoding.EncodeToString((*buf)[:n]) + `</rsp:Stream>`)
			*buf = (*buf)[n:]
			budget -= n
		}
	}
	if len(c.stdout) == 0 && len(c.stderr) == 0 {
		b.WriteString(`<rsp:Stream Name="stdout" CommandId="` + c.id + `" End="true"></rsp:Stream>` +
			`<rsp:Stream Name="stderr" CommandId="` + c.id + `" End="true"></rsp:Stream>` +
			`<rsp:CommandState CommandId="` + c.id + `" State="` + stateDone + `"><rsp:ExitCode>` +
			strconv.Itoa(c.exitCode) + `</rsp:ExitCode></rsp:CommandState>`)
	} else {
		b.WriteString(`<rsp:CommandState CommandId="` + c.id + `" State="` + stateRunning + `"/>`)
	}
	s.mu.Unlock()
	b.WriteString(`</rsp:ReceiveResponse>`)
	writeSOAP(w, http.StatusOK, envelope(nsShell+"/ReceiveResponse", msgID, b.String()))
	return nil
}

// outputBudget is how many output bytes one Receive answer may carry: base64 grows data by
// a third, and the envelope around it needs room too.
func outputBudget(maxEnvelope string) int {
	size, err := strconv.Atoi(strings.TrimSpace(maxEnvelope))
	if err != nil || size <= 0 {
		size = 153600
	}
	budget := (size - 4096) * 3 / 4
	return max(budget, 1024)
}

func (s *Server) signal(w http.ResponseWriter, req *request, user, msgID string) *fault {
	if req.Body.Signal == nil {
		return invalidXMLFault("The Signal request has no rsp:Signal.")
	}
	s.mu.Lock()
	s.stats.Signals++
	c, f := s.lookupCommandLocked(req, user, req.Body.Signal.CommandID)
	if f != nil {
		s.mu.Unlock()
		return f
	}
	// Every signal the client sends (terminate, or ctrl_c) stops the command. Once stopped
	// and finished the command is gone, as on Windows.
	c.signalled = true
	c.cancel()
	if c.done {
		delete(c.shell.commands, c.id)
	}
	s.mu.Unlock()
	c.stdin.close()
	writeSOAP(w, http.StatusOK, envelope(nsShell+"/SignalResponse", msgID, `<rsp:SignalResponse/>`))
	return nil
}

func (s *Server) delete(w http.ResponseWriter, req *request, user, msgID string) *fault {
	s.mu.Lock()
	sh, f := s.lookupShellLocked(req, user)
	if f != nil {
		s.mu.Unlock()
		return f
	}
	s.deleteShellLocked(sh.id)
	s.stats.ShellsDeleted++
	s.mu.Unlock()
	writeSOAP(w, http.StatusOK, envelope(nsTransfer+"/DeleteResponse", msgID, ""))
	return nil
}

// deleteShellLocked removes a shell and stops its commands.
func (s *Server) deleteShellLocked(id string) {
	sh, ok := s.shells[id]
	if !ok {
		return
	}
	delete(s.shells, id)
	s.openShells[sh.user]--
	if s.openShells[sh.user] <= 0 {
		delete(s.openShells, sh.user)
	}
	for _, c := range sh.commands {
		c.signalled = true
		c.cancel()
		c.stdin.close()
	}
}
