package main

import (
	"bytes"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/loopgen/loop/gen"
)

// The tests in this file each catch a change to the ranking or the grid that
// the rest of the suite let through (a round of one-line mutations of
// tune_rank.go and of tune.go's grid and winner selection).

// rankPlan is a plan of a base at batch=256 and one candidate per further
// batch value, ranked on metric, as the ranking tests build it.
func rankPlan(metric string, batches ...string) *tunePlan {
	p := &tunePlan{flags: tuneFlags{metric: metric}, base: &gen.Variant{Name: "balanced"}, axes: []tuneAxis{{key: "batch"}}}
	p.candidates = append(p.candidates, &candidate{isBase: true, settings: []string{"batch=256"}})
	for _, b := range batches {
		p.candidates = append(p.candidates, &candidate{settings: []string{"batch=" + b}})
	}
	return p
}

// report is r written as Markdown.
func report(r *ranking) string {
	var out bytes.Buffer
	r.write(&out)
	return out.String()
}

// rowOf is c's row of r.
func rowOf(t *testing.T, r *ranking, c *candidate) rankRow {
	t.Helper()
	i := slices.IndexFunc(r.rows, func(x rankRow) bool { return x.c == c })
	if i < 0 {
		t.Fatalf("no row for %s", c.label())
	}
	return r.rows[i]
}

// TestAddQuotesASplitResultLineOnTheFirstLine: the line that breaks is
// quoted wherever it is, the output's first line included.
func TestAddQuotesASplitResultLineOnTheFirstLine(t *testing.T) {
	out := "BenchmarkX-2   \thello from the benchmark\n     200\t   100 ns/op\nPASS\n"
	var r tuneResult
	r.values = []map[string][]float64{{}}
	err := r.add(0, []byte(out), "sec/op")
	if err == nil || !strings.Contains(err.Error(), `"BenchmarkX-2   \thello from the benchmark" is not a whole result line`) {
		t.Errorf("error %v: want it to quote the first line", err)
	}
}

// TestAddTakesTheMetricAsGoTestPrintsIt: -metric ns/op names the unit go
// test prints; benchfmt reads it as sec/op, and add must still find it.
func TestAddTakesTheMetricAsGoTestPrintsIt(t *testing.T) {
	var r tuneResult
	r.values = []map[string][]float64{{}}
	if err := r.add(0, []byte("BenchmarkX 1 100 ns/op\n"), "ns/op"); err != nil {
		t.Fatal(err)
	}
	if got := r.values[0]["X"]; len(got) != 1 || math.Abs(got[0]-100e-9) > 1e-15 {
		t.Errorf("kept %v, want one value of 100ns", got)
	}
}

// TestRankNamesTheMetricAsTidied: the values are in seconds whatever
// -metric calls them, so a ranking on ns/op reports sec/op; labelled ns/op,
// 100ns would read as 100n ns/op.
func TestRankNamesTheMetricAsTidied(t *testing.T) {
	p := rankPlan("ns/op", "64")
	res := tuneResult{benchmarks: []string{"A"}, values: []map[string][]float64{
		{"A": series6(100e-9)},
		{"A": series6(80e-9)},
	}}
	r := rankCandidates(p, res)
	if r.metric != "sec/op" || !strings.Contains(report(r), "| sec/op (median) |") {
		t.Errorf("metric %q; report:\n%s", r.metric, report(r))
	}
}

// TestReportIntervalIs95Percent: the tables say "95% CI". Six measurements
// give a median a 95% interval, five do not (nor would six at 99%).
func TestReportIntervalIs95Percent(t *testing.T) {
	p := rankPlan("sec/op", "64")
	res := tuneResult{benchmarks: []string{"A"}, values: []map[string][]float64{
		{"A": series6(100)},
		{"A": series6(80)[:5]},
	}}
	lines := strings.Split(report(rankCandidates(p, res)), "\n")
	baseRow := lines[slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "| 256 (base) |") })]
	otherRow := lines[slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "| 64 |") })]
	if strings.Contains(baseRow, "none") || !strings.Contains(otherRow, "none (too few measurements)") {
		t.Errorf("6 measurements: %s\n5 measurements: %s\nwant an interval for 6 and none for 5", baseRow, otherRow)
	}
}

