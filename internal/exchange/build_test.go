package exchange

import (
	"strings"
	"testing"
)

func TestParseBuild(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Build
		str  string
	}{
		{"8.3.83.6", Build{8, 3, 83, 6}, "8.3.83.6"},
		{"6.5.7638", Build{6, 5, 7638, -1}, "6.5.7638"},
		{"6.5.7638.2", Build{6, 5, 7638, 2}, "6.5.7638.2"},
		{" 8.1.393.1\n", Build{8, 1, 393, 1}, "8.1.393.1"},
		{"08.01.0393.001", Build{8, 1, 393, 1}, "8.1.393.1"}, // FileVersion form
		{"8.0.813.0", Build{8, 0, 813, 0}, "8.0.813.0"},
	} {
		got, err := ParseBuild(tc.in)
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("ParseBuild(%q) = %+v (%s), %v; want %+v (%s)", tc.in, got, got, err, tc.want, tc.str)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "not of the form major.minor.build[.revision]"},
		{"8.1", "not of the form major.minor.build[.revision]"},
		{"8.1.2.3.4", "not of the form major.minor.build[.revision]"}, // 5 parts
		{"+8.1.2.3", `part "+8" is not a whole number`},
		{"8.+1.2", `part "+1"`},
		{"8.-0.2", `part "-0"`}, // Atoi alone would accept it
		{"8.1.-2", `part "-2"`},
		{"8..2.3", `part "" is not a whole number`},
		{"8.1.2.", `part ""`},
		{"8.1.2.x", `part "x"`},
		{"8.1. 2.3", `part " 2"`},
		{"8.1.99999999999999999999.0", "not a whole number"},
		{"Version 6.5 (Build 7638.2)", "not a whole number"},
	} {
		_, err := ParseBuild(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseBuild(%q): error %v, want it to contain %q", tc.in, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "e.g. 8.3.83.6") {
			t.Errorf("ParseBuild(%q): error %q does not show the expected form", tc.in, err)
		}
	}
}

func TestBuildCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"8.1.393.1", "8.1.393.1", 0},
		{"8.1.393.1", "8.1.436.0", -1},
		{"8.3.83.6", "8.1.436.0", 1},   // a later SP beats any rollup of an earlier one
		{"8.3.279.3", "8.3.279.5", -1}, // re-releases by revision
		{"8.3.297.2", "8.3.298.3", -1},
		{"6.5.7638", "6.5.7638.2", -1}, // a missing revision sorts first
		{"6.5.7638", "6.5.7638.0", -1},
		{"6.5.7638", "6.5.7638", 0},
		{"6.0.6620.7", "6.0.6620.5", 1},
		{"5.5.2653", "6.0.4417", -1},
		{"8.1.1000.0", "8.1.999.9", 1}, // numeric, not textual
	} {
		a, b := MustParseBuild(tc.a), MustParseBuild(tc.b)
		if got := a.Compare(b); got != tc.want {
			t.Errorf("%s.Compare(%s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := b.Compare(a); got != -tc.want {
			t.Errorf("%s.Compare(%s) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
		if a.Less(b) != (tc.want < 0) {
			t.Errorf("%s.Less(%s) = %v", tc.a, tc.b, a.Less(b))
		}
	}
}

func TestBuildSameBuild(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"6.5.7638", "6.5.7638.2", true}, // ESM "6.5.7638" vs "Build 7638.2"
		{"6.5.7638.2", "6.5.7638", true},
		{"6.5.7638", "6.5.7638", true},
		{"6.5.7638.2", "6.5.7638.2", true},
		{"6.5.7638.2", "6.5.7638.1", false}, // both state a revision: it counts
		{"6.5.7638", "6.5.7683", false},     // the typo one public build table prints
		{"8.3.279.3", "8.3.279.5", false},
		{"8.1.393.1", "8.2.393.1", false},
		{"8.1.393.1", "9.1.393.1", false},
	} {
		a, b := MustParseBuild(tc.a), MustParseBuild(tc.b)
		if got := a.SameBuild(b); got != tc.want {
			t.Errorf("%s.SameBuild(%s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestBuildIsZero(t *testing.T) {
	if !(Build{}).IsZero() {
		t.Error("zero Build is not IsZero")
	}
	if MustParseBuild("0.0.0").IsZero() {
		t.Error("0.0.0 (revision -1) was parsed, so it is a build, not the zero value")
	}
}

func TestMustParseBuildPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParseBuild(\"bad\") did not panic")
		}
	}()
	MustParseBuild("bad")
}
