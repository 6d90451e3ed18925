package main

// Tests written for the survivors of a mutation round on the command line
// (main.go), the plots (plot.go), the systems list (variants.go) and the CPU
// lists (cpus.go): each names the mutation it catches.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
)

// withoutPython makes the bench find no Python 3 for the rest of the test
// (as withoutNode does Node.js).
func withoutPython(t *testing.T) {
	t.Helper()
	saved := pythonCandidates
	pythonCandidates = []string{"/nonexistent/python3"}
	t.Cleanup(func() { pythonCandidates = saved })
}

// The repetitions a run makes are the ones its flags ask for: 5 by
// default, 15 with -full unless -reps is given, -reps's otherwise, and one
// with -quick. A fake Node.js (a subprocess peer: no warm-up round, no
// repeats within a repetition) logs each run it makes.
// Catches: the default of -reps changed (5 -> 4); -full's 15 changed
// (15 -> 14); "*full && !o.repsSet" -> "||" (-reps ignored under -full, and
// 15 without -full); -quick's one repetition changed (1 -> 2).
func TestTheRepetitionsAreThoseTheFlagsAskFor(t *testing.T) {
	withoutPython(t) // none is run: no need to look for one
	logFile := filepath.Join(t.TempDir(), "runs")
	fakeNode(t, `if [ "$3" = --info ]; then echo '`+fakeInfo(WorkCallbacks)+`'; exit 0; fi
echo "$8" >> `+logFile+`
echo '{"ops": '$8', "wall_s": 0.002, "cpu_s": 0.001, "setup_s": 0.000001, "runs": 1}'`)
	for _, c := range []struct {
		args   []string
		reps   int
		method string
	}{
		{nil, 5, "runs once as a warm-up (discarded), then 5 times;"},
		{[]string{"-reps", "3"}, 3, "runs once as a warm-up (discarded), then 3 times;"},
		{[]string{"-full"}, 15, "runs once as a warm-up (discarded), then 15 times;"},
		{[]string{"-full", "-reps", "2"}, 2, "runs once as a warm-up (discarded), then 2 times;"},
		{[]string{"-quick"}, 1, "- Each system, workload and scale runs 1 times;"},
	} {
		os.Remove(logFile)
		var out, progress bytes.Buffer
		args := slices.Concat(c.args, []string{"-workload", "callbacks", "-systems", "node"})
		if err := run(args, &out, &progress); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		wantIn(t, out.String(), c.method)
		b, _ := os.ReadFile(logFile)
		n := len(scalesFor(options{quick: slices.Contains(c.args, "-quick")}, planOf(WorkCallbacks)))
		if got := strings.Count(string(b), "\n"); got != c.reps*n {
			t.Errorf("%q: %d runs, want %d repetitions at %d scales", args, got, c.reps, n)
		}
	}
}

// A run with exactly one failed run exits non-zero and says so. Catches
// "len(failed) > 0" -> "> 1" in run: a single failure exited 0.
func TestOneFailedRunFailsTheCommand(t *testing.T) {
	withoutPython(t)
	fakeNode(t, `if [ "$3" = --info ]; then echo '`+fakeInfo(WorkCallbacks)+`'; exit 0; fi
if [ "$8" = 1000 ]; then echo 'boom' >&2; exit 3; fi
echo '{"ops": '$8', "wall_s": 0.002, "cpu_s": 0.001, "setup_s": 0.000001, "runs": 1}'`)
	var out, progress bytes.Buffer
	err := run([]string{"-quick", "-workload", "callbacks", "-systems", "node"}, &out, &progress)
	if err == nil || !strings.Contains(err.Error(), "1 runs failed") {
		t.Errorf("one run of node failed (N=1,000): error %v; want one that says 1 run failed\n%s", err, out.String())
	}
}

