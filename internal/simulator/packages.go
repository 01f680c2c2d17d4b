package simulator

import (
	"crypto/sha1"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// Package kinds: what an installer package or a setup media folder installs.
const (
	PackageServicePack    = "service_pack"
	PackageUpdateRollup   = "update_rollup"
	PackageInterimUpdate  = "interim_update"
	PackageUMLanguagePack = "um_language_pack"
)

var packageKinds = []string{PackageServicePack, PackageUpdateRollup, PackageInterimUpdate, PackageUMLanguagePack}

// Package is what the file or folder at a path installs. A job_start names only paths
// (MediaPath, PackagePath), so the simulator learns what a path holds from the fleet's
// `packages`, Options.Packages or Simulator.RegisterPackage; a path it does not know is a
// package that is not there ("package not found"), as on a real server.
type Package struct {
	// Kind is PackageServicePack (setup media: a folder with Setup.com), PackageUpdateRollup
	// (.msp), PackageInterimUpdate (.msp) or PackageUMLanguagePack.
	Kind string `json:"kind"`
	// Product is "2007" (the default when empty), or "5.5", "2000", "2003" for service packs.
	Product string `json:"product"`
	// ServicePack is the SP a service pack installs; the SP an update rollup, interim
	// update or UM language pack is built for (0 is RTM).
	ServicePack int `json:"service_pack"`
	// UpdateRollup and ReRelease name a rollup ("8-v3" is 8, 3); for an interim update,
	// the rollup it is built for (0: the SP itself).
	UpdateRollup int `json:"update_rollup"`
	ReRelease    int `json:"re_release"`
	// KB is the package's KB number: required for an interim update; for an update rollup
	// it defaults to the catalog's (which may state none).
	KB string `json:"kb"`
	// Language, for a UM language pack, is the one culture it holds (e.g. "de-DE"); empty
	// means any language is in it.
	Language string `json:"language"`
}

// level is the servicing level a package installs or is built for.
func (p Package) level() exchange.Level {
	l := exchange.Level{Product: p.Product, ServicePack: p.ServicePack}
	if p.Kind == PackageUpdateRollup || p.Kind == PackageInterimUpdate {
		l.UpdateRollup, l.ReRelease = p.UpdateRollup, p.ReRelease
	}
	return l
}

// normalize fills defaults and checks p against the build catalog; it returns the package
// as the simulator uses it or why it is not one.
func (p Package) normalize() (Package, error) {
	if p.Product == "" {
		p.Product = "2007"
	}
	cat := exchange.DefaultCatalog()
	if !slices.Contains(packageKinds, p.Kind) {
		return p, fmt.Errorf("kind %q is not known: use one of %s", p.Kind, strings.Join(packageKinds, ", "))
	}
	if p.KB != "" && !kbRE.MatchString(p.KB) {
		return p, fmt.Errorf("kb %q is not a KB number: write it as KB followed by digits, e.g. KB970543", p.KB)
	}
	if p.Language != "" && !cultureRE.MatchString(p.Language) {
		return p, fmt.Errorf("language %q is not a culture name: write it like de-DE", p.Language)
	}
	if p.Language != "" && p.Kind != PackageUMLanguagePack {
		return p, fmt.Errorf("language is for um_language_pack packages only")
	}
	if (p.UpdateRollup != 0 || p.ReRelease != 0) && (p.Kind == PackageServicePack || p.Kind == PackageUMLanguagePack) {
		return p, fmt.Errorf("a %s has no update_rollup or re_release: remove them", p.Kind)
	}
	if p.Product != "2007" && p.Kind != PackageServicePack {
		return p, fmt.Errorf("Exchange %s has no %s packages (only service packs): use product \"2007\"", p.Product, p.Kind)
	}
	switch p.Kind {
	case PackageServicePack:
		if p.ServicePack < 1 {
			return p, fmt.Errorf("service_pack %d: a service pack installs SP1 or later", p.ServicePack)
		}
		if _, err := cat.Find(p.Product, p.ServicePack, 0, 0); err != nil {
			return p, err
		}
	case PackageUpdateRollup:
		if p.UpdateRollup < 1 {
			return p, fmt.Errorf("update_rollup %d: an update rollup package needs its rollup number (1 or more)", p.UpdateRollup)
		}
		r, err := cat.Find(p.Product, p.ServicePack, p.UpdateRollup, p.ReRelease)
		if err != nil {
			return p, err
		}
		switch {
		case p.KB == "":
			p.KB = r.KB
		case r.KB != "" && r.KB != p.KB:
			return p, fmt.Errorf("kb %s: the catalog states %s for %s", p.KB, r.KB, r.Level)
		}
	case PackageInterimUpdate:
		if p.KB == "" {
			return p, fmt.Errorf("an interim update needs its kb")
		}
		if _, err := cat.Find(p.Product, p.ServicePack, p.UpdateRollup, p.ReRelease); err != nil {
			return p, fmt.Errorf("the level it is built for: %w", err)
		}
	case PackageUMLanguagePack:
		if _, err := cat.Find(p.Product, p.ServicePack, 0, 0); err != nil {
			return p, err
		}
	}
	return p, nil
}

// normalizePath makes Windows paths comparable: case-insensitive, either slash, no
// trailing separator.
func normalizePath(p string) string {
	p = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(p), "/", `\`))
	for len(p) > 3 && strings.HasSuffix(p, `\`) {
		p = strings.TrimSuffix(p, `\`)
	}
	return p
}

// packageRegistry maps paths to packages, shared by every host of a simulator (the paths
// stand for a software share every server reaches, or the same local path on each).
type packageRegistry struct {
	mu   sync.Mutex
	byPa map[string]Package
}

func newPackageRegistry() *packageRegistry { return &packageRegistry{byPa: map[string]Package{}} }

func (r *packageRegistry) register(path string, p Package) error {
	if strings.TrimSpace(path) == "" {
		return fmt.Errorf("simulator: package path is empty")
	}
	n, err := p.normalize()
	if err != nil {
		return fmt.Errorf("simulator: package %s: %w", path, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byPa[normalizePath(path)] = n
	return nil
}

func (r *packageRegistry) lookup(path string) (Package, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.byPa[normalizePath(path)]
	return p, ok
}

// patchGUID is a stable fake Windows Installer patch code, "{XXXXXXXX-XXXX-...}" in upper
// case as the probe reports them, derived from what the patch is so that every run and
// every host agrees on it.
func patchGUID(seed string) string {
	sum := sha1.Sum([]byte("exchange-sim patch " + seed))
	h := fmt.Sprintf("%X", sum[:16])
	return "{" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32] + "}"
}

// RollupPatchCode is the patch code the simulator gives the update rollup of level.
func RollupPatchCode(l exchange.Level) string {
	return patchGUID(fmt.Sprintf("rollup %s sp%d ru%d v%d", l.Product, l.ServicePack, l.UpdateRollup, l.ReRelease))
}

// InterimUpdatePatchCode is the patch code the simulator gives the interim update kb.
func InterimUpdatePatchCode(kb string) string { return patchGUID("interim " + strings.ToUpper(kb)) }

// rollupDisplayName is how Windows Installer lists a 2007 rollup:
// "Update Rollup 9 for Exchange Server 2007 Service Pack 1 (KB…)"; no "(KB…)" when the KB
// is not known.
func rollupDisplayName(l exchange.Level, kb string) string {
	s := "Update Rollup " + exchange.FormatRollup(l.UpdateRollup, l.ReRelease) + " for Exchange Server " + l.Product
	if l.ServicePack > 0 {
		s += " Service Pack " + strconv.Itoa(l.ServicePack)
	}
	if kb != "" {
		s += " (" + kb + ")"
	}
	return s
}

// installedRollup is the installed-update entry of the rollup at release r.
func installedRollup(r exchange.Release) exchange.InstalledUpdate {
	return exchange.InstalledUpdate{KB: r.KB, DisplayName: rollupDisplayName(r.Level, r.KB), PatchCode: RollupPatchCode(r.Level)}
}

// RollupsFor is the list of installed update rollups a server at build b of product has
// when it is loaded: the rollup of b's release (or of the nearest release below b, for an
// interim build), or none when b is an SP itself or the product has no rollups.
func RollupsFor(product string, b exchange.Build) []exchange.InstalledUpdate {
	r, ok := releaseAtOrBelow(product, b)
	if !ok || r.Level.UpdateRollup == 0 {
		return []exchange.InstalledUpdate{}
	}
	return []exchange.InstalledUpdate{installedRollup(r)}
}

// releaseAtOrBelow is the catalog release of b, or the nearest one below it on b's line
// (same major.minor): the level a server at b runs.
func releaseAtOrBelow(product string, b exchange.Build) (exchange.Release, bool) {
	cat := exchange.DefaultCatalog()
	if r, ok := cat.Lookup(b); ok {
		return r, true
	}
	var best exchange.Release
	found := false
	for _, r := range cat.Releases(product) {
		if r.Build.Major != b.Major || r.Build.Minor != b.Minor || b.Less(r.Build) {
			continue
		}
		if !found || best.Build.Less(r.Build) {
			best, found = r, true
		}
	}
	return best, found
}

// rollupLevel finds the level of an installed rollup entry by its patch code (the
// simulator's own, RollupPatchCode); an entry a test made up with another code has none.
func rollupLevel(product string, u exchange.InstalledUpdate) (exchange.Level, bool) {
	for _, r := range exchange.DefaultCatalog().Releases(product) {
		if r.Level.UpdateRollup > 0 && strings.EqualFold(RollupPatchCode(r.Level), u.PatchCode) {
			return r.Level, true
		}
	}
	return exchange.Level{}, false
}
