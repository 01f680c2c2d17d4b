// Command bench is `make bench` (docs/performance.md): for fleets of N servers it starts the
// simulator in this process with a latency per operation, writes each configuration of
// internal/benchfleet, runs the real `terraform plan` against the built provider
// (dev_overrides, as tools/demo.sh does) and prints, per N and configuration, the wall time,
// its ratio to the floor, the remote operations per server by kind (the simulator's
// journal), the WinRM HTTP requests and PowerShell processes per server (the simulator's
// counts) and the provider's peak RSS and CPU.
//
// The floor is ceil(N / C) probe times at probe concurrency C, one probe time measured in
// the same run: a probe of one server by a fresh WinRM client, as the provider makes it.
//
// The provider's peak RSS is its own: terraform starts the provider through a wrapper (this
// binary under the provider's name) that runs the real one as its child and records the
// child's rusage (wait4: ru_maxrss, user and system CPU) when it exits.
//
//	go run ./tools/bench [-n 50,200,500] [-latency 300ms] [-c 16] [-refresh-n 200] [-configs words] [-keep]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/benchfleet"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

const providerName = "terraform-provider-exchange"

func main() {
	if bin := os.Getenv("BENCH_REAL_PROVIDER"); bin != "" && filepath.Base(os.Args[0]) == providerName {
		os.Exit(wrap(bin, os.Getenv("BENCH_RUSAGE_FILE")))
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// wrap runs the real provider as a child with this process's stdio and environment and
// appends its rusage to file: "maxrss_kb user_s system_s".
func wrap(bin, file string) int {
	cmd := exec.Command(bin, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bench wrapper:", err)
		return 1
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && file != "" {
		line := fmt.Sprintf("%d %.3f %.3f\n", ru.Maxrss, tv(ru.Utime), tv(ru.Stime))
		if f, ferr := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); ferr == nil {
			_, _ = f.WriteString(line)
			_ = f.Close()
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

type options struct {
	sizes        []int
	latency      time.Duration
	concurrency  int
	refreshN     int
	configs      []string
	terraform    string
	providerBin  string
	probeSamples int
	keep         bool
}

func run() error {
	var o options
	sizes := flag.String("n", "50,200,500", "fleet sizes, comma-separated")
	flag.DurationVar(&o.latency, "latency", 300*time.Millisecond, "simulated latency of every operation")
	flag.IntVar(&o.concurrency, "c", 16, "probe_concurrency, and terraform -parallelism")
	flag.IntVar(&o.refreshN, "refresh-n", 200, "fleet size of the plan -refresh-only on an applied state (0: skip)")
	only := flag.String("configs", "", "only the configurations whose names contain one of these comma-separated words")
	flag.StringVar(&o.terraform, "terraform", os.Getenv("TERRAFORM"), "terraform (or tofu) binary")
	flag.StringVar(&o.providerBin, "provider", "bin/"+providerName, "the built provider")
	flag.IntVar(&o.probeSamples, "probe-samples", 5, "probes timed for the floor")
	flag.BoolVar(&o.keep, "keep", false, "keep the workspaces, each plan saved as plan.tfplan (for terraform show -json); the plans then also write the file")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-n: %q is not a fleet size", s)
		}
		o.sizes = append(o.sizes, n)
	}
	for _, c := range benchfleet.Configurations {
		if *only == "" || containsAny(c, strings.Split(*only, ",")) {
			o.configs = append(o.configs, c)
		}
	}
	if o.terraform == "" {
		o.terraform = "terraform"
	}
	bin, err := filepath.Abs(o.providerBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the provider is not built (%v): run make build", err)
	}
	work, err := os.MkdirTemp("", "exchange-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Printf("bench: workspaces kept in %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	pluginDir := filepath.Join(work, "plugins")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(pluginDir, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(self, filepath.Join(pluginDir, providerName)); err != nil {
		return err
	}
	rc := filepath.Join(work, "terraformrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"buildlevel/exchange\" = %q\n  }\n  direct {}\n}\n", pluginDir)), 0o600); err != nil {
		return err
	}
	b := &bench{o: o, work: work, rc: rc, real: bin}

	fmt.Printf("bench: latency %s per operation, probe_concurrency %d (terraform -parallelism %d), %s\n",
		o.latency, o.concurrency, o.concurrency, terraformVersion(o.terraform))
	fmt.Printf("machine: %s; load average at start: %s\n", machine(), loadavg())
	for _, n := range o.sizes {
		if err := b.size(n); err != nil {
			return err
		}
	}
	if o.refreshN > 0 {
		if err := b.refreshOnly(o.refreshN); err != nil {
			return err
		}
	}
	fmt.Printf("load average at end: %s\n", loadavg())
	return nil
}

type bench struct {
	o              options
	work, rc, real string
	simEnv         []string // where the running simulator listens, for the provider
}

// result is one plan.
type result struct {
	wall     time.Duration
	maxRSSKB int64
	cpu      float64 // the provider's
	// terraformCPU is terraform's with its children's (the provider processes).
	terraformCPU float64
	processes    int // provider processes terraform started
	// firstOp and lastOp are when the servers saw the plan's first and last operation, from
	// the start of terraform: before the first and after the last, the time is Terraform's
	// and the provider's alone.
	firstOp, lastOp time.Duration
	perServer       map[string]*benchfleet.PerServer
	servers         int
}

func (b *bench) size(n int) error {
	fleet := benchfleet.New(n, 90)
	sim, probe, floor, err := b.startTimed(fleet)
	if err != nil {
		return err
	}
	defer sim.Close()
	fmt.Printf("\n## N = %d (%d clusters); one probe %.2fs; floor ceil(%d/%d) x probe = %.1fs\n\n",
		n, len(fleet.Clusters), probe.Seconds(), n, b.o.concurrency, floor.Seconds())
	fmt.Println("| configuration | wall | × floor | remote operations from–to | remote ops per server | WinRM HTTP requests per server | PowerShell processes per server | provider peak RSS | provider CPU | terraform + provider CPU |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, c := range b.o.configs {
		r, err := b.plan(sim, fleet, c, "plan")
		if err != nil {
			return err
		}
		fmt.Printf("| %s %s\n", c, r.row(floor))
	}
	return nil
}

// refreshOnly applies the servicing configuration on an organisation already at its
// targets (the state an apply that reached them leaves), then times plan -refresh-only.
func (b *bench) refreshOnly(n int) error {
	fleet := benchfleet.New(n, 91).AtTarget()
	sim, _, floor, err := b.startTimed(fleet)
	if err != nil {
		return err
	}
	defer sim.Close()
	dir, err := b.workspace(fleet, benchfleet.ServicingWaves, fmt.Sprintf("refresh-%d", n))
	if err != nil {
		return err
	}
	if _, err := b.terraform(dir, "apply", "-input=false", "-auto-approve", "-no-color", fmt.Sprintf("-parallelism=%d", b.o.concurrency)); err != nil {
		return fmt.Errorf("apply of the servicing configuration at N = %d: %w", n, err)
	}
	sim.ResetCounts()
	from := len(sim.Journal())
	r, err := b.timed(dir, sim, fleet, from, "plan", "-refresh-only", "-input=false", "-no-color", fmt.Sprintf("-parallelism=%d", b.o.concurrency))
	if err != nil {
		return err
	}
	fmt.Printf("\n## plan -refresh-only, N = %d, on the applied state of %q (every server at its target); floor %.1fs\n\n", n, benchfleet.ServicingWaves, floor.Seconds())
	fmt.Println("| wall | × floor | remote operations from–to | remote ops per server | WinRM HTTP requests per server | PowerShell processes per server | provider peak RSS | provider CPU | terraform + provider CPU |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	fmt.Printf("%s\n", r.row(floor))
	return nil
}

// row is the measurements of r as a Markdown table row, from its wall column on.
func (r *result) row(floor time.Duration) string {
	return fmt.Sprintf("| %.1f s | %.2f | %.1f–%.1f s | %s | %s | %s | %.0f MB | %.1f s | %.1f s |", r.wall.Seconds(), r.wall.Seconds()/floor.Seconds(),
		r.firstOp.Seconds(), r.lastOp.Seconds(),
		opsSummary(r.perServer), spread(r.perServer, func(p *benchfleet.PerServer) int { return p.HTTPRequests }),
		spread(r.perServer, func(p *benchfleet.PerServer) int { return p.Processes }), float64(r.maxRSSKB)/1024, r.cpu, r.terraformCPU)
}

// startTimed starts the simulator for fleet and measures one probe time and the floor.
func (b *bench) startTimed(fleet benchfleet.Fleet) (*simulator.Simulator, time.Duration, time.Duration, error) {
	sim, err := b.start(fleet)
	if err != nil {
		return nil, 0, 0, err
	}
	probe, err := b.probeTime(sim, fleet)
	if err != nil {
		sim.Close()
		return nil, 0, 0, err
	}
	return sim, probe, time.Duration(math.Ceil(float64(len(fleet.Servers))/float64(b.o.concurrency))) * probe, nil
}

func (b *bench) start(fleet benchfleet.Fleet) (*simulator.Simulator, error) {
	f, err := fleet.SimulatorFleet()
	if err != nil {
		return nil, err
	}
	sim, err := simulator.Start(f, simulator.Options{
		DisableHTTP: true, Latency: b.o.latency,
		InstallDuration: 200 * time.Millisecond, RebootDuration: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	b.simEnv = []string{"EXCHANGE_PORT=" + strconv.Itoa(sim.HTTPSPort()), "EXCHANGE_CA_CERTIFICATE=" + string(sim.CACertPEM()),
		"EXCHANGE_POLL_INTERVAL=200ms"}
	return sim, nil
}

// probeTime is the median of single probes, each by a fresh client (a new connection,
// TLS handshake and shell, as the provider's first operation on a server is).
func (b *bench) probeTime(sim *simulator.Simulator, fleet benchfleet.Fleet) (time.Duration, error) {
	var times []time.Duration
	for i := 0; i < b.o.probeSamples && i < len(fleet.Servers); i++ {
		s := fleet.Servers[i]
		c, err := remote.New(remote.Config{Username: benchfleet.Username, Password: benchfleet.Password, HTTPS: true,
			Port: sim.HTTPSPort(), CACertificate: sim.CACertPEM(), Timeout: time.Minute})
		if err != nil {
			return 0, err
		}
		start := time.Now()
		_, err = c.Probe(context.Background(), remote.Target{Server: s.Name, Address: s.Address})
		times = append(times, time.Since(start))
		_ = c.Close()
		if err != nil {
			return 0, fmt.Errorf("timing a probe of %s: %w", s.Name, err)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2], nil
}

func (b *bench) workspace(fleet benchfleet.Fleet, config, name string) (string, error) {
	dir := filepath.Join(b.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	text, err := fleet.Config(config, b.o.concurrency)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(text), 0o600)
}

func (b *bench) plan(sim *simulator.Simulator, fleet benchfleet.Fleet, config, verb string) (*result, error) {
	dir, err := b.workspace(fleet, config, fmt.Sprintf("n%d-%s", len(fleet.Servers), strings.Fields(config)[0]))
	if err != nil {
		return nil, err
	}
	sim.ResetCounts()
	from := len(sim.Journal())
	args := []string{verb, "-input=false", "-no-color", "-lock=false", fmt.Sprintf("-parallelism=%d", b.o.concurrency)}
	if b.o.keep {
		args = append(args, "-out=plan.tfplan")
	}
	return b.timed(dir, sim, fleet, from, args...)
}

func (b *bench) timed(dir string, sim *simulator.Simulator, fleet benchfleet.Fleet, from int, args ...string) (*result, error) {
	rusage := filepath.Join(dir, "rusage")
	_ = os.Remove(rusage)
	start := time.Now()
	_, tfCPU, err := b.terraformCPU(dir, args...)
	wall := time.Since(start)
	if err != nil {
		return nil, err
	}
	r := &result{wall: wall, terraformCPU: tfCPU, perServer: benchfleet.Measure(sim, fleet, from), servers: len(fleet.Servers)}
	for i, e := range sim.Journal()[from:] {
		at := e.Time.Sub(start)
		if i == 0 {
			r.firstOp = at
		}
		r.lastOp = at
	}
	raw, _ := os.ReadFile(rusage)
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var kb int64
		var user, sys float64
		if _, err := fmt.Sscan(line, &kb, &user, &sys); err == nil {
			r.processes++
			r.maxRSSKB = max(r.maxRSSKB, kb)
			r.cpu += user + sys
		}
	}
	if r.processes == 0 {
		return nil, errors.New("the provider wrapper recorded no provider process")
	}
	return r, nil
}

func (b *bench) terraform(dir string, args ...string) (string, error) {
	out, _, err := b.terraformCPU(dir, args...)
	return out, err
}

// terraformCPU runs terraform and returns its CPU time, its children's included (the
// provider processes it waited for).
func (b *bench) terraformCPU(dir string, args ...string) (string, float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.o.terraform, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+b.rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"EXCHANGE_USERNAME="+benchfleet.Username, "EXCHANGE_PASSWORD="+benchfleet.Password,
		"BENCH_REAL_PROVIDER="+b.real, "BENCH_RUSAGE_FILE="+filepath.Join(dir, "rusage"),
	)
	cmd.Env = append(cmd.Env, b.simEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), 0, fmt.Errorf("terraform %s in %s: %v\n%s", strings.Join(args, " "), dir, err, tail(string(out), 4000))
	}
	cpu := 0.0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = tv(ru.Utime) + tv(ru.Stime)
	}
	return string(out), cpu, nil
}
