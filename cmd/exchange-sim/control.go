package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// upgradeEVS is `exchange-sim upgrade-evs`: the administrator's "Upgrade Exchange Virtual
// Server" in Cluster Administrator, through the control endpoint of a running simulator
// (-control). It exits 0 when the virtual server was upgraded, 1 when the simulator refused
// (the reason as Exchange gives it) or cannot be reached, 2 for a bad command line.
func upgradeEVS(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("exchange-sim upgrade-evs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	control := fs.String("control", "", "`host:port` of the simulator's control endpoint (its -control flag; CONTROL= in its ready file) (required)")
	evs := fs.String("evs", "", "the Exchange 2003 virtual server `name` to upgrade (required)")
	node := fs.String("node", "", "the `node` Cluster Administrator runs on (default: the node that owns the virtual server)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: exchange-sim upgrade-evs -control ADDR -evs NAME [-node NODE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "exchange-sim upgrade-evs: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *control == "":
		fmt.Fprintln(stderr, "exchange-sim upgrade-evs: -control is required: give the address the simulator's -control flag serves (CONTROL= in its ready file)")
		return 2
	case *evs == "":
		fmt.Fprintln(stderr, "exchange-sim upgrade-evs: -evs is required: name the Exchange virtual server to upgrade")
		return 2
	}
	q := url.Values{"evs": {*evs}}
	if *node != "" {
		q.Set("node", *node)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post("http://"+*control+simulator.ControlPathUpgradeEVS+"?"+q.Encode(), "text/plain", nil)
	if err != nil {
		fmt.Fprintln(stderr, "exchange-sim upgrade-evs:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "exchange-sim upgrade-evs: %s\n", text)
		return 1
	}
	fmt.Fprintln(stdout, text)
	return 0
}
