package exchange

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// catalogJSON holds the builds of the public build tables (its _source says which), and only those: a build that is not there
// is unknown rather than guessed.
//
//go:embed catalog.json
var catalogJSON []byte

// Errors a build look-up can wrap, for callers that must tell them apart (errors.Is).
// The messages themselves are written for people.
var (
	ErrMalformedBuild = errors.New("malformed build")
	ErrUnknownBuild   = errors.New("build not in the catalog")
	ErrAmbiguousBuild = errors.New("ambiguous build")
)

// lookupError carries a readable message and one of the Err* kinds above.
type lookupError struct {
	kind error
	msg  string
}

func (e *lookupError) Error() string { return e.msg }
func (e *lookupError) Unwrap() error { return e.kind }

// productInfo is how a product is versioned. It is used to
// validate catalog data, so a typo such as a 2003 build under "2000" is caught on load.
type productInfo struct {
	name         string
	major, minor int  // every build of the product is major.minor.x; minor -1: see spIsMinor
	spIsMinor    bool // 2007: the minor version is the SP (8.0 RTM, 8.1 SP1, 8.2 SP2, 8.3 SP3)
	maxSP        int  // 2007 SP1–SP3, 2003 SP1–SP2, 2000 SP1–SP3, 5.5 SP1–SP4
	rollups      bool // only Exchange 2007 has update rollups
}

var products = []productInfo{
	{name: "5.5", major: 5, minor: 5, maxSP: 4},
	{name: "2000", major: 6, minor: 0, maxSP: 3},
	{name: "2003", major: 6, minor: 5, maxSP: 2},
	{name: "2007", major: 8, minor: -1, spIsMinor: true, maxSP: 3, rollups: true},
}

func productByName(name string) (productInfo, bool) {
	for _, p := range products {
		if p.name == name {
			return p, true
		}
	}
	return productInfo{}, false
}

// Products are the Exchange products the provider knows, oldest first.
var Products = func() []string {
	names := make([]string, len(products))
	for i, p := range products {
		names[i] = p.name
	}
	return names
}()

