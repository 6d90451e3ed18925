package main

import (
	"strings"
	"testing"
	"time"
)

// Tests for what Key findings and the targets table say, each written for a
// change to findings.go that the rest of the suite let through.

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

// The key findings' throughput line runs from the smallest scale to the
// largest, and its change is the largest's over the smallest's: 6.4 -> 7.3
// ns per callback is -12% ops/s. (Catches the two scales swapped, which
// reads "from N=1,000,000 to N=10,000 ... +14%".)
func TestKeyFindingsChangeRunsFromTheSmallestScaleToTheLargest(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced": {10_000: 6.4, 1_000_000: 7.3},
	}, map[key]error{})
	wantIn(t, out, "balanced does 136,986,301–156,250,000 callbacks/s; from N=10,000 to N=1,000,000 its throughput changes by -12%.")
}

// The default variant is not a peer of its own: no "vs balanced" line.
// (Catches the loop over the systems no longer skipping the default.)
func TestKeyFindingsDoNotCompareTheDefaultWithItself(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced": {10_000: 6},
		"chan":     {10_000: 30},
	}, map[key]error{})
	wantIn(t, out, "- vs chan (baseline): balanced is 5.0–5.0x faster")
	if strings.Contains(out, "- vs balanced") {
		t.Errorf("the default is compared with itself:\n%s", out)
	}
}

// timersWaiting is the synthetic timers run, each span's wall time the
// wait for its last deadline, wall, as in a real run: the CPU time per op
// is cpuPerOp's, and a figure taken from the wall time instead stands out.
func timersWaiting(t *testing.T, cpuPerOp map[string]map[int]float64, wall time.Duration) string {
	t.Helper()
	systems, res := syntheticRun(WorkTimers, cpuPerOp, map[key]error{})
	for _, rs := range res.runs {
		for i := range rs {
			rs[i].Wall = wall
		}
	}
	return reportText(t, options{reps: 3, warmup: true, workloads: []string{WorkTimers}}, systems, res)
}

// Timers are judged on CPU time, their wall time being the 10 ms wait for
// the last deadline, the same for everyone: every figure Key findings and
// the targets give for them is from the CPU time. (Catches each of the
// CPU-per-timer range's top, the fastest variant's cost, the flatness goal
// and the floor-sleep paragraph's peer ratios and default's cost read from
// the wall time; and the fastest variant's cost read from the default's.)
func TestTimersFindingsAreAllInCPUTime(t *testing.T) {
	out := timersWaiting(t, map[string]map[int]float64{
		"balanced":    {100: 3000, 1_000: 200, 100_000: 220},
		"latency":     {100: 3000, 1_000: 190, 100_000: 150},
		"floor-sleep": {100: 2500},
		"heap":        {100: 5000, 1_000: 2000, 100_000: 2000},
	}, 10*time.Millisecond)
	wantIn(t, out,
		// From wall time the top would be 100 µs: 10 ms over 100 timers.
		"; CPU per timer 0.200–3.000 µs.",
		// From wall time latency would cost 0.100 µs at 100k, as would
		// balanced; from balanced's stat, 0.220.
		"- fastest variant here: latency (0.150 µs per timer at N=100,000, against 0.220 for balanced)",
		// 200 -> 220 ns of CPU is -9%; the wall time per timer falls 100-fold.
		"| timers flat: ops per CPU second at 100k within 15% of 1k | -9% | met |",
		// heap's 5 µs over floor-sleep's 2.5 µs; balanced's 3 µs. The wall
		// time is 100 µs a timer for everyone.
		"(floor-sleep) uses 2.50 µs of CPU per timer, and balanced 3.00 µs:",
		"CPU ratios against the peers here: heap 2.0x (goal 8x).",
	)
}

// The specialization goal is "at least 1.3x": exactly 1.3x meets it.
// (Catches the miss made lo <= 1.3.)
func TestSpecializationExactlyAtTheGoalMeetsIt(t *testing.T) {
	out := syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced": {10_000: 100},
		"generic":  {10_000: 130},
	}, map[key]error{})
	wantIn(t, out, "- specialization: balanced vs the generic build: balanced is 1.30–1.30x faster (meets the 1.3x goal)")
}

