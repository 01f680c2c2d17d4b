package exchange

import "strings"

// --- Load-balanced front-end steps (organisation plans) ---

// TakeFrontEndOffline takes one front-end of a load-balanced group out of service for its
// clients: its web service (W3SVC) Disabled and stopped, the start mode it had recorded on
// the server first. FrontEnds names the whole group, as planned_steps shows it.
type TakeFrontEndOffline struct{ FrontEnds []string }

func (TakeFrontEndOffline) Action() string { return ActionTakeFrontEndOffline }
func (k TakeFrontEndOffline) Params() map[string]string {
	return map[string]string{"front_ends": strings.Join(k.FrontEnds, ", ")}
}
func (k TakeFrontEndOffline) Check() error {
	return missing("front_ends", strings.Join(k.FrontEnds, ""))
}
func (k TakeFrontEndOffline) Run(r StepRunner) error { return r.TakeFrontEndOffline(k) }

// BringFrontEndOnline puts a front-end TakeFrontEndOffline took out of service back: the
// recorded start mode, W3SVC started, the record removed; nothing without a record.
type BringFrontEndOnline struct{ FrontEnds []string }

func (BringFrontEndOnline) Action() string { return ActionBringFrontEndOnline }
func (k BringFrontEndOnline) Params() map[string]string {
	return map[string]string{"front_ends": strings.Join(k.FrontEnds, ", ")}
}
func (k BringFrontEndOnline) Check() error {
	return missing("front_ends", strings.Join(k.FrontEnds, ""))
}
func (k BringFrontEndOnline) Run(r StepRunner) error { return r.BringFrontEndOnline(k) }
