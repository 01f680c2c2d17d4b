package simulator

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// A host on Windows 2000 or NT 4.0 has no WinRM (KB 968930): its WinRM ports refuse the
// connection, on both schemes, and the provider's client says what such a host may be. It
// stays in the organisation: discover run on a server that has WinRM lists it.
func TestHostsWithoutWinRMRefuseConnections(t *testing.T) {
	sim, client, ctx := startDiscoverFleet(t, map[string]any{
		"credentials": map[string]any{"username": `CONTOSO\svc-exchange`, "password": testPassword},
		"servers": []any{
			map[string]any{"name": "BE03", "address": "127.0.62.1", "product": "2003", "build": "6.5.7638.2"},
			map[string]any{"name": "BE2K3", "address": "127.0.62.2", "product": "2003", "build": "6.5.7638.2",
				"os": map[string]any{"caption": "Microsoft Windows 2000 Server", "version": "5.0.2195", "service_pack": 4}},
			map[string]any{"name": "E2K", "address": "127.0.62.3", "product": "2000", "build": "6.0.6249"},
			map[string]any{"name": "E55", "address": "127.0.62.4", "product": "5.5", "build": "5.5.2653"},
			map[string]any{"name": "E55NT", "address": "127.0.62.5", "product": "5.5", "build": "5.5.2653",
				"os": map[string]any{"caption": "Microsoft Windows NT Server", "version": "4.0.1381", "service_pack": 6}},
		},
	})
	for _, name := range []string{"BE2K3", "E2K", "E55", "E55NT"} {
		if sim.Host(name).ServesWinRM() {
			t.Errorf("%s: ServesWinRM = true on %s", name, sim.Host(name).State().OS.Caption)
		}
		_, err := net.DialTimeout("tcp", net.JoinHostPort(sim.Addr(name), strconv.Itoa(sim.HTTPPort())), time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: dial = %v, want connection refused", name, err)
		}
	}
	// The client retries a refused connection before it gives up: one host shows it.
	_, err := client.Probe(ctx, remote.Target{Server: "BE2K3", Address: sim.Addr("BE2K3")})
	if err == nil || !strings.Contains(err.Error(), "If the server runs Windows 2000 or Windows NT 4.0") {
		t.Errorf("BE2K3: probe error %v, want the refused connection explained", err)
	}
	if !sim.Host("BE03").ServesWinRM() {
		t.Error("BE03 on Windows 2003 SP2: ServesWinRM = false")
	}
	got, err := client.Discover(ctx, remote.Target{Server: "BE03", Address: sim.Addr("BE03")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got.Servers {
		names = append(names, s.Name+" "+s.Product)
	}
	if want := []string{"BE03 2003", "BE2K3 2003", "E2K 2000", "E55 5.5", "E55NT 5.5"}; !slices.Equal(names, want) {
		t.Errorf("discover on BE03 lists %q, want %q", names, want)
	}
	// Nothing reached the hosts without WinRM: the only entry is BE03's discover.
	if j := sim.Journal(); len(j) != 1 || j[0].Server != "BE03" {
		t.Errorf("journal %+v, want only BE03's discover", j)
	}
}

// The HTTPS port refuses as well, and a fleet of such hosts alone still starts (the port is
// one that every address could have, so the provider's single port setting applies).
func TestOnlyHostsWithoutWinRMStillStart(t *testing.T) {
	raw := `{"credentials": {"username": "u", "password": "p"},
  "servers": [{"name": "E55", "address": "127.0.62.11", "product": "5.5", "build": "5.5.2653"}]}`
	fleet, err := ParseFleet(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := Start(fleet, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	for _, port := range []int{sim.HTTPPort(), sim.HTTPSPort()} {
		if port == 0 {
			t.Fatal("no port")
		}
		_, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.62.11", strconv.Itoa(port)), time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("port %d: dial = %v, want connection refused", port, err)
		}
	}
}

// Which Windows versions can have WinRM (KB 968930): the Management Framework Core package
// needs XP SP3, Server 2003 SP2 or Vista/Server 2008 SP1; 2008 R2 and later include it.
func TestServesWinRMByWindowsVersion(t *testing.T) {
	for _, c := range []struct {
		version string
		sp      int
		want    bool
	}{
		{"4.0.1381", 6, false},  // NT 4.0 SP6
		{"5.0.2195", 4, false},  // Windows 2000 SP4
		{"5.1.2600", 2, false},  // XP SP2
		{"5.1.2600", 3, true},   // XP SP3
		{"5.2.3790", 0, false},  // Server 2003 RTM
		{"5.2.3790", 1, false},  // Server 2003 SP1
		{"5.2.3790", 2, true},   // Server 2003 SP2 (and R2 SP2)
		{"6.0.6000", 0, false},  // Vista RTM
		{"6.0.6001", 0, true},   // Server 2008 RTM is build 6001 (the SP1 level)
		{"6.0.6002", 2, true},   // Server 2008 SP2
		{"6.1.7601", 1, true},   // Server 2008 R2 SP1
		{"10.0.14393", 0, true}, // Server 2016
		{"", 0, true},           // not stated: assumed modern
	} {
		if got := servesWinRM(exchange.OSFacts{Version: c.version, ServicePack: c.sp}); got != c.want {
			t.Errorf("servesWinRM(%s SP%d) = %v, want %v", c.version, c.sp, got, c.want)
		}
	}
}
