package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Without any log variable the SDK's TRACE lines are turned off (Terraform would parse and
// drop them); any variable a user sets to ask for logs leaves the SDK's levels alone.
func TestQuietSDKLogs(t *testing.T) {
	for _, asked := range append([]string{""}, sdkLogVariables...) {
		t.Run("asked "+asked, func(t *testing.T) {
			for _, v := range sdkLogVariables {
				t.Setenv(v, "")
			}
			if asked != "" {
				t.Setenv(asked, "TRACE")
			}
			quietSDKLogs()
			got := os.Getenv("TF_LOG_SDK")
			switch {
			case asked == "" && got != "OFF":
				t.Errorf("no log variable set: TF_LOG_SDK = %q, want OFF", got)
			case asked != "" && asked != "TF_LOG_SDK" && got != "":
				t.Errorf("%s set: TF_LOG_SDK = %q, want it left unset", asked, got)
			case asked == "TF_LOG_SDK" && got != "TRACE":
				t.Errorf("TF_LOG_SDK set by the user: now %q, want TRACE", got)
			}
		})
	}
}

// EXCHANGE_CPUPROFILE and EXCHANGE_MEMPROFILE each write a profile (for go tool pprof)
// named after the process; without them nothing is written.
func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EXCHANGE_CPUPROFILE", filepath.Join(dir, "cpu"))
	t.Setenv("EXCHANGE_MEMPROFILE", filepath.Join(dir, "mem"))
	profileCPU()()
	profileHeap()
	for _, name := range []string{"cpu", "mem"} {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s.%d", name, os.Getpid())))
		if err != nil {
			t.Fatalf("%s profile: %v", name, err)
		}
		// A profile is gzip-compressed protocol buffers (runtime/pprof).
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s profile is not gzip: %v", name, err)
		}
		if body, err := io.ReadAll(zr); err != nil || len(body) == 0 {
			t.Errorf("%s profile: %d bytes, %v", name, len(body), err)
		}
	}
	t.Setenv("EXCHANGE_CPUPROFILE", "")
	t.Setenv("EXCHANGE_MEMPROFILE", "")
	other := t.TempDir()
	t.Chdir(other)
	profileCPU()()
	profileHeap()
	if entries, _ := os.ReadDir(other); len(entries) != 0 {
		t.Errorf("profiles written without the variables: %v", entries)
	}
}
