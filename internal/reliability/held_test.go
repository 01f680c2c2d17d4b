package reliability

import (
	"encoding/base64"
	"slices"
	"testing"
)

func TestLeaks(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte(`LAB\u:Zq`))
	for _, c := range []struct {
		password, text string
		leak           bool
	}{
		{"Sup3r-pw", "connecting with Sup3r-pw now", true},
		{"Sup3r-pw", "connecting with U3VwM3ItcHc= now", true},
		{"Sup3r-pw", "connecting with ******** now", false},
		{"Zq", "Authorization: Basic " + basic, true},
		{"Zq", `{"password":"Zq"}`, true},
		{"Zq", `password = Zq`, true},
		{"Zq", `tf_password: 'Zq',`, true},
		{"Zq", `\"Zq\"`, true},
		{"Zq", "the Zqueue of Zq items", false},
		{"Z", `"Zone": "Z1", password: "<redacted>"`, false},
		{"Z", `Password=Z`, true},
	} {
		got := Leaks(`LAB\u`, c.password, map[string]string{"log": c.text})
		if (len(got) > 0) != c.leak {
			t.Errorf("%q in %q: leak %v, want %v", c.password, c.text, got, c.leak)
		}
	}
}

func TestScenariosAreUnique(t *testing.T) {
	var ids []string
	for _, s := range Scenarios {
		if s.ID == "" || s.Checks == "" || slices.Contains(ids, s.ID) {
			t.Errorf("scenario %q: empty or repeated", s.ID)
		}
		ids = append(ids, s.ID)
	}
}