func productNames() string {
	names := make([]string, len(products))
	for i, p := range products {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}

// Level is a servicing level of one product: an SP, an update rollup of an SP (2007), or a
// post-SP rollup (5.5/2000/2003 hotfix rollups, which have no number and are named by build).
type Level struct {
	// Product is "5.5", "2000", "2003" or "2007".
	Product string
	// ServicePack is 0 for RTM.
	ServicePack int
	// UpdateRollup is 0 when no rollup is installed on top of the SP (2007 only).
	UpdateRollup int
	// ReRelease is 0 for the original release of a rollup, 2 or 3 for "v2"/"v3".
	ReRelease int
	// PostSPRollup is the build of a post-SP hotfix rollup ("6.0.6603"), "" otherwise.
	PostSPRollup string
}

// String gives the human name: "Exchange 2007 SP1 Update Rollup 9", "Exchange 2003 SP2",
// "Exchange 2007 SP3 Update Rollup 8 (re-release v3)", "Exchange 2000 SP3 post-SP3 rollup 6.0.6603".
func (l Level) String() string {
	s := "Exchange " + l.Product + " " + spName(l.ServicePack)
	switch {
	case l.PostSPRollup != "":
		s += " post-" + spName(l.ServicePack) + " rollup " + l.PostSPRollup
	case l.UpdateRollup > 0:
		s += " " + rollupName(l.UpdateRollup, l.ReRelease)
	}
	return s
}

// spName is "RTM" for 0, "SPn" otherwise.
func spName(sp int) string {
	if sp == 0 {
		return "RTM"
	}
	return "SP" + strconv.Itoa(sp)
}

// rollupName is "Update Rollup 8" or "Update Rollup 8 (re-release v3)".
func rollupName(ru, reRelease int) string {
	s := "Update Rollup " + strconv.Itoa(ru)
	if reRelease > 0 {
		s += " (re-release v" + strconv.Itoa(reRelease) + ")"
	}
	return s
}

// isBase reports whether l is an SP (or RTM) itself, with nothing on top.
func (l Level) isBase() bool { return l.UpdateRollup == 0 && l.PostSPRollup == "" }

// Release is one known build and the level it stands for.
type Release struct {
	Level Level
	Build Build
	// KB is "KBnnnnnn", or "" when no public source the catalog uses states it (and no user supplied it).
	KB string
	// Date is the release date as YYYY-MM-DD, or "" when not stated.
	Date string
}

// String is the level's name, with the KB when it is known:
// "Exchange 2000 SP3 post-SP3 rollup 6.0.6603 (KB870540)".
func (r Release) String() string {
	if r.KB == "" {
		return r.Level.String()
	}
	return r.Level.String() + " (" + r.KB + ")"
}

// Catalog is the set of known builds. It is immutable once loaded: WithKB returns a copy,
// so DefaultCatalog can be shared freely.
type Catalog struct {
	entries []entry // sorted by build
}

// entry is a Release plus whether it is a second build seen for the same level (2007 RTM
// is seen as both 8.0.685.24 and 8.0.685.25); Find and Newest return the primary one.
type entry struct {
	Release
	alsoSeen bool
}

// catalogFile is the JSON form of catalog.json.
type catalogFile struct {
	Source   string         `json:"_source"`
	Releases []catalogEntry `json:"releases"`
}

type catalogEntry struct {
	Product      string `json:"product"`
	ServicePack  int    `json:"service_pack"`
	UpdateRollup int    `json:"update_rollup"`
	ReRelease    int    `json:"re_release"`
	PostSPRollup bool   `json:"post_sp_rollup"`
	AlsoSeen     bool   `json:"also_seen"`
	Build        string `json:"build"`
	KB           string `json:"kb"`
	Date         string `json:"date"`
}

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c, err := LoadCatalog(bytes.NewReader(catalogJSON))
	if err != nil {
		// Only a broken embedded file gets here, and TestDefaultCatalog catches that.
		panic("exchange: embedded catalog.json is invalid: " + err.Error())
	}
	return c
})

// DefaultCatalog is the catalog built into the provider, parsed once.
func DefaultCatalog() *Catalog { return defaultCatalog() }

// LoadCatalog reads a catalog in the format of catalog.json and validates it: known product,
// SP within the product's range, build that parses and fits the product, no build twice,
// no level twice unless the later entry is marked "also_seen", KB of the form KBnnn, date
// YYYY-MM-DD, and builds that rise with the level (a typo in a build usually breaks that).
func LoadCatalog(r io.Reader) (*Catalog, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields() // a misspelt key would otherwise silently read as 0 or ""
	var f catalogFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("catalog: unexpected data after the JSON document")
	}
	if len(f.Releases) == 0 {
		return nil, errors.New("catalog: no releases")
	}
	entries := make([]entry, 0, len(f.Releases))
	for i, ce := range f.Releases {
		e, err := ce.entry()
		if err != nil {
			return nil, fmt.Errorf("catalog: release %d (build %q): %w", i+1, ce.Build, err)
		}
		entries = append(entries, e)
	}
	return newCatalog(entries)
}

var kbPattern = regexp.MustCompile(`^KB[0-9]+$`)

func checkKB(kb string) error {
	if !kbPattern.MatchString(kb) {
		return fmt.Errorf("KB %q is not of the form KB followed by digits, e.g. KB953469", kb)
	}
	return nil
}

