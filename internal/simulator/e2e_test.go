package simulator

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// TestEndToEndProbe runs the provider's real transport against the simulator over HTTPS
// with certificate verification: what the fleet file states is what the provider reads.
func TestEndToEndProbe(t *testing.T) {
	fleet := loadFixture(t)
	sim := startFixture(t, Options{DisableHTTP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	newClient := func(password string) *remote.Client {
		c, err := remote.New(remote.Config{
			Username: fleet.Credentials.Username, Password: password,
			HTTPS: true, Port: sim.HTTPSPort(), CACertificate: sim.CACertPEM(),
			Timeout: 10 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	client := newClient(fleet.Credentials.Password)

	for _, name := range []string{"EX02", "FE01"} {
		want, _ := fleet.Server(name)
		f, err := client.Probe(ctx, remote.Target{Server: name, Address: sim.Addr(name)})
		if err != nil {
			t.Fatalf("probe %s: %v", name, err)
		}
		var kbs []string
		for _, u := range f.InterimUpdates {
			kbs = append(kbs, u.KB)
		}
		switch {
		case f.Server != name || f.Product != want.Product || f.Build != want.Build.String():
			t.Errorf("%s: server %q product %q build %q", name, f.Server, f.Product, f.Build)
		case !slices.Equal(f.Roles, want.Roles) || f.InternetFacing != want.InternetFacing:
			t.Errorf("%s: roles %q internet-facing %v", name, f.Roles, f.InternetFacing)
		case !slices.Equal(kbs, want.InterimUpdates):
			t.Errorf("%s: interim updates %q, want %q", name, kbs, want.InterimUpdates)
		case !sameTime(f.Backups.SystemState, want.LastSystemStateBackup):
			t.Errorf("%s: system state backup %v, want %v", name, f.Backups.SystemState, want.LastSystemStateBackup)
		case len(f.Backups.Databases) != len(want.Databases):
			t.Errorf("%s: databases %+v, want %q", name, f.Backups.Databases, want.Databases)
		}
		for i, db := range f.Backups.Databases {
			if db.Name != want.Databases[i] || !sameTime(db.LastFull, want.LastFullBackup) {
				t.Errorf("%s: database %+v, want %s backed up %v", name, db, want.Databases[i], want.LastFullBackup)
			}
		}
		if name == "EX02" && (f.Cluster == nil || !f.Cluster.Active || f.Cluster.Name != "CMS01") {
			t.Errorf("EX02 cluster = %+v, want the active node of CMS01", f.Cluster)
		}
		if name == "FE01" && f.Cluster != nil {
			t.Errorf("FE01 cluster = %+v, want none", f.Cluster)
		}
		if !f.BootTime.Equal(sim.Host(name).State().BootTime) {
			t.Errorf("%s boot time %v", name, f.BootTime)
		}
	}

	// A name the host does not have: the probe's structured fault.
	_, err := client.Probe(ctx, remote.Target{Server: "EX01", Address: sim.Addr("EX03")})
	var fault *wire.Fault
	if !errors.As(err, &fault) || fault.Code != "wrong_server" || fault.Message != "this host is EX03, not EX01" {
		t.Errorf("probe EX01 at EX03's address: %v, want the wrong_server fault", err)
	}

	j := sim.Journal()
	var got []string
	for _, e := range j {
		if e.Operation != "probe" {
			t.Errorf("unexpected journal entry %+v", e)
		}
		got = append(got, e.Server+" "+e.Outcome)
	}
	if want := []string{"EX02 ok", "FE01 ok", "EX03 fault:wrong_server"}; !slices.Equal(got, want) {
		t.Errorf("journal %q, want %q", got, want)
	}

	// Wrong credentials: refused before any operation runs.
	_, err = newClient("wrong").Probe(ctx, remote.Target{Server: "EX01", Address: sim.Addr("EX01")})
	if err == nil || !isAuthError(err) {
		t.Errorf("wrong password: %v, want an authentication error", err)
	}
	if n := len(sim.Journal()); n != len(j) {
		t.Errorf("a refused login reached the journal (%d entries, want %d)", n, len(j))
	}
}

func sameTime(a *time.Time, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func isAuthError(err error) bool {
	var re *remote.Error
	return errors.As(err, &re) && re.Kind == remote.KindAuth
}
