package provider

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// TestOrganizationUpgradeLocksClusterNodesInSortedOrder: exchange_cluster_upgrade takes the
// nodes' locks in lower-case name order. An organisation upgrade servicing the same cluster,
// whose nodes are reported NODE2, NODE1, must take them in that same order: holding NODE2
// while it waits for NODE1 would deadlock with a cluster apply that holds NODE1 and waits for
// NODE2.
func TestOrganizationUpgradeLocksClusterNodesInSortedOrder(t *testing.T) {
	d := &providerData{}
	r := &organizationUpgradeResource{data: d}
	// The cluster apply: NODE1 first, in sorted order; it will want NODE2 next.
	unlockNode1 := d.serverLock(d.targetOfServer("NODE1"))
	done := make(chan error, 1)
	go func() {
		plan := exchange.OrganizationPlan{Units: []exchange.OrganizationUnit{{Wave: 1, Server: "CMS1", Nodes: []string{"NODE2", "NODE1"},
			Plans: []exchange.Plan{{Server: "CMS1", Steps: []exchange.Step{{Kind: exchange.StopClusteredServer{Group: "CMS1"}, Server: "NODE1"}}}}}}}
		_, err := r.runWaves(context.Background(), &organizationUpgradeModel{Parallelism: types.Int64Value(1)}, orgPlan{OrganizationPlan: plan})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // the organisation apply takes what it can and waits
	got := make(chan func(), 1)
	go func() { got <- d.serverLock(d.targetOfServer("NODE2")) }()
	select {
	case unlock := <-got:
		unlock()
	case <-time.After(2 * time.Second):
		t.Fatal("the organisation upgrade holds NODE2 while it waits for NODE1: with a cluster apply holding NODE1 and waiting for NODE2, neither ends (deadlock)")
	}
	unlockNode1()
	if err := <-done; err == nil {
		t.Fatal("the apply without a lock owner must fail before any remote call")
	}
}
