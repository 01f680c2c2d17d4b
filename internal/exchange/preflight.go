package exchange

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The preflight: the first step of a plan, which checks on the server that every media,
// package and file the later steps read is there and readable, before any step removes,
// stops or reboots anything. Without it a mistyped media path is found by the installer
// step, after the interim updates are removed and the services stopped.

// PreflightFile is the PreflightCheck action of a file a step reads that is not an
// installer (the OWA logon page of owa_logon_file), in PackagePath.
const PreflightFile = "read_file"

// PreflightCheck is one thing the preflight checks. For an installer step it is the step's
// Action, its job id and the paths its job gets: the server finds the installer in them
// as job_start does (one lookup, prelude.ps1) and checks it can be read, or skips it when
// a job of that id runs or succeeded (job_start attaches to it and starts nothing). For
// Action PreflightFile it is the file in PackagePath.
type PreflightCheck struct {
	JobID, Action, MediaPath, PackagePath string
}

// Attributes names the configuration attributes MediaPath and PackagePath come from, for
// the plan's params and the preflight's errors ("" where the check has no such path).
func (c PreflightCheck) Attributes() (media, pkg string) {
	switch c.Action {
	case ActionInstallServicePack, ActionUpgradeCMS:
		return "media_path", ""
	case ActionInstallUpdateRollup, ActionInstallInterimUpdate:
		return "", "package_path"
	case ActionAddUMLanguagePack, ActionRemoveUMLanguagePack:
		return "um_language_pack_path", ""
	case PreflightFile:
		return "", "owa_logon_file"
	}
	return "media_path", "package_path"
}

// Preflight checks what the plan's later steps read (Checks, in step order). It changes
// nothing; a failed check stops the apply before any step has run.
type Preflight struct{ Checks []PreflightCheck }

func (Preflight) Action() string { return ActionPreflight }

// Params are the checked paths by attribute; a second, different path under the same
// attribute gets " (2)" after its name.
func (k Preflight) Params() map[string]string {
	p := map[string]string{}
	put := func(attr, path string) {
		if attr == "" || path == "" {
			return
		}
		key := attr
		for n := 2; p[key] != "" && p[key] != path; n++ {
			key = fmt.Sprintf("%s (%d)", attr, n)
		}
		p[key] = path
	}
	for _, c := range k.Checks {
		media, pkg := c.Attributes()
		put(media, c.MediaPath)
		put(pkg, c.PackagePath)
	}
	return p
}

func (k Preflight) Check() error {
	if len(k.Checks) == 0 {
		return errors.New("parameter checks is missing")
	}
	for _, c := range k.Checks {
		if c.Action == "" || (c.Action != PreflightFile && c.JobID == "") {
			return errors.New("a check has no action or job id")
		}
	}
	return nil
}
func (k Preflight) Run(r StepRunner) error { return r.Preflight(k) }

// readsFiles: installers that read no file of the user's (removals by patch code run
// msiexec.exe from the system folder).
func readsFiles(action string) bool {
	return action != ActionUninstallUpdateRollup && action != ActionRemoveInterimUpdate
}

// preflightFor is the preflight of server's steps (jobID names their jobs), or false when
// none of them reads a file. f is the server's facts: an installer whose job runs or
// succeeded there is attached to, not started, and reads nothing.
func preflightFor(server string, f Facts, steps []Step, jobID func(Step) string) (Step, bool) {
	var checks []PreflightCheck
	for _, s := range steps {
		if s.Server != "" && !strings.EqualFold(s.Server, server) {
			continue
		}
		switch k := s.Kind.(type) {
		case Installer:
			if j, ok := f.Job(jobID(s)); ok && (j.State == JobRunning || j.State == JobSucceeded) {
				continue
			}
			if readsFiles(k.Action()) {
				j := k.Job()
				checks = append(checks, PreflightCheck{JobID: jobID(s), Action: k.Action(), MediaPath: j.MediaPath, PackagePath: j.PackagePath})
			}
		case SaveCustomizations:
			if k.LogonFile != "" {
				checks = append(checks, PreflightCheck{Action: PreflightFile, PackagePath: k.LogonFile})
			}
		case RestoreCustomizations:
			if k.LogonFile != "" {
				checks = append(checks, PreflightCheck{Action: PreflightFile, PackagePath: k.LogonFile})
			}
		}
	}
	if len(checks) == 0 {
		return Step{}, false
	}
	return preflightStep(server, checks), true
}

// preflightStep is server's preflight of checks (each once, in order), described by what
// it reads.
func preflightStep(server string, checks []PreflightCheck) Step {
	var unique []PreflightCheck
	var list []string
	for _, c := range checks {
		if slices.Contains(unique, c) {
			continue
		}
		unique = append(unique, c)
		media, pkg := c.Attributes()
		for _, x := range [][2]string{{media, c.MediaPath}, {pkg, c.PackagePath}} {
			if w := x[0] + " " + x[1]; x[0] != "" && x[1] != "" && !slices.Contains(list, w) {
				list = append(list, w)
			}
		}
	}
	desc := "check on the server, before anything changes, that what the apply reads is there and readable"
	if len(list) > 0 {
		desc += " (" + strings.Join(list, "; ") + ")"
	}
	desc += " and that service pack media and update packages match the server's architecture and Exchange language where a script can read them; a failed check stops the apply with nothing changed"
	return Step{Kind: Preflight{Checks: unique}, Server: server, Description: desc}
}

// withPreflight puts server's preflight before its steps (steps unchanged when none reads
// a file).
func withPreflight(server string, f Facts, steps []Step, jobID func(Step) string) []Step {
	pf, ok := preflightFor(server, f, steps, jobID)
	if !ok {
		return steps
	}
	return append([]Step{pf}, steps...)
}

// hoistPreflights moves every node's preflight of a cluster plan to its start, in node
// order, made again from all of the node's steps (an upgrade_cms planned outside its
// node's procedure included), so that no node is changed before every node's files are
// checked. down (per step: within a downtime window) moves with the steps; nodes are the
// nodes' facts as probed, in node order.
func hoistPreflights(steps []Step, down []bool, nodes []Facts) ([]Step, []bool) {
	var rest []Step
	var restDown []bool
	for i, s := range steps {
		if s.Action() != ActionPreflight {
			rest = append(rest, s)
			restDown = append(restDown, down[i])
		}
	}
	var front []Step
	for _, f := range nodes {
		if pf, ok := preflightFor(f.Server, f, rest, ClusterJobID); ok {
			front = append(front, pf)
		}
	}
	return append(front, rest...), append(make([]bool, len(front)), restDown...)
}
