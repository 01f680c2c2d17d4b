package wire

import (
	"fmt"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// PreflightChecks renders checks as OpPreflight's Checks parameter: a line each, its
// fields JobID, Action, MediaPath and PackagePath separated by tabs (preflight.ps1 splits
// it so). A path may hold no tab, CR or LF (PathProblem), nor a job id or an action, so
// the split is unambiguous; a path that breaks the rule is refused here, naming its
// attribute.
func PreflightChecks(checks []exchange.PreflightCheck) (string, error) {
	lines := make([]string, 0, len(checks))
	for _, c := range checks {
		media, pkg := c.Attributes()
		for _, x := range [][2]string{{media, c.MediaPath}, {pkg, c.PackagePath}} {
			if problem := PathProblem(x[1]); problem != "" {
				return "", fmt.Errorf("%s %q %s", x[0], x[1], problem)
			}
		}
		for _, f := range []string{c.JobID, c.Action} {
			if strings.ContainsAny(f, "\t\r\n") {
				return "", fmt.Errorf("the preflight check %q holds a tab or a line break", f)
			}
		}
		lines = append(lines, strings.Join([]string{c.JobID, c.Action, c.MediaPath, c.PackagePath}, "\t"))
	}
	return strings.Join(lines, "\n"), nil
}

// ParsePreflightChecks reads the Checks parameter back (the simulator's side).
func ParsePreflightChecks(s string) ([]exchange.PreflightCheck, error) {
	var out []exchange.PreflightCheck
	for i, line := range strings.Split(s, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("check %d has %d fields, not 4 (job id, action, media path, package path)", i+1, len(f))
		}
		out = append(out, exchange.PreflightCheck{JobID: f[0], Action: f[1], MediaPath: f[2], PackagePath: f[3]})
	}
	return out, nil
}
