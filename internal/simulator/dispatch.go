package simulator

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote/scripts"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

// Handler runs the provider's operations for one host: it is the wsman.Handler behind that
// host's endpoint. It is a referee: it performs an operation only when the command is
// exactly the provider's bootstrap and the script is exactly the embedded prelude and body
// with well-formed parameters. Anything else is rejected, so a test can never pass against
// a script the simulator did not really understand.
type Handler struct {
	host    *Host
	journal *journal
	latency time.Duration
	// password is the fleet's: it must never reach the journal.
	password string
}

var _ wsman.Handler = (*Handler)(nil)

// operation is what the simulator knows of one script: its parameters and what it does.
type operation struct {
	name string
	// decode checks the parameters a script received against the operation's request type
	// (wire/requests.go, the type the provider sends) and returns the run of the request.
	decode func(params map[string]any) (run, error)
}

// run performs an operation; a non-nil fault is reported through the envelope as the
// script's Write-Fault would.
type run func(h *Handler, c *call) (result any, fault *wire.Fault)

// call is one operation being run, and what run wants journaled or done besides the result.
type call struct {
	// commandID is the WS-Management command running the operation.
	commandID string
	// outcome and detail replace the journal's "ok" and "" of a successful run (e.g.
	// "attached"); a fault's are its code and message.
	outcome, detail string
	// after runs once the result is journaled, outside the host's lock.
	after []func()
}

// request is what handle needs of a wire request type.
type request interface{ Op() string }

// handle is the operation Req names, run by do with the parameters decoded into a Req: a
// parameter the provider's request type lacks, misses or types otherwise is rejected.
func handle[Req request](do func(h *Handler, c *call, req Req) (any, *wire.Fault)) operation {
	var zero Req
	return operation{name: zero.Op(), decode: func(params map[string]any) (run, error) {
		var req Req
		if err := wire.DecodeParams(params, &req); err != nil {
			return nil, err
		}
		return func(h *Handler, c *call) (any, *wire.Fault) { return do(h, c, req) }, nil
	}}
}

// operations are the operations of wire/ops.go, by name.
var operations = byName(
	handle(probe),
	handle(opLock),
	handle(opService),
	handle(opExchangeServices),
	handle(opRevocationCheck),
	handle(opRemoteStreamingBackup),
	handle(opFirewall),
	handle(opFrontEnd),
	handle(opCustomizations),
	handle(opOWACheck),
	handle(opPreflight),
	handle(opJobStart),
	handle(opJobStatus),
	handle(opJobClear),
	handle(opReboot),
	handle(opDiscover),
	handle(opCluster),
	handle(opSetupWatermark),
)

// byName indexes ops by their names.
func byName(ops ...operation) map[string]operation {
	out := make(map[string]operation, len(ops))
	for _, op := range ops {
		out[op.name] = op
	}
	return out
}

// testScripts are script bodies for operations whose real script does not exist yet in
// internal/remote/scripts, by operation name. Tests only: the package's own tests set it
// to exercise an operation before its script lands. An embedded script always wins, so
// once the real one exists the test's stand-in is no longer accepted.
var testScripts map[string]string

// scriptBody is the body the simulator accepts for op.
func scriptBody(op string) (string, bool) {
	if body, ok := scripts.Body(op); ok {
		return body, true
	}
	body, ok := testScripts[op]
	return body, ok
}

// Run executes one command. A result or a fault exits 0 (the fault travels in the
// envelope, as the real prelude's Write-Fault does); a rejection exits 1 with the reason on
// stderr, as an unexpected error in the real prelude would.
func (h *Handler) Run(ctx context.Context, cmd wsman.Command) wsman.Result {
	stdin, err := io.ReadAll(cmd.Stdin)
	if err != nil {
		return h.reject("", nil, fmt.Sprintf("reading stdin: %v", err))
	}
	text, err := wire.Unpack(cmd.CommandLine, stdin)
	if err != nil {
		reason := err.Error()
		if strings.TrimSpace(cmd.CommandLine) != wire.CommandLine {
			reason = fmt.Sprintf("unknown command line %q: only the provider's fixed powershell.exe bootstrap (wire.CommandLine) is understood", truncate(cmd.CommandLine, 80))
		}
		return h.reject("", nil, reason)
	}
	script, err := wire.Parse(text)
	if err != nil {
		return h.reject("", nil, err.Error())
	}
	params := map[string]any{}
	for _, p := range script.Params {
		params[p.Name] = p.Value
	}
	op, modelled := operations[script.Operation]
	body, known := scriptBody(script.Operation)
	switch {
	case !known:
		return h.reject(script.Operation, params, fmt.Sprintf("unknown operation %q: the provider has no script of that name", script.Operation))
	case !modelled:
		return h.reject(script.Operation, params, fmt.Sprintf("operation %q is not modelled by the simulator yet", script.Operation))
	}
	if script.Prelude != scripts.Prelude() {
		return h.reject(script.Operation, params, "the prelude is not the embedded prelude.ps1: "+firstDifference(script.Prelude, scripts.Prelude()))
	}
	if script.Body != body {
		return h.reject(script.Operation, params, fmt.Sprintf("the body is not the embedded %s.ps1: %s", script.Operation, firstDifference(script.Body, body)))
	}
	perform, err := op.decode(params)
	if err != nil {
		return h.reject(script.Operation, params, err.Error())
	}
	if h.host.refuses(script.Operation, params) {
		return wsman.Result{Unauthorized: true} // FaultRefuseOperation: nothing runs
	}

	if h.latency > 0 {
		select {
		case <-time.After(h.latency):
		case <-ctx.Done():
			// Not performed, so not journaled: the journal lists what happened to hosts.
			return wsman.Result{Stderr: []byte("simulator: cancelled before the operation ran\n"), ExitCode: 1}
		}
	}

	c := &call{commandID: cmd.CommandID}
	result, fault := perform(h, c)
	var stdout string
	entry := Entry{Server: h.host.name, Operation: script.Operation, Params: h.redact(params)}
	if fault != nil {
		stdout, err = wire.EncodeFault(script.Operation, fault.Code, fault.Message)
		entry.Outcome, entry.Detail = faultPrefix+fault.Code, fault.Message
	} else {
		stdout, err = wire.EncodeResult(script.Operation, result)
		entry.Outcome, entry.Detail = outcomeOK, c.detail
		if c.outcome != "" {
			entry.Outcome = c.outcome
		}
	}
	if err != nil {
		// Only a model that cannot be encoded gets here: a simulator bug, said loudly.
		return h.reject(script.Operation, params, "encoding the result: "+err.Error())
	}
	entry.Detail = h.scrub(entry.Detail)
	h.journal.record(entry)
	for _, f := range c.after {
		f()
	}
	h.host.noteServing()
	slow := h.host.afterOperation(script.Operation)
	if slow > 0 {
		// The operation ran; its answer comes late, or never if the client gives up.
		select {
		case <-time.After(slow):
		case <-ctx.Done():
		}
	}
	return wsman.Result{Stdout: []byte(stdout)}
}

