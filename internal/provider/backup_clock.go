package provider

import (
	"context"
	"time"
)

// Backup ages are measured against the provider's clock (providerData.now), the one the
// maintenance window and the executor use, so one plan or apply has one notion of now. The
// planner's options are built from the resources' models (optionsOf), which do not reach
// the provider: the clock travels in the context, set where a plan or an apply starts, and
// so does the provider's backup_evidence, which every resource's backup block adds to.

type clockKey struct{}

type providerEvidenceKey struct{}

// withClock carries the provider's clock and backup_evidence to optionsOf.
func (d *providerData) withClock(ctx context.Context) context.Context {
	ctx = context.WithValue(ctx, clockKey{}, d.now)
	if d.evidence != nil {
		ctx = context.WithValue(ctx, providerEvidenceKey{}, d.evidence)
	}
	return ctx
}

// evidenceOf is the provider's backup_evidence carried by ctx (withClock); nil when none.
func evidenceOf(ctx context.Context) *providerEvidence {
	e, _ := ctx.Value(providerEvidenceKey{}).(*providerEvidence)
	return e
}

// nowOf is the provider's clock carried by ctx (withClock); without one, the wall clock,
// which is also the provider's outside tests.
func nowOf(ctx context.Context) time.Time {
	if now, ok := ctx.Value(clockKey{}).(func() time.Time); ok {
		return now()
	}
	return time.Now()
}
