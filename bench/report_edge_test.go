package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSummarizeTakesTheMedianAndTheSpread(t *testing.T) {
	// The extremes sit in the middle or at the start, so that "last value" or
	// "first value" shortcuts give other numbers.
	rs := []Result{
		{Ops: 1000, Wall: 20 * time.Microsecond, CPU: 2 * time.Microsecond, Allocs: 6000, Bytes: 60_000},
		{Ops: 1000, Wall: 30 * time.Microsecond, CPU: 3 * time.Microsecond, Allocs: 2000, Bytes: 20_000},
		{Ops: 1000, Wall: 10 * time.Microsecond, CPU: 1 * time.Microsecond, Allocs: 4000, Bytes: 40_000},
	}
	st := summarize(1000, rs)
	if st.wall != 20*time.Microsecond || st.cpu != 2*time.Microsecond {
		t.Errorf("median wall %v, cpu %v; want 20µs, 2µs", st.wall, st.cpu)
	}
	if st.wallMin != 10*time.Microsecond || st.wallMax != 30*time.Microsecond {
		t.Errorf("wall range %v–%v; want 10µs–30µs", st.wallMin, st.wallMax)
	}
	// The table's allocs/op and B/op columns are per op, not per span.
	if st.allocs != 4 || st.bytes != 40 {
		t.Errorf("allocs %v, bytes %v per op; want 4 and 40", st.allocs, st.bytes)
	}
}

func TestTargetVerdictsUseTheWorstScale(t *testing.T) {
	// chan is 5x at 10k (the first scale) but 3x at 1M; the floor ring is
	// half balanced's cost at 10k but a quarter at 1M.
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":   {10_000: 8, 1_000_000: 10},
		"chan":       {10_000: 40, 1_000_000: 30},
		"floor-ring": {10_000: 4, 1_000_000: 2.5},
	}, map[key]error{})
	for _, want := range []string{
		"| callbacks ≥4x a chan func() loop | 3.0–5.0x | **missed** |",
		"| callbacks within 2.5x of a bare ring | 2.00–4.00x the floor's cost | **missed** |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestATargetMetExactlyIsMetAndNotHeldAgainstTheFloor(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":   {10_000: 8},
		"chan":       {10_000: 32}, // exactly the 4x goal
		"floor-ring": {10_000: 4},
	}, map[key]error{})
	if want := "| callbacks ≥4x a chan func() loop | 4.0–4.0x | met |"; !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "Missed goals held against the floor") {
		t.Errorf("a goal met exactly is listed as missed:\n%s", out)
	}
}

func TestAFloorThatMeetsTheGoalExactlyMeetsIt(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":   {10_000: 10},
		"chan":       {10_000: 32}, // balanced 3.2x: missed
		"floor-ring": {10_000: 8},  // the floor 4.0x: exactly the goal
	}, map[key]error{})
	if want := "floor-ring is 4.0x (the floor meets the goal there)"; !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out)
	}
}

func TestAnAtNTargetLooksOnlyAtThatScale(t *testing.T) {
	out := syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced":  {10_000: 10, 1_000_000: 10},
		"afterfunc": {10_000: 200, 1_000_000: 50},
	}, map[key]error{})
	if want := "| timeouts ≥10x time.AfterFunc+Stop at 1M | 5.0–5.0x | **missed** |"; !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out)
	}
}

func TestSpeedupWordsCallATieAtOneScaleFaster(t *testing.T) {
	// Equal at one scale, twice as fast at another: never slower.
	if got, want := speedupWords(1, 2, "balanced"), "balanced is 1.0–2.0x faster"; got != want {
		t.Errorf("speedupWords(1, 2) = %q, want %q", got, want)
	}
	if got, want := speedupWords(0.5, 1, "balanced"), "balanced is 1.0–2.0x slower"; got != want {
		t.Errorf("speedupWords(0.5, 1) = %q, want %q", got, want)
	}
	// The specialization goal is 1.3x: a ratio of 1.26 must not read as 1.3
	// beside "misses".
	if got, want := speedupWordsIn(1.26, 1.4, "balanced", 2), "balanced is 1.26–1.40x faster"; got != want {
		t.Errorf("speedupWordsIn(1.26, 1.4, 2) = %q, want %q", got, want)
	}
}

