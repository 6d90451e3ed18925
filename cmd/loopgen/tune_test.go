package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/gen"
)

// tuneBench is a benchmark package for the tune tests: its cost grows with
// the variant's batch, read through package loop, so a grid over batch has a
// winner no noise can hide, and BenchmarkFlat does not depend on it at all.
const tuneBench = `package tunetest

import (
	"testing"

	"github.com/loopgen/loop"
)

var sink int

func BenchmarkBatch(b *testing.B) {
	l, err := loop.New()
	if err != nil {
		b.Fatal(err)
	}
	batch := l.Variant().Batch
	l.Close()
	for b.Loop() {
		for i := range batch * 200 {
			sink += i
		}
	}
}

func BenchmarkFlat(b *testing.B) {
	for b.Loop() {
		sink++
	}
}

func BenchmarkSkipped(b *testing.B) {
	b.Skip("not supported by this variant")
}
`

// moduleCopy copies what package loop needs to build (go.mod, the root
// package, handwritten/) into a temporary directory, with shippedCopy as its
// spec and generated/ made from that, adds the tunetest package, and makes it the working directory: tune then edits
// that copy's spec and generated/, never the repository's.
func moduleCopy(t *testing.T) string {
	t.Helper()
	return moduleCopyWith(t)
}

// moduleCopyWith is moduleCopy plus the non-test Go files of the extra
// directories (not of their subdirectories), relative to the module root.
func moduleCopyWith(t *testing.T, extra ...string) string {
	t.Helper()
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	copyFile := func(rel string) {
		data, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"go.mod", "go.sum", "doc.go", "loop.go"} {
		copyFile(f)
	}
	for _, dir := range []string{"handwritten"} {
		err := filepath.WalkDir(filepath.Join(src, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			copyFile(rel)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range extra {
		entries, err := os.ReadDir(filepath.Join(src, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if name := e.Name(); !e.IsDir() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
				copyFile(filepath.Join(dir, name))
			}
		}
	}
	// The shipped variants, not the user's: the tests tune around their
	// values. generated/ is made from them, as go generate would.
	spec, err := os.ReadFile(shippedCopy)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dst, "spec"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "spec", "loop.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	var genOut, genErr bytes.Buffer
	if code := run([]string{"-spec", filepath.Join(dst, "spec", "loop.yaml"), "-out", filepath.Join(dst, "generated")}, &genOut, &genErr); code != 0 {
		t.Fatalf("generating the module copy's generated/: exit %d\n%s", code, genErr.String())
	}
	if err := os.MkdirAll(filepath.Join(dst, "tunetest"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "tunetest", "bench_test.go"), []byte(tuneBench), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dst)
	return dst
}

// tempRoot points TMPDIR at a fresh directory, so that a test can check
// that tune leaves nothing behind there.
func tempRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return dir
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in the temporary directory: %s", e.Name())
	}
}

func tune(t *testing.T, ctx context.Context, hooks tuneHooks, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runTune(ctx, args, &out, &errb, hooks)
	return code, out.String(), errb.String()
}

func cacheEntries(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(entries)
}

// TestTuneEndToEnd tunes batch on a two-candidate grid: it is interrupted
// after one measurement, resumes from the cache, ranks, and writes the
// winner into the spec, which keeps its comments, generates, writes the
// bench's driver for it, and builds.
func TestTuneEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and benchmarks a module copy")
	}
	// The bench's sources and its driver generator (and gen, which that
	// imports), so that -write has drivers to keep in step.
	dir := moduleCopyWith(t, "gen", "bench", "bench/internal/drivegen")
	tmp := tempRoot(t)
	cache := filepath.Join(t.TempDir(), "cache")
	original, err := os.ReadFile("spec/loop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkBatch$",
		// 6 each: with 4, one measurement stalled on a loaded machine
		// (about one base measurement's time) left the U test at p=0.057.
		"-count", "6", "-benchtime", "200x", "-cache", cache}

	// Interrupted while go test -c builds: exit 130, and nothing left in
	// TMPDIR, go's own work directory (go-build...) included.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			found := false
			filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), "go-build") {
					found = true
					return filepath.SkipAll
				}
				return nil
			})
			if found {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	code, _, stderr := tune(t, ctx, tuneHooks{}, args...)
	if code != 130 {
		t.Fatalf("run interrupted while building: exit %d, stderr:\n%s", code, stderr)
	}
	assertEmpty(t, tmp)

	// Interrupted after the first measurement: exit 130, nothing left in
	// TMPDIR, one measurement cached.
	ctx, cancel = context.WithCancel(context.Background())
	code, _, stderr = tune(t, ctx, tuneHooks{afterMeasure: func(int) { cancel() }}, args...)
	if code != 130 || !strings.Contains(stderr, "interrupted; 1 measurement is cached") {
		t.Fatalf("interrupted run: exit %d, stderr:\n%s", code, stderr)
	}
	assertEmpty(t, tmp)
	if n := cacheEntries(t, cache); n != 1 {
		t.Fatalf("%d cache entries after one measurement, want 1", n)
	}

	// Resumed: the one cached measurement is reused, the rest are run.
	code, stdout, stderr := tune(t, context.Background(), tuneHooks{}, args...)
	if code != 0 {
		t.Fatalf("resumed run: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "12 measurements, 1 of them from the cache") {
		t.Errorf("resumed run did not reuse the cached measurement:\n%s", stdout)
	}
	// The ranking: batch=4 first and significantly faster (its loop is 64
	// times shorter), the base second.
	rows := regexp.MustCompile(`(?m)^\| (\d) \| (\S+)( \(base\))? \| .*\| (\S*) \| (\S*) \|$`).FindAllStringSubmatch(stdout, -1)
	if len(rows) != 2 || rows[0][1] != "1" || rows[0][2] != "4" || rows[1][2] != "1024" || rows[1][3] != " (base)" {
		t.Fatalf("ranking table:\n%s\nrows: %q", stdout, rows)
	}
	if !strings.HasPrefix(rows[0][4], "-") {
		t.Errorf("batch=4 is not shown faster than the base: %q", rows[0][4])
	}
	if !strings.Contains(stdout, "Winner: batch=4: ") || !strings.Contains(stdout, "Significantly better than the base balanced") {
		t.Errorf("no significant winner reported:\n%s", stdout)
	}
	if spec, _ := os.ReadFile("spec/loop.yaml"); !bytes.Equal(spec, original) {
		t.Error("tune without -write changed the spec")
	}

	// -write: every measurement from the cache, the winner written and
	// generated. The measurements are six days old, a day short of being
	// pruned; reading them marks them used, so they stay another week.
	sixDaysAgo := time.Now().Add(-6 * 24 * time.Hour)
	entries, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(cache, e.Name()), sixDaysAgo, sixDaysAgo); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr = tune(t, context.Background(), tuneHooks{}, append(args, "-write", "tuned")...)
	if code != 0 {
		t.Fatalf("-write run: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "12 measurements, 12 of them from the cache") {
		t.Errorf("-write run did not reuse the measurements:\n%s", stdout)
	}
	for _, e := range entries {
		if info, err := os.Stat(filepath.Join(cache, e.Name())); err != nil || time.Since(info.ModTime()) > time.Hour {
			t.Errorf("cache entry %s, read by the -write run: %v; want it there and marked used now", e.Name(), err)
		}
	}
	written, err := os.ReadFile("spec/loop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(written, original) {
		t.Error("the written spec does not keep the original text (comments, order) as it was")
	}
	added := string(written[len(original):])
	if !strings.Contains(added, "# Tuned by loopgen tune on ") || !strings.Contains(added, "- name: tuned\n") || !strings.Contains(added, "    batch: 4\n") {
		t.Errorf("the added variant:\n%s", added)
	}
	spec, err := gen.ParseFile("spec/loop.yaml")
	if err != nil {
		t.Fatalf("the written spec does not parse: %v", err)
	}
	v, ok := spec.Lookup("tuned")
	if !ok || v.Batch != 4 || v.Default {
		t.Errorf("tuned variant read back as %+v", v)
	}
	var checkOut, checkErr bytes.Buffer
	if code := run([]string{"-check"}, &checkOut, &checkErr); code != 0 {
		t.Errorf("generated/ does not match the written spec: %s", checkErr.String())
	}
	driver, err := os.ReadFile(filepath.Join(dir, "bench", "drive_tuned_gen.go"))
	if err != nil || !bytes.Contains(driver, []byte(`directSpans["tuned"]`)) {
		t.Errorf("-write did not write the bench's driver for the tuned variant (%v):\n%.300s", err, driver)
	}
	build := exec.Command("go", "build", "-tags", "loop_tuned", ".", "./handwritten/...", "./generated/...")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Errorf("building with the tuned variant: %v\n%s", err, out)
	}
	assertEmpty(t, tmp)
}