// "Where measured" qualifies a goal met, not one missed: at 1.2x on one
// scale the goal is missed whatever the scale generic lacks would say.
// (Catches "where measured" added when the best scale, not the worst,
// meets the goal: "misses the 1.3x goal where measured".)
func TestSpecializationMissedWithAScaleMissingIsPlainlyMissed(t *testing.T) {
	out := syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced": {10_000: 100, 100_000: 100, 1_000_000: 100},
		"generic":  {10_000: 120, 100_000: 140}, // failed at 1M
	}, map[key]error{})
	wantIn(t, out, "balanced is 1.20–1.40x faster (N=1,000,000 not measured on generic; misses the 1.3x goal)\n")
}

// Where another variant than the default is the fastest, the
// specialization line is about it, and a second line compares the default
// with the generic build, which has the default's numbers: what compiling
// them in buys alone. Where the default is the fastest, the first line
// says it all. (Catches the second line's condition reversed, and its
// ratios taken for the fastest variant instead of the default.)
func TestSpecializationAloneComparesTheDefaultWithGeneric(t *testing.T) {
	out := syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced": {10_000: 100},
		"latency":  {10_000: 80},
		"generic":  {10_000: 160},
	}, map[key]error{})
	wantIn(t, out,
		"- specialization: latency vs the generic build: latency is 2.00–2.00x faster (meets the 1.3x goal)",
		"- specialization alone, same numbers: balanced vs the generic build: balanced is 1.6–1.6x faster",
	)
	out = syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced": {10_000: 100},
		"latency":  {10_000: 120},
		"generic":  {10_000: 160},
	}, map[key]error{})
	wantIn(t, out, "- specialization: balanced vs the generic build: balanced is 1.60–1.60x faster (meets the 1.3x goal)")
	if strings.Contains(out, "specialization alone") {
		t.Errorf("the default is the fastest variant, and is compared with generic twice:\n%s", out)
	}
}

// The fastest variant is one of the generated variants, not a baseline
// that happens to cost less. (Catches the variants taken as every system
// but the floors.)
func TestTheFastestVariantIsAVariant(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced": {10_000: 100},
		"latency":  {10_000: 80},
		"chan":     {10_000: 50},
	}, map[key]error{})
	wantIn(t, out, "- fastest variant here: latency (0.080 µs per callback at N=10,000, against 0.100 for balanced)")
}

// "Within 2.5x of a bare ring" is met at exactly 2.5x. (Catches the
// floor goal's <= made <.)
func TestAFloorGoalMetExactlyIsMet(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":   {10_000: 10},
		"floor-ring": {10_000: 4},
	}, map[key]error{})
	wantIn(t, out, "| callbacks within 2.5x of a bare ring | 2.50–2.50x the floor's cost | met |")
}

// The timeouts goal, at 1M only, missed there, is held against the timer
// wheel floor at 1M, not at a smaller scale where the default does worse
// against a goal that does not apply there. (Catches the timeouts floor
// lost from floorOf, and the goal's scale ignored in floorBounds.)
func TestAMissedTimeoutsGoalIsHeldAgainstTheWheelAtItsScale(t *testing.T) {
	out := syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced":    {10_000: 100, 1_000_000: 100},
		"afterfunc":   {10_000: 200, 1_000_000: 500},
		"floor-wheel": {10_000: 20, 1_000_000: 20},
	}, map[key]error{})
	wantIn(t, out, "- timeouts ≥10x time.AfterFunc+Stop at 1M: at N=1,000,000, where balanced is 5.0x afterfunc, floor-wheel is 25.0x (the floor meets the goal there)")
}

// A floor-sleep that used no CPU time the clock could see bounds nothing:
// no paragraph of "0.00 µs" and ratios of a billion. (Catches the guard
// made < 0.)
func TestAFloorSleepOfNoMeasurableCPUIsNotUsed(t *testing.T) {
	out := syntheticReport(t, WorkTimers, map[string]map[int]float64{
		"balanced":    {100: 3000},
		"floor-sleep": {100: 0},
		"heap":        {100: 5000},
	}, map[key]error{})
	if strings.Contains(out, "(floor-sleep) uses") {
		t.Errorf("a floor-sleep of no CPU time is reported:\n%s", out)
	}
}

