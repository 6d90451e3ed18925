package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/gen"
)

// TestRoundOrder: every round runs each candidate once, and over n rounds
// each candidate runs first once, in both directions.
func TestRoundOrder(t *testing.T) {
	for n := 2; n <= 5; n++ {
		firsts := map[int]bool{}
		for round := range n {
			order := roundOrder(round, n)
			sorted := slices.Sorted(slices.Values(order))
			for i, c := range sorted {
				if c != i {
					t.Fatalf("n=%d round %d: order %v is not a permutation", n, round, order)
				}
			}
			firsts[order[0]] = true
		}
		if len(firsts) != n {
			t.Errorf("n=%d: over %d rounds only %v run first", n, n, firsts)
		}
	}
	if got := [][]int{roundOrder(0, 2), roundOrder(1, 2)}; !slices.Equal(got[0], []int{0, 1}) || !slices.Equal(got[1], []int{1, 0}) {
		t.Errorf("two candidates: rounds 0 and 1 run %v, want [0 1] then [1 0]", got)
	}
}

// TestRankMissingBenchmark: a candidate that has no measurements of some
// benchmark cannot be compared over all of them, so it must not rank above
// the candidates measured on every benchmark on the strength of a geomean
// over fewer, nor count as significantly better.
func TestRankMissingBenchmark(t *testing.T) {
	base := &candidate{isBase: true, settings: []string{"batch=256"}}
	partial := &candidate{settings: []string{"batch=4"}}
	full := &candidate{settings: []string{"batch=64"}}
	p := &tunePlan{flags: tuneFlags{metric: "sec/op"}, candidates: []*candidate{base, partial, full}}
	series := func(center float64) []float64 {
		return []float64{center, center * 1.01, center * 0.99, center * 1.02, center * 0.98, center * 1.005}
	}
	res := tuneResult{
		benchmarks: []string{"A", "B"},
		values: []map[string][]float64{
			{"A": series(100), "B": series(100)},
			{"A": series(50)}, // B missing: say, skipped under this variant
			{"A": series(80), "B": series(80)},
		},
	}
	r := rankCandidates(p, res)
	if r.winner != full {
		t.Errorf("winner %q, want the candidate measured on every benchmark (batch=64)", r.winner.label())
	}
	for _, row := range r.rows {
		if row.c == partial && (row.better > 0 && row.worse == 0) && r.winner == partial && r.significant {
			t.Errorf("a candidate missing a benchmark is reported significantly better")
		}
	}
	// In the table of B, which partial lacks, the ranks are 1 and 2.
	p.base, p.axes = &gen.Variant{Name: "balanced"}, []tuneAxis{{key: "batch"}}
	var out bytes.Buffer
	r.write(&out)
	_, tableB, _ := strings.Cut(out.String(), "## B\n")
	tableB, _, _ = strings.Cut(tableB, "\n\n## ")
	if !strings.Contains(tableB, "| 1 | 64 |") || !strings.Contains(tableB, "| 2 | 256 (base) |") {
		t.Errorf("table of B:\n%s", tableB)
	}

	res.values = res.values[:2]
	p.candidates = p.candidates[:2]
	r = rankCandidates(p, res)
	if r.winner == partial && r.significant {
		t.Errorf("the only other candidate lacks benchmark B yet is significantly better: %s", r.verdict)
	}
}

