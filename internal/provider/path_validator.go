package provider

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// pathValidators check a path attribute (setup media, a package, a language-pack folder, the
// OWA logon file) at plan by the rule job_start.ps1 and preflight.ps1 apply on the server
// (wire.PathProblem): a path the installer would refuse must stop the plan, not an apply
// that has already removed interim updates and stopped services.
func pathValidators() []validator.String {
	return []validator.String{stringvalidator.LengthAtLeast(1), pathValidator{}}
}

// maxPath is the longest path the installers take: MAX_PATH less the terminating NUL.
const maxPath = 259

type pathValidator struct{}

func (pathValidator) Description(context.Context) string {
	return "must be a path without double quotes or control characters (CR, LF, tab, NUL)"
}

func (v pathValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (pathValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if problem := wire.PathProblem(req.ConfigValue.ValueString()); problem != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid path",
			fmt.Sprintf("%s %q %s (the installer gets the path as one quoted argument).", req.Path, req.ConfigValue.ValueString(), problem))
	}
	// Windows paths hold at most MAX_PATH (260) characters with the terminating NUL
	// (Microsoft, "Maximum file path limitation"), and the installers do not take longer ones.
	if n := utf8.RuneCountInString(req.ConfigValue.ValueString()); n > maxPath {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid path",
			fmt.Sprintf("%s is %d characters long: Windows and the installers take paths of at most %d characters; use a shorter path or a share.", req.Path, n, maxPath))
	}
}