// The flatness row's figure with the garbage collector off is that run's
// change from the small scale to the large one, as the default's is: 8 ->
// 10 ns is -20% ops/s. (Catches the two scales swapped, +25%.)
func TestFlatnessWithTheCollectorOffRunsTheSameWay(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":       {10_000: 8, 1_000_000: 16},
		"balanced-gcoff": {10_000: 8, 1_000_000: 10},
	}, map[key]error{})
	wantIn(t, out, "| callbacks flat: ops/s at 1M within 15% of 10k | -50% (-20% with the garbage collector off: balanced-gcoff) | **missed** |")
}

// A figure that lands exactly on its goal meets it, though the ratio of two
// costs per op (each whole nanoseconds over the ops) is rounded on the way:
// every case here read "missed", its ratio a last bit off the goal in
// float64 (2825/1000 over 1130/1000 is 2.5000000000000004; a change of
// 1.7 -> 2 ns per callback is -0.15000000000000002). The cases are the
// goal kinds: within a floor, at least a peer, the floor's line for a goal
// met, the specialization goal and flatness.
func TestAFigureExactlyOnItsGoalMeetsIt(t *testing.T) {
	for _, c := range []struct {
		workload string
		spans    map[string]map[int]time.Duration // the span of n ops
		want     []string
		notWant  string
	}{
		{WorkCallbacks, map[string]map[int]time.Duration{"balanced": {1000: 2825}, "floor-ring": {1000: 1130}},
			[]string{"| callbacks within 2.5x of a bare ring | 2.50–2.50x the floor's cost | met |"}, ""},
		{WorkPosts1, map[string]map[int]time.Duration{"balanced": {1000: 5009}, "chan": {1000: 15027}},
			[]string{"| posts ≥3x a chan func() loop (1 producer) | 3.0–3.0x | met |"}, ""},
		{WorkTimeouts, map[string]map[int]time.Duration{
			"balanced":    {1_000_000: 40_000_010},
			"afterfunc":   {1_000_000: 400_000_100},
			"floor-wheel": {1_000_000: 20_000_000},
		}, []string{"| timeouts ≥10x time.AfterFunc+Stop at 1M | 10.0–10.0x | met |"}, "Missed goals held against the floor"},
		{WorkTimeouts, map[string]map[int]time.Duration{
			"balanced":    {1_000_000: 100_000_000},
			"afterfunc":   {1_000_000: 400_000_100},
			"floor-wheel": {1_000_000: 40_000_010},
		}, []string{"floor-wheel is 10.0x (the floor meets the goal there)"}, ""},
		{WorkTimeouts, map[string]map[int]time.Duration{"balanced": {1_000_000: 40_000_050}, "generic": {1_000_000: 52_000_065}},
			[]string{"balanced is 1.30–1.30x faster (meets the 1.3x goal)"}, ""},
		{WorkTimeouts, map[string]map[int]time.Duration{"balanced": {10_000: 400_000, 1_000_000: 40_000_050}, "generic": {1_000_000: 52_000_065}},
			[]string{"; meets the 1.3x goal where measured)"}, ""},
		{WorkCallbacks, map[string]map[int]time.Duration{"balanced": {10_000: 17_000, 1_000_000: 2_000_000}},
			[]string{"| callbacks flat: ops/s at 1M within 15% of 10k | -15% | met |"}, ""},
	} {
		perOp := map[string]map[int]float64{}
		for sys, byN := range c.spans {
			perOp[sys] = map[int]float64{}
			for n := range byN {
				perOp[sys][n] = 1 // replaced below by the exact span
			}
		}
		systems, res := syntheticRun(c.workload, perOp, map[key]error{})
		for sys, byN := range c.spans {
			for n, d := range byN {
				r := Result{Ops: n, Wall: d, CPU: d}
				res.runs[key{c.workload, sys, n}] = []Result{r, r, r}
			}
		}
		out := reportText(t, options{reps: 3, warmup: true, workloads: []string{c.workload}}, systems, res)
		wantIn(t, out, c.want...)
		if c.notWant != "" && strings.Contains(out, c.notWant) {
			t.Errorf("report has %q for a goal met:\n%s", c.notWant, out)
		}
	}
}
