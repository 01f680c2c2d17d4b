package servicing

import (
	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

func (x stepRun) TakeFrontEndOffline(exchange.TakeFrontEndOffline) error {
	return x.frontEnd(wire.ActionOffline)
}

func (x stepRun) BringFrontEndOnline(exchange.BringFrontEndOnline) error {
	return x.frontEnd(wire.ActionOnline)
}

func (x stepRun) frontEnd(action string) error {
	res, err := remote.Call(x.ctx, x.r, x.t, wire.FrontEndRequest{Action: action})
	if err != nil {
		return err
	}
	what := "out of service for its clients; its start mode " + orUnknown(res.RecordedStartMode) + " is recorded"
	switch {
	case action == wire.ActionOnline && res.RecordedStartMode != "":
		what = "back in service; start mode " + res.RecordedStartMode + " again"
	case action == wire.ActionOnline:
		what = "no record of taking it offline: left as it is"
	}
	x.logf(x.s, "front-end web service %s: %s -> %s, %s", res.Service, orUnknown(res.Before), orUnknown(res.After), what)
	return nil
}
