package servicing

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// t0 is when every test starts, on the fake clock and on the fake server.
var t0 = time.Date(2009, 6, 1, 22, 0, 0, 0, time.UTC)

// fakeClock never sleeps: Sleep moves time on.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// jobScript is how a job the fake starts behaves.
type jobScript struct {
	// polls is how many job_status reads still report running.
	polls    int
	state    string // final state; "" = succeeded
	exitCode int
	err      string
	reboot   bool
	log      string
}

// fakeRemote implements the operations' semantics in memory and records every call in order.
type fakeRemote struct {
	t   *testing.T
	clk *fakeClock

	calls []string // "op arg ...", in order
	// nodes are the servers of the calls, in the same order.
	nodes []string
	// targets are the targets calls may go to; nil means only target (EX01).
	targets []remote.Target
	cur     string // the server of the call running
	// params of each call, in the same order, as the script would receive them.
	params []map[string]any

	// The lock of EX01; other servers' locks are in locks, by lower-case name.
	lockOwner   string
	lockExpires time.Time
	locks       map[string]*fakeLock

	// The cluster: its groups by lower-case name, the cluster service of each node by
	// lower-case name (absent: running), and the nodes a group fails to come online on.
	groups        map[string]*fakeGroup
	clussvc       map[string]bool
	cannotOnline  map[string]bool
	clusterOnline string // the group whose state probes report (Facts.Cluster); "" = none
	// adVersion is what probes report as that group's version in Active Directory.
	adVersion string

	services map[string]string // name -> Running/Stopped
	// jobs on the server, by id; scripts for jobs the fake starts, by id.
	jobs    map[string]*exchange.Job
	scripts map[string]jobScript
	polls   map[string]int // job_status reads per id
	started []string       // ids of jobs actually started

	revocation    bool
	streaming     bool
	customSaved   bool
	build         string
	pending       []string
	bootTime      time.Time
	exFailed      []string // exchange_services Failed
	afterJobBuild string   // build once a job succeeded

	// reboot: staleProbes probes still see the old boot time, then downProbes probes fail
	// (and every other operation too), then the server is back with a new boot time.
	staleProbes, downProbes int
	rebooting               bool

	// hook, when set, runs first on every call; a non-nil error is returned instead.
	hook func(ctx context.Context, n int, op string, p map[string]any) error
	// faults by op: the op answers with this fault.
	faults map[string]*wire.Fault
	// missing: the preflight on these servers (by name) finds each checked path missing.
	missing map[string]bool
}

type fakeLock struct {
	owner   string
	expires time.Time
}

// fakeGroup is a cluster group: its owner and state (Online, Offline, PartialOnline, Failed).
type fakeGroup struct {
	name, owner, state string
	blocked            bool
}

// lock is the lock of server.
func (f *fakeRemote) lock(server string) (*string, *time.Time) {
	if strings.EqualFold(server, target.Server) {
		return &f.lockOwner, &f.lockExpires
	}
	if f.locks == nil {
		f.locks = map[string]*fakeLock{}
	}
	k := strings.ToLower(server)
	if f.locks[k] == nil {
		f.locks[k] = &fakeLock{}
	}
	return &f.locks[k].owner, &f.locks[k].expires
}

// callsOn is the calls as "SERVER: op ...".
func (f *fakeRemote) callsOn() []string {
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = f.nodes[i] + ": " + c
	}
	return out
}

func newFake(t *testing.T) (*fakeRemote, *fakeClock) {
	clk := &fakeClock{now: t0}
	return &fakeRemote{
		t:          t,
		clk:        clk,
		services:   map[string]string{"BackupExecRPCService": "Running", "VirusScan": "Running"},
		jobs:       map[string]*exchange.Job{},
		scripts:    map[string]jobScript{},
		polls:      map[string]int{},
		revocation: true,
		build:      "8.1.240.6",
		bootTime:   t0.Add(-72 * time.Hour),
		faults:     map[string]*wire.Fault{},
	}, clk
}

var target = remote.Target{Server: "EX01", Address: "ex01.contoso.local"}