// entry checks one catalog entry on its own and converts it.
func (ce catalogEntry) entry() (entry, error) {
	p, ok := productByName(ce.Product)
	if !ok {
		return entry{}, fmt.Errorf("unknown product %q; known: %s", ce.Product, productNames())
	}
	b, err := ParseBuild(ce.Build)
	if err != nil {
		return entry{}, err
	}
	if ce.ServicePack < 0 || ce.ServicePack > p.maxSP {
		return entry{}, fmt.Errorf("Exchange %s has no service pack %d (0 to %d)", p.name, ce.ServicePack, p.maxSP)
	}
	wantMinor := p.minor
	if p.spIsMinor {
		wantMinor = ce.ServicePack
	}
	if b.Major != p.major || b.Minor != wantMinor {
		return entry{}, fmt.Errorf("Exchange %s %s builds are %d.%d.x, not %s",
			p.name, spName(ce.ServicePack), p.major, wantMinor, b)
	}
	switch {
	case ce.UpdateRollup < 0:
		return entry{}, fmt.Errorf("update_rollup %d is negative", ce.UpdateRollup)
	case ce.UpdateRollup > 0 && !p.rollups:
		return entry{}, fmt.Errorf("Exchange %s has no update rollups", p.name)
	case ce.ReRelease != 0 && (ce.ReRelease < 2 || ce.UpdateRollup == 0):
		return entry{}, fmt.Errorf("re_release %d: must be 0, or 2 or more on an update rollup", ce.ReRelease)
	case ce.PostSPRollup && p.rollups:
		return entry{}, fmt.Errorf("Exchange %s has update rollups, not post-SP rollups", p.name)
	case ce.PostSPRollup && ce.UpdateRollup > 0:
		return entry{}, errors.New("post_sp_rollup and update_rollup exclude each other")
	}
	if ce.KB != "" {
		if err := checkKB(ce.KB); err != nil {
			return entry{}, err
		}
	}
	if ce.Date != "" {
		if _, err := time.Parse(time.DateOnly, ce.Date); err != nil {
			return entry{}, fmt.Errorf("date %q is not YYYY-MM-DD", ce.Date)
		}
	}
	l := Level{Product: p.name, ServicePack: ce.ServicePack, UpdateRollup: ce.UpdateRollup, ReRelease: ce.ReRelease}
	if ce.PostSPRollup {
		// Post-SP rollups have no number of their own: the build is their name.
		l.PostSPRollup = b.String()
	}
	return entry{Release: Release{Level: l, Build: b, KB: ce.KB, Date: ce.Date}, alsoSeen: ce.AlsoSeen}, nil
}

// newCatalog runs the checks that need all entries at once and sorts them by build.
func newCatalog(entries []entry) (*Catalog, error) {
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Build.Less(entries[j].Build) })

	// No build twice. SameBuild also catches 6.5.7638 next to 6.5.7638.2, which would make
	// a look-up ambiguous; such a pair always sorts next to each other.
	for i := 1; i < len(entries); i++ {
		if entries[i-1].Build.SameBuild(entries[i].Build) {
			return nil, fmt.Errorf("catalog: build %s and %s are the same build (%s and %s)",
				entries[i-1].Build, entries[i].Build, entries[i-1].Level, entries[i].Level)
		}
	}

	// Each level has exactly one primary build; further builds must say "also_seen".
	primary := map[Level]int{}
	for i, e := range entries {
		if e.alsoSeen {
			continue
		}
		if j, dup := primary[e.Level]; dup {
			return nil, fmt.Errorf("catalog: %s appears twice (builds %s and %s); mark a second build that was really seen with \"also_seen\": true",
				e.Level, entries[j].Build, e.Build)
		}
		primary[e.Level] = i
	}
	for _, e := range entries {
		if _, ok := primary[e.Level]; e.alsoSeen && !ok {
			return nil, fmt.Errorf("catalog: build %s is marked also_seen but %s has no primary build", e.Build, e.Level)
		}
	}

	// Builds rise with the level within a product: SP, then its rollups in order, then the
	// next SP. Post-SP rollups are named by their build, so only their place after the SP counts.
	last := map[string]entry{}
	for _, e := range entries {
		prev, ok := last[e.Level.Product]
		if ok && !(levelBefore(prev.Level, e.Level) ||
			prev.Level == e.Level || // two builds of one level (also_seen)
			prev.Level.PostSPRollup != "" && e.Level.PostSPRollup != "" && prev.Level.ServicePack == e.Level.ServicePack) {
			return nil, fmt.Errorf("catalog: builds do not rise with the level: %s is %s but %s is %s",
				prev.Level, prev.Build, e.Level, e.Build)
		}
		last[e.Level.Product] = e
	}

	if err := checkKBsUnique(entries); err != nil {
		return nil, err
	}
	return &Catalog{entries: entries}, nil
}