func TestRunSpanAveragesTheRunsThatFillMinSpan(t *testing.T) {
	runs := 0
	s := System{Name: "fake", Kind: "baseline", Run: func(w string, n int) (Result, error) {
		runs++
		return Result{Ops: n, Wall: 300 * time.Microsecond, CPU: 100 * time.Microsecond,
			Setup: 10 * time.Microsecond, Allocs: 5, Bytes: 50, PeakHeap: uint64(10 - runs), PeakSampled: true}, nil
	}}
	r, err := runSpan(s, WorkCallbacks, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// 4 × 300 µs is the first sum to reach minSpan (1 ms).
	if runs != 4 {
		t.Errorf("%d runs; want 4", runs)
	}
	want := Result{Ops: 1000, Wall: 300 * time.Microsecond, CPU: 100 * time.Microsecond,
		Setup: 10 * time.Microsecond, Allocs: 5, Bytes: 50, PeakHeap: 9, PeakSampled: true}
	if r != want {
		t.Errorf("runSpan = %+v\nwant      %+v (the mean per run, the largest heap)", r, want)
	}
}

func TestRunSpanStopsAtMaxInnerRuns(t *testing.T) {
	runs := 0
	s := System{Name: "instant", Kind: "baseline", Run: func(w string, n int) (Result, error) {
		runs++
		return Result{Ops: n}, nil
	}}
	if _, err := runSpan(s, WorkCallbacks, 1); err != nil {
		t.Fatal(err)
	}
	if runs != maxInner {
		t.Errorf("a span that never fills minSpan ran %d times; want maxInner (%d)", runs, maxInner)
	}
}

func TestRunGuessCapsTheRepeatsAtMaxInner(t *testing.T) {
	// A span of a picosecond would take 10^9 repeats to fill minSpan, but
	// runSpan stops at maxInner, and so must the guess.
	p := plan{workload: "tiny", guess: guess{goPerOp: 1e-12}}
	if got, limit := runGuess(p, "variant", 1), float64(maxInner)*(1e-12+1e-3); got > limit*(1+1e-9) {
		t.Errorf("runGuess = %gs; want at most %gs (maxInner runs)", got, limit)
	}
}

// The specialization line reads its ratios to two decimals, so that a miss
// by a little does not print as the goal itself.
func TestSpecializationMissByALittleDoesNotReadAsTheGoal(t *testing.T) {
	out := syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced": {10_000: 100, 1_000_000: 100},
		"generic":  {10_000: 126, 1_000_000: 140},
	}, map[key]error{})
	want := "- specialization: balanced vs the generic build: balanced is 1.26–1.40x faster (misses the 1.3x goal)"
	if !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out)
	}
}

// The header counts the machine's CPUs as well as the process's, when the
// bench runs under taskset on part of the machine.
func TestCPUCountNamesTheMachineAndTheProcess(t *testing.T) {
	for _, c := range []struct {
		usable, online int
		want           string
	}{
		{2, 2, "2 CPUs"},
		{8, 16, "16 CPUs online, this process on 8"},
		{4, 0, "4 CPUs"}, // online unknown
	} {
		if got := cpuCount(c.usable, c.online); got != c.want {
			t.Errorf("cpuCount(%d, %d) = %q, want %q", c.usable, c.online, got, c.want)
		}
	}
	if runtime.GOOS == "linux" {
		if n := onlineCPUs(); n < runtime.NumCPU() {
			t.Errorf("onlineCPUs() = %d, fewer than the %d this process may use", n, runtime.NumCPU())
		}
	}
}

