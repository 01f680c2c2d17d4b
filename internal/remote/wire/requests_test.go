package wire

import (
	"strings"
	"testing"
)

// A request survives the trip the script makes: Params, Render, Parse, DecodeParams.
func TestRequestsDecodeAsSent(t *testing.T) {
	sent := JobStartRequest{ID: "upgrade_cms-8.3.83.6", Action: "upgrade_cms", MediaPath: `D:\SP3 'x'`, Group: "CMS1"}
	text, err := Script{Operation: sent.Op(), Params: Params(sent), Body: "#"}.Render()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]any{}
	for _, p := range back.Params {
		params[p.Name] = p.Value
	}
	var got JobStartRequest
	if err := DecodeParams(params, &got); err != nil {
		t.Fatal(err)
	}
	if got != sent {
		t.Errorf("decoded %+v, want %+v", got, sent)
	}
	lock := LockRequest{Owner: "o", TTLSeconds: 600, TakeOver: "dead"}
	var lockBack LockRequest
	if err := DecodeParams(map[string]any{"Owner": "o", "TTLSeconds": int64(600), "Release": false, "TakeOver": "dead", "KeepServiceRecord": false}, &lockBack); err != nil || lockBack != lock {
		t.Errorf("lock decoded %+v, %v", lockBack, err)
	}
}

func TestDecodeParamsSaysWhatDoesNotFit(t *testing.T) {
	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"Name": "SNMP"}, `missing parameter "Action"`},
		{map[string]any{"Name": "SNMP", "Action": "stop", "Force": true}, `unexpected parameter "Force"`},
		{map[string]any{"Name": int64(1), "Action": "stop"}, `parameter "Name" must be a string literal, got int64`},
		{map[string]any{"Name": nil, "Action": "stop"}, `parameter "Name" must be a string literal, got <nil>`},
	} {
		var req ServiceRequest
		err := DecodeParams(tc.params, &req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeParams(%v) = %v, want %q", tc.params, err, tc.want)
		}
	}
}
