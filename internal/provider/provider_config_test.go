package provider

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestRemoteConfigDefaultsAndEnvironment(t *testing.T) {
	t.Setenv("EXCHANGE_USERNAME", "CORP\\svc")
	t.Setenv("EXCHANGE_PASSWORD", "from-env")
	t.Setenv("EXCHANGE_HTTPS", "false")
	t.Setenv("EXCHANGE_ALLOW_UNENCRYPTED", "true") // Basic over HTTP, the defaults' auth
	cfg, diags := providerModel{}.remoteConfig()
	if diags.HasError() || !cfg.AllowUnencrypted {
		t.Fatal(diags)
	}
	if cfg.Username != "CORP\\svc" || cfg.Password != "from-env" {
		t.Fatalf("credentials from the environment not used: %q", cfg.Username)
	}
	if cfg.HTTPS || cfg.Port != 5985 {
		t.Fatalf("https=false must default the port to 5985, got https=%v port=%d", cfg.HTTPS, cfg.Port)
	}
	if cfg.Timeout != 5*time.Minute || cfg.MaxConnectionsPerHost != 2 || cfg.Auth != "basic" || cfg.Insecure {
		t.Fatalf("defaults: %+v", cfg)
	}

	// An attribute wins over its environment variable.
	cfg, diags = providerModel{Username: types.StringValue("CORP\\other"), HTTPS: types.BoolValue(true)}.remoteConfig()
	if diags.HasError() || cfg.Username != "CORP\\other" || cfg.Port != 5986 {
		t.Fatalf("attribute must win: %+v %v", cfg, diags)
	}
}

func TestRemoteConfigErrorsNameTheSetting(t *testing.T) {
	t.Setenv("EXCHANGE_USERNAME", "")
	t.Setenv("EXCHANGE_PASSWORD", "")
	t.Setenv("EXCHANGE_PORT", "fifty")
	_, diags := providerModel{}.remoteConfig()
	if !diags.HasError() || !strings.Contains(diags[0].Detail(), `EXCHANGE_PORT="fifty"`) {
		t.Fatalf("want an error naming EXCHANGE_PORT, got %v", diags)
	}
	t.Setenv("EXCHANGE_PORT", "")
	_, diags = providerModel{Timeout: types.StringValue("soon")}.remoteConfig()
	if !diags.HasError() || !strings.Contains(diags[0].Detail(), "90s, 5m") {
		t.Fatalf("want a duration error, got %v", diags)
	}
	_, diags = providerModel{}.remoteConfig()
	var msgs []string
	for _, d := range diags {
		msgs = append(msgs, d.Summary()+": "+d.Detail())
	}
	all := strings.Join(msgs, "\n")
	if !strings.Contains(all, "EXCHANGE_USERNAME") || !strings.Contains(all, "EXCHANGE_PASSWORD") {
		t.Fatalf("missing credentials must say where to set them:\n%s", all)
	}
}

func TestProbeConcurrencySetting(t *testing.T) {
	get := func(m providerModel) (int, string) {
		var diags diag.Diagnostics
		n := m.probeConcurrency(&diags)
		if diags.HasError() {
			return n, diags[0].Summary() + ": " + diags[0].Detail()
		}
		return n, ""
	}
	t.Setenv("EXCHANGE_PROBE_CONCURRENCY", "")
	if n, err := get(providerModel{}); n != 16 || err != "" {
		t.Fatalf("default: %d %s", n, err)
	}
	t.Setenv("EXCHANGE_PROBE_CONCURRENCY", "40")
	if n, err := get(providerModel{}); n != 40 || err != "" {
		t.Fatalf("from the environment: %d %s", n, err)
	}
	if n, err := get(providerModel{ProbeConcurrency: types.Int64Value(8)}); n != 8 || err != "" {
		t.Fatalf("the attribute must win over the environment: %d %s", n, err)
	}
	for _, bad := range []string{"1000", "0", "many"} {
		t.Setenv("EXCHANGE_PROBE_CONCURRENCY", bad)
		if _, err := get(providerModel{}); !strings.Contains(err, "probe_concurrency") {
			t.Errorf("EXCHANGE_PROBE_CONCURRENCY=%s: want an error naming probe_concurrency, got %q", bad, err)
		}
	}
}
