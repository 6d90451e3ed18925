package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/gen"
)

// The tests in this file each catch a change to tune.go's planning,
// building, measuring or writing that the rest of the suite let through (a
// round of one-line mutations of those parts).

// TestValidBenchtimeRefusesZero: go test takes -benchtime 0x and 0s but
// measures nothing with them; tune must refuse them as bad input up front.
func TestValidBenchtimeRefusesZero(t *testing.T) {
	for s, want := range map[string]bool{"1x": true, "1ns": true, "0x": false, "0s": false, "-1x": false, "x": false} {
		if got := validBenchtime(s); got != want {
			t.Errorf("validBenchtime(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestCheckBenchPatternSplitsAfterClosedGroups: a slash after a closed
// bracket, group or escaped parenthesis splits the pattern, as go test splits
// it, so the bad element is named by the index go test would give it.
func TestCheckBenchPatternSplitsAfterClosedGroups(t *testing.T) {
	for _, pattern := range []string{
		"]/(",    // an unmatched ] does not leave a bracket open
		"[(]/(",  // a ( inside brackets opens no group
		"(a)/(",  // a ) closes its group
		`A\(/(`,  // an escaped ( opens no group
		"[)]a/(", // a ) inside brackets closes no group
	} {
		err := checkBenchPattern(pattern)
		if err == nil || !strings.Contains(err.Error(), `element 1, "("`) {
			t.Errorf("%q: %v, want the error in element 1, \"(\"", pattern, err)
		}
	}
}

// TestWrittenVariantIsTheDefaultExactlyWhenItReplacesIt: -write onto the
// default variant keeps it the default (the spec needs one), and a new
// variant is never the default, even written from the default's values.
func TestWrittenVariantIsTheDefaultExactlyWhenItReplacesIt(t *testing.T) {
	spec, err := gen.ParseFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	v := *spec.Default() // default: true, as the base of a grid may be
	v.Batch = 64
	if w := writtenVariant(spec, &v, spec.Default().Name); !w.Default || w.Name != spec.Default().Name || w.Batch != 64 {
		t.Errorf("onto the default: %+v, want the default named %s with batch 64", w, spec.Default().Name)
	}
	if w := writtenVariant(spec, &v, "tuned"); w.Default || w.Name != "tuned" {
		t.Errorf("a new variant: name %s, default %v; want tuned, not the default", w.Name, w.Default)
	}
}

// TestCandidateNameIgnoresNameAndDefault: a candidate's name, and so its
// build tag and cache key, depends on its parameters alone, not on which
// variant the grid started from.
func TestCandidateNameIgnoresNameAndDefault(t *testing.T) {
	a := gen.Variant{Name: "balanced", Default: true, Batch: 64}
	b := gen.Variant{Name: "latency", Batch: 64}
	if candidateName(a) != candidateName(b) {
		t.Errorf("same parameters, names %s and %s", candidateName(a), candidateName(b))
	}
	b.Batch = 65
	if candidateName(a) == candidateName(b) {
		t.Errorf("batch 64 and 65 share the name %s", candidateName(a))
	}
}

// TestLocatePackageRefusesAPatternOfSeveralPackages: -pkg must name one
// package; tune would otherwise benchmark the first of them and say nothing.
func TestLocatePackageRefusesAPatternOfSeveralPackages(t *testing.T) {
	_, _, _, err := locatePackage("../../handwritten/...")
	// The count is not pinned: it changes whenever handwritten/ gains a package.
	if err == nil || !strings.Contains(err.Error(), "-pkg ../../handwritten/...: names ") || !strings.HasSuffix(err.Error(), " packages; give one") {
		t.Errorf("locatePackage: %v, want it to refuse a pattern of several packages", err)
	}
}

// TestCommandErrorIsTheStderrOrTheError: a failed command is reported by
// what it wrote to stderr (go list says why there), or, when it wrote
// nothing, by how it failed, never by an empty string.
func TestCommandErrorIsTheStderrOrTheError(t *testing.T) {
	_, err := exec.Command("sh", "-c", "echo '  no such package  ' >&2; exit 1").Output()
	if got := commandError(err); got != "no such package" {
		t.Errorf("commandError with stderr = %q, want the stderr trimmed", got)
	}
	_, err = exec.Command("sh", "-c", "exit 3").Output()
	if got := commandError(err); got != "exit status 3" {
		t.Errorf("commandError without stderr = %q, want the exit status", got)
	}
}

// TestRoundOrderAlternatesDirection: odd rounds run the candidates
// backwards, so no candidate always runs after the same neighbour.
func TestRoundOrderAlternatesDirection(t *testing.T) {
	for round, want := range [][]int{{0, 1, 2}, {1, 0, 2}, {2, 0, 1}, {0, 2, 1}} {
		if got := roundOrder(round, 3); !slices.Equal(got, want) {
			t.Errorf("roundOrder(%d, 3) = %v, want %v", round, got, want)
		}
	}
}

// doneCtx is a context whose Done channel is closed but whose Err is still
// nil: the moment between a signal killing a child and the handler
// cancelling the run's context, made to last.
type doneCtx struct{ context.Context }

func (doneCtx) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func (doneCtx) Err() error { return nil }

// TestInterruptedTellsASignalFromAFailure: a child killed by a signal is an
// interrupt once the context ends; a child that failed is not, however the
// context stands; and any error of a cancelled run is an interrupt.
func TestInterruptedTellsASignalFromAFailure(t *testing.T) {
	killed := exec.Command("sh", "-c", "kill -KILL $$").Run()
	failed := exec.Command("sh", "-c", "exit 1").Run()
	ctx := doneCtx{context.Background()}
	if !interrupted(ctx, killed) {
		t.Error("a child killed by a signal, with the context ending: not interrupted")
	}
	if interrupted(ctx, failed) {
		t.Error("a child that exited 1 counted as interrupted")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if !interrupted(cancelled, errors.New("building failed")) {
		t.Error("an error of a cancelled run: not interrupted")
	}
}

// TestSkippedBenchmarksOnTheFirstLine: a skip reported on the output's
// first line has no line before it to take a reason from.
func TestSkippedBenchmarksOnTheFirstLine(t *testing.T) {
	if got := skippedBenchmarks([]byte("--- SKIP: BenchmarkX\nPASS\n")); !slices.Equal(got, []string{"BenchmarkX"}) {
		t.Errorf("skippedBenchmarks = %q, want [BenchmarkX]", got)
	}
}

// TestPruneTuneCacheKeepsWhatMeasureDidNotName: only the names measure
// gives (a whole sha256 in hex and .txt, partial- and digits) are pruned, and
// only files: a -cache pointed at a directory of other things loses none.
func TestPruneTuneCacheKeepsWhatMeasureDidNotName(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	old := now.Add(-30 * 24 * time.Hour)
	hash := strings.Repeat("ab", 32)
	keep := []string{"abc.txt", "partial-notes", "old-" + hash + ".txt", "partial-1"}
	for _, name := range keep[:3] {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "partial-1"), 0o755); err != nil { // empty: os.Remove would take it
		t.Fatal(err)
	}
	for _, name := range keep {
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	pruneTuneCache(dir, now)
	for _, name := range keep {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s, which measure does not write, was pruned: %v", name, err)
		}
	}
}

// fakeBinary is a stand-in test binary: a shell script.
func fakeBinary(t *testing.T, script string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fake.test")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestRunBinaryRunsAsGoTestWould: the benchmarks alone (no tests), each
// once per measurement, with their allocations (B/op, allocs/op are metrics
// to rank on), in the package's directory (where go test runs them, so
// testdata/ resolves).
func TestRunBinaryRunsAsGoTestWould(t *testing.T) {
	pkgDir := t.TempDir()
	bin := fakeBinary(t, `echo "$@"; pwd`)
	p := &tunePlan{flags: tuneFlags{bench: "X$"}, pkgDir: pkgDir}
	out, err := p.runBinary(t.Context(), &candidate{binary: bin}, "3x", "-test.v")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := filepath.EvalSymlinks(pkgDir)
	want := "-test.run ^$ -test.bench X$ -test.benchtime 3x -test.count 1 -test.benchmem -test.v\n" + wd + "\n"
	if string(out) != want {
		t.Errorf("runBinary ran:\n%s\nwant:\n%s", out, want)
	}
}

// TestRunBinaryFailureQuotesStderr: stderr is kept out of the parsed output
// but not out of the error: a benchmark's panic is on stderr.
func TestRunBinaryFailureQuotesStderr(t *testing.T) {
	bin := fakeBinary(t, "echo BenchmarkX; echo 'panic: boom' >&2; exit 2\n")
	p := &tunePlan{flags: tuneFlags{bench: "X"}, pkgDir: t.TempDir()}
	_, err := p.runBinary(t.Context(), &candidate{binary: bin, settings: []string{"batch=4"}}, "1x")
	if err == nil || !strings.Contains(err.Error(), "panic: boom") || !strings.Contains(err.Error(), "BenchmarkX") {
		t.Errorf("runBinary: %v, want an error quoting stdout and stderr", err)
	}
}

// TestTailCountsLinesNotTheFinalNewline: tail(out, n) is n lines of text;
// the newline that ends the output does not use one of them up.
func TestTailCountsLinesNotTheFinalNewline(t *testing.T) {
	if got := tail([]byte("a\nb\nc\n"), 2); got != "b\nc" {
		t.Errorf("tail = %q, want \"b\\nc\"", got)
	}
	if got := tail([]byte("a\n"), 5); got != "a" {
		t.Errorf("tail of fewer lines = %q, want \"a\"", got)
	}
}

// TestWriteWinnerInterruptedWritesNothing: Ctrl-C after the last
// measurement writes nothing at all, also in a module with no driver
// generator (where nothing would notice the cancelled context afterwards).
func TestWriteWinnerInterruptedWritesNothing(t *testing.T) {
	p, r, specPath := writePlan(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.writeWinner(ctx, r); !errors.Is(err, errInterrupted) {
		t.Fatalf("writeWinner after Ctrl-C: %v, want it interrupted", err)
	}
	if now, _ := os.ReadFile(specPath); !bytes.Equal(now, p.specData) {
		t.Error("the spec was written")
	}
	if _, err := os.Stat(p.flags.out); !os.IsNotExist(err) {
		t.Errorf("-out was written: %v", err)
	}
}

// TestWriteFileAtomicReplacesTheFileWhole: the new contents go into a new
// file beside the old one, renamed over it, so that a reader of the old file
// sees it whole; the temporary file is made beside it, not in TMPDIR
// (another file system, where the rename fails), and goes if the rename
// fails.
func TestWriteFileAtomicReplacesTheFileWhole(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	dir := t.TempDir()
	path := filepath.Join(dir, "loop.yaml")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := writeFileAtomic(path, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new\n" {
		t.Errorf("the file holds %q, want the new contents", got)
	}
	if got, _ := io.ReadAll(reader); string(got) != "old\n" {
		t.Errorf("a reader of the old file reads %q: the file was written in place", got)
	}

	// A directory cannot be renamed over: the error, and no temporary left.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(sub, []byte("x")); err == nil {
		t.Fatal("writeFileAtomic over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "loop.yaml" && e.Name() != "sub" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestPlanTuneDefaultCacheIsLoopgenTune: without -cache the measurements go
// under the user cache directory, in loopgen/tune, as -help says, and not
// loose in a directory other programs share.
func TestPlanTuneDefaultCacheIsLoopgenTune(t *testing.T) {
	user, err := os.UserCacheDir()
	if err != nil {
		t.Skip("no user cache directory here:", err)
	}
	p, err := planTune(tuneFlags{spec: shippedCopy, grid: "batch=4", bench: ".", pkg: ".", count: 1, benchtime: "1x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(user, "loopgen", "tune"); p.cacheDir != want {
		t.Errorf("cache %s, want %s", p.cacheDir, want)
	}
}

// TestTunePrunesTheCacheBeforeMeasuring: every run, even one that then
// fails, prunes the cache; else nothing ever would.
func TestTunePrunesTheCacheBeforeMeasuring(t *testing.T) {
	data, err := os.ReadFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	// A spec generated/ does not match: the run stops at that check, after
	// the pruning and before any building.
	spec := filepath.Join(t.TempDir(), "loop.yaml")
	if err := os.WriteFile(spec, bytes.Replace(data, []byte("batch: 1024"), []byte("batch: 128"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	stale := filepath.Join(cache, strings.Repeat("ab", 32)+".txt")
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-8 * 24 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := tune(t, t.Context(), tuneHooks{}, "-spec", spec, "-grid", "batch=4", "-pkg", ".", "-bench", ".", "-cache", cache)
	if code != 2 || !strings.Contains(stderr, "stale files") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 on generated/ not matching the spec", code, stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a measurement unused for 8 days is still in the cache: %v", err)
	}
}

// orderBench is a benchmark package that allocates 4 KiB per op for each
// unit of the batch of the variant it runs under, far more than the stray
// allocations of the runtime that B/op also counts, and appends that batch to
// the file $TUNE_ORDER_LOG, once per run.
const orderBench = `package tunetest

import (
	"fmt"
	"os"
	"testing"

	"github.com/loopgen/loop"
)

var sink []byte

func BenchmarkOrder(b *testing.B) {
	l, err := loop.New()
	if err != nil {
		b.Fatal(err)
	}
	batch := l.Variant().Batch
	l.Close()
	for b.Loop() {
		sink = make([]byte, batch<<12)
	}
	f, err := os.OpenFile(os.Getenv("TUNE_ORDER_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(f, "%d\n", batch)
	f.Close()
}
`

// TestTuneInterleavesThenWritesTheWinner is one short real run, checked for
// two things. The candidates are measured round by round, each round in the
// other direction, rather than in the same order every round, which would
// let a drift of the machine (heat, another load) pass for a difference
// between them. And -write says what it wrote and the tag to build it with.
func TestTuneInterleavesThenWritesTheWinner(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and benchmarks a module copy")
	}
	dir := moduleCopy(t)
	if err := os.WriteFile(filepath.Join(dir, "tunetest", "bench_test.go"), []byte(orderBench), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "order")
	t.Setenv("TUNE_ORDER_LOG", log)
	code, stdout, stderr := tune(t, t.Context(), tuneHooks{}, "-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkOrder$",
		"-count", "5", "-benchtime", "1x", "-metric", "B/op", "-cache", t.TempDir(), "-write", "tuned")
	if code != 0 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	// The probe runs the base once, then the rounds: 1024 4, 4 1024, ...
	if want := "1024\n" + "1024\n4\n" + "4\n1024\n" + "1024\n4\n" + "4\n1024\n" + "1024\n4\n"; string(got) != want {
		t.Errorf("measured in the order\n%s\nwant\n%s", got, want)
	}
	if want := "\nWrote variant tuned into spec/loop.yaml and generated generated; build with -tags loop_tuned.\n"; !strings.HasSuffix(stdout, want) {
		t.Errorf("stdout:\n%s\nwant it to end in %q", stdout, want)
	}
	// stderr is no terminal: the progress comes as lines, without the
	// bar's \r frames.
	if strings.Contains(stderr, "\r") || !strings.Contains(stderr, "loopgen tune: round 5/5; ") || !strings.Contains(stderr, "loopgen tune: 12 builds and measurements done in ") {
		t.Errorf("stderr, which is no terminal:\n%q\nwant lines of progress and no \\r", stderr)
	}
}

// TestTuneBuildFailureExits1: a benchmark package that does not build is a
// failed run (1), not bad input (2): the command line was right.
func TestTuneBuildFailureExits1(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module copy")
	}
	dir := moduleCopy(t)
	broken := "package tunetest\n\nimport \"testing\"\n\nvar n int = \"not an int\"\n\nfunc BenchmarkX(b *testing.B) {}\n"
	if err := os.WriteFile(filepath.Join(dir, "tunetest", "bench_test.go"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := tune(t, t.Context(), tuneHooks{}, "-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkX$", "-cache", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "building github.com/loopgen/loop/tunetest for candidate base") || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1 naming the failed build", code, stdout, stderr)
	}
}

// TestBuildVersionIsTheBinarysHash: a candidate's measurements are cached
// under the hash of its test binary, so that a change to any code it builds
// from (handwritten/, the benchmarks, the generator) is measured afresh
// rather than served from the cache under an unchanged candidate name.
func TestBuildVersionIsTheBinarysHash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module copy")
	}
	moduleCopy(t)
	p, err := planTune(tuneFlags{spec: "spec/loop.yaml", grid: "batch=4", bench: ".", pkg: "./tunetest", count: 1, benchtime: "1x", cache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := p.candidates[1]
	if err := p.build(t.Context(), t.TempDir(), c); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(c.binary)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(bin); c.version != hex.EncodeToString(sum[:]) {
		t.Errorf("version %q, want the sha256 of the binary", c.version)
	}
}
