package remote

import (
	"strings"
	"testing"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

// A default-configured Windows server over HTTP: Negotiate only, AllowUnencrypted = false.
var windowsDefaults = wsman.Options{NTLM: &wsman.Account{Username: testUser, Password: testPass}}

func TestNTLMOverHTTPSealsEveryMessage(t *testing.T) {
	f := newFixture(t, okHandler(t), false, windowsDefaults, func(c *Config) { c.Auth = AuthNTLM; c.AllowUnencrypted = false })
	for range 3 { // more than one message per connection: the sequence numbers go on
		facts, err := f.client.Probe(testCtx(t), f.target)
		if err != nil || facts.Server != "EX01" {
			t.Fatalf("%+v %v", facts, err)
		}
	}
	st := f.srv.Stats()
	// Create, Command, Send, Receive..., Signal (and Delete) are all WS-Management messages.
	if st.Sealed < 4 || st.UnencryptedRefused != 0 || st.CommandsStarted != 3 {
		t.Errorf("want every message sealed: %+v", st)
	}
}

func TestNTLMWrongPasswordIsRefused(t *testing.T) {
	f := newFixture(t, okHandler(t), false, windowsDefaults, func(c *Config) { c.Auth = AuthNTLM; c.Password = "Wr0ng-Pa55w0rd!" })
	_, err := f.client.Probe(testCtx(t), f.target)
	re := asError(t, err)
	if re.Kind != KindAuth {
		t.Fatalf("kind %s: %v", re.Kind, err)
	}
	msg := err.Error()
	for _, want := range []string{`WinRM rejected the credentials for user "corp\\admin"`, "HTTP 401", `auth = "ntlm"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "Wr0ng-Pa55w0rd!") || strings.Contains(msg, testPass) {
		t.Errorf("message contains a password: %s", msg)
	}
	if st := f.srv.Stats(); st.ShellsCreated != 0 || st.Sealed != 0 {
		t.Errorf("something got through: %+v", st)
	}
}

// The same server refuses a client that sends its messages in the clear over HTTP.
func TestServerRefusesUnencryptedMessagesOverHTTP(t *testing.T) {
	opts := windowsDefaults
	opts.Authenticate = func(u, p string) bool { return u == testUser && p == testPass } // Basic on too
	f := newFixture(t, okHandler(t), false, opts, func(c *Config) { c.Auth = AuthBasic; c.AllowUnencrypted = true })
	_, err := f.client.Probe(testCtx(t), f.target)
	if re := asError(t, err); re.Kind != KindAuth || !strings.Contains(err.Error(), "AllowUnencrypted when https is false") {
		t.Fatalf("want the 401 that names AllowUnencrypted, got %s: %v", re.Kind, err)
	}
	if st := f.srv.Stats(); st.UnencryptedRefused == 0 || st.ShellsCreated != 0 {
		t.Errorf("not refused for being unencrypted: %+v", st)
	}
}

// An NTLM client must never give the password to a server that offers only Basic over HTTP.
func TestNTLMOverHTTPNeverFallsBackToBasic(t *testing.T) {
	var basicTried bool
	f := newFixture(t, okHandler(t), false, wsman.Options{Authenticate: func(u, p string) bool { basicTried = true; return true }},
		func(c *Config) { c.Auth = AuthNTLM; c.AllowUnencrypted = false })
	_, err := f.client.Probe(testCtx(t), f.target)
	if re := asError(t, err); re.Kind != KindAuth || !strings.Contains(err.Error(), `auth = "ntlm" needs Negotiate enabled on the server`) {
		t.Fatalf("want a refusal saying Negotiate is needed, got %v", err)
	}
	if basicTried {
		t.Error("the NTLM client sent Basic credentials over HTTP")
	}
}

func TestNTLMOverHTTPS(t *testing.T) {
	f := newFixture(t, okHandler(t), true, windowsDefaults, func(c *Config) { c.Auth = AuthNTLM; c.Insecure = true })
	if _, err := f.client.Probe(testCtx(t), f.target); err != nil {
		t.Fatal(err)
	}
}