func unreachable(op string) error {
	return &remote.Error{Server: "EX01", Address: "ex01.contoso.local:5985", Operation: op,
		Kind: remote.KindUnreachable, Err: syscall.ECONNREFUSED}
}

func (f *fakeRemote) Probe(ctx context.Context, t remote.Target) (exchange.Facts, error) {
	var facts exchange.Facts
	err := f.Run(ctx, t, wire.OpProbe, []wire.Param{{Name: "Server", Value: t.Server}}, &facts)
	return facts, err
}

func (f *fakeRemote) Run(ctx context.Context, t remote.Target, op string, params []wire.Param, out any) error {
	f.t.Helper()
	allowed := f.targets
	if allowed == nil {
		allowed = []remote.Target{target}
	}
	known := false
	for _, a := range allowed {
		known = known || t == a
	}
	if !known {
		f.t.Errorf("Run(%s) on target %+v, want one of %+v", op, t, allowed)
	}
	// The parameters must render as PowerShell literals; read them back as a script would.
	text, err := wire.Script{Operation: op, Params: params, Body: "#"}.Render()
	if err != nil {
		f.t.Fatalf("Run(%s): %v", op, err)
	}
	parsed, err := wire.Parse(text)
	if err != nil {
		f.t.Fatalf("Run(%s): parse: %v", op, err)
	}
	p := map[string]any{}
	for _, pp := range parsed.Params {
		p[pp.Name] = pp.Value
	}
	if err := ctx.Err(); err != nil {
		return &remote.Error{Server: t.Server, Operation: op, Kind: remote.KindCanceled, Err: err}
	}
	f.calls = append(f.calls, describeCall(op, p))
	f.nodes = append(f.nodes, t.Server)
	f.params = append(f.params, p)
	f.cur = t.Server
	if f.hook != nil {
		if err := f.hook(ctx, len(f.calls), op, p); err != nil {
			return err
		}
	}
	if fault := f.faults[op]; fault != nil {
		return &remote.Error{Server: t.Server, Operation: op, Kind: remote.KindFault, Err: fault}
	}
	if f.rebooting && op != wire.OpProbe {
		return unreachable(op)
	}
	result, err := f.do(op, p)
	if err != nil {
		return err
	}
	stdout, err := wire.EncodeResult(op, result)
	if err != nil {
		f.t.Fatalf("encode %s: %v", op, err)
	}
	return wire.DecodeResult(stdout, op, out)
}

func describeCall(op string, p map[string]any) string {
	switch op {
	case wire.OpLock:
		if p["Release"] == true {
			return "lock release"
		}
		if o, _ := p["TakeOver"].(string); o != "" {
			return "lock take over " + o
		}
		return "lock take"
	case wire.OpService:
		return fmt.Sprintf("service %v %v", p["Action"], p["Name"])
	case wire.OpRevocationCheck, wire.OpRemoteStreamingBackup:
		return fmt.Sprintf("%s %v", op, p["Enabled"])
	case wire.OpCustomizations:
		return fmt.Sprintf("customizations %v", p["Action"])
	case wire.OpJobStart, wire.OpJobStatus:
		return fmt.Sprintf("%s %v", op, p["ID"])
	case wire.OpCluster:
		return strings.TrimSpace(fmt.Sprintf("cluster %v %v %v", p["Action"], p["Group"], p["Node"]))
	case wire.OpFrontEnd:
		return fmt.Sprintf("front_end %v", p["Action"])
	case wire.OpSetupWatermark:
		return fmt.Sprintf("setup_watermark %v", p["Action"])
	}
	return op
}