// An echo-only run reports nothing about the scaling workloads' systems,
// such as a Python peer that is missing. Catches "notes = nil" dropped in
// run: the echo report listed "asyncio: skipped" under a Systems table.
func TestAnEchoOnlyReportHasNoNotesOnTheOtherSystems(t *testing.T) {
	withoutPython(t)
	var out, progress bytes.Buffer
	// -echo-bin an empty directory: the server is skipped with a note, and
	// nothing is built or run.
	if err := run([]string{"-quick", "-workload", "echo", "-systems", "loop", "-echo-bin", t.TempDir()}, &out, &progress); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if strings.Contains(out.String(), "no Python 3 found") {
		t.Errorf("an echo-only report has the notes on the scaling systems:\n%s", out.String())
	}
	wantIn(t, out.String(), "loop: skipped: -echo-bin")
}

// Spaces after the commas of -workload and -systems are allowed, as they
// are in -server-cpus. Catches "x = strings.TrimSpace(x)" dropped in pick.
func TestSelectionsMayHaveSpacesAfterTheCommas(t *testing.T) {
	got, err := pickWorkloads("timers, timeouts", options{})
	if err != nil || !slices.Equal(got, []string{WorkTimers, WorkTimeouts}) {
		t.Errorf(`-workload "timers, timeouts": %v, %v`, got, err)
	}
	got, err = pick("system", " balanced , chan", []string{"balanced", "chan"}, nil)
	if err != nil || !slices.Equal(got, []string{"balanced", "chan"}) {
		t.Errorf(`-systems " balanced , chan": %v, %v`, got, err)
	}
}

// fakeSystem is a system of kind kind that does every workload instantly
// (filling minSpan, so that runSpan does not repeat it), calling each with
// the workload and scale of every run but the scale-0 question.
func fakeSystem(name, kind string, each func(w string, n int)) System {
	return System{Name: name, Kind: kind, Run: func(w string, n int) (Result, error) {
		if err := checkScale(n); err != nil {
			return Result{}, err
		}
		if each != nil {
			each(w, n)
		}
		return Result{Ops: workOps(w, n), Wall: 2 * minSpan, CPU: 2 * minSpan}, nil
	}}
}

// A Python peer runs up to N=100,000 without -full, and at every scale
// with it. Catches, in skip, "n > pythonMaxN" -> ">=" (100,000 left out)
// and "&& !o.full" dropped (1,000,000 left out under -full), and in
// measureAll's runOne, "if skip(o, s, n)" -> "if false" (1,000,000 run
// without -full).
func TestAPythonPeerRunsUpTo100000UnlessFull(t *testing.T) {
	for _, full := range []bool{false, true} {
		var ran []int
		py := fakeSystem("asyncio", "python", func(w string, n int) { ran = append(ran, n) })
		o := options{reps: 1, full: full, workloads: []string{WorkCallbacks}}
		measureAll(o, []System{py}, &bytes.Buffer{})
		want := slices.DeleteFunc(slices.Clone(planOf(WorkCallbacks).scales), func(n int) bool { return !full && n > 100_000 })
		if !slices.Contains(want, 100_000) {
			t.Fatal("no scale of 100,000 in the callbacks plan")
		}
		if !slices.Equal(ran, want) {
			t.Errorf("-full %v: Python ran at %v, want %v", full, ran, want)
		}
	}
}

// -quick runs the two smallest scales of each workload, none above
// 100,000; other runs every scale. Catches "len(small) < 2" -> "< 3".
func TestQuickRunsTheTwoSmallestScales(t *testing.T) {
	for w, want := range map[string][]int{
		WorkCallbacks: {1_000, 5_000},
		WorkTimers:    {100, 500},
		WorkTimeouts:  {10_000}, // its next, 1,000,000, is over the bound
	} {
		if got := scalesFor(options{quick: true}, planOf(w)); !slices.Equal(got, want) {
			t.Errorf("-quick %s: scales %v, want %v", w, got, want)
		}
		if got := scalesFor(options{}, planOf(w)); !slices.Equal(got, planOf(w).scales) {
			t.Errorf("%s: scales %v, want all of %v", w, got, planOf(w).scales)
		}
	}
}

