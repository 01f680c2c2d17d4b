package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const fixture = "../../internal/simulator/testdata/fleet.json"

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-fleet", fixture, "-check"}, &out, &errOut, nil); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if want := fixture + ": OK, 10 servers, 2 clusters\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
}

func TestBadDurationsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"-fleet", fixture, "-install-duration", "0s"},
		{"-fleet", fixture, "-reboot-duration", "-1s"},
		{"-fleet", fixture, "-latency", "-5ms"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut, nil); code != 2 || !strings.Contains(errOut.String(), "give a positive duration") {
			t.Errorf("%q: exit %d, %q", args, code, errOut.String())
		}
	}
}

func TestBadFleetExits2WithTheProblem(t *testing.T) {
	var out, errOut bytes.Buffer
	bad := "../../internal/simulator/testdata/bad-unknown-field.json"
	if code := run([]string{"-fleet", bad}, &out, &errOut, nil); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	want := bad + `: servers[2] ("EX03"): unknown field "intenet_facing" (did you mean "internet_facing"?)` + "\n"
	if errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
	errOut.Reset()
	if code := run(nil, &out, &errOut, nil); code != 2 || !strings.Contains(errOut.String(), "-fleet is required") {
		t.Errorf("no -fleet: exit %d, %q", code, errOut.String())
	}
}

func TestUpgradeEVSBadCommandLineExits2(t *testing.T) {
	for args, says := range map[string]string{
		"upgrade-evs -evs EVS1":                "-control is required",
		"upgrade-evs -control 127.0.0.1:1":     "-evs is required",
		"upgrade-evs -control 127.0.0.1:1 x":   `unexpected argument "x"`,
		"upgrade-evs -evs EVS1 -nosuch-flag y": "flag provided but not defined",
	} {
		var out, errOut bytes.Buffer
		if code := run(strings.Fields(args), &out, &errOut, nil); code != 2 || !strings.Contains(errOut.String(), says) {
			t.Errorf("%s: exit %d, %q; want 2 saying %q", args, code, errOut.String(), says)
		}
	}
}

func TestRunUntilSignal(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	caFile := filepath.Join(dir, "ca.pem")
	journalFile := filepath.Join(dir, "journal.jsonl")
	stop := make(chan os.Signal, 1)
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run([]string{"-fleet", fixture, "-http-port", "0", "-https-port", "0",
			"-ready-file", ready, "-ca-out", caFile, "-journal", journalFile, "-control", "127.0.0.1:0"}, &out, &errOut, stop)
	}()

	deadline := time.Now().Add(10 * time.Second)
	var readyText []byte
	for {
		var err error
		if readyText, err = os.ReadFile(ready); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("exited %d before ready: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no ready file after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(readyText))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		vars[k] = v
	}
	if vars["HTTP_PORT"] == "" || vars["HTTP_PORT"] == "0" || vars["HTTPS_PORT"] == "" || vars["PID"] == "" ||
		!strings.HasPrefix(vars["CONTROL"], "127.0.0.1:") {
		t.Errorf("ready file %q", readyText)
	}
	// The control answers the subcommand: a virtual server no cluster has is refused.
	var cout, cerr bytes.Buffer
	if code := run([]string{"upgrade-evs", "-control", vars["CONTROL"], "-evs", "NOSUCH"}, &cout, &cerr, nil); code != 1 ||
		cerr.String() != "exchange-sim upgrade-evs: no cluster of the fleet has a virtual server \"NOSUCH\"\n" {
		t.Errorf("upgrade-evs NOSUCH: exit %d, stdout %q, stderr %q", code, cout.String(), cerr.String())
	}

	pemBytes, err := os.ReadFile(caFile)
	if block, _ := pem.Decode(pemBytes); err != nil || block == nil || block.Type != "CERTIFICATE" {
		t.Errorf("CA file: %v %q", err, pemBytes)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("want one line per server, got:\n%s", out.String())
	}
	fields := strings.Fields(lines[0])
	want := []string{"EX01", "2007", "8.1.393.1",
		"http://127.0.10.11:" + vars["HTTP_PORT"] + "/wsman", "https://127.0.10.11:" + vars["HTTPS_PORT"] + "/wsman"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("first line %q, want fields %q", lines[0], want)
	}

	stop <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop within 10s of SIGTERM")
	}
	if _, err := os.Stat(ready); !os.IsNotExist(err) {
		t.Errorf("ready file left behind: %v", err)
	}
	if _, err := os.Stat(journalFile); err != nil {
		t.Errorf("journal file: %v", err)
	}
	var e map[string]any
	if data, _ := os.ReadFile(journalFile); len(data) > 0 && json.Unmarshal(bytes.SplitN(data, []byte("\n"), 2)[0], &e) != nil {
		t.Errorf("journal is not JSON lines: %q", data)
	}
}