func (h *Handler) reject(op string, params map[string]any, reason string) wsman.Result {
	reason = h.scrub(reason)
	h.journal.record(Entry{Server: h.host.name, Operation: op, Params: h.redact(params), Outcome: outcomeRejected, Detail: reason})
	return wsman.Result{Stderr: []byte("simulator: rejected: " + reason + "\n"), ExitCode: 1}
}

// redact copies params for the journal, hiding anything that looks like or is a secret.
func (h *Handler) redact(params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for k, v := range params {
		lk := strings.ToLower(k)
		secret := strings.Contains(lk, "password") || strings.Contains(lk, "secret")
		switch x := v.(type) {
		case string:
			secret = secret || (h.password != "" && x == h.password)
		case []string:
			for _, s := range x {
				secret = secret || (h.password != "" && s == h.password)
			}
		}
		if secret {
			v = "<redacted>"
		}
		out[k] = v
	}
	return out
}

func (h *Handler) scrub(s string) string {
	if h.password == "" {
		return s
	}
	return strings.ReplaceAll(s, h.password, "<redacted>")
}

// firstDifference says where got first departs from want, by line, so a rejection shows
// which edit or which stale copy of a script the simulator saw.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		switch {
		case i >= len(g):
			return fmt.Sprintf("line %d is missing (%d lines instead of %d)", i+1, len(g), len(w))
		case i >= len(w):
			return fmt.Sprintf("line %d is extra (%d lines instead of %d)", i+1, len(g), len(w))
		case g[i] != w[i]:
			return fmt.Sprintf("line %d differs: got %q, want %q", i+1, truncate(g[i], 60), truncate(w[i], 60))
		}
	}
	return "they differ"
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}

// probe answers the host's facts, or the wrong_server fault the real probe writes when
// $Param_Server names another computer. As in probe.ps1: the name is trimmed and compared
// by its host label only ("ex01.contoso.local" is EX01), an empty name is not checked, and
// a CMS/EVS name means the node that owns that group now (another node says where it is
// active; a node whose cluster service is stopped cannot tell and answers wrong_server);
// the facts then describe that group. The Windows cluster's own name means the node that
// owns the cluster group.
func probe(h *Handler, c *call, req wire.ProbeRequest) (any, *wire.Fault) {
	requested := strings.TrimSpace(req.Server)
	host := h.host
	if host.cluster != nil {
		host.cluster.administer() // a standing-by administrator acts between operations (evs.go)
	}
	short := hostLabel(requested)
	if requested == "" || strings.EqualFold(short, host.name) {
		return host.Facts(), nil
	}
	// The cluster's names are known only while this node's cluster service runs (the probe
	// reads them from the cluster); stopped, the node answers as for any other name.
	if lc := host.cluster; lc != nil {
		if v := lc.probeView(host.name); v.readable {
			for _, g := range v.groups {
				name, owner := g[0], g[1]
				if !strings.EqualFold(short, name) {
					continue
				}
				if !strings.EqualFold(owner, host.name) {
					return nil, &wire.Fault{Code: "wrong_server", Message: fmt.Sprintf(
						"this host is %s, a passive node of %s; %s is active on %s", host.name, name, name, owner)}
				}
				return host.factsFor(name), nil
			}
			if v.clusterName != "" && strings.EqualFold(short, v.clusterName) {
				if !strings.EqualFold(v.coreOwner, host.name) {
					return nil, &wire.Fault{Code: "wrong_server", Message: fmt.Sprintf(
						"this host is %s, a node of cluster %s; the cluster is run by %s", host.name, v.clusterName, v.coreOwner)}
				}
				return host.Facts(), nil
			}
		}
	}
	return nil, &wire.Fault{Code: "wrong_server", Message: fmt.Sprintf("this host is %s, not %s", host.name, requested)}
}

// hostLabel is the first label of a DNS name ("ex01.contoso.local" -> "ex01").
func hostLabel(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}
