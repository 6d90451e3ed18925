package gen

import (
	"slices"
	"strings"
	"testing"
)

// specAuditRules are problems found by an audit of adversarial specs, with
// the exact messages Parse must give.
var specAuditRules = []struct {
	name string
	yaml string
	want []string
}{
	// idle's spin duration is a Go duration as the others are: a fraction of
	// a nanosecond was dropped without a word (spin:1.5ns ran as spin:1ns),
	// and one below a nanosecond was reported as 0s.
	{"spin with a fraction of a nanosecond", one("idle: spin:1.5ns"),
		[]string{`t.yaml:4:11: variants[0].idle: "1.5ns" has a fraction of a nanosecond, which a duration cannot hold (it would read as 1ns)`}},
	{"spin below a nanosecond", one("idle: spin:0.5ns"),
		[]string{`t.yaml:4:11: variants[0].idle: "0.5ns" is less than a nanosecond, the smallest duration`}},
}

func TestParseAuditRules(t *testing.T) {
	for _, tc := range specAuditRules {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded; want:\n%s", strings.Join(tc.want, "\n"))
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tc.want) {
				t.Errorf("YAML:\n%s\ngot:\n%s\nwant:\n%s", tc.yaml, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// Set reads idle as Parse does.
func TestSetRefusesASpinWithAFractionOfANanosecond(t *testing.T) {
	v := specDefaults()
	err := v.Set("idle", "spin:1.5ns")
	if err == nil {
		t.Fatalf("Set(idle, spin:1.5ns) succeeded: Spin = %v", v.Spin)
	}
	if want := `idle: "1.5ns" has a fraction of a nanosecond, which a duration cannot hold (it would read as 1ns)`; err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
}
