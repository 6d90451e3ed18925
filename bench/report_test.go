package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// syntheticReport builds a report from made-up repetitions: per system and
// scale, the wall time per op (ns) that every repetition took.
func syntheticReport(t *testing.T, workload string, perOp map[string]map[int]float64, errs map[key]error) string {
	t.Helper()
	return syntheticReportWith(t, options{reps: 3, warmup: true, workloads: []string{workload}}, workload, perOp, errs)
}

// wantIn fails t for each of wants that the report out lacks.
func wantIn(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// syntheticReportWith is syntheticReport run with options o.
func syntheticReportWith(t *testing.T, o options, workload string, perOp map[string]map[int]float64, errs map[key]error) string {
	t.Helper()
	systems, res := syntheticRun(workload, perOp, errs)
	return reportText(t, o, systems, res)
}

// syntheticRun is the run syntheticReport reports on: the systems, each of
// the kind its name says, and their repetitions, whose wall and CPU time
// per op are both perOp's.
func syntheticRun(workload string, perOp map[string]map[int]float64, errs map[key]error) ([]System, results) {
	res := results{runs: map[key][]Result{}, errs: errs, ranFor: map[string][]int{}}
	var systems []System
	for name, byN := range perOp {
		kind := "baseline"
		switch name {
		case "balanced", "latency":
			kind = "variant"
		case "floor-ring":
			kind = "floor"
		case "balanced-warm":
			kind = "diagnostic"
		case "asyncio", "uvloop":
			kind = "python"
		case "node":
			kind = "node"
		}
		systems = append(systems, System{Name: name, Kind: kind})
		for n, ns := range byN {
			d := time.Duration(ns * float64(n))
			res.runs[key{workload, name, n}] = []Result{{Ops: n, Wall: d, CPU: d}, {Ops: n, Wall: d, CPU: d}, {Ops: n, Wall: d, CPU: d}}
		}
	}
	// The run's scales are those the data has, as in a real run, where
	// every system runs each scale (a failed one is missing from its data).
	for _, byN := range perOp {
		for n := range byN {
			if !slices.Contains(res.ranFor[workload], n) {
				res.ranFor[workload] = append(res.ranFor[workload], n)
			}
		}
	}
	slices.Sort(res.ranFor[workload])
	// Stable order: the default first.
	for i, s := range systems {
		if s.Name == "balanced" {
			systems[0], systems[i] = systems[i], systems[0]
		}
	}
	return systems, res
}

// reportText is the report on res written with options o.
func reportText(t *testing.T, o options, systems []System, res results) string {
	t.Helper()
	var buf bytes.Buffer
	if err := newReport(o, systems, nil, res).write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestReportComputesRatiosAndVerdictsFromTheData(t *testing.T) {
	// balanced costs 6.4 ns at 10k and 7.3 ns at 1M: +14% cost, -12% ops/s,
	// which meets "within 15%"; rounding to whole ns would read 6 -> 7 (+17%).
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":   {10_000: 6.4, 1_000_000: 7.3},
		"chan":       {10_000: 32, 1_000_000: 36.5}, // 5x balanced: meets ≥4x
		"floor-ring": {10_000: 2.0, 1_000_000: 2.5}, // balanced 2.92-3.2x the floor: misses 2.5x; the floor itself loses 20%
		"latency":    {10_000: 5.0, 1_000_000: 5.0}, // the fastest variant
	}, map[key]error{})
	for _, want := range []string{
		"| callbacks flat: ops/s at 1M within 15% of 10k | -12%; the floor itself (floor-ring): -20% | met |",
		"| callbacks ≥4x a chan func() loop | 5.0–5.0x | met |",
		"| callbacks within 2.5x of a bare ring | 2.92–3.20x the floor's cost | **missed** |",
		"vs chan (baseline): balanced is 5.0–5.0x faster",
		"fastest variant here: latency",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The speedup table: chan's cost over balanced's, 32/6.4, on the 10k row.
	section := out[strings.Index(out, "### Speedup of balanced"):]
	row := section[strings.Index(section, "| 10,000 |"):]
	if row = row[:strings.Index(row, "\n")]; !strings.Contains(row, " 5.00x |") {
		t.Errorf("speedup row %q lacks 5.00x", row)
	}
}

func TestReportListsFailedRuns(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced": {10_000: 6},
	}, map[key]error{
		{WorkCallbacks, "chan", 10_000}:    errors.New("boom"),
		{WorkCallbacks, "asyncio", 10_000}: ErrUnsupported,
	})
	if !strings.Contains(out, "**1 runs failed**") || !strings.Contains(out, "chan on callbacks at N=10,000: boom") {
		t.Errorf("failure not reported:\n%s", out)
	}
	if strings.Contains(out, "asyncio on callbacks") {
		t.Error("an unsupported workload was reported as a failure")
	}
}

func TestReportBoundsSmallScaleTimerRatiosByTheWakeUps(t *testing.T) {
	out := syntheticReport(t, WorkTimers, map[string]map[int]float64{
		"balanced":    {100: 3000, 100_000: 100},
		"floor-sleep": {100: 2500, 100_000: 3},
		"heap":        {100: 5000, 100_000: 600},
	}, map[key]error{})
	want := "At N=100 a thread that does nothing but sleep until each of the timers workload's deadlines (floor-sleep) uses 2.50 µs of CPU per timer, and balanced 3.00 µs: at this scale a timer's CPU is its share of the sleeping and waking. That sleeping alone comes to these CPU ratios against the peers here: heap 2.0x (goal 8x)."
	if !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out)
	}
}