// levelBefore orders the levels of one product: SP, rollup number, re-release, and a
// post-SP rollup after its SP.
func levelBefore(a, b Level) bool {
	ka := [4]int{a.ServicePack, a.UpdateRollup, a.ReRelease, boolInt(a.PostSPRollup != "")}
	kb := [4]int{b.ServicePack, b.UpdateRollup, b.ReRelease, boolInt(b.PostSPRollup != "")}
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] < kb[i]
		}
	}
	return false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkKBsUnique refuses one KB on two different updates. Re-releases of one rollup may
// share it (a re-release replaces the same update), and so may two builds of one level.
func checkKBsUnique(entries []entry) error {
	first := map[string]Level{}
	for _, e := range entries {
		if e.KB == "" {
			continue
		}
		l, seen := first[e.KB]
		if !seen {
			first[e.KB] = e.Level
			continue
		}
		sameUpdate := l.Product == e.Level.Product && l.ServicePack == e.Level.ServicePack &&
			l.UpdateRollup == e.Level.UpdateRollup && l.PostSPRollup == e.Level.PostSPRollup
		if !sameUpdate {
			return fmt.Errorf("catalog: %s is given to both %s and %s", e.KB, l, e.Level)
		}
	}
	return nil
}

// matches returns every release that names the same build as b (SameBuild: a revision
// stated on only one side is ignored).
func (c *Catalog) matches(b Build) []entry {
	var m []entry
	for _, e := range c.entries {
		if e.Build.SameBuild(b) {
			m = append(m, e)
		}
	}
	return m
}

// resolve finds the release for b. ok is false when nothing matches; ambiguous lists the
// matches when b lacks a revision and matches builds of different levels (8.3.279 is
// Update Rollup 8 and both its re-releases).
func (c *Catalog) resolve(b Build) (r Release, ok bool, ambiguous []entry) {
	m := c.matches(b)
	if len(m) == 0 {
		return Release{}, false, nil
	}
	for _, e := range m {
		if e.Build == b {
			return e.Release, true, nil
		}
	}
	for _, e := range m[1:] {
		if e.Level != m[0].Level {
			return Release{}, false, m
		}
	}
	// Several builds of one level (8.0.685 is 2007 RTM either way): give the primary one.
	for _, e := range m {
		if !e.alsoSeen {
			return e.Release, true, nil
		}
	}
	return m[0].Release, true, nil
}

// Lookup finds the release of exactly build b. A revision present on only one side is
// ignored, so the 2003 SP2 build "6.5.7638.2" finds the catalog's 6.5.7638. A build without
// revision that matches several levels is not found (use LookupString for the reason).
func (c *Catalog) Lookup(b Build) (Release, bool) {
	r, ok, _ := c.resolve(b)
	return r, ok
}

// LookupString parses s and looks it up. Its errors say what to write instead and wrap
// ErrMalformedBuild, ErrUnknownBuild or ErrAmbiguousBuild.
func (c *Catalog) LookupString(s string) (Release, error) {
	b, err := ParseBuild(s)
	if err != nil {
		return Release{}, &lookupError{ErrMalformedBuild, err.Error()}
	}
	r, ok, ambiguous := c.resolve(b)
	if ok {
		return r, nil
	}
	if ambiguous != nil {
		names := make([]string, len(ambiguous))
		for i, e := range ambiguous {
			names[i] = e.Build.String() + " (" + e.Level.String() + ")"
		}
		return Release{}, &lookupError{ErrAmbiguousBuild, fmt.Sprintf(
			"build %s matches several releases: %s; give the build with its revision", b, strings.Join(names, ", "))}
	}
	return Release{}, &lookupError{ErrUnknownBuild, c.unknownBuildMessage(b)}
}

