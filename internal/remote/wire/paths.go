package wire

import (
	"fmt"
	"regexp"
	"unicode/utf8"
)

// PathForbiddenPattern matches what no path parameter (setup media, a package, a language-pack
// folder) may hold: a double quote or a control character (U+0000 to U+001F, which takes NUL,
// tab, CR and LF). job_start.ps1 passes each path to the installer as one command-line
// argument in double quotes (ConvertTo-ExArgument): a quote would end the argument early and a
// CR, LF or NUL would cut the command line. It is the one definition of the rule: prelude.ps1
// holds the same text as $ExPathForbiddenPattern (scripts_test.go checks they are equal),
// job_start.ps1 refuses a parameter it matches, and the provider refuses it at plan.
// The pattern means the same in Go's and in .NET's regular expressions.
const PathForbiddenPattern = `[\x00-\x1F"]`

var pathForbidden = regexp.MustCompile(PathForbiddenPattern)

// PathProblem says what is wrong with a path parameter, or "" when nothing is.
func PathProblem(p string) string {
	loc := pathForbidden.FindStringIndex(p)
	if loc == nil {
		return ""
	}
	at := utf8.RuneCountInString(p[:loc[0]]) + 1
	return fmt.Sprintf("holds %s at character %d: a path may hold no double quote and no control character; remove it",
		charName(p[loc[0]]), at)
}

func charName(c byte) string {
	switch c {
	case '"':
		return "a double quote"
	case 0:
		return "a NUL character"
	case '\r':
		return "a carriage return (CR)"
	case '\n':
		return "a line feed (LF)"
	case '\t':
		return "a tab"
	}
	return fmt.Sprintf("the control character U+%04X", c)
}
