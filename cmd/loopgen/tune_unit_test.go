package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
// candidate that takes it to zero is the best there is, not unrankable.
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