// TestPeakHeapIsTheSystemsOwn: the column used to be the process's heap
// right after the span, which missed memory a span grew and a collection
// inside it freed, and counted what earlier systems had left live.
func TestPeakHeapIsTheSystemsOwn(t *testing.T) {
	const big = 64 << 20
	peakSampling = true
	defer func() { peakSampling = false }()
	var sink []byte
	r, err := measure(nil, func() (int, error) {
		sink = make([]byte, big)
		sink[big-1] = 1
		time.Sleep(100 * time.Millisecond) // thousands of the sampler's readings
		sink = nil
		runtime.GC()
		return 1, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Less a little: what was live before may have shrunk meanwhile.
	if !r.PeakSampled || r.PeakHeap < big-1<<20 {
		t.Errorf("peak heap %d B (sampled %v), want about the %d B the span held for 100 ms", r.PeakHeap, r.PeakSampled, big)
	}
	// Live before the system is made: not the system's.
	held := make([]byte, big)
	held[big-1] = 1
	r, err = measure(func() error { sink = make([]byte, 1<<20); return nil }, func() (int, error) { return 1, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.PeakHeap < 1<<20 || r.PeakHeap >= big {
		t.Errorf("peak heap %d B with %d B live from before and 1 MiB made in setup; want 1 MiB or a little more", r.PeakHeap, big)
	}
	runtime.KeepAlive(held)
	runtime.KeepAlive(sink) // setup's: live through the span
	peakSampling = false
	if r, _ := measure(nil, func() (int, error) { return 1, nil }, nil); r.PeakSampled {
		t.Errorf("peak heap %d B marked sampled without sampling", r.PeakHeap)
	}
}

// TestThePeakHeapColumnShowsTheWarmUpsSample: the table shows the peak the
// warm-up round sampled where there is one, and a dash otherwise.
func TestThePeakHeapColumnShowsTheWarmUpsSample(t *testing.T) {
	res := results{runs: map[key][]Result{}, errs: map[key]error{}, ranFor: map[string][]int{WorkCallbacks: {1_000, 5_000}}, peaks: map[key]uint64{}}
	for _, n := range []int{1_000, 5_000} {
		res.runs[key{WorkCallbacks, "balanced", n}] = []Result{{Ops: n, Wall: time.Millisecond, CPU: time.Millisecond}}
	}
	res.peaks[key{WorkCallbacks, "balanced", 1_000}] = 48 << 20
	var buf strings.Builder
	if err := newReport(options{reps: 1, warmup: true, workloads: []string{WorkCallbacks}}, []System{{Name: "balanced", Kind: "variant"}}, nil, res).write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 0.00 | 0.0 | 48.0 MiB |", "| 0.00 | 0.0 | – |"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestAVerdictNeverContradictsTheFigureBesideIt: figures were rounded for
// print but judged unrounded, so "4.0–4.0x | missed", "2.50x the floor's
// cost | missed" and "-15% | missed" appeared. A figure near its goal now
// gets the decimals that keep it on its own side.
func TestAVerdictNeverContradictsTheFigureBesideIt(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced":   {10_000: 10, 1_000_000: 11.81},
		"chan":       {10_000: 39.8, 1_000_000: 50},  // 3.98x at 10k
		"floor-ring": {10_000: 3.995, 1_000_000: 10}, // 2.503x at 10k
	}, map[key]error{})
	for _, want := range []string{
		"| callbacks ≥4x a chan func() loop | 3.98–4.2x | **missed** |",
		"| callbacks within 2.5x of a bare ring | 1.18–2.503x the floor's cost | **missed** |",
		"| callbacks flat: ops/s at 1M within 15% of 10k | -15.3%;",
		"where balanced is 3.98x chan",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if got, want := onItsSide(4.0, 4, 1), "4.0"; got != want {
		t.Errorf("onItsSide(4.0, 4, 1) = %q, want %q: a figure on its goal is shown as it is", got, want)
	}
	if got, want := onItsSide(4.04, 4, 1), "4.04"; got != want {
		t.Errorf("onItsSide(4.04, 4, 1) = %q, want %q: rounded down to the goal it would read as exactly met", got, want)
	}
}

// TestAGoalNotMeasuredNamesTheSystemMissing: with chan measured and the
// default variant not, the targets table said "chan not in this run".
func TestAGoalNotMeasuredNamesTheSystemMissing(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"chan":       {10_000: 40},
		"floor-ring": {10_000: 4},
	}, map[key]error{})
	for _, want := range []string{
		"| callbacks ≥4x a chan func() loop | not measured (balanced not in this run) | – |",
		"| callbacks ≥100x asyncio | not measured (balanced not in this run) | – |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// The Throughput column is relative to the workload's smallest scale in the
// run; a system that failed there has no base (it was relative to the
// system's own smallest scale, so the first scale it had read 100%).
func TestThroughputIsRelativeToTheRunsSmallestScale(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced": {10_000: 10, 1_000_000: 20},
		"chan":     {1_000: 40, 10_000: 40, 1_000_000: 80},
	}, map[key]error{})
	balanced := out[strings.Index(out, "### balanced"):strings.Index(out, "### chan")]
	chanTable := out[strings.Index(out, "### chan"):]
	if !strings.Contains(balanced, "| 10,000 | 100.0µs | 100.0µs–100.0µs | 100,000,000 | 0.0100 | 0.0100 | – |") {
		t.Errorf("balanced, which lacks N=1,000, has a Throughput figure:\n%s", balanced)
	}
	if !strings.Contains(chanTable, "| 1,000,000 | 80.00ms | 80.00ms–80.00ms | 12,500,000 | 0.0800 | 0.0800 | 50% |") {
		t.Errorf("chan at 1M is not 50%% of its N=1,000 throughput:\n%s", chanTable)
	}
}

func TestMicro3KeepsThreeDigits(t *testing.T) {
	for ns, want := range map[float64]string{
		0: "0.000", 5.123: "0.00512", 51.23: "0.0512", 512.3: "0.512", 5123: "5.12", 51234: "51.2", 512345: "512",
	} {
		if got := micro3(ns); got != want {
			t.Errorf("micro3(%v) = %q, want %q", ns, got, want)
		}
	}
}

func TestSignedPctHasNoNegativeZero(t *testing.T) {
	for change, want := range map[float64]string{-0.003: "+0%", 0.003: "+0%", -0.2: "-20%", 0.126: "+13%", 0: "+0%"} {
		if got := signedPct(change); got != want {
			t.Errorf("signedPct(%v) = %q, want %q", change, got, want)
		}
	}
}

// A workload judged on CPU time (timers, mixed) shows the spread of the
// repetitions' CPU time, the quantity its speedups and goals use; the
// column showed the wall times, which for timers are the 9 ms wait and
// say nothing of the CPU figures beside them.
func TestTheSpreadIsOfTheJudgedTime(t *testing.T) {
	rs := []Result{
		{Ops: 100, Wall: 9100 * time.Microsecond, CPU: 300 * time.Microsecond},
		{Ops: 100, Wall: 9300 * time.Microsecond, CPU: 100 * time.Microsecond},
		{Ops: 100, Wall: 9200 * time.Microsecond, CPU: 200 * time.Microsecond},
	}
	res := results{runs: map[key][]Result{}, errs: map[key]error{}, ranFor: map[string][]int{}}
	for _, w := range []string{WorkTimers, WorkCallbacks} {
		res.runs[key{w, "balanced", 100}] = rs
		res.ranFor[w] = []int{100}
	}
	o := options{reps: 3, warmup: true, workloads: []string{WorkTimers, WorkCallbacks}}
	var buf bytes.Buffer
	if err := newReport(o, []System{{Name: "balanced", Kind: "variant"}}, nil, res).write(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	timers := out[strings.Index(out, "## Timer scheduling"):]
	callbacks := out[strings.Index(out, "## Callback scheduling"):strings.Index(out, "## Timer scheduling")]
	if want := "| 100 | 9.20ms | 100.0µs–300.0µs |"; !strings.Contains(timers, want) {
		t.Errorf("timers table lacks %q (CPU's spread beside the median wall):\n%s", want, timers)
	}
	if want := "| N | Duration | CPU min–max |"; !strings.Contains(timers, want) {
		t.Errorf("timers table's header lacks %q:\n%s", want, timers)
	}
	if want := "| 100 | 9.20ms | 9.10ms–9.30ms |"; !strings.Contains(callbacks, want) {
		t.Errorf("callbacks table lacks %q (wall's spread):\n%s", want, callbacks)
	}
	// The key findings' rates are of the same time: 100 timers in a median
	// 200 µs of CPU, and 100 callbacks in 9.2 ms.
	if want := "balanced does 500,000–500,000 timers per CPU second;"; !strings.Contains(out, want) {
		t.Errorf("key findings lack %q:\n%s", want, out)
	}
	if want := "balanced does 10,869–10,869 callbacks/s;"; !strings.Contains(out, want) {
		t.Errorf("key findings lack %q:\n%s", want, out)
	}
}

// A repetition that did not do the workload's ops fails instead of being
// reported per op: nothing compared the count a span or a Python peer gave
// with the workload's, so a loop stopped early, or a peer printing another
// count, was tabulated as a measurement of N ops.
func TestARunThatDidNotDoTheWorkFails(t *testing.T) {
	for _, c := range []struct {
		w        string
		n, ops   int
		wantFail bool
	}{
		{WorkCallbacks, 1000, 1000, false},
		{WorkPosts4, 1000, 4000, false},
		{WorkCallbacks, 1000, 999, true},
		{WorkTimeouts, 1000, 0, true},
		{WorkPosts4, 1000, 1000, true},
	} {
		for _, kind := range []string{"variant", "python", "node"} {
			s := System{Name: "fake", Kind: kind, Run: func(w string, n int) (Result, error) {
				return Result{Ops: c.ops, Wall: 2 * minSpan, CPU: minSpan}, nil
			}}
			_, err := runSpan(s, c.w, c.n)
			if failed := err != nil; failed != c.wantFail {
				t.Errorf("%s %s at N=%d reporting %d ops: err %v, want failure %v", kind, c.w, c.n, c.ops, err, c.wantFail)
			}
		}
	}
}

// The specialization line judges its 1.3x goal as the targets table judges
// its goals: a scale the generic build (or the best variant) lacks is
// named, and its verdict is "where measured"; under -quick it judges
// nothing. It said "meets the 1.3x goal" from the scales both had, and
// under -quick too.
func TestSpecializationVerdictNamesTheScalesItLacks(t *testing.T) {
	out := syntheticReport(t, WorkTimeouts, map[string]map[int]float64{
		"balanced": {10_000: 100, 1_000_000: 100},
		"generic":  {10_000: 150}, // failed at 1M
	}, map[key]error{})
	want := "- specialization: balanced vs the generic build: balanced is 1.50–1.50x faster (N=1,000,000 not measured on generic; meets the 1.3x goal where measured)"
	if !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out[:strings.Index(out, "### Targets")])
	}
	out = syntheticReportWith(t, options{reps: 1, quick: true, workloads: []string{WorkTimeouts}}, WorkTimeouts, map[string]map[int]float64{
		"balanced": {10_000: 100},
		"generic":  {10_000: 150},
	}, map[key]error{})
	want = "- specialization: balanced vs the generic build: balanced is 1.50–1.50x faster (the 1.3x goal: not judged (-quick))"
	if !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out[:strings.Index(out, "### Targets")])
	}
}

