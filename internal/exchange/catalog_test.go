package exchange

import (
	"errors"
	"strings"
	"testing"
)

// domainBuilds is the public build tables typed again by hand, independently of catalog.json, so a
// typo in either one fails TestCatalogMatchesDomain. The KBs of the 2007 SP1-SP3 rollups,
// and the second RU13 build 8.3.348.1, are from Microsoft's build table
// (ExchangeBuildNumbers.csv of microsoft/Get-ExchangeBuildNumber).
var domainBuilds = []struct {
	build string
	level Level
	kb    string
	date  string
}{
	// Exchange 2007 RTM (two builds seen) and its rollups.
	{"8.0.685.24", l2007(0, 0, 0), "", ""},
	{"8.0.685.25", l2007(0, 0, 0), "", ""},
	{"8.0.708.3", l2007(0, 1, 0), "KB930809", ""},
	{"8.0.711.2", l2007(0, 2, 0), "KB935490", ""},
	{"8.0.730.1", l2007(0, 3, 0), "KB935999", ""},
	{"8.0.744.0", l2007(0, 4, 0), "KB940006", ""},
	{"8.0.754.0", l2007(0, 5, 0), "", ""},
	{"8.0.783.2", l2007(0, 6, 0), "", ""},
	{"8.0.813.0", l2007(0, 7, 0), "KB953469", ""},
	// 2007 SP1.
	{"8.1.240.6", l2007(1, 0, 0), "", "2007-11-29"},
	{"8.1.263.1", l2007(1, 1, 0), "KB945684", ""},
	{"8.1.278.2", l2007(1, 2, 0), "KB948016", ""},
	{"8.1.291.2", l2007(1, 3, 0), "KB949870", ""},
	{"8.1.311.3", l2007(1, 4, 0), "KB952580", ""},
	{"8.1.336.1", l2007(1, 5, 0), "KB953467", ""},
	{"8.1.340.1", l2007(1, 6, 0), "KB959241", ""},
	{"8.1.359.2", l2007(1, 7, 0), "KB960384", ""},
	{"8.1.375.2", l2007(1, 8, 0), "KB968012", ""},
	{"8.1.393.1", l2007(1, 9, 0), "KB970162", ""},
	{"8.1.436.0", l2007(1, 10, 0), "KB981407", ""},
	// 2007 SP2.
	{"8.2.176.2", l2007(2, 0, 0), "", "2009-08-24"},
	{"8.2.217.3", l2007(2, 1, 0), "KB971534", ""},
	{"8.2.234.1", l2007(2, 2, 0), "KB972076", ""},
	{"8.2.247.2", l2007(2, 3, 0), "KB979784", ""},
	{"8.2.254.0", l2007(2, 4, 0), "KB981383", ""},
	{"8.2.305.3", l2007(2, 5, 0), "KB2407132", ""},
	// 2007 SP3.
	{"8.3.83.6", l2007(3, 0, 0), "", "2010-06-07"},
	{"8.3.106.2", l2007(3, 1, 0), "KB2279665", ""},
	{"8.3.137.3", l2007(3, 2, 0), "KB2407025", ""},
	{"8.3.159.0", l2007(3, 3, 0), "KB2492691", ""},
	{"8.3.159.2", l2007(3, 3, 2), "KB2530488", ""},
	{"8.3.192.1", l2007(3, 4, 0), "KB2509911", ""},
	{"8.3.213.1", l2007(3, 5, 0), "KB2602324", ""},
	{"8.3.245.2", l2007(3, 6, 0), "KB2608656", ""},
	{"8.3.264.0", l2007(3, 7, 0), "KB2655203", ""},
	{"8.3.279.3", l2007(3, 8, 0), "KB2734232", ""},
	{"8.3.279.5", l2007(3, 8, 2), "KB2756497", ""},
	{"8.3.279.6", l2007(3, 8, 3), "KB2778154", ""},
	{"8.3.297.2", l2007(3, 9, 0), "KB2746157", ""},
	{"8.3.298.3", l2007(3, 10, 0), "KB2788321", ""},
	{"8.3.327.1", l2007(3, 11, 0), "KB2873746", ""},
	{"8.3.342.4", l2007(3, 12, 0), "KB2903911", ""},
	{"8.3.348.2", l2007(3, 13, 0), "KB2917522", ""},
	{"8.3.348.1", l2007(3, 13, 0), "KB2917522", ""}, // Microsoft's table; another public table has .348.2
	{"8.3.379.2", l2007(3, 14, 0), "KB2936861", ""},
	{"8.3.389.2", l2007(3, 15, 0), "KB2996150", ""},
	{"8.3.406.0", l2007(3, 16, 0), "KB3030086", ""},
	{"8.3.417.1", l2007(3, 17, 0), "KB3056710", ""},
	{"8.3.445.0", l2007(3, 18, 0), "KB3078672", ""},
	{"8.3.459.0", l2007(3, 19, 0), "KB3141352", ""},
	{"8.3.468.0", l2007(3, 20, 0), "KB3151086", ""},
	{"8.3.485.1", l2007(3, 21, 0), "KB3184711", ""},
	{"8.3.502.0", l2007(3, 22, 0), "KB3184712", ""},
	{"8.3.517.0", l2007(3, 23, 0), "KB4011325", "2017-03-21"},
	// 2003.
	{"6.5.6944", Level{Product: "2003", ServicePack: 0}, "", ""},
	{"6.5.7226", Level{Product: "2003", ServicePack: 1}, "", ""},
	{"6.5.7638", Level{Product: "2003", ServicePack: 2}, "", ""},
	// 2000 and its post-SP3 rollups.
	{"6.0.4417", Level{Product: "2000", ServicePack: 0}, "", ""},
	{"6.0.4712", Level{Product: "2000", ServicePack: 1}, "", ""},
	{"6.0.5762", Level{Product: "2000", ServicePack: 2}, "", ""},
	{"6.0.6249", Level{Product: "2000", ServicePack: 3}, "", ""},
	{"6.0.6487", Level{Product: "2000", ServicePack: 3, PostSPRollup: "6.0.6487"}, "", ""},
	{"6.0.6556", Level{Product: "2000", ServicePack: 3, PostSPRollup: "6.0.6556"}, "", ""},
	{"6.0.6603", Level{Product: "2000", ServicePack: 3, PostSPRollup: "6.0.6603"}, "KB870540", ""},
	{"6.0.6620.5", Level{Product: "2000", ServicePack: 3, PostSPRollup: "6.0.6620.5"}, "", ""},
	{"6.0.6620.7", Level{Product: "2000", ServicePack: 3, PostSPRollup: "6.0.6620.7"}, "", ""},
	// 5.5.
	{"5.5.1960", Level{Product: "5.5", ServicePack: 0}, "", ""},
	{"5.5.2232", Level{Product: "5.5", ServicePack: 1}, "", ""},
	{"5.5.2448", Level{Product: "5.5", ServicePack: 2}, "", ""},
	{"5.5.2650", Level{Product: "5.5", ServicePack: 3}, "", ""},
	{"5.5.2653", Level{Product: "5.5", ServicePack: 4}, "", ""},
}

