package simulator

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// preflightActions are the checks preflight.ps1 accepts.
var preflightActions = []string{exchange.ActionInstallServicePack, exchange.ActionInstallUpdateRollup, exchange.ActionInstallInterimUpdate,
	exchange.ActionRemoveUMLanguagePack, exchange.ActionAddUMLanguagePack, exchange.ActionUpgradeCMS, exchange.PreflightFile}

// opPreflight answers as preflight.ps1 checks what an apply will read: a path is there when
// the fleet's packages name it and it is not missing on this host; a file a step reads (the
// OWA logon page) is there unless it is missing. A check whose job exists and did not fail
// is skipped. Exchange 2007 service pack media are compared with the server (Package
// Architecture and SetupLanguage against Server.Architecture and ExchangeLanguage), an
// .msp's name token x64/x86 with the server's architecture. Nothing changes.
func opPreflight(h *Handler, _ *call, req wire.PreflightRequest) (any, *wire.Fault) {
	checks, err := wire.ParsePreflightChecks(req.Checks)
	if err != nil {
		return nil, &wire.Fault{Code: "invalid", Message: "a check has " + strings.TrimPrefix(err.Error(), "check ")}
	}
	invalid := func(format string, args ...any) (any, *wire.Fault) {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf(format, args...)}
	}
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	res := wire.PreflightResult{Items: []wire.PreflightItem{}}
	for _, c := range checks {
		switch {
		case !slices.Contains(preflightActions, c.Action):
			return invalid(`"%s" is not a preflight check (%s)`, c.Action, strings.Join(preflightActions, ", "))
		case c.Action != exchange.PreflightFile && !jobIDRE.MatchString(c.JobID):
			return invalid(`"%s" is not a job id (letters, digits, dot, dash and underscore, at most 128)`, c.JobID)
		case wire.PathProblem(c.MediaPath) != "":
			return invalid(`path "%s" holds a double quote or a control character`, c.MediaPath)
		case wire.PathProblem(c.PackagePath) != "":
			return invalid(`path "%s" holds a double quote or a control character`, c.PackagePath)
		}
		c.MediaPath, c.PackagePath = strings.TrimSpace(c.MediaPath), strings.TrimSpace(c.PackagePath)
		item := wire.PreflightItem{Found: []string{}}
		if j, ok := host.jobRecordLocked(c.JobID); ok && c.Action != exchange.PreflightFile && j.State != exchange.JobFailed {
			item.Skipped = fmt.Sprintf("job %s exists (%s): the apply attaches to it and starts no installer", c.JobID, j.State)
		} else {
			found, problem := host.preflightCheckLocked(c)
			item.Found, item.Problem = append(item.Found, found...), problem
		}
		res.Items = append(res.Items, item)
	}
	return res, nil
}

// preflightCheckLocked finds what check c reads, as Find-ExInstaller (prelude.ps1) and
// preflight.ps1 do, and why the step would fail ("" for nothing).
func (h *Host) preflightCheckLocked(c exchange.PreflightCheck) ([]string, string) {
	exists := func(path string) bool { _, ok := h.packageAtLocked(path); return ok }
	notFound := func(path string) ([]string, string) { return nil, "package not found: " + path }
	media, pkg := c.MediaPath, c.PackagePath
	switch c.Action {
	case exchange.PreflightFile:
		if pkg == "" {
			return nil, "no file named"
		}
		if h.missing[normalizePath(pkg)] {
			return nil, fmt.Sprintf("%s cannot be read from %s: Could not find file '%s'.", pkg, h.name, pkg)
		}
		return []string{pkg}, ""
	case exchange.ActionInstallServicePack, exchange.ActionUpgradeCMS:
		if media == "" {
			if c.Action == exchange.ActionUpgradeCMS {
				return nil, "no media path: /upgradeCMS runs Setup.com from the service pack media"
			}
			return nil, "no media path: a service pack installs from its setup media"
		}
		exe := joinPath(media, "Setup.com")
		if h.state.Product != "2007" && c.Action == exchange.ActionInstallServicePack {
			exe = joinPath(media, `i386\update.exe`)
		}
		if !exists(media) {
			return notFound(exe)
		}
		return []string{exe}, h.mediaMismatchLocked(media)
	case exchange.ActionInstallUpdateRollup, exchange.ActionInstallInterimUpdate:
		if !exists(pkg) {
			return notFound(pkg)
		}
		ext := strings.ToLower(filepathExt(pkg))
		if ext != ".msp" && ext != ".exe" {
			return nil, "package " + pkg + " is neither an .msp nor an .exe"
		}
		return []string{pkg}, h.packageMismatchLocked(pkg)
	}
	// The UM language packs: Setup.com from the media (the fleet's UM folder stands for it).
	if media == "" {
		return nil, "no media path: UM language packs are added and removed with Setup.com from the Exchange media"
	}
	setup := joinPath(media, "Setup.com")
	if !exists(media) {
		return notFound(setup)
	}
	if c.Action == exchange.ActionRemoveUMLanguagePack {
		return []string{setup}, ""
	}
	source := pkg
	if source == "" {
		source = media
	}
	if !exists(source) {
		return notFound(source)
	}
	return []string{setup, source}, ""
}

// mediaMismatchLocked compares Exchange 2007 service pack media at path with the server,
// as preflight.ps1's Get-ExMediaMismatch does.
func (h *Host) mediaMismatchLocked(path string) string {
	p, _ := h.packageAtLocked(path)
	if h.state.Product != "2007" || p.Product != "2007" {
		return ""
	}
	media := joinPath(path, `Setup\ServerRoles\Common\ExSetup.exe`)
	installed := exchangeInstallPath + `\bin\ExSetup.exe`
	switch {
	case p.Architecture != "" && h.architecture != "" && p.Architecture != h.architecture:
		return fmt.Sprintf("the media is for %s (%s), the Exchange 2007 installed on %s for %s (%s): use the %s service pack media",
			p.Architecture, media, h.name, h.architecture, installed, h.architecture)
	case p.SetupLanguage != "" && h.exchangeLanguage != "" && p.SetupLanguage != h.exchangeLanguage:
		return fmt.Sprintf("the media is in %s (%s), the Exchange 2007 installed on %s in %s (%s): use the service pack media in the server's language",
			p.SetupLanguage, media, h.name, h.exchangeLanguage, installed)
	}
	return ""
}

var (
	x64TokenRE = regexp.MustCompile(`(?i)(^|[-_.])x64([-_.]|$)`)
	x86TokenRE = regexp.MustCompile(`(?i)(^|[-_.])x86([-_.]|$)`)
)

// packageMismatchLocked compares an Exchange 2007 .msp named for an architecture with the
// server's.
func (h *Host) packageMismatchLocked(path string) string {
	if h.state.Product != "2007" || !strings.EqualFold(filepathExt(path), ".msp") || h.architecture == "" {
		return ""
	}
	base := path[strings.LastIndexAny(path, `\/`)+1:]
	name := strings.TrimSuffix(base, base[len(base)-len(filepathExt(base)):])
	named := ""
	if x64TokenRE.MatchString(name) {
		named = "x64"
	}
	if x86TokenRE.MatchString(name) {
		named = "x86"
	}
	if named == "" || named == h.architecture {
		return ""
	}
	return fmt.Sprintf("the package is named for %s, and Exchange 2007 on %s runs on %s: use the %s package (its installer refuses the other one)",
		named, h.name, h.architecture, h.architecture)
}