// sameLine returns the releases whose builds share b's major.minor: one 2007 SP, or one of
// the older products.
func (c *Catalog) sameLine(b Build) []entry {
	var line []entry
	for _, e := range c.entries {
		if e.Build.Major == b.Major && e.Build.Minor == b.Minor {
			line = append(line, e)
		}
	}
	return line
}

// lineName names a major.minor line: "Exchange 2007 SP1" (each 2007 SP has its own minor
// version) or "Exchange 2000".
func lineName(e entry) string {
	if p, _ := productByName(e.Level.Product); p.spIsMinor {
		return "Exchange " + e.Level.Product + " " + spName(e.Level.ServicePack)
	}
	return "Exchange " + e.Level.Product
}

// shortName names a release within its line: "SP1", "Update Rollup 10", "post-SP3 rollup".
func shortName(l Level) string {
	switch {
	case l.PostSPRollup != "":
		return "post-" + spName(l.ServicePack) + " rollup"
	case l.UpdateRollup > 0:
		return rollupName(l.UpdateRollup, l.ReRelease)
	}
	return spName(l.ServicePack)
}

func buildAndName(e entry) string { return e.Build.String() + " (" + shortName(e.Level) + ")" }

// unknownBuildMessage explains a build that is not in the catalog, with the known builds
// nearby so the user can see whether it is a typo, an interim build or another product.
func (c *Catalog) unknownBuildMessage(b Build) string {
	line := c.sameLine(b)
	if len(line) == 0 {
		var known []string
		for _, p := range products {
			var versions []string
			for _, e := range c.entries {
				v := fmt.Sprintf("%d.%d.x", e.Build.Major, e.Build.Minor)
				if e.Level.Product == p.name && (len(versions) == 0 || versions[len(versions)-1] != v) {
					versions = append(versions, v)
				}
			}
			if len(versions) > 0 {
				known = append(known, "Exchange "+p.name+" ("+strings.Join(versions, ", ")+")")
			}
		}
		return fmt.Sprintf("build %s is not in the catalog: no known Exchange release has version %d.%d; the catalog knows %s",
			b, b.Major, b.Minor, strings.Join(known, ", "))
	}
	msg := fmt.Sprintf("build %s is not in the catalog; known %s builds are ", b, lineName(line[0]))
	// A short line is listed whole; a long one (2007 SP3 has 27 builds) by its ends and
	// the builds around b, which is what a reader needs to spot a typo.
	const listWhole = 12
	if len(line) <= listWhole {
		names := make([]string, len(line))
		for i, e := range line {
			names[i] = buildAndName(e)
		}
		msg += strings.Join(names, ", ")
	} else {
		msg += fmt.Sprintf("%s … %s (%d builds)", buildAndName(line[0]), buildAndName(line[len(line)-1]), len(line))
		var below, above []string
		for i, e := range line {
			if e.Build.Less(b) && (i+1 == len(line) || !line[i+1].Build.Less(b)) {
				below = append(below, buildAndName(e))
			}
			if b.Less(e.Build) && (i == 0 || !b.Less(line[i-1].Build)) {
				above = append(above, buildAndName(e))
			}
		}
		if len(below) > 0 {
			msg += "; nearest below: " + below[0]
		}
		if len(above) > 0 {
			msg += "; nearest above: " + above[0]
		}
	}
	return msg
}

// Describe names a live build for people. An exact build gives the release's name. Any
// other build of a known line gives the nearest lower release, marked as inexact:
// "Exchange 2007 SP1 Update Rollup 9 or a later interim build (8.1.395.0, not in the catalog)".
// A build below every known one of its line, or of an unknown line, is "unknown build X".
func (c *Catalog) Describe(b Build) string {
	r, ok, ambiguous := c.resolve(b)
	if ok {
		return r.String()
	}
	if ambiguous != nil {
		names := make([]string, len(ambiguous))
		for i, e := range ambiguous {
			names[i] = e.Level.String()
		}
		return fmt.Sprintf("one of %s (build %s without its revision)", strings.Join(names, ", "), b)
	}
	var lower entry
	found := false
	for _, e := range c.sameLine(b) {
		if e.Build.Less(b) {
			lower, found = e, true
		}
	}
	if !found {
		return "unknown build " + b.String()
	}
	// 2007 has interim updates; the older products have hotfixes, which also move the
	// STORE.EXE version the probe reads.
	kind := "hotfix"
	if p, _ := productByName(lower.Level.Product); p.rollups {
		kind = "interim"
	}
	return fmt.Sprintf("%s or a later %s build (%s, not in the catalog)", lower.Level, kind, b)
}

