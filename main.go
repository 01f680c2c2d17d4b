// Command terraform-provider-exchange serves the Exchange provider to Terraform or OpenTofu.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/buildlevel/terraform-provider-exchange/internal/provider"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run with support for debuggers like delve")
	flag.Parse()
	quietSDKLogs()
	defer profileCPU()()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/buildlevel/exchange",
		Debug:   debug,
	})
	// Serve returns when Terraform has stopped the plugin; delete the WinRM shells before
	// the process ends (see provider.Shutdown).
	provider.Shutdown(provider.ShutdownWait)
	if err != nil {
		log.Fatal(err)
	}
}

// sdkLogVariables are the variables by which a user asks Terraform for the provider's or
// its SDK's logs (Terraform's "Managing log output"; TF_LOG overrides the others).
var sdkLogVariables = []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_PROVIDER_EXCHANGE",
	"TF_LOG_SDK", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_SDK_PROTO"}

// quietSDKLogs turns the plugin SDK's own logs off when the user asked for no logs. Without
// a level the SDK logs at TRACE (terraform-plugin-log's tfsdklog.NewRootSDKLogger): every
// attribute of every request becomes a JSON line on stderr that Terraform parses and then
// drops, because its logging is off by default. At 500 servers that was a fifth of the
// provider's CPU and part of Terraform's (docs/performance.md). A user who sets any of the
// variables gets every log line as before.
func quietSDKLogs() {
	for _, v := range sdkLogVariables {
		if os.Getenv(v) != "" {
			return
		}
	}
	_ = os.Setenv("TF_LOG_SDK", "OFF")
}

// profileCPU writes a CPU profile of this provider process to $EXCHANGE_CPUPROFILE.<pid>
// when that variable is set (a diagnostic aid for docs/performance.md: Terraform starts one
// provider process per command); it returns the function that ends the profile.
func profileCPU() func() {
	path := os.Getenv("EXCHANGE_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
	if err != nil {
		log.Printf("EXCHANGE_CPUPROFILE: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Printf("EXCHANGE_CPUPROFILE: %v", err)
		_ = f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}
