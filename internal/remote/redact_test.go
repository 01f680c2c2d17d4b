package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

// Passwords that are short or are words our own messages use. Redaction must neither leak
// them nor cut our own words apart ("WinRM ********ejected the c********edentials").
var awkwardPasswords = []string{"e", "r", "ab", "in", "the", "for", "user", "WinRM", "credentials", "rejected"}

// The 401 message is ours alone: nothing of it comes from the server, so none of it is masked,
// whatever the password is.
func TestAuthErrorKeepsItsWordsWhateverThePassword(t *testing.T) {
	for _, pw := range awkwardPasswords {
		t.Run(pw, func(t *testing.T) {
			f := newFixture(t, okHandler(t), false, wsman.Options{
				Authenticate: func(u, p string) bool { return false },
			}, func(c *Config) { c.Password = pw })
			_, err := f.client.Probe(testCtx(t), f.target)
			if re := asError(t, err); re.Kind != KindAuth {
				t.Fatalf("kind %s: %v", re.Kind, err)
			}
			msg := err.Error()
			want := `WinRM rejected the credentials for user "corp\\admin" (HTTP 401). Check username/password`
			if !strings.Contains(msg, want) {
				t.Errorf("message lost its words:\n got: %s\nwant: …%s…", msg, want)
			}
			if strings.Contains(msg, "****") {
				t.Errorf("message masked words of its own: %s", msg)
			}
		})
	}
}

// What a server sends back (a script's fault, stderr) may echo anything; the password in it
// is masked as a whole token, wherever the caller reads it: Error(), and the *wire.Fault the
// servicing executor and the provider's diagnostics take out of the chain.
func TestServerTextIsMaskedByWholeTokens(t *testing.T) {
	for _, pw := range awkwardPasswords {
		t.Run(pw, func(t *testing.T) {
			echo := fmt.Sprintf("logon with %s failed: %q (%s)", pw, pw, pw)
			f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
				out, _ := wire.EncodeFault(s.Operation, "refused", echo)
				return wsman.Result{Stdout: []byte(out), ExitCode: 1}
			}), false, wsman.Options{Authenticate: func(u, p string) bool { return p == pw }}, func(c *Config) { c.Password = pw })
			_, err := f.client.Probe(testCtx(t), f.target)
			var fault *wire.Fault
			if !errors.As(err, &fault) {
				t.Fatalf("no *wire.Fault in %v", err)
			}
			want := `logon with ******** failed: "********" (********)`
			if fault.Message != want {
				t.Errorf("fault message:\n got: %s\nwant: %s", fault.Message, want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error text:\n got: %s\nwant: …%s…", err.Error(), want)
			}
			wrapped := fmt.Errorf("the installer did not start: %w", fault) // as the executor wraps it
			if got := wrapped.Error(); got != "the installer did not start: refused: "+want {
				t.Errorf("the executor's wrapping: %s", got)
			}
		})
	}
}

func TestMaskTokens(t *testing.T) {
	for _, tc := range []struct{ text, secret, want string }{
		{"WinRM rejected the credentials", "e", "WinRM rejected the credentials"},
		{"password e was wrong", "e", "password ******** was wrong"},
		{"e", "e", "********"},
		{"e,e;e", "e", "********,********;********"},
		{"the theme of the day", "the", "******** theme of ******** day"},
		{"Pa55w0rd!secret echoed", "Pa55w0rd!secret", "******** echoed"},
		{"xPa55w0rd!secret", "Pa55w0rd!secret", "xPa55w0rd!secret"},
		{"'!x' and !x!", "!x", "'********' and ********!"},
		{"nothing here", "", "nothing here"},
	} {
		if got := maskTokens(tc.text, tc.secret); got != tc.want {
			t.Errorf("maskTokens(%q, %q) = %q, want %q", tc.text, tc.secret, got, tc.want)
		}
	}
}