// knownSPs lists the SP levels the catalog has for a product: "RTM, SP1, SP2, SP3".
func (c *Catalog) knownSPs(product string) []int {
	var sps []int
	for _, e := range c.entries {
		if e.Level.Product == product && e.Level.isBase() && !e.alsoSeen {
			sps = append(sps, e.Level.ServicePack)
		}
	}
	sort.Ints(sps)
	return sps
}

// checkProductSP returns an error naming what is known when product or sp is not in c.
func (c *Catalog) checkProductSP(product string, servicePack int) error {
	if _, ok := productByName(product); !ok {
		return fmt.Errorf("unknown product %q; known: %s", product, productNames())
	}
	sps := c.knownSPs(product)
	if len(sps) == 0 {
		return fmt.Errorf("the catalog has no Exchange %s releases", product)
	}
	for _, sp := range sps {
		if sp == servicePack {
			return nil
		}
	}
	names := make([]string, len(sps))
	for i, sp := range sps {
		names[i] = spName(sp)
	}
	if servicePack < 0 {
		return fmt.Errorf("service pack %d is not valid (0 is RTM); Exchange %s has %s", servicePack, product, strings.Join(names, ", "))
	}
	return fmt.Errorf("Exchange %s has no %s; known: %s", product, spName(servicePack), strings.Join(names, ", "))
}

// Newest is the release to recommend at an SP level (after an SP, recommend the newest rollup
// of the new SP: "How to install the latest Service Pack or Update Rollup for Exchange 2007"): the highest update rollup, and of that its latest
// re-release; the SP itself when it has no rollups. Post-SP hotfix rollups of the older
// products are not levels a server is declared at, so Newest("2000", 3) is SP3 itself.
func (c *Catalog) Newest(product string, servicePack int) (Release, error) {
	if err := c.checkProductSP(product, servicePack); err != nil {
		return Release{}, err
	}
	var best *entry
	for i := range c.entries {
		e := &c.entries[i]
		l := e.Level
		if l.Product != product || l.ServicePack != servicePack || l.PostSPRollup != "" || e.alsoSeen {
			continue
		}
		if best == nil || levelBefore(best.Level, l) {
			best = e
		}
	}
	return best.Release, nil // checkProductSP guarantees the SP itself is there
}

// Find returns the release of one level: Find("2007", 3, 8, 3) is SP3 Update Rollup 8 v3.
// updateRollup 0 is the SP itself; reRelease 0 the original release of the rollup. A level
// with two known builds gives its primary one. Post-SP rollups are found by build (Lookup).
func (c *Catalog) Find(product string, servicePack, updateRollup, reRelease int) (Release, error) {
	if err := c.checkProductSP(product, servicePack); err != nil {
		return Release{}, err
	}
	p, _ := productByName(product)
	switch {
	case updateRollup < 0:
		return Release{}, fmt.Errorf("update rollup %d is not valid (0 is none)", updateRollup)
	case updateRollup > 0 && !p.rollups:
		return Release{}, fmt.Errorf("Exchange %s has no update rollups (only Exchange 2007 has them)", product)
	case reRelease != 0 && (reRelease < 2 || updateRollup == 0):
		return Release{}, fmt.Errorf("re-release %d is not valid: 0 is the original release, 2 and 3 are v2 and v3 of an update rollup", reRelease)
	}
	want := Level{Product: product, ServicePack: servicePack, UpdateRollup: updateRollup, ReRelease: reRelease}
	var known []string
	sameRU := false
	for _, e := range c.entries {
		if e.alsoSeen {
			continue
		}
		if e.Level == want {
			return e.Release, nil
		}
		// Collect this SP's rollups for the error; entries are in build order, which
		// newCatalog checked to be rollup order.
		if l := e.Level; l.Product == product && l.ServicePack == servicePack && l.UpdateRollup > 0 {
			known = append(known, FormatRollup(l.UpdateRollup, l.ReRelease))
			sameRU = sameRU || l.UpdateRollup == updateRollup
		}
	}
	sp := "Exchange " + product + " " + spName(servicePack)
	switch {
	case len(known) == 0:
		return Release{}, fmt.Errorf("%s has no update rollups in the catalog", sp)
	case sameRU:
		return Release{}, fmt.Errorf("%s Update Rollup %d has no re-release v%d; known update rollups: %s",
			sp, updateRollup, reRelease, strings.Join(known, ", "))
	}
	return Release{}, fmt.Errorf("%s has no Update Rollup %d; known update rollups: %s",
		sp, updateRollup, strings.Join(known, ", "))
}