// TestRankBaseNotMeasuredOnABenchmark: the base may skip a benchmark that
// other candidates run. A candidate better where both were measured is then
// not significantly better overall, and the run is not reported too short
// for a comparison that cannot be made at all.
func TestRankBaseNotMeasuredOnABenchmark(t *testing.T) {
	p := rankPlan("sec/op", "64")
	res := tuneResult{benchmarks: []string{"A", "B"}, values: []map[string][]float64{
		{"A": series6(100)},
		{"A": series6(80), "B": series6(50)},
	}}
	r := rankCandidates(p, res)
	if r.winner != p.candidates[1] || r.significant || r.needCount != 0 || !strings.Contains(r.verdict, "not compared on 1") {
		t.Errorf("winner %s significant %v needCount %d: %s; want batch=64 not significantly better, not compared on B",
			r.winner.label(), r.significant, r.needCount, r.verdict)
	}
}

// TestRankGeomeanCountsBenchmarksZeroOnBothSides: two zero medians are
// equal, a ratio of 1 in the geomean: half the base on B and even on A is
// 0.71 over two benchmarks, not 0.5 over one.
func TestRankGeomeanCountsBenchmarksZeroOnBothSides(t *testing.T) {
	p := rankPlan("allocs/op", "64")
	zeros := []float64{0, 0, 0, 0, 0, 0}
	res := tuneResult{benchmarks: []string{"A", "B"}, values: []map[string][]float64{
		{"A": zeros, "B": series6(10)},
		{"A": zeros, "B": series6(5)},
	}}
	row := rowOf(t, rankCandidates(p, res), p.candidates[1])
	if row.inRatio != 2 || math.Abs(row.ratio-math.Sqrt(0.5)) > 1e-9 {
		t.Errorf("ratio %v over %d benchmarks, want 0.707 over 2", row.ratio, row.inRatio)
	}
}

// TestReportBaseRowHasNoComparison: the base is not compared with itself;
// its row leaves "vs base" and p empty rather than show a +0.00% at p=1.
func TestReportBaseRowHasNoComparison(t *testing.T) {
	p := rankPlan("sec/op", "64")
	res := tuneResult{benchmarks: []string{"A"}, values: []map[string][]float64{
		{"A": series6(100)},
		{"A": series6(80)},
	}}
	s := report(rankCandidates(p, res))
	lines := strings.Split(s, "\n")
	baseRow := lines[slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "| 256 (base) |") })]
	if !strings.HasSuffix(baseRow, "|  |  |") {
		t.Errorf("the base's row compares it with itself: %s", baseRow)
	}
}

// TestRankEqualMediansAreNeitherBetterNorWorse: ranking is on medians, so a
// candidate counts as worse where its median is higher, not where the U test
// alone tells the samples apart. Here its median on A equals the base's
// (p is about 1e-5 all the same); better on B, it wins.
func TestRankEqualMediansAreNeitherBetterNorWorse(t *testing.T) {
	p := rankPlan("sec/op", "64")
	var baseA, candA []float64
	for i := range 20 {
		baseA = append(baseA, []float64{1, 5}[min(i/9, 1)])  // nine 1s, eleven 5s: median 5
		candA = append(candA, []float64{5, 9}[min(i/11, 1)]) // eleven 5s, nine 9s: median 5
	}
	res := tuneResult{benchmarks: []string{"A", "B"}, values: []map[string][]float64{
		{"A": baseA, "B": series6(100)},
		{"A": candA, "B": series6(80)},
	}}
	r := rankCandidates(p, res)
	if cmp := rowOf(t, r, p.candidates[1]).cmp["A"]; cmp.P >= 0.05 {
		t.Fatalf("p on A is %v: the samples must differ significantly for this test", cmp.P)
	}
	if r.winner != p.candidates[1] || !r.significant {
		t.Errorf("winner %s significant %v: %s; want batch=64, even on A and better on B", r.winner.label(), r.significant, r.verdict)
	}
}

