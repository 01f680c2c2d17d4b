package simulator

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/masterzen/winrm"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

func startFixture(t *testing.T, o Options) *Simulator {
	t.Helper()
	sim, err := Start(loadFixture(t), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sim
}

// rawProbe runs the probe with the winrm client directly, below the provider's transport,
// so the simulator's listeners, TLS and authentication are tested on their own.
func rawProbe(t *testing.T, sim *Simulator, server, user, password string, https bool) (string, string, int, error) {
	t.Helper()
	port := sim.HTTPPort()
	if https {
		port = sim.HTTPSPort()
	}
	ep := winrm.NewEndpoint(sim.Addr(server), port, https, false, sim.CACertPEM(), nil, nil, 10*time.Second)
	c, err := winrm.NewClient(ep, user, password)
	if err != nil {
		t.Fatal(err)
	}
	text, err := probeScript(server).Render()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code, err := c.RunWithContextWithInput(context.Background(), wire.CommandLine, &stdout, &stderr, bytes.NewReader(wire.Pack(text)))
	return stdout.String(), stderr.String(), code, err
}

func TestStartServesEveryServerOnOnePort(t *testing.T) {
	var journal bytes.Buffer
	sim := startFixture(t, Options{Journal: &journal})
	if sim.HTTPPort() == 0 || sim.HTTPSPort() == 0 || sim.HTTPPort() == sim.HTTPSPort() {
		t.Fatalf("ports: http %d, https %d", sim.HTTPPort(), sim.HTTPSPort())
	}
	for _, h := range sim.Hosts() {
		for _, port := range []int{sim.HTTPPort(), sim.HTTPSPort()} {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(sim.Addr(h.Name()), strconv.Itoa(port)), time.Second)
			if !h.ServesWinRM() {
				// EX2K01 and EX55 run Windows 2000: no WinRM, the port refuses (winrm_test.go).
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("%s (no WinRM) on %d: dial = %v, want connection refused", h.Name(), port, err)
				}
				if c != nil {
					c.Close()
				}
				continue
			}
			if err != nil {
				t.Errorf("%s does not listen on %d: %v", h.Name(), port, err)
				continue
			}
			c.Close()
		}
	}
	if got, want := sim.URL("ex01", true), "https://127.0.10.11:"+strconv.Itoa(sim.HTTPSPort())+"/wsman"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if sim.Addr("nope") != "" || sim.Host("nope") != nil || sim.URL("nope", false) != "" {
		t.Error("an unknown server should give zero values")
	}

	block, _ := pem.Decode(sim.CACertPEM())
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CA: %v", err)
	}

	for _, tc := range []struct {
		server string
		https  bool
	}{{"EX01", true}, {"EX02", false}, {"EX02", true}, {"FE01", true}} {
		stdout, stderr, code, err := rawProbe(t, sim, tc.server, `contoso\SVC-EXCHANGE`, testPassword, tc.https)
		if !tc.https {
			// Basic over HTTP: refused, as WinRM with AllowUnencrypted = false does (the
			// provider's sealed NTLM over HTTP is tested in internal/remote and e2e tests).
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("Basic over HTTP on %s: %v, want 401", tc.server, err)
			}
			continue
		}
		if err != nil || code != 0 {
			t.Fatalf("probe %s: exit %d, %v, stderr %q", tc.server, code, err, stderr)
		}
		var f exchange.Facts
		if err := wire.DecodeResult(stdout, "probe", &f); err != nil || f.Server != tc.server {
			t.Fatalf("probe %s: %v, server %q", tc.server, err, f.Server)
		}
	}

	j := sim.Journal()
	if len(j) != 3 {
		t.Fatalf("journal has %d entries, want 3: %+v", len(j), j)
	}
	lines := strings.Split(strings.TrimSuffix(journal.String(), "\n"), "\n")
	for i, want := range []string{"EX01", "EX02", "FE01"} {
		var e Entry
		if err := json.Unmarshal([]byte(lines[i]), &e); err != nil {
			t.Fatal(err)
		}
		if j[i].Server != want || j[i].Seq != i+1 || e.Server != want || e.Seq != i+1 || e.Outcome != "ok" {
			t.Errorf("entry %d = %+v / %+v, want a probe of %s", i, j[i], e, want)
		}
	}
}

func TestWrongCredentialsAreRefused(t *testing.T) {
	sim := startFixture(t, Options{DisableHTTP: true})
	_, _, _, err := rawProbe(t, sim, "EX01", `CONTOSO\svc-exchange`, "wrong", true)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: %v, want an HTTP 401 error", err)
	}
	if len(sim.Journal()) != 0 {
		t.Errorf("an unauthenticated request reached the journal: %+v", sim.Journal())
	}
}

func TestFixedPortsAndClose(t *testing.T) {
	first := startFixture(t, Options{DisableHTTPS: true})
	// The same fixed port again must fail and say where.
	_, err := Start(loadFixture(t), Options{HTTPPort: first.HTTPPort(), DisableHTTPS: true})
	if err == nil || !strings.Contains(err.Error(), "127.0.10.11:"+strconv.Itoa(first.HTTPPort())) {
		t.Fatalf("second simulator on a taken port: %v", err)
	}
	port := first.HTTPPort()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.10.11", strconv.Itoa(port)), time.Second); err == nil {
		c.Close()
		t.Fatal("still listening after Close")
	}
	again, err := Start(loadFixture(t), Options{HTTPPort: port, DisableHTTPS: true})
	if err != nil {
		t.Fatalf("port %d not free after Close: %v", port, err)
	}
	again.Close()
	if again.CACertPEM() != nil || again.HTTPSPort() != 0 {
		t.Error("HTTPS disabled, yet a CA or port is reported")
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, net.ErrClosed }

func TestJournalWriteErrorIsReportedByClose(t *testing.T) {
	sim, err := Start(loadFixture(t), Options{Journal: errWriter{}, DisableHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, code, err := rawProbe(t, sim, "EX01", "contoso\\svc-exchange", testPassword, true); err != nil || code != 0 {
		t.Fatalf("probe: %d %v", code, err)
	}
	if err := sim.Close(); err == nil || !strings.Contains(err.Error(), "writing the journal") {
		t.Fatalf("Close = %v, want the journal write error", err)
	}
	if len(sim.Journal()) != 1 {
		t.Error("the in-memory journal must keep entries even when the writer fails")
	}
}
