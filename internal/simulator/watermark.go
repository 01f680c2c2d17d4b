package simulator

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// SetupKeyExport is one file setup_watermark's export wrote: the key and the Action and
// Watermark values it held then.
type SetupKeyExport struct {
	File, Key string
	Values    []string
}

// setupKeyExportFolder is %SystemRoot%\Temp\ExchangeProvider\setup_keys on a simulated host.
const setupKeyExportFolder = systemRoot + `\Temp\ExchangeProvider\setup_keys`

var (
	setupKeyNameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	setupKeyExportRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,79}\.reg$`)
	setupWatermarkOps = []string{wire.SetupWatermarkCheck, wire.SetupWatermarkExport, wire.SetupWatermarkRemove}
)

// setupRunningLocked says what setup or installation runs now, or "", as Get-ExSetupRunning
// (prelude.ps1) does: a job of ours, a setup process. Called with h.mu held.
func (h *Host) setupRunningLocked() string {
	for _, r := range h.jobs {
		return fmt.Sprintf("job %s (%s) is still running", r.id, r.action)
	}
	if h.state.SetupRunning {
		return "a setup process is running: ExSetup (process id 4242)"
	}
	return ""
}

// opSetupWatermark runs setup_watermark.ps1's actions: each refuses (setup_running) while a
// setup runs; export records the file with the key's Action/Watermark values unless a file
// of that name exists (not_found when the host has no such key); remove records the key in
// the provider's leftovers and deletes the key's values, a no-op when none are there.
func opSetupWatermark(h *Handler, c *call, req wire.SetupWatermarkRequest) (any, *wire.Fault) {
	invalid := func(format string, args ...any) (any, *wire.Fault) {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case !slices.Contains(setupWatermarkOps, req.Action):
		return invalid(`the setup_watermark action must be "check", "export" or "remove", got "%s"`, req.Action)
	case req.Action != wire.SetupWatermarkCheck && !setupKeyNameRE.MatchString(req.Key):
		return invalid(`"%s" is not a setup key name (letters, digits, dash and underscore, at most 64)`, req.Key)
	case req.Action == wire.SetupWatermarkExport && !setupKeyExportRE.MatchString(req.File):
		return invalid(`"%s" is not an export file name (letters, digits, dash and underscore, then .reg)`, req.File)
	}
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	if why := host.setupRunningLocked(); why != "" {
		return nil, &wire.Fault{Code: "setup_running", Message: why}
	}
	s := &host.state
	res := wire.SetupWatermarkResult{Removed: []string{}}
	if req.Action == wire.SetupWatermarkCheck {
		c.detail = "no setup runs"
		return res, nil
	}
	res.Key = exchange.SetupKeyRoot + `\` + req.Key
	ofKey := func(role string) bool { return strings.EqualFold(exchange.SetupKeyName(role), req.Key) }
	var values []string
	for _, w := range s.SetupWatermarks {
		if ofKey(w.Role) {
			values = append(values, watermarkValues(w)...)
		}
	}
	switch req.Action {
	case wire.SetupWatermarkExport:
		res.File = setupKeyExportFolder + `\` + req.File
		if slices.ContainsFunc(s.SetupKeyExports, func(e SetupKeyExport) bool { return strings.EqualFold(e.File, res.File) }) {
			c.detail = res.File + " exists: not exported again"
			return res, nil
		}
		if !slices.ContainsFunc(s.Roles, ofKey) && values == nil {
			return nil, &wire.Fault{Code: "not_found", Message: "there is no key HKLM" + strings.TrimPrefix(res.Key, "HKLM")}
		}
		s.SetupKeyExports = append(s.SetupKeyExports, SetupKeyExport{File: res.File, Key: res.Key, Values: values})
		res.Exported = true
		c.detail = fmt.Sprintf("reg.exe export %s %s", res.Key, res.File)
	case wire.SetupWatermarkRemove:
		if values != nil && !slices.ContainsFunc(s.LeftoverWatermarksRemoved, func(k string) bool { return strings.EqualFold(k, req.Key) }) {
			// Recorded before the values go, as setup_watermark.ps1 does.
			s.LeftoverWatermarksRemoved = append(s.LeftoverWatermarksRemoved, req.Key)
		}
		s.SetupWatermarks = slices.DeleteFunc(s.SetupWatermarks, func(w exchange.SetupWatermark) bool { return ofKey(w.Role) })
		res.Removed = append(res.Removed, values...)
		c.detail = fmt.Sprintf("%s: removed %s", res.Key, strings.Join(values, ", "))
	}
	return res, nil
}

// watermarkValues are the values a setup key holds for w, as setup_watermark.ps1 lists them.
func watermarkValues(w exchange.SetupWatermark) []string {
	var out []string
	if w.Action != "" {
		out = append(out, "Action = "+w.Action)
	}
	if w.Watermark != "" {
		out = append(out, "Watermark = "+w.Watermark)
	}
	return out
}
