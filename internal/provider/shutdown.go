package provider

import (
	"sync"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// Terraform never tells a provider it is done (there is no Close RPC): it ends the plugin
// process through go-plugin, whose Shutdown RPC stops the gRPC server, so that
// providerserver.Serve returns in main, and kills the process about two seconds later. The
// WinRM shells the clients keep open would outlive it on the servers, counted against
// MaxShellsPerUser for hours. So every client Configure makes is remembered here, and main
// calls Shutdown once Serve has returned.
var openClients struct {
	sync.Mutex
	clients []*remote.Client
}

// track remembers c for Shutdown.
func track(c *remote.Client) {
	openClients.Lock()
	defer openClients.Unlock()
	openClients.clients = append(openClients.clients, c)
}

// ShutdownWait is how long Shutdown waits for the servers to delete the shells: under
// go-plugin's two seconds between the Shutdown RPC and the kill.
const ShutdownWait = 1500 * time.Millisecond

// Shutdown closes every client Configure made, deleting their shells on the servers, and
// waits at most wait. A server that does not answer in time keeps its shell until WinRM's
// idle timeout ends it.
func Shutdown(wait time.Duration) {
	openClients.Lock()
	clients := openClients.clients
	openClients.clients = nil
	openClients.Unlock()
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); _ = c.Close() }()
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(wait):
	}
}
