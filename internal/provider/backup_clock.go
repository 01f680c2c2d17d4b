package provider

import (
	"context"
	"time"
)

// Backup ages are measured against the provider's clock (providerData.now), the one the
// maintenance window and the executor use, so one plan or apply has one notion of now. The
// planner's options are built from the resources' models (optionsOf), which do not reach
// the provider: the clock travels in the context, set where a plan or an apply starts.

type clockKey struct{}

// withClock carries the provider's clock to optionsOf.
func (d *providerData) withClock(ctx context.Context) context.Context {
	return context.WithValue(ctx, clockKey{}, d.now)
}

// nowOf is the provider's clock carried by ctx (withClock); without one, the wall clock,
// which is also the provider's outside tests.
func nowOf(ctx context.Context) time.Time {
	if now, ok := ctx.Value(clockKey{}).(func() time.Time); ok {
		return now()
	}
	return time.Now()
}