// TestMeasureCacheKeyEnvironment: a measurement made under GOMAXPROCS=1 is
// not one of the same binary under GOMAXPROCS=2 (the benchmark names even
// differ: -1, -2), so the cache must not hand one out for the other.
func TestMeasureCacheKeyEnvironment(t *testing.T) {
	dir := t.TempDir()
	// A stand-in test binary that reports the GOMAXPROCS it ran under.
	bin := filepath.Join(dir, "fake.test")
	script := "#!/bin/sh\necho \"BenchmarkX-${GOMAXPROCS:-0} 1 100 ns/op\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &tunePlan{flags: tuneFlags{bench: "X", benchtime: "1x"}, cacheDir: filepath.Join(dir, "cache"), pkgDir: dir}
	c := &candidate{binary: bin, version: "v1"}
	t.Setenv("GOMAXPROCS", "1")
	if _, fromCache, err := p.measure(t.Context(), c, 0); err != nil || fromCache {
		t.Fatalf("first measurement: cached %v, err %v", fromCache, err)
	}
	if _, fromCache, err := p.measure(t.Context(), c, 0); err != nil || !fromCache {
		t.Fatalf("same measurement again: cached %v, err %v", fromCache, err)
	}
	t.Setenv("GOMAXPROCS", "2")
	out, fromCache, err := p.measure(t.Context(), c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fromCache || !strings.Contains(string(out), "BenchmarkX-2 ") {
		t.Errorf("under GOMAXPROCS=2 got the measurement made under GOMAXPROCS=1 (from cache %v):\n%s", fromCache, out)
	}
}

// TestRankZeroMedian: on a metric that can reach zero (allocs/op, B/op), a
// candidate that takes it to zero is the best there is, not unrankable. With
// no benchmark where neither median is zero it has no ratio, and its verdict
// (which -write puts into the spec's comment) says so instead of "+NaN%".
func TestRankZeroMedian(t *testing.T) {
	base := &candidate{isBase: true, settings: []string{"queue_depth=16"}}
	zero := &candidate{settings: []string{"queue_depth=65536"}}
	p := &tunePlan{flags: tuneFlags{metric: "allocs/op"}, candidates: []*candidate{base, zero}}
	res := tuneResult{
		benchmarks: []string{"A"},
		values: []map[string][]float64{
			{"A": {5, 5, 6, 5, 5, 6}},
			{"A": {0, 0, 0, 0, 0, 0}},
		},
	}
	r := rankCandidates(p, res)
	if r.winner != zero || !r.significant {
		t.Errorf("winner %q (significant %v), want queue_depth=65536 significantly better: %s", r.winner.label(), r.significant, r.verdict)
	}
	if !strings.HasPrefix(r.verdict, "no ratio of allocs/op where neither median is zero; zero on 1 benchmark where the base is not") {
		t.Errorf("verdict %q, want it to say there is no ratio", r.verdict)
	}
}

// TestAllBenchmarksTableShowsZerosAndNoRatio: a candidate that takes
// allocs/op to zero everywhere has no ratio, and ranks first on its zeros.
// The table said "NaN" there and showed nothing of what it ranked on, so
// its first row seemed out of order.
func TestAllBenchmarksTableShowsZerosAndNoRatio(t *testing.T) {
	p := rankPlan("allocs/op", "512", "1024")
	zero, fewer := p.candidates[1], p.candidates[2]
	res := tuneResult{
		benchmarks: []string{"A", "B"},
		values: []map[string][]float64{
			{"A": series6(5), "B": series6(8)},
			{"A": {0, 0, 0, 0, 0, 0}, "B": {0, 0, 0, 0, 0, 0}},
			{"A": series6(4), "B": series6(6)},
		},
	}
	r := rankCandidates(p, res)
	if r.rows[0].c != zero || r.rows[1].c != fewer {
		t.Fatalf("ranked %s, %s first; want batch=512 (zero everywhere), then 1024", r.rows[0].c.label(), r.rows[1].c.label())
	}
	out := report(r)
	for _, want := range []string{
		"| 1 | 512 | — (zero on 2, off zero on 0) |",
		"| 2 | 1024 | 0.775 |",
		"| 3 | 256 (base) | 1.000 |",
		"Zero on K: K benchmarks where its median is zero and the base's is not",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "NaN") {
		t.Errorf("report prints NaN:\n%s", out)
	}
}

// TestTuneInterruptedWhilePlanning: a signal that kills the go list run
// while the package is located is an interrupt (130), not bad input (2).
func TestTuneInterruptedWhilePlanning(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, stderr := tune(t, ctx, tuneHooks{}, "-grid", "batch=4", "-pkg", "./nosuch", "-cache", t.TempDir())
	if code != 130 || !strings.Contains(stderr, "interrupted before measuring") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// series6 is six measurements around center, all distinct.
func series6(center float64) []float64 {
	return []float64{center, center * 1.01, center * 0.99, center * 1.02, center * 0.98, center * 1.005}
}

// TestRankCorrectsForManyComparisons: the winner is picked from many
// candidates, so a p-value that would be significant for one comparison is
// not for the best of 24. Six measurements each cannot get below 0.0022,
// and 0.05/24 is 0.0021: the report must say so and name a -count that
// could; with that many measurements the same separation is significant.
func TestRankCorrectsForManyComparisons(t *testing.T) {
	build := func(count int) (*tunePlan, tuneResult) {
		p := &tunePlan{flags: tuneFlags{metric: "sec/op"}}
		res := tuneResult{benchmarks: []string{"A"}}
		for i := range 25 {
			c := &candidate{isBase: i == 0, settings: []string{"batch=" + strings.Repeat("1", i+1)}}
			p.candidates = append(p.candidates, c)
			center := 100.0 // the same as the base, but for one candidate
			if i == 7 {
				center = 80
			}
			vals := series6(center)
			for len(vals) < count {
				vals = append(vals, center*(1+0.001*float64(len(vals))))
			}
			res.values = append(res.values, map[string][]float64{"A": vals[:count]})
		}
		return p, res
	}
	p, res := build(6)
	r := rankCandidates(p, res)
	if r.winner != p.candidates[7] {
		t.Fatalf("winner %q, want the candidate at 80", r.winner.label())
	}
	if r.significant {
		t.Errorf("the best of 24 at p=0.0022 counted as significant: %s", r.verdict)
	}
	if r.needCount != 7 || !strings.Contains(r.verdict, "-count 7 could") {
		t.Errorf("needCount %d, verdict %q: want it to name -count 7", r.needCount, r.verdict)
	}
	p, res = build(7)
	if r = rankCandidates(p, res); !r.significant || r.needCount != 0 {
		t.Errorf("with 7 measurements each: significant %v, needCount %d: %s", r.significant, r.needCount, r.verdict)
	}
	// A base that ranks first in a run too short to tell says so too.
	p, res = build(2)
	res.values[0]["A"] = []float64{50, 50}
	if r = rankCandidates(p, res); r.winner != p.candidates[0] || !strings.Contains(r.verdict, "-count 7 could") {
		t.Errorf("the base first with 2 measurements each: winner %q, verdict %q; want it to name -count 7", r.winner.label(), r.verdict)
	}
}

// TestRankZeroOnBothSides: a candidate at zero where the base is not on one
// benchmark, and the reverse on another, has no geomean of the two; it must
// still rank by the rest instead of by a NaN.
func TestRankZeroOnBothSides(t *testing.T) {
	base := &candidate{isBase: true, settings: []string{"batch=1"}}
	mixed := &candidate{settings: []string{"batch=2"}}
	p := &tunePlan{flags: tuneFlags{metric: "allocs/op"}, candidates: []*candidate{base, mixed}}
	res := tuneResult{
		benchmarks: []string{"A", "B", "C"},
		values: []map[string][]float64{
			{"A": series6(5), "B": {0, 0, 0, 0, 0, 0}, "C": series6(10)},
			{"A": {0, 0, 0, 0, 0, 0}, "B": series6(5), "C": series6(5)},
		},
	}
	r := rankCandidates(p, res)
	row := r.rows[slices.IndexFunc(r.rows, func(x rankRow) bool { return x.c == mixed })]
	if row.toZero != 1 || row.offZero != 1 || row.inRatio != 1 || row.ratio < 0.49 || row.ratio > 0.51 {
		t.Errorf("toZero %d offZero %d over %d benchmarks, ratio %v: want 1, 1, 1 and 0.5 (C alone)", row.toZero, row.offZero, row.inRatio, row.ratio)
	}
	if r.winner != mixed {
		t.Errorf("winner %q: batch=2 is even on zeros and half the base on C", r.winner.label())
	}
}

// TestMeasureCacheKeyRun: the base's measurements from a run with another
// grid are not reused: they were made under that run's conditions.
func TestMeasureCacheKeyRun(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake.test")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"BenchmarkX 1 100 ns/op\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &tunePlan{flags: tuneFlags{bench: "X", benchtime: "1x"}, cacheDir: filepath.Join(dir, "cache"), pkgDir: dir}
	base := &candidate{binary: bin, version: "base"}
	p.runID = runIdentity([]*candidate{base, {version: "batch=128"}})
	if _, fromCache, err := p.measure(t.Context(), base, 0); err != nil || fromCache {
		t.Fatalf("first run: cached %v, err %v", fromCache, err)
	}
	p.runID = runIdentity([]*candidate{{version: "batch=128"}, base}) // the same run, resumed
	if _, fromCache, err := p.measure(t.Context(), base, 0); err != nil || !fromCache {
		t.Errorf("the same candidates again: cached %v, err %v", fromCache, err)
	}
	p.runID = runIdentity([]*candidate{base, {version: "queue_depth=1024"}})
	if _, fromCache, err := p.measure(t.Context(), base, 0); err != nil || fromCache {
		t.Errorf("another grid reused the base's measurement: cached %v, err %v", fromCache, err)
	}
}

// writePlan is a plan whose winner beats the base significantly, over a
// copy of spec/loop.yaml in a temporary directory.
func writePlan(t *testing.T) (*tunePlan, *ranking, string) {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(dir, "loop.yaml")
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := gen.Parse(specPath, data)
	if err != nil {
		t.Fatal(err)
	}
	base := spec.Default()
	winner := *base
	winner.Batch = 64
	p := &tunePlan{flags: tuneFlags{spec: specPath, out: filepath.Join(dir, "generated"), write: "tuned"},
		spec: spec, specData: data, base: base}
	w := &candidate{variant: winner, settings: []string{"batch=64"}}
	r := &ranking{plan: p, winner: w, significant: true, verdict: "-20.0% sec/op"}
	return p, r, specPath
}

// TestWriteWinnerRefusesASpecChangedDuringTheRun: writing the bytes read at
// the start would undo an edit made while tune measured.
func TestWriteWinnerRefusesASpecChangedDuringTheRun(t *testing.T) {
	p, r, specPath := writePlan(t)
	edited := append(slices.Clone(p.specData), []byte("# an edit made during the run\n")...)
	if err := os.WriteFile(specPath, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	err := p.writeWinner(t.Context(), r)
	if err == nil || !strings.Contains(err.Error(), "changed during the run") {
		t.Fatalf("writeWinner: %v, want a refusal naming the change", err)
	}
	if now, _ := os.ReadFile(specPath); !bytes.Equal(now, edited) {
		t.Error("the edit made during the run was overwritten")
	}
}

// TestWriteWinnerRestoresTheSpecWhenGeneratingFails: the spec and
// generated/ must still agree after a failed -write.
func TestWriteWinnerRestoresTheSpecWhenGeneratingFails(t *testing.T) {
	p, r, specPath := writePlan(t)
	// -out below a regular file: generating into it fails.
	blocker := filepath.Join(filepath.Dir(specPath), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.flags.out = filepath.Join(blocker, "generated")
	err := p.writeWinner(t.Context(), r)
	if err == nil || !strings.Contains(err.Error(), "is as it was") {
		t.Fatalf("writeWinner: %v, want a generating error that says the spec is as it was", err)
	}
	if now, _ := os.ReadFile(specPath); !bytes.Equal(now, p.specData) {
		t.Error("the spec keeps the written variant although generating failed")
	}
	// And with the spec unchanged and a writable -out, it writes.
	p.flags.out = filepath.Join(filepath.Dir(specPath), "generated")
	if err := p.writeWinner(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(specPath); !strings.Contains(string(now), "tuned") {
		t.Error("the winner was not written")
	}
}

// TestMeasureIgnoresStderr: a benchmark that writes to stderr while a result
// line is being printed must not lose that result.
func TestMeasureIgnoresStderr(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake.test")
	script := "#!/bin/sh\nprintf 'BenchmarkX 1 '\necho 'a log line' >&2\nprintf '100 ns/op\\n'\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &tunePlan{flags: tuneFlags{bench: "X", benchtime: "1x"}, cacheDir: filepath.Join(dir, "cache"), pkgDir: dir}
	out, _, err := p.measure(t.Context(), &candidate{binary: bin, version: "v"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var r tuneResult
	r.values = []map[string][]float64{{}}
	if err := r.add(0, out, "sec/op"); err != nil {
		t.Fatal(err)
	}
	if got := r.values[0]["X"]; len(got) != 1 || math.Abs(got[0]-100e-9) > 1e-15 {
		t.Errorf("parsed %v from %q, want one value of 100ns", got, out)
	}
}

// TestReportBaseFirstNamesTheCount: a base that ranks first in a run too
// short for any comparison to reach significance must not read as "no
// candidate beats it" alone in the printed report; the report names the
// -count that could tell, as the verdict does.
func TestReportBaseFirstNamesTheCount(t *testing.T) {
	base := &candidate{isBase: true, settings: []string{"batch=256"}}
	other := &candidate{settings: []string{"batch=64"}}
	p := &tunePlan{flags: tuneFlags{metric: "sec/op", count: 2, benchtime: "1x"},
		base: &gen.Variant{Name: "balanced"}, axes: []tuneAxis{{key: "batch", values: []string{"256", "64"}}},
		candidates: []*candidate{base, other}}
	res := tuneResult{benchmarks: []string{"A"}, values: []map[string][]float64{
		{"A": {50, 51}},
		{"A": {60, 61}},
	}}
	r := rankCandidates(p, res)
	if r.winner != base {
		t.Fatalf("winner %q, want the base", r.winner.label())
	}
	var out bytes.Buffer
	r.write(&out)
	if !strings.Contains(out.String(), "-count 4 could") {
		t.Errorf("the report of a base-first run at -count 2 does not name the -count that could tell:\n%s", out.String())
	}
}

// TestAddRefusesASplitResultLine: a benchmark that prints to stdout while it
// runs splits its result line (go test prints the name before running it);
// that measurement must be an error, not silently dropped, which would rank
// the candidate on fewer measurements, or none, of that benchmark.
func TestAddRefusesASplitResultLine(t *testing.T) {
	out := "goos: linux\nBenchmarkX-2   \thello from the benchmark\n     200\t   100 ns/op\nBenchmarkY-2   \t     200\t    50 ns/op\nPASS\n"
	var r tuneResult
	r.values = []map[string][]float64{{}}
	err := r.add(0, []byte(out), "sec/op")
	if err == nil {
		t.Fatalf("a split result line was skipped without an error: kept %v", r.values[0])
	}
	if !strings.Contains(err.Error(), "BenchmarkX-2") || !strings.Contains(err.Error(), "stdout") {
		t.Errorf("error %q: want it to quote the line and say why it is split", err)
	}
}

// driverModule makes the directory of specPath a module whose driver
// generator is main, with generated/ written from p's spec as it was at the
// start, and returns those files.
func driverModule(t *testing.T, p *tunePlan, specPath, main string) map[string][]byte {
	t.Helper()
	root := filepath.Dir(specPath)
	genDir := filepath.Join(root, "generated")
	files, err := gen.Generate(p.spec, gen.Options{Invocation: "loopgen -spec " + headerPath(specPath, genDir)})
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteTree(genDir, files); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.26\n",
		filepath.Join(filepath.FromSlash(driverGenerator), "main.go"): main,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// assertAsItWas checks that the spec and generated/ beside it hold what
// they held before writeWinner.
func assertAsItWas(t *testing.T, p *tunePlan, specPath string, files map[string][]byte) {
	t.Helper()
	if now, _ := os.ReadFile(specPath); !bytes.Equal(now, p.specData) {
		t.Error("the spec keeps the written variant")
	}
	if stale, err := gen.Diff(filepath.Join(filepath.Dir(specPath), "generated"), files); err != nil || len(stale) > 0 {
		t.Errorf("generated/ is not as it was: stale %v, err %v", stale, err)
	}
}

// TestWriteWinnerRestoresBothWhenTheDriversFail: when the bench's driver
// generator fails after the spec and generated/ are written, both go back
// to what they were, so a failed -write leaves the tree as it found it.
func TestWriteWinnerRestoresBothWhenTheDriversFail(t *testing.T) {
	p, r, specPath := writePlan(t)
	failing := "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tfmt.Fprintln(os.Stderr, \"drivegen: broken\")\n\tos.Exit(1)\n}\n"
	files := driverModule(t, p, specPath, failing)
	tmp := tempRoot(t)
	err := p.writeWinner(t.Context(), r)
	if err == nil || !strings.Contains(err.Error(), "drivegen: broken") {
		t.Fatalf("writeWinner: %v, want the driver generator's failure", err)
	}
	assertAsItWas(t, p, specPath, files)
	assertEmpty(t, tmp)
}

// TestWriteWinnerInterrupted: Ctrl-C after the last measurement writes
// nothing, and Ctrl-C while the bench's drivers are written puts the spec
// and generated/ back; both say they were interrupted.
func TestWriteWinnerInterrupted(t *testing.T) {
	p, r, specPath := writePlan(t)
	root := filepath.Dir(specPath)
	// A generator that says it has started, then waits to be stopped.
	waiting := "package main\n\nimport (\n\t\"os\"\n\t\"time\"\n)\n\nfunc main() {\n\tos.WriteFile(\"started\", nil, 0o644)\n\ttime.Sleep(time.Hour)\n}\n"
	files := driverModule(t, p, specPath, waiting)
	tmp := tempRoot(t)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.writeWinner(ctx, r); !errors.Is(err, errInterrupted) {
		t.Fatalf("writeWinner after Ctrl-C: %v, want it interrupted", err)
	}
	assertAsItWas(t, p, specPath, files)

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(root, "started")); err == nil {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if err := p.writeWinner(ctx, r); !errors.Is(err, errInterrupted) {
		t.Fatalf("writeWinner interrupted while writing the drivers: %v, want it interrupted", err)
	}
	assertAsItWas(t, p, specPath, files)
	assertEmpty(t, tmp)
}

// TestCheckBenchPattern: the -bench patterns go test takes pass (slashes
// and bars inside brackets or parentheses do not split), and a bad element
// is named by its index in its alternative, as go test names it.
func TestCheckBenchPattern(t *testing.T) {
	for _, ok := range []string{"", ".", "BenchmarkTagged/.*/N=10000$", "BenchmarkTagged/timers/N=(1000|10000|100000)$", "A[/(]B", `A\(/B`, "A|B/C", "A//B", "]"} {
		if err := checkBenchPattern(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for pattern, want := range map[string]string{
		"A(":        `element 0, "A("`,
		"A/(":       `element 1, "("`,
		"A/B|C/D/(": `element 2, "("`,
		"A/[a-/B":   `element 1, "[a-/B"`,
	} {
		if err := checkBenchPattern(pattern); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", pattern, err, want)
		}
	}
}

// TestWriteFileAtomicThroughASymlink: a spec that is a symbolic link is
// written where it points, as WriteTree writes a symlinked -out; renaming
// over the link replaced it with a plain file and left its target stale.
func TestWriteFileAtomicThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.yaml")
	if err := os.WriteFile(target, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "loop.yaml")
	if err := os.Symlink("real.yaml", link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if err := writeFileAtomic(link, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(target); string(got) != "new\n" {
		t.Errorf("the link's target holds %q, want the new contents", got)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("the target's mode is %v (%v), want 0640 kept", fi.Mode().Perm(), err)
	}
}

// The tune cache loses what no run used for a week, and a partial file older
// than a day, and nothing else: not a recent measurement, not a partial file
// a run may be writing, not a file of another name in a -cache directory
// given by hand.
func TestPruneTuneCacheRemovesOnlyStaleMeasurements(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	hash := strings.Repeat("ab", 32)
	files := []struct {
		name string
		age  time.Duration
		kept bool
	}{
		{hash[:63] + "1.txt", 8 * 24 * time.Hour, false},
		{hash[:63] + "2.txt", 6 * 24 * time.Hour, true},
		{"partial-123", 25 * time.Hour, false},
		{"partial-456", time.Hour, true},
		{"notes.txt", 30 * 24 * time.Hour, true},
		{hash + ".txt.bak", 30 * 24 * time.Hour, true},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-f.age), now.Add(-f.age)); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	pruneTuneCache(dir, now)
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f.name))
		if kept := err == nil; kept != f.kept {
			t.Errorf("%s, unused for %v: kept = %v, want %v", f.name, f.age, kept, f.kept)
		}
	}
	if _, err := os.Stat(sub); err != nil {
		t.Errorf("a directory in the cache was removed: %v", err)
	}
	pruneTuneCache(filepath.Join(dir, "missing"), now) // no directory yet: nothing to do, no panic
}
