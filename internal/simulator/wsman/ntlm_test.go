package wsman

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/masterzen/winrm"
)

// A Windows server's defaults over HTTP: Negotiate (NTLM) on, Basic off, AllowUnencrypted off.
func newNTLMServer(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	o.NTLM = &Account{Username: testUser, Password: testPass}
	if o.Handler == nil {
		o.Handler = HandlerFunc(func(ctx context.Context, cmd Command) Result {
			return Result{Stdout: []byte("sealed hello from " + cmd.User)}
		})
	}
	s := NewServer(o)
	ts := httptest.NewUnstartedServer(s)
	ts.Config.ConnContext = s.ConnContext
	ts.Start()
	t.Cleanup(func() { s.Close(); ts.Close() })
	return s, ts
}

// clientWith is a winrm client over ts with the transport t (the pinned client's own).
func clientWith(t *testing.T, ts *httptest.Server, user, pass string, tr func() winrm.Transporter) *winrm.Client {
	t.Helper()
	u, _ := url.Parse(ts.URL)
	host, portText, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portText)
	params := *winrm.DefaultParameters
	params.TransportDecorator = tr
	c, err := winrm.NewClientWithParameters(winrm.NewEndpoint(host, port, false, false, nil, nil, nil, 10*time.Second), user, pass, &params)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func encryption(t *testing.T) func() winrm.Transporter {
	return func() winrm.Transporter {
		e, err := winrm.NewEncryption("ntlm")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
}

// The pinned client's own NTLM encryption (an implementation independent of ours) opens and
// deletes a shell: the NTLMv2 response is checked, and the messages both ways are sealed.
// (Only one message at a time: that transport keeps its NTLM state in one field for all
// requests, so concurrent ones, as a command's output and input are, trample each other.
// internal/remote's own transport has no such limit and runs whole commands sealed.)
func TestNTLMSealedMessagesWithThePinnedClient(t *testing.T) {
	s, ts := newNTLMServer(t, Options{})
	c := clientWith(t, ts, testUser, testPass, encryption(t))
	shell, err := c.CreateShell()
	if err != nil {
		t.Fatalf("create: %v; %+v", err, s.Stats())
	}
	if st := s.Stats(); st.OpenShells != 1 || st.Sealed != 1 {
		t.Errorf("after create: %+v", st)
	}
	if err := shell.Close(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if st := s.Stats(); st.OpenShells != 0 || st.Sealed != 2 || st.UnencryptedRefused != 0 {
		t.Errorf("after delete: %+v", st)
	}
}

func TestNTLMWrongPasswordGets401(t *testing.T) {
	s, ts := newNTLMServer(t, Options{})
	c := clientWith(t, ts, testUser, "not-the-password", encryption(t))
	_, _, _, err := c.RunWithContextWithString(testCtx(t), "hostname", "")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("want a 401, got %v", err)
	}
	if st := s.Stats(); st.ShellsCreated != 0 || st.Sealed != 0 {
		t.Errorf("a wrong password got through: %+v", st)
	}
	// And a user the account is not, with the right password.
	c = clientWith(t, ts, `corp\someone`, testPass, encryption(t))
	if _, _, _, err := c.RunWithContextWithString(testCtx(t), "hostname", ""); err == nil {
		t.Fatal("another user was accepted")
	}
}

// NTLM without encryption over HTTP authenticates, but its messages are in the clear: refused
// with 401, as Windows does with AllowUnencrypted = false.
func TestUnencryptedNTLMOverHTTPIsRefused(t *testing.T) {
	s, ts := newNTLMServer(t, Options{})
	c := clientWith(t, ts, testUser, testPass, func() winrm.Transporter { return &winrm.ClientNTLM{} })
	_, _, _, err := c.RunWithContextWithString(testCtx(t), "hostname", "")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("want a 401, got %v", err)
	}
	if st := s.Stats(); st.UnencryptedRefused == 0 || st.ShellsCreated != 0 {
		t.Errorf("not refused as unencrypted: %+v", st)
	}
}

// Basic is off unless enabled, and over HTTP even enabled Basic is refused without
// AllowUnencrypted; 401s offer only what the channel takes.
func TestBasicOnlyWhereEnabled(t *testing.T) {
	for _, tc := range []struct {
		name       string
		o          Options
		offers     []string
		acceptsRun bool
	}{
		{"windows defaults", Options{}, []string{"Negotiate"}, false},
		{"basic on, http", Options{Authenticate: func(u, p string) bool { return true }}, []string{"Negotiate"}, false},
		{"basic on, allow unencrypted", Options{Authenticate: func(u, p string) bool { return true }, AllowUnencrypted: true},
			[]string{"Negotiate", `Basic realm="WSMAN"`}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := newNTLMServer(t, tc.o)
			resp, err := http.Post(ts.URL+"/wsman", "application/soap+xml;charset=UTF-8", strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != 401 || strings.Join(got, "|") != strings.Join(tc.offers, "|") {
				t.Errorf("status %d offers %q, want %q", resp.StatusCode, got, tc.offers)
			}
			c := clientWith(t, ts, testUser, testPass, nil) // Basic
			_, _, _, err = c.RunWithContextWithString(testCtx(t), "hostname", "")
			if (err == nil) != tc.acceptsRun {
				t.Errorf("Basic run: %v", err)
			}
		})
	}
}
