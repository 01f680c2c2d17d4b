package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// FleetError lists everything wrong with a fleet file, one problem a line, each naming
// where it is (servers[2] ("EX03"), clusters[0] ("CMS01"), ...) and what to do.
type FleetError struct {
	// Source is the file name, or "" when the fleet was read from a stream.
	Source   string
	Problems []string
}

func (e *FleetError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		if e.Source != "" {
			p = e.Source + ": " + p
		}
		lines[i] = p
	}
	return strings.Join(lines, "\n")
}

// decodeObject decodes the JSON object raw into the struct dst field by field, so that an
// unknown field or a value of the wrong type is reported with its own name rather than as
// a byte offset. Field names come from the json tags of dst.
func decodeObject(raw json.RawMessage, dst any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return fmt.Errorf("must be an object {...}, not %s", jsonKind(raw))
	}
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	index := map[string]int{}
	var known []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			index[name] = i
			known = append(known, name)
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := index[k]; !ok {
			msg := fmt.Sprintf("unknown field %q", k)
			if s := closest(k, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return errors.New(msg)
		}
	}
	for _, k := range keys {
		f := v.Field(index[k])
		if err := json.Unmarshal(m[k], f.Addr().Interface()); err != nil {
			return fmt.Errorf("field %q must be %s, not %s", k, wantKind(f.Type()), jsonKind(m[k]))
		}
	}
	return nil
}

// wantKind names, for a person, the JSON that decodes into t.
func wantKind(t reflect.Type) string {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var s string
	switch t.Kind() {
	case reflect.Bool:
		s = "true or false"
	case reflect.String:
		s = "a string"
	case reflect.Int, reflect.Int64:
		s = "a whole number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			s = "a list of strings"
		} else {
			s = "a list"
		}
	default:
		// json.RawMessage fields are checked later, by decodeObject on their own.
		s = "an object {...}"
	}
	if nullable {
		s += " or null"
	}
	return s
}

// jsonKind names the kind of JSON value raw is.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string " + string(raw)
	case 't', 'f':
		return string(raw)
	case 'n':
		return "null"
	default:
		return "the number " + string(raw)
	}
}

// closest returns the candidate within edit distance 3 of s, for "did you mean" hints.
func closest(s string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// syntaxProblem turns a JSON syntax error into "line L, column C: ..." for data.
func syntaxProblem(data []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return "the JSON ends too early (a missing } or ]?)"
		}
		return "not valid JSON: " + err.Error()
	}
	off := int(se.Offset)
	if off > len(data) {
		off = len(data)
	}
	// Offset counts the bytes read, the offending one included: point at that one.
	if off > 0 {
		off--
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d, column %d: %s", line, col, se.Error())
}
