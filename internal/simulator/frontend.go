package simulator

import (
	"fmt"
	"slices"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// operationServing names the journal entries that say when an Exchange 2000/2003 front-end
// starts or stops serving its clients, and at which build: an event, not an operation.
const operationServing = "serving"

// serving is what a front-end last showed its clients.
type serving struct {
	on    bool
	build exchange.Build
}

// frontEndLocked: the host is an Exchange 2000/2003 front-end server.
func (h *Host) frontEndLocked() bool {
	return (h.state.Product == "2000" || h.state.Product == "2003") && slices.Contains(h.state.Roles, "FrontEnd")
}

// servingLocked: a front-end serves Outlook Web Access, Exchange ActiveSync and Outlook
// Mobile Access through IIS, so it serves clients while it is up and its World Wide Web
// Publishing service (W3SVC) runs (our reading of "take the front-end servers offline" in
// KB 328839, see docs/simulator.md).
func (h *Host) servingLocked() serving {
	on := h.power == powerUp
	if on {
		svc := h.serviceLocked("W3SVC")
		on = svc != nil && svc.State == "Running"
	}
	return serving{on: on, build: h.state.Build}
}

// noteServingLocked journals a front-end's change of serving or of build since the last
// note (or since the fleet started it). It runs after every operation and at shutdown and
// boot, the only moments a host's state changes.
func (h *Host) noteServingLocked() {
	if !h.frontEndLocked() {
		return
	}
	now := h.servingLocked()
	if now == h.served {
		return
	}
	h.served = now
	detail := fmt.Sprintf("serves clients at build %s (W3SVC running)", now.build)
	if !now.on {
		why := "W3SVC is not running"
		if h.power != powerUp {
			why = "the server is down"
		}
		detail = fmt.Sprintf("does not serve clients (%s); build %s", why, now.build)
	}
	h.env.journal.record(Entry{Server: h.name, Operation: operationServing, Outcome: outcomeOK, Detail: detail,
		Params: map[string]any{"serving": now.on, "build": now.build.String()}})
}

// noteServing is noteServingLocked for callers that do not hold the host's lock.
func (h *Host) noteServing() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.noteServingLocked()
}

// opFrontEnd takes a front-end out of service or brings it back as front_end.ps1 does:
// offline records W3SVC's start mode first (an existing record is kept), sets it Disabled
// and stops it; online puts the recorded start mode back, starts it unless it was Disabled,
// and drops the record; without a record online changes nothing. Boots, installs and
// exchange_services start W3SVC by its start mode like any Exchange service, so a Disabled
// one stays stopped.
func opFrontEnd(h *Handler, c *call, req wire.FrontEndRequest) (any, *wire.Fault) {
	if req.Action != wire.ActionOffline && req.Action != wire.ActionOnline {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf(`the front-end action must be "offline" or "online", got "%s"`, req.Action)}
	}
	host := h.host
	host.mu.Lock()
	defer host.mu.Unlock()
	host.settleLocked()
	svc := host.serviceLocked("W3SVC")
	if svc == nil {
		return nil, &wire.Fault{Code: "not_found", Message: fmt.Sprintf("no World Wide Web Publishing service (W3SVC) on %s: a front-end server serves its clients through IIS", host.name)}
	}
	s := &host.state
	res := wire.FrontEndResult{Service: svc.Name, Before: svc.State}
	if req.Action == wire.ActionOffline {
		if s.FrontEndStartMode == "" {
			s.FrontEndStartMode = svc.StartMode
		}
		svc.StartMode, svc.State = "Disabled", "Stopped"
		res.RecordedStartMode = s.FrontEndStartMode
	} else if s.FrontEndStartMode != "" {
		res.RecordedStartMode = s.FrontEndStartMode
		svc.StartMode = s.FrontEndStartMode
		if svc.StartMode != "Disabled" {
			svc.State = "Running"
		}
		s.FrontEndStartMode = ""
	}
	res.After, res.StartMode = svc.State, svc.StartMode
	return res, nil
}