// TestTuneRefusesToWriteWithoutSignificance: with one measurement each no
// difference can be significant, so -write must refuse and leave the spec.
func TestTuneRefusesToWriteWithoutSignificance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and benchmarks a module copy")
	}
	moduleCopy(t)
	tmp := tempRoot(t)
	original, _ := os.ReadFile("spec/loop.yaml")
	code, stdout, stderr := tune(t, context.Background(), tuneHooks{},
		"-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkBatch$",
		"-count", "1", "-benchtime", "10x", "-cache", t.TempDir(), "-write", "tuned")
	if code != 1 || !strings.Contains(stderr, "not writing tuned: the best candidate (batch=4) is not significantly better than the base balanced") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "Best: batch=4") {
		t.Errorf("the table should still be printed:\n%s", stdout)
	}
	if spec, _ := os.ReadFile("spec/loop.yaml"); !bytes.Equal(spec, original) {
		t.Error("the spec changed")
	}
	assertEmpty(t, tmp)
}

// manyBatches is 200 distinct batch values: 1,2,...,200.
var manyBatches = func() string {
	vals := make([]string, 200)
	for i := range vals {
		vals[i] = strconv.Itoa(i + 1)
	}
	return strings.Join(vals, ",")
}()

// TestTuneBadInput: each mistake is a clear error with exit status 2, found
// before any candidate is built (those that need a build: right after the
// first one).
func TestTuneBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module copy")
	}
	shipped, err := gen.ParseFile(shippedCopy) // before moduleCopy moves the test elsewhere
	if err != nil {
		t.Fatal(err)
	}
	moduleCopy(t)
	tmp := tempRoot(t)
	var have []string
	for _, v := range shipped.Variants {
		have = append(have, v.Name)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown parameter", []string{"-grid", "bacth=4"}, "-grid: bacth=4: bacth: unknown field (known: name, default, queue_depth"},
		{"value the spec rejects", []string{"-grid", "batch=4,0"}, "-grid: batch=0: batch: must be between 1 and 1048576 (got 0)"},
		{"value of the wrong type", []string{"-grid", "wheel.tick=fast"}, `-grid: wheel.tick=fast: wheel.tick: "fast" is not a Go duration`},
		{"grid point breaking a rule across parameters", []string{"-grid", "wheel.slots=4096 wheel.levels=8"}, "-grid point wheel.slots=4096 wheel.levels=8: wheel:"},
		{"benchtime that is neither a duration nor a count", []string{"-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkFlat", "-benchtime", "fastx"}, `-benchtime "fastx": want a duration (1s) or a count (100x)`},
		{"empty grid", []string{"-grid", " "}, "-grid is empty: give at least one key=v1,v2"},
		{"no grid", nil, "-grid is empty"},
		{"malformed grid", []string{"-grid", "batch"}, `-grid: "batch" is not key=v1,v2 (a parameter`},
		{"name is not tunable", []string{"-grid", "name=x"}, "-grid: name cannot be tuned"},
		{"grid of the base alone", []string{"-grid", "batch=1024"}, "-grid gives no variant other than the base balanced"},
		{"unknown base", []string{"-grid", "batch=4", "-base", "fast"}, "-base fast: no such variant in spec/loop.yaml (have: " + strings.Join(have, ", ") + ")"},
		{"bad -write name", []string{"-grid", "batch=4", "-write", "Tuned"}, `-write Tuned: variant Tuned: name: "Tuned" is not a valid variant name`},
		{"package that does not exist", []string{"-grid", "batch=4", "-pkg", "./nosuch"}, "-pkg ./nosuch: "},
		{"package without tests", []string{"-grid", "batch=4", "-pkg", "."}, "-pkg .: github.com/loopgen/loop has no test files, so no benchmarks"},
		{"pattern that is not a regular expression", []string{"-grid", "batch=4", "-pkg", "./tunetest", "-bench", "Benchmark(Flat"}, `-bench "Benchmark(Flat": element 0, "Benchmark(Flat": error parsing regexp: missing closing )`},
		{"pattern with a bad element after a slash", []string{"-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkTagged/[a-/N=1"}, `-bench "BenchmarkTagged/[a-/N=1": element 1, "[a-/N=1": error parsing regexp`},
		{"pattern that matches no benchmark", []string{"-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkNoSuch"}, `-bench "BenchmarkNoSuch" matches no benchmark in github.com/loopgen/loop/tunetest`},
		{"pattern that matches only benchmarks the base skips", []string{"-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkSkipped"}, `-bench "BenchmarkSkipped" matches only benchmarks that the base balanced skips: BenchmarkSkipped (not supported by this variant)`},
		{"grid of too many points", []string{"-grid", "batch=" + manyBatches + " queue_depth=16,32"}, "-grid has more than 256 points (values per key: 200 × 2); each point is built and measured -count times"},
		{"metric the benchmark does not report", []string{"-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkFlat", "-metric", "cpu-sec/op"}, "benchmark Flat-"},
	}
	if runtime.GOOS == "linux" {
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"poller this system lacks", []string{"-grid", "poller=poll,kqueue"}, "-grid point poller=kqueue: poller kqueue does not work on linux"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-cache", t.TempDir()}, c.args...)
			code, stdout, stderr := tune(t, context.Background(), tuneHooks{}, args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout should be empty:\n%s", stdout)
			}
		})
	}
	assertEmpty(t, tmp)
}

