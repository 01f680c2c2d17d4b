package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/benchfleet"
)

// opsSummary says, per kind of remote operation, how many each server got: "probe 1" when
// every server got one, "probe 1–2 (mean 1.05)" otherwise; an operation some servers
// got and most did not (discover) by its total.
func opsSummary(per map[string]*benchfleet.PerServer) string {
	kinds := map[string]bool{}
	for _, p := range per {
		for k := range p.Operations {
			kinds[k] = true
		}
	}
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		lo, hi, total, with := -1, 0, 0, 0
		for _, p := range per {
			n := p.Operations[k]
			if lo < 0 || n < lo {
				lo = n
			}
			hi, total = max(hi, n), total+n
			if n > 0 {
				with++
			}
		}
		switch {
		case with*2 < len(per):
			parts = append(parts, fmt.Sprintf("%s %d in all", k, total))
		case lo == hi:
			parts = append(parts, fmt.Sprintf("%s %d", k, lo))
		default:
			parts = append(parts, fmt.Sprintf("%s %d–%d (mean %.2f)", k, lo, hi, float64(total)/float64(len(per))))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// spread is "n" when every server had n, else "lo–hi (mean m)".
func spread(per map[string]*benchfleet.PerServer, f func(*benchfleet.PerServer) int) string {
	lo, hi, total := -1, 0, 0
	for _, p := range per {
		n := f(p)
		if lo < 0 || n < lo {
			lo = n
		}
		hi, total = max(hi, n), total+n
	}
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d–%d (mean %.2f)", lo, hi, float64(total)/float64(len(per)))
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if w = strings.TrimSpace(w); w != "" && strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func terraformVersion(tf string) string {
	out, err := exec.Command(tf, "version").Output()
	if err != nil {
		return tf
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

func machine() string {
	model := ""
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs (%s), %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version())
}

func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