func l2007(sp, ru, rr int) Level {
	return Level{Product: "2007", ServicePack: sp, UpdateRollup: ru, ReRelease: rr}
}

func TestDefaultCatalog(t *testing.T) {
	// DefaultCatalog panics on invalid embedded data; this is the guard.
	if c := DefaultCatalog(); c == nil || len(c.entries) == 0 {
		t.Fatal("DefaultCatalog is empty")
	}
	//nolint:staticcheck // SA4000: two calls compared as pointers: parsed once means the same one
	if DefaultCatalog() != DefaultCatalog() {
		t.Error("DefaultCatalog should be parsed once and shared")
	}
}

func TestCatalogMatchesDomain(t *testing.T) {
	c := DefaultCatalog()
	for _, want := range domainBuilds {
		r, err := c.LookupString(want.build)
		if err != nil {
			t.Errorf("%s: %v", want.build, err)
			continue
		}
		if r.Level != want.level || r.KB != want.kb || r.Date != want.date || r.Build.String() != want.build {
			t.Errorf("%s: got %+v, want level %+v kb %q date %q", want.build, r, want.level, want.kb, want.date)
		}
	}
	// And nothing more: every catalog build is in the table above.
	n := 0
	for _, p := range []string{"5.5", "2000", "2003", "2007"} {
		n += len(c.Releases(p))
	}
	if n != len(domainBuilds) || len(c.entries) != len(domainBuilds) {
		t.Errorf("catalog has %d builds (%d by product), the public tables have %d", len(c.entries), n, len(domainBuilds))
	}
}

