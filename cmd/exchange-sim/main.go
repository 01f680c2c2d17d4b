// Command exchange-sim runs the Exchange organisation simulator for demos and manual
// testing: every server of a fleet file listens on its own loopback address and answers
// the provider over WS-Management. See docs/simulator.md.
//
//	exchange-sim -fleet FILE [-journal FILE] [-http-port 5985] [-https-port 5986]
//	             [-ca-out FILE] [-ready-file FILE] [-latency 0s]
//	             [-install-duration 2s] [-reboot-duration 1s] [-control 127.0.0.1:0]
//	exchange-sim -fleet FILE -check
//	exchange-sim upgrade-evs -control ADDR -evs NAME [-node NODE]
//
// -control ADDR (a loopback host:port) serves the control endpoint, where a test or the demo
// does what an administrator does by hand on a real server; `exchange-sim upgrade-evs` calls
// it (Upgrade Exchange Virtual Server, the manual step of an Exchange 2003 cluster upgrade).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// run is main without the process around it, so tests can drive it. It returns the exit
// code: 0 after a clean stop, 1 when the simulator cannot run, 2 for a bad command line
// or fleet file.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	if len(args) > 0 && args[0] == "upgrade-evs" {
		return upgradeEVS(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("exchange-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fleetPath := fs.String("fleet", "", "fleet `file` (JSON) describing the servers to simulate (required)")
	check := fs.Bool("check", false, "only validate the fleet file, then exit")
	journalPath := fs.String("journal", "", "write every operation as a JSON line to `file`, emptied first (\"-\" for stdout)")
	httpPort := fs.Int("http-port", 5985, "HTTP `port` every server listens on (0 picks a free one, -1 turns HTTP off)")
	httpsPort := fs.Int("https-port", 5986, "HTTPS `port` every server listens on (0 picks a free one, -1 turns HTTPS off)")
	caOut := fs.String("ca-out", "", "write the CA certificate (PEM) that signed the servers' certificates to `file`")
	readyFile := fs.String("ready-file", "", "once listening, write HTTP_PORT=, HTTPS_PORT=, PID= (and CONTROL= with -control) lines to `file`; removed on exit")
	latency := fs.Duration("latency", 0, "delay added to every operation, e.g. 200ms")
	installDuration := fs.Duration("install-duration", 2*time.Second, "how long a service pack install runs (rollups half, interim updates and UM language packs a quarter)")
	rebootDuration := fs.Duration("reboot-duration", time.Second, "how long a rebooting server stays unreachable")
	control := fs.String("control", "", "serve the control endpoint (an administrator's manual actions, e.g. exchange-sim upgrade-evs) on loopback `host:port`, e.g. 127.0.0.1:0")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: exchange-sim -fleet FILE [-journal FILE] [-http-port 5985] [-https-port 5986] [-ca-out FILE] [-ready-file FILE]")
		fmt.Fprintln(stderr, "                    [-latency 0s] [-install-duration 2s] [-reboot-duration 1s] [-control 127.0.0.1:0]")
		fmt.Fprintln(stderr, "       exchange-sim -fleet FILE -check")
		fmt.Fprintln(stderr, "       exchange-sim upgrade-evs -control ADDR -evs NAME [-node NODE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "exchange-sim: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{{"-latency", *latency}, {"-install-duration", *installDuration}, {"-reboot-duration", *rebootDuration}} {
		if d.value < 0 || (d.flag != "-latency" && d.value == 0) {
			fmt.Fprintf(stderr, "exchange-sim: %s %s: give a positive duration, e.g. 2s\n", d.flag, d.value)
			return 2
		}
	}
	if *fleetPath == "" {
		fmt.Fprintln(stderr, "exchange-sim: -fleet is required: name the fleet file to simulate")
		return 2
	}
	fleet, err := simulator.LoadFleet(*fleetPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *check {
		fmt.Fprintf(stdout, "%s: OK, %s, %s\n", *fleetPath, count(len(fleet.Servers), "server"), count(len(fleet.Clusters), "cluster"))
		return 0
	}

	opts := simulator.Options{
		HTTPPort:        max(*httpPort, 0),
		HTTPSPort:       max(*httpsPort, 0),
		DisableHTTP:     *httpPort < 0,
		DisableHTTPS:    *httpsPort < 0,
		Latency:         *latency,
		InstallDuration: *installDuration,
		RebootDuration:  *rebootDuration,
		ControlAddr:     *control,
		Log:             log.New(stderr, "exchange-sim: ", log.LstdFlags),
	}
	switch *journalPath {
	case "":
	case "-":
		opts.Journal = stdout
	default:
		f, err := os.Create(*journalPath)
		if err != nil {
			fmt.Fprintln(stderr, "exchange-sim:", err)
			return 1
		}
		defer f.Close()
		opts.Journal = f
	}

	sim, err := simulator.Start(fleet, opts)
	if err != nil {
		fmt.Fprintln(stderr, "exchange-sim:", err)
		return 1
	}
	code := serve(sim, fleet, stdout, stderr, *caOut, *readyFile, stop)
	if err := sim.Close(); err != nil {
		fmt.Fprintln(stderr, "exchange-sim:", err)
		code = 1
	}
	if *readyFile != "" {
		os.Remove(*readyFile)
	}
	return code
}

// serve announces the running simulator and waits for a signal.
func serve(sim *simulator.Simulator, fleet *simulator.Fleet, stdout, stderr io.Writer, caOut, readyFile string, stop <-chan os.Signal) int {
	if caOut != "" && sim.HTTPSPort() == 0 {
		fmt.Fprintln(stderr, "exchange-sim: -ca-out needs HTTPS, which is turned off")
		return 2
	}
	if caOut != "" {
		if err := os.WriteFile(caOut, sim.CACertPEM(), 0o644); err != nil {
			fmt.Fprintln(stderr, "exchange-sim:", err)
			return 1
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, s := range fleet.Servers {
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\n", s.Name, s.Product, s.Build, orDash(sim.URL(s.Name, false)), orDash(sim.URL(s.Name, true)))
	}
	// A CMS/EVS name with an address of its own: answered by the node that owns it.
	for _, c := range fleet.Clusters {
		for _, g := range c.ExchangeGroups() {
			if g.Address.IsValid() {
				fmt.Fprintf(tw, "%s\t%s of %s\t%s\t%s\n", g.Name, c.Type, strings.Join(c.Nodes, "+"), orDash(sim.URL(g.Name, false)), orDash(sim.URL(g.Name, true)))
			}
		}
	}
	tw.Flush()
	if readyFile != "" {
		ready := fmt.Sprintf("HTTP_PORT=%d\nHTTPS_PORT=%d\nPID=%d\n", sim.HTTPPort(), sim.HTTPSPort(), os.Getpid())
		if sim.ControlAddr() != "" {
			ready += "CONTROL=" + sim.ControlAddr() + "\n"
		}
		if err := writeAtomic(readyFile, []byte(ready)); err != nil {
			fmt.Fprintln(stderr, "exchange-sim:", err)
			return 1
		}
	}
	if sim.ControlAddr() != "" {
		fmt.Fprintf(stderr, "exchange-sim: control endpoint on %s (exchange-sim upgrade-evs -control %s -evs NAME)\n", sim.ControlAddr(), sim.ControlAddr())
	}
	fmt.Fprintf(stderr, "exchange-sim: %d servers listening; stop with Ctrl-C\n", len(fleet.Servers))
	sig := <-stop
	fmt.Fprintf(stderr, "exchange-sim: %v: stopping\n", sig)
	return 0
}

// writeAtomic writes through a temporary file and a rename, so a script waiting for the
// file never reads it half-written.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return errors.Join(errors.New("writing the ready file"), err)
	}
	return nil
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