// TestTuneWriteOutElsewhere: run from another directory (here the benchmark
// package's), the default -out names a generated/ that the package does not
// build against; -write would generate into it and leave the package's
// stale, so tune refuses before any building.
func TestTuneWriteOutElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("lists packages of a module copy")
	}
	dir := moduleCopy(t)
	tmp := tempRoot(t)
	t.Chdir(filepath.Join(dir, "tunetest"))
	code, stdout, stderr := tune(t, context.Background(), tuneHooks{},
		"-spec", "../spec/loop.yaml", "-grid", "batch=4", "-pkg", ".", "-bench", "BenchmarkBatch$",
		"-count", "1", "-benchtime", "1x", "-cache", t.TempDir(), "-write", "tuned")
	if code != 2 || !strings.Contains(stderr, "-write: -out generated is not "+filepath.Join(dir, "generated")) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout should be empty:\n%s", stdout)
	}
	if _, err := os.Stat("generated"); err == nil {
		t.Error("a generated/ was written in the working directory")
	}
	assertEmpty(t, tmp)
}

// TestTuneWriteRefusesAnOutLoopgenCannotReplaceBeforeMeasuring: a file in
// generated/ that loopgen did not write (an editor's, say) would make -write
// fail after all the measuring; tune's check that generated/ matches the spec
// finds it first, and says what it is.
func TestTuneWriteRefusesAnOutLoopgenCannotReplaceBeforeMeasuring(t *testing.T) {
	if testing.Short() {
		t.Skip("lists packages of a module copy")
	}
	dir := moduleCopy(t)
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join("generated", ".DS_Store"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := tune(t, context.Background(), tuneHooks{},
		"-grid", "batch=4", "-pkg", "./tunetest", "-bench", "BenchmarkBatch$",
		"-count", "1", "-benchtime", "1x", "-cache", t.TempDir(), "-write", "tuned")
	if code != 2 || !strings.Contains(stderr, ".DS_Store: is not a *_gen.go file that loopgen generated (loopgen refuses to replace a tree that holds it)") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout should be empty (nothing measured):\n%s", stdout)
	}
}

// TestTuneSpecOfAnotherTree: the package builds against a generated/ that
// does not sit beside the -spec given; the error says so rather than
// asking for go generate, which would not touch that generated/.
func TestTuneSpecOfAnotherTree(t *testing.T) {
	if testing.Short() {
		t.Skip("lists packages of a module copy")
	}
	dir := moduleCopy(t)
	tmp := tempRoot(t)
	data, err := os.ReadFile("spec/loop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "spec", "loop.yaml")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, bytes.Replace(data, []byte("batch: 1024"), []byte("batch: 128"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := tune(t, context.Background(), tuneHooks{},
		"-spec", other, "-grid", "batch=4", "-pkg", "./tunetest", "-cache", t.TempDir())
	want := filepath.Join(dir, "generated") + ", which ./tunetest builds against, is not beside " + other
	if code != 2 || !strings.Contains(stderr, want) || strings.Contains(stderr, "go generate") {
		t.Errorf("exit %d, stderr:\n%s\nwant %q", code, stderr, want)
	}
	assertEmpty(t, tmp)
}
