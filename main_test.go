package main

import (
	"os"
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
