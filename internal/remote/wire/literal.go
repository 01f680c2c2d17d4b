// Package wire is the contract between the provider's PowerShell operations and whoever runs
// them: a real Windows host or the simulator. It renders a script (fixed text plus a block of
// parameters rendered as PowerShell literals), packs it for transport within cmd.exe's
// command-line limit, and reads the one JSON result a script writes. The simulator parses
// with the same package, so what one side writes the other side reads.
package wire

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// singleQuotes are every character PowerShell treats as a single quote. Inside a
// single-quoted string any of them ends the string unless doubled, so each is doubled.
const singleQuotes = "'\u2018\u2019\u201a\u201b"

func isSingleQuote(r rune) bool { return strings.ContainsRune(singleQuotes, r) }

// Literal renders v as a PowerShell 2.0 literal that evaluates to v and never to code.
// Supported: string, int, int64, bool, []string and nil. Strings must be valid UTF-8: the
// script travels as UTF-8 text, where an invalid byte could only become U+FFFD, another value.
func Literal(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "$null", nil
	case string:
		if !utf8.ValidString(x) {
			return "", fmt.Errorf("wire: string %q is not valid UTF-8", x)
		}
		return quote(x), nil
	case bool:
		if x {
			return "$true", nil
		}
		return "$false", nil
	case int:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			if !utf8.ValidString(s) {
				return "", fmt.Errorf("wire: list item %q is not valid UTF-8", s)
			}
			parts[i] = quote(s)
		}
		// @(...) is an array even with one element or none.
		return "@(" + strings.Join(parts, ",") + ")", nil
	default:
		return "", fmt.Errorf("wire: no PowerShell literal for %T", v)
	}
}

func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		if isSingleQuote(r) {
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// parseLiteral reads one literal from the start of s, as PowerShell's tokenizer would, and
// returns the value and the rest of s. It accepts exactly what Literal writes.
func parseLiteral(s string) (any, string, error) {
	switch {
	case strings.HasPrefix(s, "$null"):
		return nil, s[len("$null"):], nil
	case strings.HasPrefix(s, "$true"):
		return true, s[len("$true"):], nil
	case strings.HasPrefix(s, "$false"):
		return false, s[len("$false"):], nil
	case strings.HasPrefix(s, "@("):
		rest := s[2:]
		list := []string{}
		for {
			if strings.HasPrefix(rest, ")") {
				return list, rest[1:], nil
			}
			if len(list) > 0 {
				if !strings.HasPrefix(rest, ",") {
					return nil, s, fmt.Errorf("wire: expected ',' or ')' in array literal")
				}
				rest = rest[1:]
			}
			v, r, err := parseQuoted(rest)
			if err != nil {
				return nil, s, err
			}
			list = append(list, v)
			rest = r
		}
	case s != "" && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')):
		end := 1
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		n, err := strconv.ParseInt(s[:end], 10, 64)
		if err != nil {
			return nil, s, fmt.Errorf("wire: bad number literal %q", s[:end])
		}
		return n, s[end:], nil
	default:
		return parseQuoted(s)
	}
}

func parseQuoted(s string) (string, string, error) {
	runes := []rune(s)
	if len(runes) == 0 || !isSingleQuote(runes[0]) {
		return "", s, fmt.Errorf("wire: expected a single-quoted string")
	}
	var b strings.Builder
	for i := 1; i < len(runes); i++ {
		r := runes[i]
		if isSingleQuote(r) {
			if i+1 < len(runes) && isSingleQuote(runes[i+1]) {
				b.WriteRune(runes[i+1])
				i++
				continue
			}
			return b.String(), string(runes[i+1:]), nil
		}
		b.WriteRune(r)
	}
	return "", s, fmt.Errorf("wire: unterminated string literal")
}