// progressLines splits what measureAll wrote to progress into its lines
// (each starts with \r).
func progressLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\r") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// The progress of a subprocess peer (whose warm-up round is its own, inside
// the subprocess) counts exactly the runs it has left: at each round, the
// share done is the guesses done over all. The first line, when nothing is
// done, shows no time left, and the rounds count from 1.
// Catches, in measureAll: guessRounds's "warm && subprocessPeer(s.Kind)"
// -> "false" (the peer's warm-up counted though it never runs);
// guessPoint's "o.warmup && from == 0" -> "o.warmup" (a later round taken
// for the warm-up); the later points dropped from what is left; "done > 0"
// -> ">= 0" (a time left computed from nothing done); "round+1" -> "round"
// in the line; the unsupported pairs taken from any error at scale 0
// ("errors.Is(err, ErrUnsupported)" -> "err != nil": the scale error every
// system gives there left everything out of the estimate).
func TestProgressCountsASubprocessPeersRunsExactly(t *testing.T) {
	var progress bytes.Buffer
	o := options{quick: true, reps: 2, warmup: true, workloads: []string{WorkCallbacks}}
	measureAll(o, []System{fakeSystem("asyncio", "python", nil)}, &progress)
	lines := progressLines(progress.String())
	p := planOf(WorkCallbacks)
	scales := scalesFor(o, p)
	if len(scales) != 2 || len(lines) != 2*3+1 {
		t.Fatalf("scales %v, progress lines %q; want 2 scales of 3 rounds each, then done", scales, lines)
	}
	g1, g2 := runGuess(p, "python", scales[0]), runGuess(p, "python", scales[1])
	pct := func(done, left float64) string { return fmt.Sprintf("bench: %3.0f%%", 100*done/(done+left)) }
	for i, want := range []string{
		pct(0, 2*g1+2*g2) + "  callbacks n=1000      round 1/3",
		pct(g1, g1+2*g2) + "  callbacks n=1000      round 2/3",
		pct(2*g1, 2*g2) + "  callbacks n=1000      round 3/3",
		pct(2*g1, 2*g2) + "  callbacks n=5000      round 1/3",
		pct(2*g1+g2, g2) + "  callbacks n=5000      round 2/3",
		pct(1, 0) + "  callbacks n=5000      round 3/3",
	} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("progress line %d %q; want it to start %q", i, lines[i], want)
		}
	}
	if !strings.HasSuffix(lines[0], "left ?") {
		t.Errorf("the first line %q, with nothing done, shows a time left", lines[0])
	}
}

// A system whose run fails at a scale is not run again at that scale: its
// error is printed once, and its later rounds are skipped. Catches, in
// runOne, "; failed {" -> "; false {".
func TestAFailedSystemIsNotRunAgainAtThatScale(t *testing.T) {
	calls := map[int]int{}
	bad := System{Name: "bad", Kind: "variant", Run: func(w string, n int) (Result, error) {
		if err := checkScale(n); err != nil {
			return Result{}, err
		}
		calls[n]++
		return Result{}, errors.New("broken")
	}}
	var progress bytes.Buffer
	o := options{quick: true, reps: 3, warmup: true, workloads: []string{WorkCallbacks}}
	res := measureAll(o, []System{bad}, &progress)
	for _, n := range scalesFor(o, planOf(WorkCallbacks)) {
		if calls[n] != 1 || res.errs[key{WorkCallbacks, "bad", n}] == nil {
			t.Errorf("N=%d: %d runs, error %v; want one run and its error", n, calls[n], res.errs[key{WorkCallbacks, "bad", n}])
		}
	}
	if got := strings.Count(progress.String(), "broken"); got != 2 {
		t.Errorf("the error printed %d times, want once per scale (2):\n%s", got, progress.String())
	}
}