func TestReportHoldsMissedGoalsAgainstTheFloor(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":   {1_000: 10, 10_000: 8},
		"floor-ring": {1_000: 8, 10_000: 4},
		"asyncio":    {1_000: 730, 10_000: 1200},
	}, map[key]error{})
	want := "- callbacks ≥100x asyncio: at N=1,000, where balanced is 73.0x asyncio, floor-ring is 91.2x (the floor misses it too)"
	if !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out)
	}
	out = syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":   {1_000: 10},
		"floor-ring": {1_000: 5},
		"asyncio":    {1_000: 730},
	}, map[key]error{})
	if want := "floor-ring is 146.0x (the floor meets the goal there)"; !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out)
	}
}

func TestReportShowsTheKeptLoopBesideTheFreshOne(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":      {1_000: 10, 10_000: 8, 1_000_000: 16},
		"balanced-warm": {1_000: 10, 10_000: 8, 1_000_000: 8.5},
		"floor-ring":    {1_000: 8, 10_000: 4, 1_000_000: 4},
		"asyncio":       {1_000: 730, 10_000: 1200, 1_000_000: 1000},
	}, map[key]error{})
	for _, want := range []string{
		// 8 -> 16 ns is half the ops/s; the kept loop's 8 -> 8.5 ns is -6%.
		"| callbacks flat: ops/s at 1M within 15% of 10k | -50%; with its loop kept from span to span (balanced-warm): -6%; the floor itself (floor-ring): +0% | **missed** |",
		// The worst scale against asyncio is 1M (62.5x); the kept loop there is 1000/8.5.
		"- callbacks ≥100x asyncio: at N=1,000,000, where balanced is 62.5x asyncio, floor-ring is 250.0x (the floor meets the goal there); balanced-warm, its loop kept from span to span, is 117.6x",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// A goal at every scale, measured against a peer that did not run at every
// scale (the Python peers stop at N=100,000 without -full), says which
// scales its verdict leaves out.
func TestReportNamesTheScalesAGoalWasNotMeasuredAt(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced": {10_000: 6.4, 1_000_000: 7.3},
		"asyncio":  {10_000: 1000}, // 156x
	}, map[key]error{})
	want := "| callbacks ≥100x asyncio | 156.2–156.2x (N=1,000,000 not measured on asyncio) | met where measured |"
	if !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out[strings.Index(out, "### Targets"):])
	}
}

// A scale the default variant failed at stays in its goals, named: the
// targets walked the default's own scales, so a failed one dropped out of a
// goal "at every scale" without a word, and a goal at 1M blamed the peer.
func TestAScaleTheDefaultFailedAtStaysInItsGoals(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":   {10_000: 6},
		"chan":       {10_000: 30, 1_000_000: 30},
		"floor-ring": {10_000: 3, 1_000_000: 3},
	}, map[key]error{})
	for _, want := range []string{
		"| callbacks ≥4x a chan func() loop | 5.0–5.0x (N=1,000,000 not measured on balanced) | met where measured |",
		"| callbacks within 2.5x of a bare ring | 2.00–2.00x the floor's cost (N=1,000,000 not measured on balanced) | met where measured |",
		"| callbacks flat: ops/s at 1M within 15% of 10k | not measured (N=10,000 and N=1,000,000 both needed) | – |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out[strings.Index(out, "### Targets"):])
		}
	}
	out = syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced":  {10_000: 40},
		"afterfunc": {10_000: 400, 1_000_000: 400},
	}, map[key]error{})
	if want := "| timeouts ≥10x time.AfterFunc+Stop at 1M | not measured (N=1,000,000 not measured on balanced) | – |"; !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out[strings.Index(out, "### Targets"):])
	}
	out = syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced":  {10_000: 40},
		"afterfunc": {10_000: 400},
	}, map[key]error{})
	if want := "| timeouts ≥10x time.AfterFunc+Stop at 1M | not measured (N=1,000,000 not in this run) | – |"; !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out[strings.Index(out, "### Targets"):])
	}
}

// Under -quick (one repetition, no warm-up, the two smallest scales) the
// targets show what was measured and judge none of it, as the echo
// targets do.
func TestQuickJudgesNoTarget(t *testing.T) {
	out := syntheticReportWith(t, options{reps: 1, quick: true, workloads: []string{WorkCallbacks}}, WorkCallbacks,
		map[string]map[int]float64{
			"balanced":   {1_000: 6, 5_000: 6},
			"chan":       {1_000: 30, 5_000: 30},
			"floor-ring": {1_000: 3, 5_000: 3},
		}, map[key]error{})
	targets := out[strings.Index(out, "### Targets"):]
	if strings.Contains(targets, "| met") || strings.Contains(targets, "**missed**") {
		t.Errorf("a -quick report judges targets:\n%s", targets)
	}
	if want := "| callbacks ≥4x a chan func() loop | 5.0–5.0x | not judged (-quick) |"; !strings.Contains(targets, want) {
		t.Errorf("report lacks %q:\n%s", want, targets)
	}
}