func TestLookupToleratesRevision(t *testing.T) {
	c := DefaultCatalog()
	for _, tc := range []struct{ in, want string }{
		{"6.5.7638.2", "Exchange 2003 SP2"}, // ESM shows "Build 7638.2"
		{"6.5.7226.6", "Exchange 2003 SP1"}, // ESM shows "Build 7226.6"
		{"6.5.7638", "Exchange 2003 SP2"},
		{"8.1.393", "Exchange 2007 SP1 Update Rollup 9"},        // a probe that read no revision
		{"8.0.685", "Exchange 2007 RTM"},                        // both RTM builds: one level
		{"08.01.0393.001", "Exchange 2007 SP1 Update Rollup 9"}, // file-version form
		{"6.0.6603", "Exchange 2000 SP3 post-SP3 rollup 6.0.6603"},
	} {
		r, err := c.LookupString(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := r.Level.String(); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.in, got, tc.want)
		}
	}
	if r, ok := c.Lookup(MustParseBuild("8.0.685.25")); !ok || r.Build.String() != "8.0.685.25" {
		t.Errorf("8.0.685.25: got %v %v, want the .25 build itself", r, ok)
	}
	if r, _ := c.Lookup(MustParseBuild("8.0.685")); r.Build.String() != "8.0.685.24" {
		t.Errorf("8.0.685: got %v, want the primary RTM build 8.0.685.24", r.Build)
	}
	// A different revision of a four-part build is another build.
	if _, ok := c.Lookup(MustParseBuild("8.1.393.2")); ok {
		t.Error("8.1.393.2 should not be found")
	}
}

func TestLookupErrors(t *testing.T) {
	c := DefaultCatalog()
	for _, tc := range []struct {
		in   string
		kind error
		want []string
	}{
		{"8.1.999.0", ErrUnknownBuild, []string{
			"build 8.1.999.0 is not in the catalog", "known Exchange 2007 SP1 builds are",
			"8.1.240.6 (SP1)", "8.1.393.1 (Update Rollup 9)", "8.1.436.0 (Update Rollup 10)"}},
		{"8.3.410.0", ErrUnknownBuild, []string{
			"Exchange 2007 SP3 builds are 8.3.83.6 (SP3) … 8.3.517.0 (Update Rollup 23) (28 builds)",
			"nearest below: 8.3.406.0 (Update Rollup 16)", "nearest above: 8.3.417.1 (Update Rollup 17)"}},
		{"6.0.7000", ErrUnknownBuild, []string{"known Exchange 2000 builds are 6.0.4417 (RTM)", "6.0.6603 (post-SP3 rollup)"}},
		{"14.0.639.21", ErrUnknownBuild, []string{
			"no known Exchange release has version 14.0",
			"Exchange 2003 (6.5.x)", "Exchange 2007 (8.0.x, 8.1.x, 8.2.x, 8.3.x)"}},
		{"8.3.279", ErrAmbiguousBuild, []string{
			"8.3.279.3 (Exchange 2007 SP3 Update Rollup 8)",
			"8.3.279.6 (Exchange 2007 SP3 Update Rollup 8 (re-release v3))", "with its revision"}},
		{"8.1", ErrMalformedBuild, []string{"major.minor.build[.revision]"}},
		{"8.1.x.0", ErrMalformedBuild, []string{`part "x"`, "major.minor.build[.revision]"}},
		{"", ErrMalformedBuild, []string{"major.minor.build[.revision]"}},
	} {
		_, err := c.LookupString(tc.in)
		if err == nil {
			t.Errorf("%q: no error", tc.in)
			continue
		}
		if !errors.Is(err, tc.kind) {
			t.Errorf("%q: error %q is not %v", tc.in, err, tc.kind)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tc.in, err, w)
			}
		}
	}
}