// Releases lists a product's known builds, oldest first (nil for an unknown product).
func (c *Catalog) Releases(product string) []Release {
	var rs []Release
	for _, e := range c.entries {
		if e.Level.Product == product {
			rs = append(rs, e.Release)
		}
	}
	return rs
}

// WithKB returns a copy of c in which every build of level carries kb. It exists because
// Where the public tables state no KB of a rollup, the user supplies it.
// It refuses to change a KB the catalog already states differently, to give a KB to RTM
// (not an update), and to give one KB to two different updates.
func (c *Catalog) WithKB(level Level, kb string) (*Catalog, error) {
	if err := checkKB(kb); err != nil {
		return nil, err
	}
	if level.isBase() && level.ServicePack == 0 {
		return nil, fmt.Errorf("%s is the product's first release, not an update: it has no KB", level)
	}
	entries := make([]entry, len(c.entries))
	copy(entries, c.entries)
	found := false
	for i := range entries {
		e := &entries[i]
		if e.Level != level {
			continue
		}
		found = true
		if e.KB != "" && e.KB != kb {
			return nil, fmt.Errorf("the catalog states %s for %s; refusing to change it to %s", e.KB, level, kb)
		}
		e.KB = kb
	}
	if !found {
		return nil, fmt.Errorf("%s is not in the catalog", level)
	}
	if err := checkKBsUnique(entries); err != nil {
		return nil, err
	}
	return &Catalog{entries: entries}, nil
}

// ParseRollup reads an update rollup as users write it: "8" (Update Rollup 8), "8-v2" or
// "8-v3" (its re-releases), and "0" for no rollup (the SP itself).
func ParseRollup(s string) (ru, reRelease int, err error) {
	bad := func(why string) error {
		return fmt.Errorf("update rollup %q %s; write the rollup number, e.g. \"8\", or a re-release as \"8-v2\" or \"8-v3\" (\"0\": none)", s, why)
	}
	num, v, hasV := strings.Cut(strings.TrimSpace(s), "-v")
	if !allDigits(num) {
		return 0, 0, bad("does not start with a rollup number")
	}
	if ru, err = strconv.Atoi(num); err != nil {
		return 0, 0, bad("has a number out of range")
	}
	if !hasV {
		return ru, 0, nil
	}
	if !allDigits(v) {
		return 0, 0, bad("has no re-release number after \"-v\"")
	}
	if reRelease, err = strconv.Atoi(v); err != nil {
		return 0, 0, bad("has a number out of range")
	}
	switch {
	case ru == 0:
		return 0, 0, bad("is a re-release of no rollup")
	case reRelease < 2:
		return 0, 0, fmt.Errorf("update rollup %q: the original release is written %q; re-releases are \"%d-v2\", \"%d-v3\"", s, num, ru, ru)
	}
	return ru, reRelease, nil
}

// FormatRollup is the inverse of ParseRollup: "8", "8-v3".
func FormatRollup(ru, reRelease int) string {
	if reRelease > 0 {
		return strconv.Itoa(ru) + "-v" + strconv.Itoa(reRelease)
	}
	return strconv.Itoa(ru)
}
