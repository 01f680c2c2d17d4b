package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/scripts"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

const testPassword = "Sim-Passw0rd!"

// testHandler is the handler of one fixture host, with a journal of its own.
func testHandler(t *testing.T, name string, w *bytes.Buffer) *Handler {
	t.Helper()
	j := &journal{}
	if w != nil {
		j.w = w
	}
	return &Handler{host: fixtureHosts(t)[name], journal: j, password: testPassword}
}

// probeScript is the probe exactly as the provider renders it.
func probeScript(server string) wire.Script {
	body, _ := scripts.Body("probe")
	return wire.Script{Operation: "probe", Params: []wire.Param{{Name: "Server", Value: server}}, Prelude: scripts.Prelude(), Body: body}
}

func runScript(t *testing.T, h *Handler, commandLine string, s wire.Script) wsman.Result {
	t.Helper()
	text, err := s.Render()
	if err != nil {
		t.Fatal(err)
	}
	return h.Run(context.Background(), wsman.Command{User: "admin", CommandLine: commandLine, Stdin: bytes.NewReader(wire.Pack(text))})
}

func TestDispatchProbeAnswersFacts(t *testing.T) {
	var w bytes.Buffer
	h := testHandler(t, "EX02", &w)
	res := runScript(t, h, wire.CommandLine, probeScript("ex02"))
	if res.ExitCode != 0 || len(res.Stderr) != 0 {
		t.Fatalf("exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	var got exchange.Facts
	if err := wire.DecodeResult(string(res.Stdout), "probe", &got); err != nil {
		t.Fatal(err)
	}
	// Compare through JSON: what the provider decodes is what the host model states.
	want := h.host.Facts()
	var wantRT exchange.Facts
	raw, _ := json.Marshal(want)
	_ = json.Unmarshal(raw, &wantRT)
	if !reflect.DeepEqual(got, wantRT) {
		t.Errorf("decoded facts differ from the host's:\n%+v\n%+v", got, wantRT)
	}

	j := h.journal.snapshot()
	if len(j) != 1 || j[0].Seq != 1 || j[0].Server != "EX02" || j[0].Operation != "probe" || j[0].Outcome != "ok" ||
		!reflect.DeepEqual(j[0].Params, map[string]any{"Server": "ex02"}) {
		t.Errorf("journal = %+v", j)
	}
	var line Entry
	if err := json.Unmarshal(w.Bytes(), &line); err != nil || line.Seq != 1 || line.Outcome != "ok" || !strings.HasSuffix(w.String(), "}\n") {
		t.Errorf("journal line %q: %v", w.String(), err)
	}
}

func TestDispatchProbeWrongServerIsAFault(t *testing.T) {
	cases := []struct{ host, asked, msg string }{
		{"EX02", "EX01", "this host is EX02, not EX01"},
		{"EX03", "CMS01", "this host is EX03, a passive node of CMS01; CMS01 is active on EX02"},
		{"FE01", "CMS01", "this host is FE01, not CMS01"},
		{"FE01", "fe01x.contoso.local", "this host is FE01, not fe01x.contoso.local"},
	}
	for _, tc := range cases {
		h := testHandler(t, tc.host, nil)
		res := runScript(t, h, wire.CommandLine, probeScript(tc.asked))
		if res.ExitCode != 0 {
			t.Errorf("%s asked for %s: exit %d, want 0 (a fault travels in the envelope)", tc.host, tc.asked, res.ExitCode)
		}
		err := wire.DecodeResult(string(res.Stdout), "probe", nil)
		var f *wire.Fault
		if !errors.As(err, &f) || f.Code != "wrong_server" || f.Message != tc.msg {
			t.Errorf("%s asked for %s: %v, want wrong_server: %s", tc.host, tc.asked, err, tc.msg)
		}
		if j := h.journal.snapshot(); len(j) != 1 || j[0].Outcome != "fault:wrong_server" || j[0].Detail != tc.msg {
			t.Errorf("journal = %+v", j)
		}
	}
}

// The names a host answers to, as probe.ps1 compares them.
func TestDispatchProbeAcceptsNamesAsTheRealProbeDoes(t *testing.T) {
	for _, asked := range []string{"EX02", "ex02", " EX02 ", "ex02.contoso.local", "EX02.other.example", "", "cms01", "CMS01.contoso.local"} {
		h := testHandler(t, "EX02", nil)
		res := runScript(t, h, wire.CommandLine, probeScript(asked))
		var f exchange.Facts
		if err := wire.DecodeResult(string(res.Stdout), "probe", &f); err != nil || f.Server != "EX02" || !f.Cluster.Active {
			t.Errorf("probe %q on EX02 (active node of CMS01): %v", asked, err)
		}
	}
}

func TestDispatchRejects(t *testing.T) {
	body, _ := scripts.Body("probe")
	altered := probeScript("EX01")
	altered.Body = body + "\nRemove-Item C:\\ -Recurse"
	stalePrelude := probeScript("EX01")
	stalePrelude.Prelude = "# an old prelude"
	unknownOp := probeScript("EX01")
	unknownOp.Operation = "installServicePack"
	noServer := probeScript("EX01")
	noServer.Params = nil
	intServer := probeScript("EX01")
	intServer.Params = []wire.Param{{Name: "Server", Value: 1}}
	extra := probeScript("EX01")
	extra.Params = append(extra.Params, wire.Param{Name: "Password", Value: testPassword})

	cases := []struct {
		name, commandLine string
		script            wire.Script
		op, reason        string
	}{
		{"unknown command line", "powershell.exe -Command Get-ExchangeServer", probeScript("EX01"), "",
			`unknown command line "powershell.exe -Command Get-ExchangeServer": only the provider's fixed powershell.exe bootstrap (wire.CommandLine) is understood`},
		{"altered body", wire.CommandLine, altered, "probe", "the body is not the embedded probe.ps1: line "},
		{"stale prelude", wire.CommandLine, stalePrelude, "probe", "the prelude is not the embedded prelude.ps1: line 1 differs"},
		{"unknown operation", wire.CommandLine, unknownOp, "installServicePack",
			`unknown operation "installServicePack": the provider has no script of that name`},
		{"missing parameter", wire.CommandLine, noServer, "probe", `missing parameter "Server"`},
		{"parameter of the wrong type", wire.CommandLine, intServer, "probe", `parameter "Server" must be a string literal, got int64`},
		{"unexpected parameter", wire.CommandLine, extra, "probe", `unexpected parameter "Password"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			h := testHandler(t, "EX01", &w)
			res := runScript(t, h, tc.commandLine, tc.script)
			assertRejected(t, h, res, tc.op, tc.reason)
			if strings.Contains(w.String(), testPassword) {
				t.Errorf("the journal shows the password: %s", w.String())
			}
		})
	}
}

func TestDispatchRejectsGarbageStdin(t *testing.T) {
	h := testHandler(t, "EX01", nil)
	res := h.Run(context.Background(), wsman.Command{CommandLine: wire.CommandLine, Stdin: strings.NewReader("not base64!")})
	assertRejected(t, h, res, "", "wire: stdin is not base64")
}

func assertRejected(t *testing.T, h *Handler, res wsman.Result, op, reason string) {
	t.Helper()
	if res.ExitCode != 1 || len(res.Stdout) != 0 {
		t.Errorf("exit %d, stdout %q; want exit 1 and no result", res.ExitCode, res.Stdout)
	}
	if want := "simulator: rejected: " + reason; !strings.HasPrefix(string(res.Stderr), want) {
		t.Errorf("stderr %q, want it to start with %q", res.Stderr, want)
	}
	j := h.journal.snapshot()
	if len(j) != 1 || j[0].Outcome != "rejected" || j[0].Operation != op || !strings.HasPrefix(j[0].Detail, reason) || j[0].Server != "EX01" {
		t.Errorf("journal = %+v", j)
	}
	for _, v := range j[0].Params {
		if v == testPassword {
			t.Errorf("journal params show the password: %+v", j[0].Params)
		}
	}
}

func TestDispatchLatencyHonoursCancel(t *testing.T) {
	h := testHandler(t, "EX01", nil)
	h.latency = 1 << 40 // "forever"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	text, _ := probeScript("EX01").Render()
	res := h.Run(ctx, wsman.Command{CommandLine: wire.CommandLine, Stdin: bytes.NewReader(wire.Pack(text))})
	if res.ExitCode != 1 || len(h.journal.snapshot()) != 0 {
		t.Errorf("cancelled during latency: exit %d, journal %+v; want exit 1 and nothing journaled", res.ExitCode, h.journal.snapshot())
	}
}
