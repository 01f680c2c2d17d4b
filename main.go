// Command terraform-provider-exchange serves the Exchange provider to Terraform or OpenTofu.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/buildlevel/terraform-provider-exchange/internal/provider"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run with support for debuggers like delve")
	flag.Parse()

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
