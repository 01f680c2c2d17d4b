package wsman

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
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
	stats      Stats
}

// Stats are counters for tests.
type Stats struct {
	// Requests counts every HTTP request, including rejected and failed ones.
	Requests int
	// Unauthorized counts requests answered 401.
	Unauthorized int
	// InjectedFailures counts requests answered by FailNext.
	InjectedFailures int
	// ShellsCreated counts successful Create requests; OpenShells is how many remain open.
	ShellsCreated, OpenShells int
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
	if s.failN > 0 {
		s.failN--
		s.stats.InjectedFailures++
		status := s.failStatus
		s.mu.Unlock()
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
		if status == http.StatusUnauthorized {
			s.unauthorized(w)
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
	user, pass, hasBasic := r.BasicAuth()
	if s.opts.Authenticate != nil && (!hasBasic || !s.opts.Authenticate(user, pass)) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
		s.mu.Lock()
		s.stats.Unauthorized++
		s.mu.Unlock()
		s.unauthorized(w)
		return
	}
	if !strings.Contains(r.Header.Get("Content-Type"), "application/soap+xml") {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}

	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.fail(w, r, "", invalidXMLFault("The request body could not be read."))
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

// unauthorized answers like WinRM with Basic enabled: 401, no body, a Basic challenge.
// Real servers also offer Negotiate; this one has no NTLM server side, and offering it
// would send NTLM clients into a handshake that cannot succeed.
func (s *Server) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="WSMAN"`)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusUnauthorized)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, msgID string, f *fault) {
	s.mu.Lock()
	s.stats.Faults++
	s.mu.Unlock()
	writeFault(w, r, msgID, f)
}

func (s *Server) create(w http.ResponseWriter, user, msgID string) *fault {
	s.mu.Lock()
	if s.openShells[user] >= s.maxShells {
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