// Every round visits the systems in its own order, and workloads that share
// a scale do not share their orders. Catches, in the seed of measureAll's
// shuffle, "uint64(round)" -> "0" (one order for every round) and
// "^workloadSeed(p.workload)" dropped (callbacks and posts1 at N=1,000 in
// the same orders).
func TestEveryRoundAndWorkloadHasItsOwnOrder(t *testing.T) {
	var log []string
	var systems []System
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		systems = append(systems, fakeSystem(name, "variant", func(w string, n int) {
			log = append(log, fmt.Sprintf("%s@%d:%s", w, n, name))
		}))
	}
	o := options{quick: true, reps: 5, warmup: true, workloads: []string{WorkCallbacks, WorkPosts1}}
	measureAll(o, systems, &bytes.Buffer{})
	// orders returns the orders of the rounds of w at N=1,000.
	orders := func(w string) []string {
		var names []string
		for _, l := range log {
			if name, ok := strings.CutPrefix(l, w+"@1000:"); ok {
				names = append(names, name)
			}
		}
		var out []string
		for len(names) >= len(systems) {
			out = append(out, strings.Join(names[:len(systems)], ""))
			names = names[len(systems):]
		}
		return out
	}
	cb, posts := orders(WorkCallbacks), orders(WorkPosts1)
	if len(cb) != 6 || len(posts) != 6 {
		t.Fatalf("rounds at N=1,000: callbacks %v, posts1 %v; want 6 each", cb, posts)
	}
	if distinct := slices.Compact(slices.Sorted(slices.Values(cb))); len(distinct) == 1 {
		t.Errorf("every round of callbacks at N=1,000 visits the systems in the order %s", cb[0])
	}
	if slices.Equal(cb, posts) {
		t.Errorf("callbacks and posts1 at N=1,000 share their orders %v", cb)
	}
}

// svgLine matches a plotted line of three points in gonum's SVG, with its
// colour (black is the axes').
var svgLine = regexp.MustCompile(`<path d="M([-0-9.]+),([-0-9.]+)L([-0-9.]+),([-0-9.]+)L([-0-9.]+),([-0-9.]+)" style="fill:none;stroke:#([0-9A-F]{6})[;"]`)

