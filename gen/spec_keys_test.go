package gen

import "testing"

// specKeyRules are keys with an anchor, alias or tag, and idle's spin
// durations below a nanosecond's precision, with the exact messages Parse
// must give. TestParseRejectsEachRuleWithExactMessage runs them with the
// other tables.
var specKeyRules = []struct {
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

	// A key may carry an anchor (&k batch: 1), which is valid YAML: the
	// field is batch. The walk named it by its anchor's token, "&", and an
	// alias or a tag on a key likewise gave "unknown field" for "*" or "!!str".
	{"alias as a key", "x: &k batch\n" + one("*k : 32"),
		[]string{
			"t.yaml:1:1: x: unknown field (known: variants)",
			"t.yaml:5:5: variants[0]: an alias as a key is not supported (write the key out)",
		}},
	{"tag on a key", one("!!str batch: 32"),
		[]string{"t.yaml:4:5: variants[0]: YAML tags such as !!str are not supported (write the plain key)"}},
	{"anchored key with a bad value", one("&k batch: 0"),
		[]string{"t.yaml:4:15: variants[0].batch: must be between 1 and 1048576 (got 0)"}},
	{"anchored key twice", one("batch: 1", "&k batch: 2"),
		[]string{"t.yaml:5:5: variants[0].batch: duplicate key (first at line 4; remove one)"}},
	{"anchored top-level key", "&v variants: []\n",
		[]string{"t.yaml:1:14: variants: empty list (add at least one variant, such as - {name: balanced, default: true})"}},
}

// An anchor on a key leaves the key what it is.
func TestParseAcceptsAnAnchoredKey(t *testing.T) {
	s, err := Parse("t.yaml", []byte("&top variants:\n  - &n name: a\n    default: true\n    wheel:\n      &t tick: 100us\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Variants[0]; v.Name != "a" || v.Wheel.Tick.String() != "100µs" {
		t.Errorf("got name %q, tick %v; want a, 100µs", v.Name, v.Wheel.Tick)
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
