package provider

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// The organisation's warnings are one diagnostic per distinct text, naming its servers in
// plan order; a warning of the organisation (no server) names none.
func TestOrganizationWarningsAreGroupedByText(t *testing.T) {
	var diags diag.Diagnostics
	addOrganizationWarnings(&diags, []exchange.Warning{
		{Server: "CAS1", Text: "the Trusted Subsystem group"}, {Server: "BE1", Text: "take a new full backup"},
		{Server: "CAS2", Text: "the Trusted Subsystem group"}, {Text: "front-ends taken to be load-balanced"},
	})
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary()+" | "+d.Detail())
	}
	want := []string{"the Trusted Subsystem group | 2 servers: CAS1, CAS2.", "take a new full backup | Server BE1.",
		"front-ends taken to be load-balanced | "}
	if !slices.Equal(got, want) || diags.WarningsCount() != 3 {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