// A workload's plot is one line per system, named in the legend, of its
// ops/s against N, both on log axes with N's decades labelled, and the
// y axis reaches past the highest rate. The data: posts4 (whose ops are 4N)
// at N=100, 1,000 and 10,000; balanced at 1e6, 1e7 and 1e8 posts/s, chan
// at 1e6. Only the workloads with data get a file.
// Catches, in plots: the x or the y axis linear; X from st.ops instead of
// st.n (posts4 at 400..40,000: no decade 100); the legend naming the
// workload instead of the system; the headroom's exponent 1/0.55 -> 0.55
// (the axis stopped below 1e8); the x axis's LogTicks dropped (no decade
// labels); "len(names) == 0" -> "< 0" (a plot for every workload, or
// a failure on one without data).
func TestThePlotIsRateAgainstNOnLogAxes(t *testing.T) {
	scales := []int{100, 1000, 10000}
	res := results{runs: map[key][]Result{}, errs: map[key]error{}, ranFor: map[string][]int{WorkPosts4: scales}}
	for i, n := range scales {
		ops := 4 * n
		perOp := []time.Duration{time.Microsecond, 100 * time.Nanosecond, 10 * time.Nanosecond}[i]
		res.runs[key{WorkPosts4, "balanced", n}] = []Result{{Ops: ops, Wall: time.Duration(ops) * perOp, CPU: time.Second}}
		res.runs[key{WorkPosts4, "chan", n}] = []Result{{Ops: ops, Wall: time.Duration(ops) * time.Microsecond, CPU: time.Second}}
	}
	o := options{reps: 1, warmup: true, workloads: []string{WorkPosts4}}
	dir := t.TempDir()
	rep := newReport(o, []System{{Name: "balanced", Kind: "variant"}, {Name: "chan", Kind: "baseline"}}, nil, res)
	if err := rep.plots(dir); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 1 || filepath.Base(files[0]) != WorkPosts4+".svg" {
		t.Fatalf("files written %v; want posts4.svg alone", files)
	}
	svg, err := os.ReadFile(filepath.Join(dir, WorkPosts4+".svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{">100<", ">1000<", ">10000<", ">1e+06<", ">1e+08<", ">balanced<", ">chan<", ">posts per second<"} {
		if !bytes.Contains(svg, []byte(label)) {
			t.Errorf("posts4.svg lacks the text %s", label)
		}
	}
	var lines [][6]float64
	for _, m := range svgLine.FindAllStringSubmatch(string(svg), -1) {
		if m[7] == "000000" {
			continue
		}
		var pts [6]float64
		for i := range pts {
			pts[i], _ = strconv.ParseFloat(m[i+1], 64)
		}
		lines = append(lines, pts)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines of three points in posts4.svg, want 2 (balanced, chan)", len(lines))
	}
	// Equal steps on a log axis: the scales and balanced's rates are decades.
	evenly := func(a, b, c float64) bool { return math.Abs((c-b)-(b-a)) < 0.01*math.Abs(c-a) }
	for _, l := range lines {
		if !evenly(l[0], l[2], l[4]) {
			t.Errorf("the points of N=100, 1,000 and 10,000 at x %v, %v, %v: not a log axis", l[0], l[2], l[4])
		}
	}
	if b := lines[0]; !evenly(b[1], b[3], b[5]) || b[1] == b[5] {
		t.Errorf("balanced's rates of 1e6, 1e7 and 1e8 at y %v, %v, %v: not a log axis", b[1], b[3], b[5])
	}
	if c := lines[1]; c[1] != c[3] || c[3] != c[5] {
		t.Errorf("chan's steady 1e6 posts/s at y %v, %v, %v", c[1], c[3], c[5])
	}
}

// wantSystem fails t unless systems has one named name, of kind kind.
func wantSystem(t *testing.T, systems []System, name, kind string) System {
	t.Helper()
	i := slices.IndexFunc(systems, func(s System) bool { return s.Name == name })
	if i < 0 {
		t.Errorf("no system %s", name)
		return System{}
	}
	if systems[i].Kind != kind {
		t.Errorf("%s is a %s, want a %s", name, systems[i].Kind, kind)
	}
	return systems[i]
}

// The systems are every generated variant, the generic build, the two
// diagnostics, the floors and the baselines; only balanced-warm keeps its
// loop between spans (Close set), and every variant and the generic build
// do every workload, mixed where they have a poller.
// Catches, in variants.go: the generic build left out of variantSystems;
// loopSystem keeping its loop (true for false); posts4 dropped from the
// loop systems' workloads; "p.Poller == \"none\"" -> "!=".
func TestTheSystemsListHasEverySystemDoingItsWorkloads(t *testing.T) {
	systems, _ := allSystems()
	var loops []System
	for _, v := range all.Variants {
		loops = append(loops, wantSystem(t, systems, v.Name, "variant"))
	}
	loops = append(loops, wantSystem(t, systems, all.Generic.Name, "generic"))
	wantSystem(t, systems, "balanced"+gcOffSuffix, "diagnostic")
	wantSystem(t, systems, "balanced"+warmSuffix, "diagnostic")
	for _, s := range floorsAndBaselines() {
		wantSystem(t, systems, s.Name, s.Kind)
	}
	for _, s := range systems {
		if (s.Close != nil) != (s.Name == "balanced"+warmSuffix) {
			t.Errorf("%s: Close set %v; only balanced%s keeps its loop", s.Name, s.Close != nil, warmSuffix)
		}
	}
	params := map[string]string{all.Generic.Name: all.Generic.Params.Poller}
	for _, v := range all.Variants {
		params[v.Name] = v.Params.Poller
	}
	for _, s := range loops {
		for _, w := range allWorkloads {
			_, err := s.Run(w, 0)
			does := !errors.Is(err, ErrUnsupported)
			if want := w != WorkMixed || params[s.Name] != "none"; does != want {
				t.Errorf("%s (poller %s) %s: supported %v, want %v", s.Name, params[s.Name], w, does, want)
			}
		}
	}
}

// The GC-off diagnostic runs callbacks only, with the collector off in the
// span (measure's own collection before it is the one cycle), and restores
// the GC percent after. Catches, in diagnosticSystems: "w != WorkCallbacks"
// -> "w == WorkMixed"; SetGCPercent(-1) -> (100); the deferred restore
// dropped.
func TestTheGCOffDiagnosticTurnsTheCollectorOffForItsSpan(t *testing.T) {
	var gcoff System
	for _, s := range diagnosticSystems() {
		if s.Name == "balanced"+gcOffSuffix {
			gcoff = s
		}
	}
	if gcoff.Run == nil {
		t.Fatal("no balanced" + gcOffSuffix)
	}
	for _, w := range allWorkloads {
		if _, err := gcoff.Run(w, 0); errors.Is(err, ErrUnsupported) != (w != WorkCallbacks) {
			t.Errorf("%s: %v; want callbacks alone supported", w, err)
		}
	}
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// A million callbacks queue 8 MB of func values: with the collector on,
	// a heap of a few MB collects during the span.
	r, err := gcoff.Run(WorkCallbacks, 1_000_000)
	runtime.ReadMemStats(&after)
	if err != nil || r.Ops != 1_000_000 {
		t.Fatalf("%d ops, %v", r.Ops, err)
	}
	if cycles := after.NumGC - before.NumGC; cycles > 1 {
		t.Errorf("%d collections in a run with the collector off; want measure's own alone", cycles)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d after the run, want 100 restored", got)
	}
}

// A range of one CPU is a range; an empty list says it is empty.
// Catches, in parseCPUList: "b < a" -> "b <= a" ("1-1" refused); the
// empty check dropped (an empty list reported as a bad CPU number "").
func TestParseCPUListTakesARangeOfOne(t *testing.T) {
	if got, err := parseCPUList("1-1,3"); err != nil || !slices.Equal(got, []int{1, 3}) {
		t.Errorf(`parseCPUList("1-1,3") = %v, %v; want [1 3]`, got, err)
	}
	for _, in := range []string{"", "  "} {
		if _, err := parseCPUList(in); err == nil || err.Error() != "empty CPU list" {
			t.Errorf("parseCPUList(%q): error %v, want \"empty CPU list\"", in, err)
		}
	}
}

// -reps 0 is refused as such, before anything runs. Catches "o.reps < 1"
// -> "< 0" in run: -reps 0 ran a warm-up round of every system and then
// failed with "none of these runs", which TestBadFlagsAreRejectedBeforeAnyWork
// took for the refusal.
func TestRepsZeroIsRefusedAsSuch(t *testing.T) {
	var out, progress bytes.Buffer
	err := run([]string{"-reps", "0", "-workload", "callbacks", "-systems", "floor-ring"}, &out, &progress)
	if err == nil || !strings.Contains(err.Error(), "-reps 0") {
		t.Errorf("-reps 0: error %v; want one that names -reps 0", err)
	}
	if progress.Len() != 0 {
		t.Errorf("-reps 0 measured before failing: %q", progress.String())
	}
}

// -systems takes the echo servers' kind, as its usage says. Catches
// echoKind dropped from pick's aliases in run ("unknown system").
func TestTheServerKindSelectsTheEchoServers(t *testing.T) {
	withoutNode(t)
	var out, progress bytes.Buffer
	// From an empty -echo-bin, and without Node.js, every server is skipped
	// with a note: nothing is built or run.
	if err := run([]string{"-quick", "-workload", "echo", "-systems", echoKind, "-echo-bin", t.TempDir()}, &out, &progress); err != nil {
		t.Fatalf("-systems %s: %v", echoKind, err)
	}
	wantIn(t, out.String(), "- loop, net: skipped: -echo-bin", "- gnet, nbio: skipped: -echo-bin", "- node: skipped")
}
