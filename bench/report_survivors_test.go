package main

// Tests that pin what the report prints beyond its medians and ranges, each
// written for a change to report.go that a mutation round found the rest of
// the suite let through: a figure in the wrong column or unit, a speedup
// inverted or on the wrong time, a header or Method line that no longer
// says what the run did. They build reports from made-up repetitions whose
// wall, CPU and setup times, allocations and bytes all differ, so a figure
// taken from the wrong one shows.

import (
	"bytes"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rep is one made-up repetition of n ops.
func rep(n int, wall, cpu, setup time.Duration, allocs, heapBytes uint64) Result {
	return Result{Ops: n, Wall: wall, CPU: cpu, Setup: setup, Allocs: allocs, Bytes: heapBytes}
}

// reportOn writes the report on runs, three identical repetitions each,
// with the systems in the order given and each workload's scales those runs
// have.
func reportOn(t *testing.T, o options, systems []System, runs map[key]Result, notes []string) string {
	t.Helper()
	res := newResults()
	for k, r := range runs {
		res.runs[k] = []Result{r, r, r}
		if !slices.Contains(res.ranFor[k.workload], k.n) {
			res.ranFor[k.workload] = append(res.ranFor[k.workload], k.n)
		}
	}
	for w := range res.ranFor {
		slices.Sort(res.ranFor[w])
	}
	res.took = 90*time.Second + 400*time.Millisecond
	var buf bytes.Buffer
	if err := newReport(o, systems, notes, res).write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// tableOf is system's table in the workload section that starts at title.
func tableOf(t *testing.T, out, title, system string) string {
	t.Helper()
	i := strings.Index(out, "## "+title)
	if i < 0 {
		t.Fatalf("no section %q:\n%s", title, out)
	}
	section := out[i:]
	j := strings.Index(section, "### "+system+"\n")
	if j < 0 {
		t.Fatalf("section %q has no table for %s:\n%s", title, system, section)
	}
	table := section[j:]
	rows := strings.Index(table, "| N |")
	return table[:rows+strings.Index(table[rows:], "\n\n")+1]
}

// Every column of a row carries its own figure, in its own unit: wall time
// as Duration and Ops/Sec, wall and CPU µs per op, setup, allocations and
// bytes per op. The suite's reports had wall = CPU and no setup or memory,
// so Ops/Sec from CPU time, the two µs columns swapped, Duration or Setup
// showing another time, or allocs and bytes swapped all passed.
func TestATableRowPutsEachFigureInItsColumn(t *testing.T) {
	out := reportOn(t, options{reps: 3, warmup: true, workloads: []string{WorkCallbacks}},
		[]System{{Name: "balanced", Kind: "variant"}},
		map[key]Result{
			{WorkCallbacks, "balanced", 1_000}: rep(1_000, 2*time.Millisecond, 3*time.Millisecond, 40*time.Microsecond, 5_000, 250_000),
			{WorkCallbacks, "balanced", 2_000}: rep(2_000, 8*time.Millisecond, 9*time.Millisecond, 70*time.Microsecond, 2_000, 64_000),
		}, nil)
	table := tableOf(t, out, "Callback scheduling", "balanced")
	wantIn(t, table,
		"| N | Duration | min–max | Ops/Sec | µs/Op | CPU µs/Op | Throughput | Setup | allocs/op | B/op | peak heap |\n",
		// 1,000 ops in 2 ms of wall time: 500,000/s, 2 µs each; 3 µs of CPU.
		"| 1,000 | 2.00ms | 2.00ms–2.00ms | 500,000 | 2.00 | 3.00 | 100% | 40.0µs | 5.00 | 250.0 | – |\n",
		// 2,000 in 8 ms: 250,000/s, half the smallest scale's.
		"| 2,000 | 8.00ms | 8.00ms–8.00ms | 250,000 | 4.00 | 4.50 | 50% | 70.0µs | 1.00 | 32.0 | – |\n",
	)
}

// A Python or Node peer's memory columns are dashes: the Go runtime's
// counters measured the bench process, not the peer's, and showed the
// bench's own allocations as the peer's.
func TestASubprocessPeerHasNoMemoryFigures(t *testing.T) {
	out := reportOn(t, options{reps: 3, warmup: true, workloads: []string{WorkCallbacks}},
		[]System{{Name: "balanced", Kind: "variant"}, {Name: "asyncio", Kind: "python"}},
		map[key]Result{
			{WorkCallbacks, "balanced", 1_000}: rep(1_000, time.Millisecond, time.Millisecond, 0, 1_000, 1_000),
			{WorkCallbacks, "asyncio", 1_000}:  rep(1_000, time.Millisecond, time.Millisecond, 0, 1_000, 1_000),
		}, nil)
	wantIn(t, tableOf(t, out, "Callback scheduling", "asyncio"), "| 100% | 0.0µs | – | – | – |\n")
	wantIn(t, tableOf(t, out, "Callback scheduling", "balanced"), "| 100% | 0.0µs | 1.00 | 1.0 | – |\n")
}

// The speedup table of a workload judged on CPU time divides CPU times, says
// so, and has one column per other system that ran, other over default, with
// a dash where that system lacks the scale (and not its figure at another
// scale). Inverting the ratio, dividing wall times, labelling the basis
// wrongly, a column for a system with no data or a cell left out (which
// shifts the later columns under the wrong header) all passed.
func TestTheSpeedupTableDividesTheJudgedTimeOtherOverDefault(t *testing.T) {
	wall := 10 * time.Millisecond
	out := reportOn(t, options{reps: 3, warmup: true, workloads: []string{WorkTimers}},
		[]System{{Name: "balanced", Kind: "variant"}, {Name: "afterfunc", Kind: "baseline"}, {Name: "chan", Kind: "baseline"}, {Name: "heap", Kind: "baseline"}},
		map[key]Result{
			{WorkTimers, "balanced", 100}:   rep(100, wall, 100*time.Microsecond, 0, 0, 0),
			{WorkTimers, "balanced", 1_000}: rep(1_000, wall, 1*time.Millisecond, 0, 0, 0),
			// afterfunc lacks N=100 (it failed there).
			{WorkTimers, "afterfunc", 1_000}: rep(1_000, 2*wall, 2*time.Millisecond, 0, 0, 0),
			{WorkTimers, "heap", 100}:        rep(100, wall, 400*time.Microsecond, 0, 0, 0),
			{WorkTimers, "heap", 1_000}:      rep(1_000, wall, 3*time.Millisecond, 0, 0, 0),
		}, nil)
	section := out[strings.Index(out, "### Speedup of balanced by scale"):]
	wantIn(t, section,
		"Other system's CPU time per timer ÷ balanced's:",
		"| N | vs afterfunc | vs heap |\n|---|---|---|\n| 100 | – | 4.00x |\n| 1,000 | 2.00x | 3.00x |\n",
	)
	for _, system := range []string{"balanced", "afterfunc", "heap"} {
		tableOf(t, out, "Timer scheduling", system)
	}
	// On wall time, for a workload not judged on CPU time.
	out = reportOn(t, options{reps: 3, warmup: true, workloads: []string{WorkCallbacks}},
		[]System{{Name: "balanced", Kind: "variant"}, {Name: "chan", Kind: "baseline"}},
		map[key]Result{
			{WorkCallbacks, "balanced", 1_000}: rep(1_000, time.Millisecond, 9*time.Millisecond, 0, 0, 0),
			{WorkCallbacks, "chan", 1_000}:     rep(1_000, 5*time.Millisecond, 9*time.Millisecond, 0, 0, 0),
		}, nil)
	wantIn(t, out, "Other system's wall time per callback ÷ balanced's:", "| N | vs chan |\n|---|---|\n| 1,000 | 5.00x |\n")
}

// The header says when, where and how the run was made: the date, the
// machine with the GOMAXPROCS the bench ran under, the Go version, the
// repetitions and how long it took, and every system with its kind and
// configuration, with the run's notes. Dropping a line, swapping kind and
// configuration, or leaving the systems out of a run without notes passed.
func TestTheHeaderSaysWhenWhereAndHowTheRunWasMade(t *testing.T) {
	if runtime.NumCPU() > 1 {
		// Unlike NumCPU, so that the one shown in its place stands out.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	systems := []System{{Name: "balanced", Kind: "variant", Note: "the default"}, {Name: "chan", Kind: "baseline", Note: "a chan func()"}}
	runs := map[key]Result{{WorkCallbacks, "balanced", 1_000}: rep(1_000, time.Millisecond, time.Millisecond, 0, 0, 0)}
	for _, notes := range [][]string{nil, {"uvloop is not installed"}} {
		out := reportOn(t, options{reps: 5, warmup: true, workloads: []string{WorkCallbacks}}, systems, runs, notes)
		header := out[:strings.Index(out, "## Key findings")]
		if !regexp.MustCompile(`\*\*Date\*\*: \d{4}-\d\d-\d\d \d\d:\d\d UTC  \n`).MatchString(header) {
			t.Errorf("header lacks the date:\n%s", header)
		}
		wantIn(t, header,
			"**Machine**: ", " (GOMAXPROCS "+strconv.Itoa(runtime.GOMAXPROCS(0))+"), "+runtime.GOOS+"/"+runtime.GOARCH+"  \n",
			"**Go**: "+runtime.Version()+"  \n",
			"**Run**: 5 repetitions after a warm-up; took 1m30s  \n",
			"**Default variant**: balanced\n",
			"| system | kind | configuration |\n|---|---|---|\n| balanced | variant | the default |\n| chan | baseline | a chan func() |\n",
		)
		if strings.Contains(header, "-quick") {
			t.Errorf("a full run's header says -quick:\n%s", header)
		}
		for _, note := range notes {
			wantIn(t, header, "\n- "+note+"\n")
		}
	}
	out := reportOn(t, options{reps: 1, quick: true, workloads: []string{WorkCallbacks}}, systems, runs, nil)
	wantIn(t, out, "**Run**: -quick: the two smallest scales")
}

// The Method section describes the run it ends: with or without a warm-up,
// its repetitions, the workloads compared on CPU time by the names -workload
// takes, whether the Python peers were capped, and the kept-loop diagnostic
// by its name. Each of these could say the opposite and pass.
func TestTheMethodDescribesThisRun(t *testing.T) {
	runs := map[key]Result{{WorkCallbacks, "balanced", 1_000}: rep(1_000, time.Millisecond, time.Millisecond, 0, 0, 0)}
	systems := []System{{Name: "balanced", Kind: "variant"}}
	method := func(o options) string {
		out := reportOn(t, o, systems, runs, nil)
		return out[strings.Index(out, "## Method"):]
	}
	m := method(options{reps: 7, warmup: true, workloads: []string{WorkCallbacks}})
	wantIn(t, m,
		"scale runs once as a warm-up (discarded), then 7 times;",
		"compared on CPU time ("+WorkTimers+", "+WorkMixed+")",
		"The Python peers stop at N=100,000 in this run",
		"only the balanced"+warmSuffix+" diagnostic keeps one loop",
	)
	m = method(options{reps: 4, full: true, workloads: []string{WorkCallbacks}})
	wantIn(t, m, "scale runs 4 times;")
	for _, unwanted := range []string{"warm-up (discarded)", "The Python peers stop"} {
		if strings.Contains(m, unwanted) {
			t.Errorf("the method of a run with -full and no warm-up says %q:\n%s", unwanted, m)
		}
	}
}

// Durations and sizes change unit at the unit: a second is 1.00s, not
// 1000.00ms, and a MiB 1.0 MiB, not 1024 KiB; within a unit the figure is
// of that unit. Sizes are binary (KiB), as the labels say.
func TestDurationsAndSizesChangeUnitAtTheUnit(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1.00s", 1500 * time.Microsecond: "1.50ms", time.Millisecond: "1.00ms",
		999 * time.Microsecond: "999.0µs", 2500 * time.Millisecond: "2.50s",
	} {
		if got := dur(d); got != want {
			t.Errorf("dur(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[uint64]string{
		512 << 10: "512 KiB", 1 << 20: "1.0 MiB", 1536 << 10: "1.5 MiB", 1 << 30: "1.0 GiB", 3 << 29: "1.5 GiB",
	} {
		if got := bytesize(n); got != want {
			t.Errorf("bytesize(%d) = %q, want %q", n, got, want)
		}
	}
	if got := micro3(100_000); got != "100" {
		t.Errorf("micro3(100,000 ns) = %q, want 100 (whole µs from 100 on)", got)
	}
}

// A run of the echo workload beside the others still ends with the Method
// of the others: it was printed only when the echo section, which has its
// own, was absent, so the figures above it lost their description.
func TestARunWithEchoKeepsTheMethodOfTheOtherWorkloads(t *testing.T) {
	res := newResults()
	res.runs[key{WorkCallbacks, "balanced", 1_000}] = []Result{rep(1_000, time.Millisecond, time.Millisecond, 0, 0, 0)}
	res.ranFor[WorkCallbacks] = []int{1_000}
	o := options{reps: 1, quick: true, workloads: []string{WorkCallbacks, WorkEcho}}
	r := newReport(o, []System{{Name: "balanced", Kind: "variant"}}, nil, res)
	r.echo = &echoResults{plan: echoPlanFor(o)}
	var buf bytes.Buffer
	if err := r.write(&buf); err != nil {
		t.Fatal(err)
	}
	wantIn(t, buf.String(), "## Echo over TCP loopback", "## Method\n\n- Each system, workload and scale runs 1 times;")
}
