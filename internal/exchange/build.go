// Package exchange is the domain: what an Exchange server is (Facts), what builds exist
// (Catalog) and, later, what servicing is allowed and in which order. It does no I/O.
package exchange

import (
	"fmt"
	"strconv"
	"strings"
)

// Build is an Exchange build number, major.minor.build.revision. Exchange 2000/2003/5.5
// report only three parts (6.5.7638); Revision is then -1 and is not printed.
type Build struct {
	Major, Minor, Build, Revision int
}

// ParseBuild reads "8.1.393.1", "6.5.7638" or "6.5.7638.2".
func ParseBuild(s string) (Build, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 3 || len(parts) > 4 {
		return Build{}, fmt.Errorf("build %q is not of the form major.minor.build[.revision], e.g. 8.3.83.6", s)
	}
	nums := make([]int, 4)
	nums[3] = -1
	for i, p := range parts {
		// Only ASCII digits: strconv.Atoi alone would also take "+5" and "-0". Leading
		// zeros are fine, file versions print them ("08.01.0393.001").
		n, err := strconv.Atoi(p)
		if err != nil || !allDigits(p) {
			return Build{}, fmt.Errorf("build %q: part %q is not a whole number; expected major.minor.build[.revision], e.g. 8.3.83.6", s, p)
		}
		nums[i] = n
	}
	return Build{Major: nums[0], Minor: nums[1], Build: nums[2], Revision: nums[3]}, nil
}

// allDigits reports whether p is non-empty and only ASCII digits.
func allDigits(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// MustParseBuild is for literals in tests and embedded data known to be valid.
func MustParseBuild(s string) Build {
	b, err := ParseBuild(s)
	if err != nil {
		panic(err)
	}
	return b
}

func (b Build) String() string {
	if b.Revision < 0 {
		return fmt.Sprintf("%d.%d.%d", b.Major, b.Minor, b.Build)
	}
	return fmt.Sprintf("%d.%d.%d.%d", b.Major, b.Minor, b.Build, b.Revision)
}

// IsZero reports whether b is the zero value (no build known).
func (b Build) IsZero() bool { return b == Build{} }

// Compare orders builds numerically; a missing revision sorts before revision 0.
func (b Build) Compare(o Build) int {
	for _, d := range [4]int{b.Major - o.Major, b.Minor - o.Minor, b.Build - o.Build, b.Revision - o.Revision} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

// Less reports whether b is older than o.
func (b Build) Less(o Build) bool { return b.Compare(o) < 0 }

// SameBuild reports whether b and o name the same build, ignoring a revision that only one
// of them states (2003 shows "6.5.7638" in ESM and "Build 7638.2" elsewhere).
func (b Build) SameBuild(o Build) bool {
	if b.Major != o.Major || b.Minor != o.Minor || b.Build != o.Build {
		return false
	}
	return b.Revision < 0 || o.Revision < 0 || b.Revision == o.Revision
}