// The plot of a workload compared on CPU time (timers, mixed) shows ops per
// CPU second, the quantity its speedups and goals use: it showed ops per
// second of wall time, for timers n over the 9 ms wait, which every system
// shares.
func TestThePlotOfACPUJudgedWorkloadIsPerCPUSecond(t *testing.T) {
	res := results{runs: map[key][]Result{}, errs: map[key]error{}, ranFor: map[string][]int{WorkTimers: {100, 1000}}}
	// 10,000 and 100,000 timers a second of wall time; 1,000,000 and
	// 2,000,000 a second of CPU time.
	res.runs[key{WorkTimers, "balanced", 100}] = []Result{{Ops: 100, Wall: 10 * time.Millisecond, CPU: 100 * time.Microsecond}}
	res.runs[key{WorkTimers, "balanced", 1000}] = []Result{{Ops: 1000, Wall: 10 * time.Millisecond, CPU: 500 * time.Microsecond}}
	o := options{reps: 1, warmup: true, workloads: []string{WorkTimers}}
	dir := t.TempDir()
	if err := newReport(o, []System{{Name: "balanced", Kind: "variant"}}, nil, res).plots(dir); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(filepath.Join(dir, WorkTimers+".svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">timers per CPU second<", ">1e+06<"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("timers.svg lacks %q", want)
		}
	}
}
