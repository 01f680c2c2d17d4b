package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// Basic over plain HTTP sends the password in the clear: refused unless the user says
// allow_unencrypted = true, and then warned about on every run.
func TestBasicOverHTTPNeedsAllowUnencrypted(t *testing.T) {
	t.Setenv("EXCHANGE_ALLOW_UNENCRYPTED", "")
	m := providerModel{Username: types.StringValue("x"), Password: types.StringValue("y"), HTTPS: types.BoolValue(false)}
	_, diags := m.remoteConfig()
	if !diags.HasError() {
		t.Fatal("Basic over HTTP accepted without allow_unencrypted")
	}
	detail := diags.Errors()[0].Detail()
	for _, want := range []string{"allow_unencrypted = true", `auth = "ntlm"`, "https = true"} {
		if !strings.Contains(detail, want) {
			t.Errorf("refusal lacks %q: %s", want, detail)
		}
	}

	m.AllowUnencrypted = types.BoolValue(true)
	cfg, diags := m.remoteConfig()
	if diags.HasError() || !cfg.AllowUnencrypted {
		t.Fatalf("allow_unencrypted = true must be accepted: %v", diags)
	}
	if w := diags.Warnings(); len(w) != 1 || !strings.Contains(w[0].Summary(), "unencrypted") {
		t.Fatalf("want one warning about unencrypted Basic, got %v", diags)
	}

	// The environment variable stands in for the attribute, like the others.
	t.Setenv("EXCHANGE_ALLOW_UNENCRYPTED", "true")
	m.AllowUnencrypted = types.BoolNull()
	if cfg, diags := m.remoteConfig(); diags.HasError() || !cfg.AllowUnencrypted {
		t.Fatalf("EXCHANGE_ALLOW_UNENCRYPTED=true not used: %v", diags)
	}

	// NTLM over HTTP seals every message; HTTPS with Basic is encrypted by TLS: no consent, no warning.
	t.Setenv("EXCHANGE_ALLOW_UNENCRYPTED", "")
	for _, ok := range []providerModel{
		{Username: types.StringValue("x"), Password: types.StringValue("y"), HTTPS: types.BoolValue(false), Auth: types.StringValue("ntlm")},
		{Username: types.StringValue("x"), Password: types.StringValue("y")},
	} {
		if _, diags := ok.remoteConfig(); len(diags) != 0 {
			t.Errorf("https %v auth %v: %v", ok.HTTPS, ok.Auth, diags)
		}
	}
}

func TestInsecureWarns(t *testing.T) {
	m := providerModel{Username: types.StringValue("x"), Password: types.StringValue("y"), Insecure: types.BoolValue(true)}
	_, diags := m.remoteConfig()
	if diags.HasError() || len(diags.Warnings()) != 1 || !strings.Contains(diags.Warnings()[0].Detail(), "ca_certificate") {
		t.Fatalf("want one warning pointing at ca_certificate, got %v", diags)
	}
}

// Terraform itself refuses both at validate time, naming both attributes.
func TestAccInsecureWithCACertificateIsAConfigurationError(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: `
provider "exchange" {
  username       = "x"
  password       = "y"
  insecure       = true
  ca_certificate = "-----BEGIN CERTIFICATE-----"
}
data "exchange_build" "b" {
  build = "8.1.393.1"
}
`,
			ExpectError: regexp.MustCompile(`(?s)insecure.*ca_certificate.*both`),
		}, {
			Config: `
provider "exchange" {
  username = "x"
  password = "y"
  https    = false
}
data "exchange_build" "b" {
  build = "8.1.393.1"
}
`,
			ExpectError: regexp.MustCompile(`(?s)Basic authentication over unencrypted HTTP.*allow_unencrypted = true`),
		}},
	})
}