// TestRankWorseIsJudgedAtThePlainAlpha: the correction for many comparisons
// makes "better" harder, never "worse" easier to escape. Four measurements
// each, wholly apart, give p=0.029: worse at 0.05, though not at the
// corrected 0.025.
func TestRankWorseIsJudgedAtThePlainAlpha(t *testing.T) {
	p := rankPlan("sec/op", "64")
	res := tuneResult{benchmarks: []string{"A", "B"}, values: []map[string][]float64{
		{"A": series6(100), "B": {100, 101, 102, 103}},
		{"A": series6(80), "B": {110, 111, 112, 113}},
	}}
	r := rankCandidates(p, res)
	if row := rowOf(t, r, p.candidates[1]); row.better != 1 || row.worse != 1 || r.significant {
		t.Errorf("better on %d, worse on %d, significant %v: %s; want better on A, worse on B, no significant winner",
			row.better, row.worse, r.significant, r.verdict)
	}
}

// TestRankCandidateWithoutARatioRanksAfterThoseWithOne: a candidate with no
// benchmark where both medians are non-zero has no geomean; it is not even
// with the base for that, and ranks after the candidates that have one
// (when the zeros do not decide).
func TestRankCandidateWithoutARatioRanksAfterThoseWithOne(t *testing.T) {
	p := rankPlan("allocs/op", "4", "64")
	zeros := []float64{0, 0, 0, 0, 0, 0}
	res := tuneResult{benchmarks: []string{"A", "B"}, values: []map[string][]float64{
		{"A": series6(10), "B": zeros},
		{"A": zeros, "B": series6(5)},  // zero where the base is not, and the reverse: no ratio
		{"A": series6(11), "B": zeros}, // 1.05 over both
	}}
	r := rankCandidates(p, res)
	if last := r.rows[len(r.rows)-1]; last.c != p.candidates[1] || !math.IsNaN(last.ratio) {
		var order []string
		for _, row := range r.rows {
			order = append(order, row.c.label())
		}
		t.Errorf("ranked %q, last ratio %v; want batch=4, with no ratio, last", order, last.ratio)
	}
}

// TestRankRatioIsTheGeometricMean: a quarter of the base on one benchmark
// and even on the other is 0.5, the geometric mean, not the product 0.25.
func TestRankRatioIsTheGeometricMean(t *testing.T) {
	p := rankPlan("sec/op", "64")
	res := tuneResult{benchmarks: []string{"A", "B"}, values: []map[string][]float64{
		{"A": series6(100), "B": series6(100)},
		{"A": series6(25), "B": series6(100)},
	}}
	r := rankCandidates(p, res)
	if row := rowOf(t, r, p.candidates[1]); math.Abs(row.ratio-0.5) > 1e-9 || !strings.Contains(report(r), "| 1 | 64 | 0.500 |") {
		t.Errorf("ratio %v; report:\n%s", row.ratio, report(r))
	}
}

// TestRankWinnerRanksAboveTheBase: a candidate significantly but slightly
// better on A and far worse, though not significantly, on B ranks below the
// base on the geomean; it must not win.
func TestRankWinnerRanksAboveTheBase(t *testing.T) {
	p := rankPlan("sec/op", "64")
	res := tuneResult{benchmarks: []string{"A", "B"}, values: []map[string][]float64{
		{"A": series6(100), "B": series6(100)},
		{"A": series6(95), "B": {50, 200, 60, 210, 70, 220}},
	}}
	r := rankCandidates(p, res)
	if row := rowOf(t, r, p.candidates[1]); row.better != 1 || row.worse != 0 || row.ratio <= 1 {
		t.Fatalf("better %d worse %d ratio %v: want better on A only and a geomean above 1, for this test", row.better, row.worse, row.ratio)
	}
	if r.winner != p.candidates[0] || r.significant {
		t.Errorf("winner %s significant %v: %s; want the base", r.winner.label(), r.significant, r.verdict)
	}
}

// TestVerdictSignsTheChange: 80 against the base's 100 is -20%, the sign the
// verdict (and the comment -write puts into the spec) must carry.
func TestVerdictSignsTheChange(t *testing.T) {
	p := rankPlan("sec/op", "64")
	res := tuneResult{benchmarks: []string{"A"}, values: []map[string][]float64{
		{"A": series6(100)},
		{"A": series6(80)},
	}}
	if r := rankCandidates(p, res); !strings.HasPrefix(r.verdict, "-20.0% sec/op ") {
		t.Errorf("verdict %q, want it to start -20.0%% sec/op", r.verdict)
	}
}

