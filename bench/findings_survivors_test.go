package main

import (
	"strings"
	"testing"
)

// Tests for what Key findings and the targets table say, each written for a
// change to findings.go that the rest of the suite let through.

// wantIn fails t for each of wants that out lacks.
func wantIn(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// A throughput change of exactly 15% is within 15%: 8.5 -> 10 ns per
// callback is -15%, 11.5 -> 10 ns +15%. The change was judged as
// 8.5/10 - 1, which in floating point is 0.15000000000000002 off, so it
// read "-15.000000% | **missed**". (Catches the verdict's <= made <, too.)
func TestAThroughputChangeOfExactlyTheFlatnessBoundIsFlat(t *testing.T) {
	for _, c := range []struct {
		from, to float64
		want     string
	}{
		{8.5, 10, "| callbacks flat: ops/s at 1M within 15% of 10k | -15% | met |"},
		{11.5, 10, "| callbacks flat: ops/s at 1M within 15% of 10k | +15% | met |"},
	} {
		out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
			"balanced": {10_000: c.from, 1_000_000: c.to},
		}, map[key]error{})
		wantIn(t, out, c.want)
	}
}