func (f *fakeRemote) do(op string, p map[string]any) (any, error) {
	now := f.clk.Now()
	switch op {
	case wire.OpJobClear:
		return wire.JobClearResult{Cleared: []string{}}, nil
	case wire.OpPreflight:
		var res wire.PreflightResult
		for _, line := range strings.Split(strings.TrimSpace(p["Checks"].(string)), "\n") {
			fields := strings.Split(line, "\t")
			item := wire.PreflightItem{Found: []string{fields[len(fields)-2] + fields[len(fields)-1]}}
			if f.missing[f.cur] {
				item = wire.PreflightItem{Found: []string{}, Problem: "not found: " + fields[len(fields)-2] + fields[len(fields)-1]}
			}
			res.Items = append(res.Items, item)
		}
		return res, nil
	case wire.OpProbe:
		if f.rebooting {
			if f.staleProbes > 0 {
				f.staleProbes--
				break
			}
			if f.downProbes > 0 {
				f.downProbes--
				return nil, unreachable(op)
			}
			f.rebooting = false
			f.bootTime = now
			f.pending = nil
		}
	case wire.OpLock:
		owner := p["Owner"].(string)
		lockOwner, lockExpires := f.lock(f.cur)
		if p["Release"] == true {
			if *lockOwner == owner {
				*lockOwner, *lockExpires = "", time.Time{}
			}
			return wire.LockResult{}, nil
		}
		takeOver, _ := p["TakeOver"].(string)
		if *lockOwner != "" && *lockOwner != owner && now.Before(*lockExpires) && *lockOwner != takeOver {
			return wire.LockResult{Held: false, Owner: *lockOwner, Expires: *lockExpires}, nil
		}
		*lockOwner = owner
		*lockExpires = now.Add(time.Duration(p["TTLSeconds"].(int64)) * time.Second) //nolint:durationcheck // TTLSeconds is a count of seconds
		return wire.LockResult{Held: true, Owner: owner, Expires: *lockExpires}, nil
	case wire.OpCluster:
		return f.cluster(p)
	case wire.OpSetupWatermark:
		return wire.SetupWatermarkResult{Removed: []string{}}, nil
	case wire.OpFrontEnd:
		if p["Action"] == wire.ActionOffline {
			return wire.FrontEndResult{Service: "W3SVC", Before: "Running", After: "Stopped", StartMode: "Disabled", RecordedStartMode: "Auto"}, nil
		}
		return wire.FrontEndResult{Service: "W3SVC", Before: "Stopped", After: "Running", StartMode: "Auto", RecordedStartMode: "Auto"}, nil
	case wire.OpService:
		name := p["Name"].(string)
		before, ok := f.services[name]
		if !ok {
			return nil, &remote.Error{Server: "EX01", Operation: op, Kind: remote.KindFault,
				Err: &wire.Fault{Code: "not_found", Message: "no service " + name}}
		}
		after := "Stopped"
		if p["Action"] == wire.ActionStart {
			after = "Running"
		}
		f.services[name] = after
		return wire.ServiceResult{Name: name, Before: before, After: after, StartMode: "Auto"}, nil
	case wire.OpRevocationCheck:
		before := f.revocation
		f.revocation = p["Enabled"].(bool)
		return wire.SettingResult{Before: before, After: f.revocation}, nil
	case wire.OpRemoteStreamingBackup:
		before := f.streaming
		f.streaming = p["Enabled"].(bool)
		return wire.SettingResult{Before: before, After: f.streaming}, nil
	case wire.OpCustomizations:
		f.customSaved = p["Action"] == wire.ActionSave
		return wire.CustomizationsResult{Items: []string{"owa_logon"}}, nil
	case wire.OpExchangeServices:
		return wire.ExchangeServicesResult{Started: []string{"MSExchangeIS"}, Failed: f.exFailed}, nil
	case wire.OpJobStart:
		id := p["ID"].(string)
		if j, ok := f.jobs[id]; ok {
			return *j, nil
		}
		s := f.scripts[id]
		f.started = append(f.started, id)
		log := s.log
		if log == "" {
			log = `C:\ExchangeSetupLogs\` + id + ".log"
		}
		f.jobs[id] = &exchange.Job{ID: id, Action: p["Action"].(string), State: exchange.JobRunning, Started: now, LogPath: log}
		return *f.jobs[id], nil
	case wire.OpJobStatus:
		id := p["ID"].(string)
		j, ok := f.jobs[id]
		if !ok {
			return nil, &remote.Error{Server: "EX01", Operation: op, Kind: remote.KindFault,
				Err: &wire.Fault{Code: "not_found", Message: "no job " + id}}
		}
		f.polls[id]++
		s := f.scripts[id]
		if j.State == exchange.JobRunning && f.polls[id] > s.polls {
			j.State = s.state
			if j.State == "" {
				j.State = exchange.JobSucceeded
			}
			j.ExitCode, j.Error, j.RebootRequired = s.exitCode, s.err, s.reboot
			fin := now
			j.Finished = &fin
			if j.State == exchange.JobSucceeded && f.afterJobBuild != "" {
				f.build = f.afterJobBuild
			}
		}
		return *j, nil
	case wire.OpReboot:
		f.rebooting = true
		return wire.RebootResult{BootTime: f.bootTime}, nil
	default:
		f.t.Fatalf("fake: unknown operation %s", op)
	}
	var lock *exchange.Lock
	if f.lockOwner != "" {
		lock = &exchange.Lock{Owner: f.lockOwner, Expires: f.lockExpires}
	}
	facts := exchange.Facts{Server: f.cur, Product: "2007", Build: f.build, BootTime: f.bootTime,
		PendingReboot: f.pending, RevocationCheck: f.revocation, Lock: lock}
	if g := f.groups[strings.ToLower(f.clusterOnline)]; g != nil {
		facts.Cluster = &exchange.ClusterFacts{Name: g.name, Type: "ccr", ActiveNode: g.owner,
			Active: strings.EqualFold(g.owner, f.cur), GroupState: g.state, ClusterServiceRunning: f.clusterServiceRunning(f.cur),
			Groups: []exchange.ClusterGroupFacts{{Name: g.name, Owner: g.owner, State: g.state, ADVersion: f.adVersion}}}
	}
	return facts, nil
}

func (f *fakeRemote) clusterServiceRunning(server string) bool {
	running, ok := f.clussvc[strings.ToLower(server)]
	return !ok || running
}

// cluster implements OpCluster on the groups of the fake, run on server f.cur.
func (f *fakeRemote) cluster(p map[string]any) (any, error) {
	action, name, to := p["Action"].(string), p["Group"].(string), p["Node"].(string)
	if f.clussvc == nil {
		f.clussvc = map[string]bool{}
	}
	fault := func(code, msg string) error {
		return &remote.Error{Server: f.cur, Operation: wire.OpCluster, Kind: remote.KindFault, Err: &wire.Fault{Code: code, Message: msg}}
	}
	res := wire.ClusterResult{Group: name}
	switch action {
	case wire.ClusterStopService:
		f.clussvc[strings.ToLower(f.cur)] = false
	case wire.ClusterStartService:
		f.clussvc[strings.ToLower(f.cur)] = true
	default:
		g := f.groups[strings.ToLower(name)]
		if g == nil {
			return nil, fault("not_found", "no cluster group "+name)
		}
		online := func() {
			if f.cannotOnline[strings.ToLower(g.owner)] {
				g.state = "Failed"
			} else {
				g.state = "Online"
			}
		}
		switch action {
		case wire.ClusterMoveGroup:
			if !f.clusterServiceRunning(to) {
				return nil, fault("refused", "the cluster service does not run on "+to)
			}
			g.owner = to
			if g.state == "Online" {
				online()
			}
		case wire.ClusterStopCMS:
			g.state = "Offline"
		case wire.ClusterOfflineEVSResources:
			g.state = "PartialOnline"
		case wire.ClusterStartCMS, wire.ClusterOnlineGroup:
			online()
		case wire.ClusterBlockFailover:
			g.blocked = true
		case wire.ClusterAllowFailover:
			g.blocked = false
		default:
			f.t.Fatalf("fake: unknown cluster action %s", action)
		}
		res.Group, res.Owner, res.GroupState = g.name, g.owner, g.state
	}
	res.ClusterServiceRunning = f.clusterServiceRunning(f.cur)
	return res, nil
}

// logRecorder collects Log messages.
type logRecorder struct{ msgs []string }

func (l *logRecorder) log(s exchange.Step, msg string) {
	l.msgs = append(l.msgs, s.Action()+"|"+msg)
}

func (l *logRecorder) has(substr string) bool {
	for _, m := range l.msgs {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}
