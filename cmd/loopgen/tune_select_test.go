package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loopgen/loop/gen"
)

// TestRankWinnerIsWorseNowhere: a candidate that leads the geomean on a
// large gain on one benchmark while significantly worse on another does not
// win; the next one, better on both, does, and the report names the one
// passed over.
func TestRankWinnerIsWorseNowhere(t *testing.T) {
	base := &candidate{isBase: true, settings: []string{"batch=256"}}
	mixed := &candidate{settings: []string{"batch=4"}}
	good := &candidate{settings: []string{"batch=64"}}
	p := &tunePlan{flags: tuneFlags{metric: "sec/op"}, candidates: []*candidate{base, mixed, good},
		base: &gen.Variant{Name: "balanced"}, axes: []tuneAxis{{key: "batch"}}}
	res := tuneResult{
		benchmarks: []string{"A", "B"},
		values: []map[string][]float64{
			{"A": series6(100), "B": series6(100)},
			{"A": series6(30), "B": series6(120)}, // geomean 0.6, significantly worse on B
			{"A": series6(80), "B": series6(80)},  // geomean 0.8, significantly better on both
		},
	}
	r := rankCandidates(p, res)
	if r.rows[0].c != mixed {
		t.Fatalf("batch=4 should still rank first on the geomean; ranked %s first", r.rows[0].c.label())
	}
	if r.winner != good || !r.significant {
		t.Fatalf("winner %s significant=%v (%s); want batch=64, better on both and worse on none", r.winner.label(), r.significant, r.verdict)
	}
	var out bytes.Buffer
	r.write(&out)
	if !strings.Contains(out.String(), "Winner: batch=64: ") || !strings.Contains(out.String(), "Ranked above it but significantly worse than the base on 1 benchmark: batch=4.") {
		t.Errorf("report:\n%s", out.String())
	}

	// With no candidate worse nowhere, the leader is reported, not a winner.
	res.values = res.values[:2]
	p.candidates = p.candidates[:2]
	if r := rankCandidates(p, res); r.winner != mixed || r.significant {
		t.Errorf("winner %s significant=%v; want batch=4 reported as best, not significant", r.winner.label(), r.significant)
	}
}

// TestRankReportsUnmeasuredCandidates: a candidate that skipped a benchmark
// has no row in its table, and the report says so instead of leaving it out
// silently.
func TestRankReportsUnmeasuredCandidates(t *testing.T) {
	base := &candidate{isBase: true, settings: []string{"poller=auto"}}
	none := &candidate{settings: []string{"poller=none"}}
	p := &tunePlan{flags: tuneFlags{metric: "sec/op"}, candidates: []*candidate{base, none},
		base: &gen.Variant{Name: "balanced"}, axes: []tuneAxis{{key: "poller"}}}
	res := tuneResult{
		benchmarks: []string{"callbacks", "mixed"},
		values: []map[string][]float64{
			{"callbacks": series6(100), "mixed": series6(100)},
			{"callbacks": series6(90)},
		},
	}
	var out bytes.Buffer
	rankCandidates(p, res).write(&out)
	s := out.String()
	_, mixedTable, _ := strings.Cut(s, "## mixed")
	if !strings.Contains(mixedTable, "Not measured (skipped, or no result): poller=none.") {
		t.Errorf("the mixed table does not say poller=none was not measured:\n%s", s)
	}
	if !strings.Contains(s, "| 2 | none | 0.900 | 1 | 0 | 1 |") {
		t.Errorf("the summary does not count the benchmark poller=none was not measured on:\n%s", s)
	}
}

// TestGridSizeIsBounded: a grid of more points than maxGridPoints is refused
// before it is expanded, with the size of each axis.
func TestGridSizeIsBounded(t *testing.T) {
	spec, err := gen.ParseFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	var batches, depths []string
	for i := 1; i <= 1000; i++ {
		batches = append(batches, strconv.Itoa(i))
	}
	for i := 4; i <= 24; i++ {
		depths = append(depths, strconv.Itoa(1<<i))
	}
	axes, err := parseGrid("batch="+strings.Join(batches, ",")+" queue_depth="+strings.Join(depths, ","), spec.Default())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := gridCandidates(spec.Default(), axes)
	if err == nil || !strings.Contains(err.Error(), "-grid has more than 256 points (values per key: 1000)") {
		t.Errorf("a grid of 21,000 points: %d candidates, error %v", len(cs), err)
	}
	// At the bound it is accepted: 16 × 16, and the base, which is not on
	// the grid.
	axes, err = parseGrid("batch="+strings.Join(batches[:16], ",")+" queue_depth="+strings.Join(depths[:16], ","), spec.Default())
	if err != nil {
		t.Fatal(err)
	}
	if cs, err = gridCandidates(spec.Default(), axes); err != nil || len(cs) != 257 {
		t.Errorf("a grid of 256 points: %d candidates, error %v; want 257", len(cs), err)
	}
}

// TestSkippedBenchmarks reads the benchmarks go test -v reports as skipped.
func TestSkippedBenchmarks(t *testing.T) {
	out := "goos: linux\nBenchmarkTagged/mixed/N=10000\n    tagged_bench_test.go:53: not supported by this variant\n--- SKIP: BenchmarkTagged/mixed/N=10000\nBenchmarkOther\n--- SKIP: BenchmarkOther\nPASS\n"
	got := strings.Join(skippedBenchmarks([]byte(out)), "; ")
	want := "BenchmarkTagged/mixed/N=10000 (not supported by this variant); BenchmarkOther"
	if got != want {
		t.Errorf("skippedBenchmarks = %q, want %q", got, want)
	}
}