func TestLevelAndReleaseNames(t *testing.T) {
	for _, tc := range []struct {
		l    Level
		kb   string
		want string
	}{
		{l2007(1, 9, 0), "", "Exchange 2007 SP1 Update Rollup 9"},
		{l2007(0, 0, 0), "", "Exchange 2007 RTM"},
		{l2007(0, 5, 0), "", "Exchange 2007 RTM Update Rollup 5"},
		{l2007(3, 8, 3), "", "Exchange 2007 SP3 Update Rollup 8 (re-release v3)"},
		{l2007(0, 7, 0), "KB953469", "Exchange 2007 RTM Update Rollup 7 (KB953469)"},
		{Level{Product: "2003", ServicePack: 2}, "", "Exchange 2003 SP2"},
		{Level{Product: "2000", ServicePack: 3, PostSPRollup: "6.0.6603"}, "KB870540", "Exchange 2000 SP3 post-SP3 rollup 6.0.6603 (KB870540)"},
		{Level{Product: "5.5", ServicePack: 4}, "", "Exchange 5.5 SP4"},
	} {
		if got := (Release{Level: tc.l, KB: tc.kb}).String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	c := DefaultCatalog()
	for _, tc := range []struct{ in, want string }{
		{"8.1.393.1", "Exchange 2007 SP1 Update Rollup 9 (KB970162)"},
		{"8.0.783.2", "Exchange 2007 RTM Update Rollup 6"},
		{"8.0.813.0", "Exchange 2007 RTM Update Rollup 7 (KB953469)"},
		{"6.5.7638.2", "Exchange 2003 SP2"},
		{"8.1.395.0", "Exchange 2007 SP1 Update Rollup 9 or a later interim build (8.1.395.0, not in the catalog)"},
		{"8.1.393.2", "Exchange 2007 SP1 Update Rollup 9 or a later interim build (8.1.393.2, not in the catalog)"},
		{"8.3.600.0", "Exchange 2007 SP3 Update Rollup 23 or a later interim build (8.3.600.0, not in the catalog)"},
		{"6.5.7650.28", "Exchange 2003 SP2 or a later hotfix build (6.5.7650.28, not in the catalog)"},
		{"6.0.6620.9", "Exchange 2000 SP3 post-SP3 rollup 6.0.6620.7 or a later hotfix build (6.0.6620.9, not in the catalog)"},
		{"8.3.279", "one of Exchange 2007 SP3 Update Rollup 8, Exchange 2007 SP3 Update Rollup 8 (re-release v2), Exchange 2007 SP3 Update Rollup 8 (re-release v3) (build 8.3.279 without its revision)"},
		{"8.1.100.0", "unknown build 8.1.100.0"}, // below SP1: nothing to be "or later" of
		{"14.0.639.21", "unknown build 14.0.639.21"},
		{"8.4.1.0", "unknown build 8.4.1.0"},
	} {
		if got := c.Describe(MustParseBuild(tc.in)); got != tc.want {
			t.Errorf("Describe(%s)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestNewest(t *testing.T) {
	c := DefaultCatalog()
	for _, tc := range []struct {
		product string
		sp      int
		build   string
		level   Level
	}{
		{"2007", 0, "8.0.813.0", l2007(0, 7, 0)},
		{"2007", 1, "8.1.436.0", l2007(1, 10, 0)},
		{"2007", 2, "8.2.305.3", l2007(2, 5, 0)},
		{"2007", 3, "8.3.517.0", l2007(3, 23, 0)},
		{"2003", 2, "6.5.7638", Level{Product: "2003", ServicePack: 2}},
		{"2000", 3, "6.0.6249", Level{Product: "2000", ServicePack: 3}}, // post-SP rollups are hotfixes
		{"5.5", 4, "5.5.2653", Level{Product: "5.5", ServicePack: 4}},
	} {
		r, err := c.Newest(tc.product, tc.sp)
		if err != nil {
			t.Errorf("Newest(%s, %d): %v", tc.product, tc.sp, err)
			continue
		}
		if r.Build.String() != tc.build || r.Level != tc.level {
			t.Errorf("Newest(%s, %d) = %v %s, want %v %s", tc.product, tc.sp, r.Level, r.Build, tc.level, tc.build)
		}
	}
	for _, tc := range []struct {
		product string
		sp      int
		want    string
	}{
		{"2007", 4, "Exchange 2007 has no SP4; known: RTM, SP1, SP2, SP3"},
		{"2003", 3, "Exchange 2003 has no SP3; known: RTM, SP1, SP2"},
		{"2007", -1, "service pack -1 is not valid (0 is RTM); Exchange 2007 has RTM, SP1, SP2, SP3"},
		{"2010", 1, `unknown product "2010"; known: 5.5, 2000, 2003, 2007`},
	} {
		_, err := c.Newest(tc.product, tc.sp)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Newest(%s, %d): error %v, want %q", tc.product, tc.sp, err, tc.want)
		}
	}
}

func TestReReleasesOrdered(t *testing.T) {
	c := DefaultCatalog()
	var prev Build
	for rr, want := range map[int]string{0: "8.3.279.3", 2: "8.3.279.5", 3: "8.3.279.6"} {
		r, err := c.Find("2007", 3, 8, rr)
		if err != nil || r.Build.String() != want {
			t.Errorf("Find(2007, 3, 8, %d) = %v, %v; want %s", rr, r.Build, err, want)
		}
	}
	for _, rr := range []int{0, 2, 3} {
		r, _ := c.Find("2007", 3, 8, rr)
		if !prev.IsZero() && !prev.Less(r.Build) {
			t.Errorf("RU8 re-release v%d (%s) is not newer than %s", rr, r.Build, prev)
		}
		prev = r.Build
	}
	// The latest re-release of the newest rollup wins in Newest: check with a catalog whose
	// newest SP3 rollup is RU8.
	cut := &Catalog{}
	for _, e := range c.entries {
		if e.Level.Product != "2007" || e.Level.ServicePack != 3 || e.Level.UpdateRollup <= 8 {
			cut.entries = append(cut.entries, e)
		}
	}
	if r, _ := cut.Newest("2007", 3); r.Level != l2007(3, 8, 3) {
		t.Errorf("Newest with RU8 last = %v, want RU8 v3", r.Level)
	}
}

func TestFind(t *testing.T) {
	c := DefaultCatalog()
	if r, err := c.Find("2007", 0, 0, 0); err != nil || r.Build.String() != "8.0.685.24" {
		t.Errorf("Find RTM = %v, %v; want the primary build 8.0.685.24", r.Build, err)
	}
	if r, err := c.Find("2003", 1, 0, 0); err != nil || r.Build.String() != "6.5.7226" {
		t.Errorf("Find 2003 SP1 = %v, %v", r.Build, err)
	}
	if r, err := c.Find("2007", 3, 3, 2); err != nil || r.Build.String() != "8.3.159.2" {
		t.Errorf("Find SP3 RU3-v2 = %v, %v", r.Build, err)
	}
	for _, tc := range []struct {
		product    string
		sp, ru, rr int
		want       string
	}{
		{"2007", 1, 11, 0, "Exchange 2007 SP1 has no Update Rollup 11; known update rollups: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"},
		{"2007", 3, 8, 4, "Exchange 2007 SP3 Update Rollup 8 has no re-release v4; known update rollups: 1, 2, 3, 3-v2, 4"},
		{"2007", 1, 9, 2, "Exchange 2007 SP1 Update Rollup 9 has no re-release v2"},
		{"2003", 2, 1, 0, "Exchange 2003 has no update rollups (only Exchange 2007 has them)"},
		{"2007", 3, 8, 1, "re-release 1 is not valid"},
		{"2007", 3, 0, 2, "re-release 2 is not valid"},
		{"2007", 3, -1, 0, "update rollup -1 is not valid"},
		{"2007", 5, 1, 0, "Exchange 2007 has no SP5; known: RTM, SP1, SP2, SP3"},
	} {
		_, err := c.Find(tc.product, tc.sp, tc.ru, tc.rr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Find(%s, %d, %d, %d): error %v, want it to contain %q", tc.product, tc.sp, tc.ru, tc.rr, err, tc.want)
		}
	}
}

func TestReleasesSorted(t *testing.T) {
	c := DefaultCatalog()
	rs := c.Releases("2007")
	if len(rs) != 54 {
		t.Errorf("2007 has %d releases, want 54 (9 RTM, 11 SP1, 6 SP2, 28 SP3)", len(rs))
	}
	for i := 1; i < len(rs); i++ {
		if !rs[i-1].Build.Less(rs[i].Build) {
			t.Errorf("Releases not sorted: %s before %s", rs[i-1].Build, rs[i].Build)
		}
	}
	if got := c.Releases("2010"); got != nil {
		t.Errorf("Releases(2010) = %v, want nil", got)
	}
	// The slice is the caller's: changing it leaves the catalog alone.
	rs[0].KB = "KB1111"
	if r, _ := c.Find("2007", 0, 0, 0); r.KB != "" {
		t.Error("Releases exposed the catalog's storage")
	}
}

func TestParseRollup(t *testing.T) {
	for _, tc := range []struct {
		in     string
		ru, rr int
	}{
		{"8", 8, 0}, {"8-v2", 8, 2}, {"8-v3", 8, 3}, {"23", 23, 0}, {" 10 ", 10, 0}, {"0", 0, 0},
	} {
		ru, rr, err := ParseRollup(tc.in)
		if err != nil || ru != tc.ru || rr != tc.rr {
			t.Errorf("ParseRollup(%q) = %d, %d, %v; want %d, %d", tc.in, ru, rr, err, tc.ru, tc.rr)
		}
		if strings.TrimSpace(tc.in) != FormatRollup(ru, rr) {
			t.Errorf("FormatRollup(%d, %d) = %q, want %q", ru, rr, FormatRollup(ru, rr), tc.in)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"v3", `write the rollup number, e.g. "8", or a re-release as "8-v2" or "8-v3"`},
		{"8-v1", `the original release is written "8"; re-releases are "8-v2", "8-v3"`},
		{"8-v0", `the original release is written "8"`},
		{"-1", `does not start with a rollup number`},
		{"8-v", `has no re-release number after "-v"`},
		{"", `does not start with a rollup number`},
		{"+8", `does not start with a rollup number`},
		{"0-v2", `is a re-release of no rollup`},
		{"8-V3", `does not start with a rollup number`},
		{"8-v2-v3", `has no re-release number`},
		{"UR8", `does not start with a rollup number`},
		{"99999999999999999999", `out of range`},
	} {
		_, _, err := ParseRollup(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRollup(%q): error %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestWithKB(t *testing.T) {
	c := DefaultCatalog()
	rtmRU6 := l2007(0, 6, 0) // no source states its KB
	c2, err := c.WithKB(rtmRU6, "KB1234567")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := c2.Find("2007", 0, 6, 0); r.KB != "KB1234567" {
		t.Errorf("KB not set: %+v", r)
	}
	if r, _ := c.Find("2007", 0, 6, 0); r.KB != "" {
		t.Errorf("WithKB changed the original catalog: %+v", r)
	}
	// Another update may not take the same KB.
	if _, err := c2.WithKB(l2007(0, 5, 0), "KB1234567"); err == nil || !strings.Contains(err.Error(), "is given to both") {
		t.Errorf("two rollups sharing a KB: error %v", err)
	}
	// A re-release may share its rollup's KB.
	if err := loadJSON(t, `{"product": "2007", "service_pack": 3, "update_rollup": 8, "build": "8.3.279.3", "kb": "KB1111"}`,
		`{"product": "2007", "service_pack": 3, "update_rollup": 8, "re_release": 2, "build": "8.3.279.5", "kb": "KB1111"}`); err != nil {
		t.Errorf("re-releases sharing a KB: %v", err)
	}
	// Stating the KB the catalog already has is fine.
	if _, err := c.WithKB(l2007(0, 7, 0), "KB953469"); err != nil {
		t.Errorf("same KB again: %v", err)
	}
	for _, tc := range []struct {
		l    Level
		kb   string
		want string
	}{
		{l2007(0, 7, 0), "KB1111", "the catalog states KB953469 for Exchange 2007 RTM Update Rollup 7; refusing to change it to KB1111"},
		{l2007(0, 6, 0), "KB953469", "KB953469 is given to both"},
		{l2007(3, 13, 0), "KB1111", "the catalog states KB2917522 for Exchange 2007 SP3 Update Rollup 13; refusing to change it to KB1111"},
		{l2007(1, 11, 0), "KB1111", "Exchange 2007 SP1 Update Rollup 11 is not in the catalog"},
		{l2007(0, 0, 0), "KB1111", "not an update"},
		{l2007(1, 1, 0), "953469", "not of the form KB followed by digits"},
		{l2007(1, 1, 0), "kb953469", "not of the form KB followed by digits"},
		{l2007(1, 1, 0), "", "not of the form KB followed by digits"},
	} {
		_, err := c.WithKB(tc.l, tc.kb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WithKB(%v, %q): error %v, want it to contain %q", tc.l, tc.kb, err, tc.want)
		}
	}
	// Both RTM builds share a level; an SP with one build gets its KB.
	if c3, err := c.WithKB(Level{Product: "2003", ServicePack: 2}, "KB1111"); err != nil {
		t.Error(err)
	} else if r, _ := c3.LookupString("6.5.7638.2"); r.KB != "KB1111" {
		t.Errorf("2003 SP2 KB = %q", r.KB)
	}
}

// loadJSON loads a catalog made of the given release objects.
func loadJSON(t *testing.T, releases ...string) error {
	t.Helper()
	_, err := LoadCatalog(strings.NewReader(`{"_source": "test", "releases": [` + strings.Join(releases, ",") + `]}`))
	return err
}

func TestLoadCatalogRejects(t *testing.T) {
	const (
		sp1  = `{"product": "2007", "service_pack": 1, "build": "8.1.240.6"}`
		ru1  = `{"product": "2007", "service_pack": 1, "update_rollup": 1, "build": "8.1.263.1", "kb": "KB1111"}`
		ru2  = `{"product": "2007", "service_pack": 1, "update_rollup": 2, "build": "8.1.278.2"}`
		sp2x = `{"product": "2003", "service_pack": 2, "build": "6.5.7638"}`
	)
	if err := loadJSON(t, sp1, ru1, ru2, sp2x); err != nil {
		t.Fatalf("valid catalog rejected: %v", err)
	}
	for _, tc := range []struct {
		name     string
		releases []string
		want     string
	}{
		{"duplicate build", []string{sp1, ru1, `{"product": "2007", "service_pack": 1, "update_rollup": 3, "build": "8.1.263.1"}`}, "are the same build"},
		{"3-part and 4-part of one build", []string{sp2x, `{"product": "2003", "service_pack": 1, "build": "6.5.7638.2"}`}, "are the same build"},
		{"duplicate level", []string{sp1, ru1, `{"product": "2007", "service_pack": 1, "update_rollup": 1, "build": "8.1.264.0"}`}, "Exchange 2007 SP1 Update Rollup 1 appears twice"},
		{"also_seen without primary", []string{`{"product": "2007", "service_pack": 1, "also_seen": true, "build": "8.1.240.6"}`}, "has no primary build"},
		{"bad KB", []string{`{"product": "2007", "service_pack": 1, "build": "8.1.240.6", "kb": "KB 123"}`}, "not of the form KB followed by digits"},
		{"lowercase KB", []string{`{"product": "2007", "service_pack": 1, "build": "8.1.240.6", "kb": "kb123"}`}, "not of the form KB"},
		{"KB on two updates", []string{sp1, ru1, `{"product": "2007", "service_pack": 1, "update_rollup": 2, "build": "8.1.278.2", "kb": "KB1111"}`}, "KB1111 is given to both"},
		{"unknown product", []string{`{"product": "2010", "service_pack": 1, "build": "14.1.218.15"}`}, `unknown product "2010"`},
		{"bad build", []string{`{"product": "2007", "service_pack": 1, "build": "8.1.x"}`}, `part "x"`},
		{"build of another SP", []string{`{"product": "2007", "service_pack": 1, "build": "8.2.176.2"}`}, "Exchange 2007 SP1 builds are 8.1.x"},
		{"build of another product", []string{`{"product": "2000", "service_pack": 2, "build": "6.5.7638"}`}, "Exchange 2000 SP2 builds are 6.0.x"},
		{"SP out of range", []string{`{"product": "2003", "service_pack": 3, "build": "6.5.8000"}`}, "Exchange 2003 has no service pack 3"},
		{"rollup on 2003", []string{`{"product": "2003", "service_pack": 2, "update_rollup": 1, "build": "6.5.7650"}`}, "Exchange 2003 has no update rollups"},
		{"re-release v1", []string{`{"product": "2007", "service_pack": 1, "update_rollup": 1, "re_release": 1, "build": "8.1.263.1"}`}, "re_release 1"},
		{"re-release without rollup", []string{`{"product": "2007", "service_pack": 1, "re_release": 2, "build": "8.1.240.6"}`}, "re_release 2"},
		{"post-SP rollup on 2007", []string{`{"product": "2007", "service_pack": 1, "post_sp_rollup": true, "build": "8.1.240.6"}`}, "not post-SP rollups"},
		{"bad date", []string{`{"product": "2007", "service_pack": 1, "build": "8.1.240.6", "date": "29.11.2007"}`}, "not YYYY-MM-DD"},
		{"misspelt key", []string{`{"product": "2007", "servicepack": 1, "build": "8.1.240.6"}`}, "unknown field"},
		{"builds out of level order", []string{sp1, `{"product": "2007", "service_pack": 1, "update_rollup": 1, "build": "8.1.278.2"}`, `{"product": "2007", "service_pack": 1, "update_rollup": 2, "build": "8.1.263.1"}`}, "builds do not rise with the level"},
		{"SP build below RTM", []string{`{"product": "2003", "service_pack": 0, "build": "6.5.7683"}`, sp2x}, "builds do not rise with the level"},
		{"empty", nil, "no releases"},
	} {
		err := loadJSON(t, tc.releases...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if _, err := LoadCatalog(strings.NewReader(`{"releases": [` + sp1 + `]} {}`)); err == nil {
		t.Error("trailing data accepted")
	}
	if _, err := LoadCatalog(strings.NewReader(`not json`)); err == nil {
		t.Error("garbage accepted")
	}
}

func TestLoadCatalogAllowsAlsoSeen(t *testing.T) {
	err := loadJSON(t,
		`{"product": "2007", "service_pack": 0, "build": "8.0.685.24"}`,
		`{"product": "2007", "service_pack": 0, "also_seen": true, "build": "8.0.685.25"}`,
		`{"product": "2007", "service_pack": 0, "update_rollup": 1, "build": "8.0.708.3"}`)
	if err != nil {
		t.Error(err)
	}
}

// Microsoft's build table (ExchangeBuildNumbers.csv of microsoft/Get-ExchangeBuildNumber)
// states the KB of every 2007 SP1-SP3 rollup, and gives SP3 RU13 as 8.3.348.1 where
// another public table has 8.3.348.2: both builds read as RU13, that one is its primary.
func TestRollupKBsFromMicrosoftsTable(t *testing.T) {
	c := DefaultCatalog()
	for _, r := range c.Releases("2007") {
		if r.Level.ServicePack >= 1 && r.Level.UpdateRollup > 0 && r.KB == "" {
			t.Errorf("%s (%s) has no KB", r.Level, r.Build)
		}
	}
	for _, b := range []string{"8.3.348.1", "8.3.348.2"} {
		r, err := c.LookupString(b)
		if err != nil || r.Level != l2007(3, 13, 0) || r.KB != "KB2917522" {
			t.Errorf("%s: %+v, %v; want SP3 Update Rollup 13 (KB2917522)", b, r, err)
		}
	}
	if r, err := c.Find("2007", 3, 13, 0); err != nil || r.Build.String() != "8.3.348.2" {
		t.Errorf("SP3 RU13's primary build: %+v, %v; want 8.3.348.2", r, err)
	}
}
