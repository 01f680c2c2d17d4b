package simulator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// A fleet without a winrm block is configured as Windows ships WinRM: Negotiate on, Basic off,
// AllowUnencrypted false. The provider's NTLM over HTTP (sealed) gets through; Basic does not,
// over HTTPS because it is off, over HTTP also because it is clear.
func TestWinRMServiceDefaults(t *testing.T) {
	f, err := ParseFleet(strings.NewReader(`{
  "credentials": {"username": "CONTOSO\\svc", "password": "pw-1"},
  "servers": [{"name": "EX01", "address": "127.0.0.1", "product": "2007", "build": "8.3.83.6", "roles": ["Mailbox"]}]
}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.WinRM != (WinRMService{}) {
		t.Fatalf("defaults %+v", f.WinRM)
	}
	sim, err := Start(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	probe := func(cfg remote.Config) error {
		cfg.Username, cfg.Timeout = `CONTOSO\svc`, 5*time.Second
		if cfg.Password == "" {
			cfg.Password = "pw-1"
		}
		c, err := remote.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Probe(ctx, remote.Target{Server: "EX01", Address: sim.Addr("EX01")})
		return err
	}
	if err := probe(remote.Config{Auth: remote.AuthNTLM, Port: sim.HTTPPort()}); err != nil {
		t.Fatalf("NTLM over HTTP: %v", err)
	}
	if st := sim.Endpoint("EX01").Stats(); st.Sealed == 0 || st.UnencryptedRefused != 0 {
		t.Errorf("the probe was not sealed: %+v", st)
	}
	for name, cfg := range map[string]remote.Config{
		"basic over https":     {Auth: remote.AuthBasic, HTTPS: true, Port: sim.HTTPSPort(), CACertificate: sim.CACertPEM()},
		"basic over http":      {Auth: remote.AuthBasic, Port: sim.HTTPPort(), AllowUnencrypted: true},
		"ntlm, wrong password": {Auth: remote.AuthNTLM, Port: sim.HTTPPort(), Password: "pw-2"},
	} {
		var re *remote.Error
		if err := probe(cfg); !errors.As(err, &re) || re.Kind != remote.KindAuth {
			t.Errorf("%s: %v, want an authentication error", name, err)
		} else if strings.Contains(err.Error(), "pw-") {
			t.Errorf("%s: the error holds a password: %v", name, err)
		}
	}
	if n := len(sim.Journal()); n != 1 {
		t.Errorf("%d journal entries, want the one sealed probe", n)
	}
}