// TestWriteCheckedForEveryCandidate: -write is tried, before any building,
// with every candidate's values, not only the base's. Here the variant it
// would replace anchors its batch, a value the base leaves alone but a
// candidate with another batch would have to edit.
func TestWriteCheckedForEveryCandidate(t *testing.T) {
	data, err := os.ReadFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	spec := string(data) + "  - name: tuned\n    batch: &b 1024\n"
	file := filepath.Join(t.TempDir(), "loop.yaml")
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = planTune(tuneFlags{spec: file, grid: "batch=1024,64", write: "tuned", count: 1, benchtime: "1x", pkg: "./nosuch"})
	if err == nil || !strings.Contains(err.Error(), "-write tuned: for the grid point batch=64: ") || !strings.Contains(err.Error(), "not a plain scalar") {
		t.Errorf("planTune: %v; want -write refused for the grid point batch=64", err)
	}
}

// TestWriteOverAnotherVariantIsRefusedWhenItWouldChangeValuesOutsideTheGrid:
// -write over an existing variant other than the base turned its values
// outside the grid into the base's (a trial's reject/256/poll/stats variant
// became grow/4096/auto/false after a grid of batch from balanced). tune
// now refuses before any building and lists those values; the base, a new
// name, and a variant that has the base's values outside the grid are
// written as before.
func TestWriteOverAnotherVariantIsRefusedWhenItWouldChangeValuesOutsideTheGrid(t *testing.T) {
	data, err := os.ReadFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	spec := string(data) +
		"  - name: mine\n    overflow: reject\n    batch: 256\n    inbox:\n      depth: 256\n    poller: poll\n    stats: true\n" +
		"  - name: close\n    batch: 64\n"
	file := filepath.Join(t.TempDir(), "loop.yaml")
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := func(base, grid, write string) error {
		// ./nosuch: planTune fails on the package, after every check of
		// the spec and the grid, where a run that was let through stops.
		_, err := planTune(tuneFlags{spec: file, base: base, grid: grid, write: write, count: 1, benchtime: "1x", pkg: "./nosuch"})
		return err
	}
	err = plan("balanced", "batch=64,1024", "mine")
	want := "-write mine: mine is a variant other than the base balanced, and the candidates have balanced's values outside the grid: " +
		"writing the winner over mine would also change overflow reject (balanced has grow), inbox.depth 256 (balanced has 4096), " +
		"poller poll (balanced has auto), stats true (balanced has false); give -base mine to tune mine itself, or -write a new name"
	if err == nil || err.Error() != want {
		t.Errorf("-base balanced -write mine: %v\nwant %s", err, want)
	}
	// On the grid, a value is the tuning's to change: not listed.
	err = plan("balanced", "batch=64,1024 poller=poll,epoll", "mine")
	if err == nil || strings.Contains(err.Error(), "poller") || !strings.Contains(err.Error(), "would also change overflow reject (balanced has grow), inbox.depth 256 (balanced has 4096), stats true") {
		t.Errorf("-grid with poller -write mine: %v; want the values outside the grid listed, poller not", err)
	}
	for _, tc := range []struct{ base, write string }{
		{"mine", "mine"},         // the base itself
		{"balanced", "balanced"}, // the base, by its default
		{"", "balanced"},
		{"balanced", "fresh"}, // a new variant
		{"balanced", "close"}, // differs from the base only on the grid
	} {
		if err := plan(tc.base, "batch=64,1024", tc.write); err == nil || !strings.HasPrefix(err.Error(), "-pkg ./nosuch") {
			t.Errorf("-base %q -write %s: %v; want it let through to the package check", tc.base, tc.write, err)
		}
	}
}

// TestReportCountsInTheSingular: one benchmark, one other candidate and one
// measurement each read as such; the report said "1 benchmarks".
func TestReportCountsInTheSingular(t *testing.T) {
	base := &candidate{isBase: true, settings: []string{"batch=256"}}
	other := &candidate{settings: []string{"batch=4"}}
	p := &tunePlan{flags: tuneFlags{metric: "sec/op", bench: "A", count: 1, benchtime: "1x"}, pkgPath: "example.com/b",
		candidates: []*candidate{base, other}, base: &gen.Variant{Name: "balanced"}, axes: []tuneAxis{{key: "batch"}}}
	res := tuneResult{benchmarks: []string{"A"}, values: []map[string][]float64{{"A": {100}}, {"A": {90}}}, measured: 2}
	var out bytes.Buffer
	rankCandidates(p, res).write(&out)
	if want := "2 candidates × 1 benchmark (-bench \"A\"), 1 measurement each at -benchtime 1x, interleaved; 2 measurements, 0 of them from the cache"; !strings.Contains(out.String(), want) {
		t.Errorf("report:\n%s\nwant it to contain %q", out.String(), want)
	}
	for n, want := range map[int]string{0: "0 benchmarks", 1: "1 benchmark", 2: "2 benchmarks"} {
		if got := count(n, "benchmark"); got != want {
			t.Errorf("count(%d, benchmark) = %q, want %q", n, got, want)
		}
	}
}