// TestReportBaseWinnerWithEnoughMeasurements: a base that ranks first in a
// run that could have told is the winner, plainly.
func TestReportBaseWinnerWithEnoughMeasurements(t *testing.T) {
	p := rankPlan("sec/op", "64")
	res := tuneResult{benchmarks: []string{"A"}, values: []map[string][]float64{
		{"A": series6(80)},
		{"A": series6(100)},
	}}
	if s := report(rankCandidates(p, res)); !strings.Contains(s, "Winner: the base balanced; no candidate beats it.") {
		t.Errorf("report:\n%s", s)
	}
}

// TestParseGridRefuses: a key with no values, a key that is not a parameter,
// a key given twice and a value given twice are each refused by name. Given
// twice, batch=4 would be overwritten by batch=8 and never measured, under
// the label of both. A value given twice, or spelled twice (100us and
// 0.1ms), was dropped without a word, and the grid was smaller than the one
// asked for (64,64 for 64,640).
func TestParseGridRefuses(t *testing.T) {
	spec, err := gen.ParseFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	for grid, want := range map[string]string{
		"batch=":                          `-grid: "batch=" is not key=v1,v2`,
		"default=true":                    "-grid: default cannot be tuned",
		"batch=4 batch=8":                 "-grid: batch given twice",
		"batch=64,64":                     "-grid: batch=64,64: 64 given twice",
		"batch=4 queue_depth=16,32,16":    "-grid: queue_depth=16,32,16: 16 given twice",
		"wheel.tick=100us,0.1ms,100000ns": "-grid: wheel.tick=100us,0.1ms,100000ns: 100us and 0.1ms are the same value, 100us",
		"poller=poll,epoll,poll":          "-grid: poller=poll,epoll,poll: poll given twice",
	} {
		if axes, err := parseGrid(grid, spec.Default()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: axes %v, error %v; want %q", grid, axes, err, want)
		}
	}
}

// TestGridCandidatesLabelTheirOwnValues: every candidate's settings are
// the values it was built with, on a grid deep enough for the walk's
// settings to be appended in place (four axes).
func TestGridCandidatesLabelTheirOwnValues(t *testing.T) {
	spec, err := gen.ParseFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	axes, err := parseGrid("batch=4,8 queue_depth=16,32 overflow=grow,reject inbox.kind=mpsc,mutex", spec.Default())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := gridCandidates(spec.Default(), axes)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	for _, c := range cs {
		labels[c.label()] = true
		for _, s := range c.settings {
			key, want, _ := strings.Cut(s, "=")
			if got, _ := c.variant.Get(key); got != want {
				t.Errorf("candidate %s has %s=%s", c.label(), key, got)
			}
		}
	}
	if len(cs) != 17 || len(labels) != 17 {
		t.Errorf("%d candidates, %d labels; want the base and 16 grid points, each labelled apart", len(cs), len(labels))
	}
}

// TestGridCandidatesAreNotTheDefault: each candidate is built beside the
// spec's variants, among them its default; one that claimed default too
// would take the generic build and all.Variants' default from it.
func TestGridCandidatesAreNotTheDefault(t *testing.T) {
	spec, err := gen.ParseFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	axes, err := parseGrid("batch=4,8", spec.Default())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := gridCandidates(spec.Default(), axes)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.variant.Default || !strings.HasPrefix(c.variant.Name, "tune_") {
			t.Errorf("candidate %s: name %s, default %v; want a tune_ name and not the default", c.label(), c.variant.Name, c.variant.Default)
		}
	}
}

// TestWriteWinnerRefusesTheBase: when the base ranks first, -write says no
// candidate beats it, not that "the best candidate (base)" falls short.
func TestWriteWinnerRefusesTheBase(t *testing.T) {
	p, r, specPath := writePlan(t)
	r.winner = &candidate{variant: *p.base, isBase: true, settings: []string{"batch=256"}}
	r.significant, r.verdict = false, "the base itself ranks first"
	err := p.writeWinner(t.Context(), r)
	if err == nil || !strings.Contains(err.Error(), "not writing tuned: no candidate beats the base balanced") {
		t.Errorf("writeWinner: %v", err)
	}
	if now, _ := os.ReadFile(specPath); !bytes.Equal(now, p.specData) {
		t.Error("the spec changed")
	}
}
