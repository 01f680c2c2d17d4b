package reliability

import (
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// LogEnv names a file that every test which held a scenario appends "<id>\t<test>" to;
// `make test` sets it and then checks that every scenario of the report was held by a
// test that ran and passed (tools/reliability -check-run).
const LogEnv = "EXCHANGE_RELIABILITY_LOG"

// Held says that t proves the scenario id: if t passes (not skipped), its name is recorded
// under LogEnv. An unknown id fails the test, so a renamed scenario cannot go unnoticed.
func Held(t testing.TB, id string) {
	t.Helper()
	if _, ok := Find(id); !ok {
		t.Fatalf("reliability: no scenario %q in reliability.Scenarios", id)
	}
	t.Cleanup(func() {
		path := os.Getenv(LogEnv)
		if t.Failed() || t.Skipped() || path == "" {
			return
		}
		// One short write with O_APPEND: test binaries of several packages run at once.
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Errorf("reliability: recording %q: %v", id, err)
			return
		}
		defer f.Close()
		if _, err := fmt.Fprintf(f, "%s\t%s\n", id, t.Name()); err != nil {
			t.Errorf("reliability: recording %q: %v", id, err)
		}
	})
}

// Leaks lists where the password shows in text, by name of the text. A password of four
// characters or more is looked for anywhere; a shorter one (which occurs by chance in any
// log) where a leak puts it: after a word naming a password or secret, quoted as a whole
// value, and as the Basic credential or its base64 form.
func Leaks(user, password string, texts map[string]string) []string {
	if password == "" {
		return nil
	}
	q := regexp.QuoteMeta(password)
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`(?i)(password|passwd|secret|pwd)[^\n]{0,12}?[=:]\s*\\*["']?` + q + `(\\*["']|\s|,|}|$)`),
		regexp.MustCompile(`\\*"` + q + `\\*"`),
	}
	literal := []string{base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
	if len(password) >= 4 {
		literal = append(literal, password, base64.StdEncoding.EncodeToString([]byte(password)))
	}
	var out []string
	for name, text := range texts {
		found := false
		for _, l := range literal {
			found = found || strings.Contains(text, l)
		}
		for _, p := range patterns {
			found = found || p.MatchString(text)
		}
		if found {
			out = append(out, name)
		}
	}
	return out
}

// NoLeak fails t when the password shows in any of texts (see Leaks), and when every text
// is empty (a check of nothing proves nothing).
func NoLeak(t testing.TB, user, password string, texts map[string]string) {
	t.Helper()
	total := 0
	for _, text := range texts {
		total += len(text)
	}
	if total == 0 {
		t.Fatal("reliability: no output, state or log to look for the password in")
	}
	for _, name := range Leaks(user, password, texts) {
		t.Errorf("the password appears in the %s", name)
	}
}
