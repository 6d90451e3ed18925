package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loopgen/loop/gen"
)

const tuneUsage = `usage: loopgen tune -grid 'key=v1,v2 key=v1,v2 ...' [flags]

Tune measures a grid of variants derived from a base variant on a benchmark
and ranks them. Each candidate is generated into an overlay (go build
-overlay), never into -out, built with its own loop_<name> tag, and
benchmarked with go test several times, interleaved across candidates.
With -write NAME the winner is written into the spec as variant NAME and
generated, if it is significantly better than the base.

Examples:
	loopgen tune -grid 'batch=16,64,256,1024 queue_depth=1024,16384' -bench 'BenchmarkTagged/callbacks/N=100000$'
	loopgen tune -grid 'batch=64,256 wheel.tick=100us,1ms' -bench 'BenchmarkTagged/timers/N=10000$' -metric cpu-sec/op -write timers

`

// tuneFlags are loopgen tune's command line.
type tuneFlags struct {
	spec, out, base, grid, bench, pkg, benchtime, metric, write, cache string
	count                                                              int
}

// tuneHooks lets tests watch and interrupt a tuning run.
type tuneHooks struct {
	afterMeasure func(done int) // after each measurement, with the number done so far
}

// errInterrupted is returned when the context ends a tuning run.
var errInterrupted = errors.New("interrupted")

// runTune is `loopgen tune`: it returns the exit status (0 done, 1 failed or
// refused, 2 bad input, 130 interrupted).
func runTune(ctx context.Context, args []string, stdout, stderr io.Writer, hooks tuneHooks) int {
	fs := flag.NewFlagSet("loopgen tune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f tuneFlags
	fs.StringVar(&f.spec, "spec", "spec/loop.yaml", "the spec file")
	fs.StringVar(&f.out, "out", "generated", "the directory that holds the generated packages (written only by -write)")
	fs.StringVar(&f.base, "base", "", "the variant the candidates start from (default: the spec's default variant)")
	fs.StringVar(&f.grid, "grid", "", "the parameters to vary: space-separated key=v1,v2,... (keys as in the spec: batch, queue_depth, wheel.tick, ...)")
	fs.StringVar(&f.bench, "bench", "BenchmarkTagged/.*/N=10000$", "the go test -bench pattern to measure (default: every workload of the analysis at N=10,000)")
	fs.StringVar(&f.pkg, "pkg", "./bench", "the package that holds the benchmarks; it must use the loop through package loop")
	fs.IntVar(&f.count, "count", 6, "measurements of each candidate (at least 4 for a difference to be significant)")
	fs.StringVar(&f.benchtime, "benchtime", "1s", "go test -benchtime for each measurement")
	fs.StringVar(&f.metric, "metric", "sec/op", "the unit to rank on, as benchfmt names it (sec/op for ns/op, cpu-sec/op for cpu-ns/op, span-B/op for the default benchmarks' bytes per op, B/op, ...)")
	fs.StringVar(&f.write, "write", "", "write the winner into the spec as this variant (added, or replacing the variant of that name) and generate")
	fs.StringVar(&f.cache, "cache", "", "where finished measurements are kept, so an interrupted run resumes; those unused for a week are removed (default: loopgen/tune under the user cache directory)")
	fs.Usage = func() {
		fmt.Fprint(stderr, tuneUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loopgen tune: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	plan, err := planTune(f)
	if err != nil && ctx.Err() != nil {
		// The go list that planTune runs died of the same signal.
		fmt.Fprintln(stderr, "loopgen tune: interrupted before measuring")
		return 130
	}
	if err != nil {
		fmt.Fprintf(stderr, "loopgen tune: %v\n", err)
		return 2
	}
	pruneTuneCache(plan.cacheDir, time.Now())
	res, err := plan.run(ctx, stderr, hooks)
	if errors.Is(err, errInterrupted) {
		verb := "are"
		if res.measured == 1 {
			verb = "is"
		}
		fmt.Fprintf(stderr, "loopgen tune: interrupted; %s %s cached in %s, and the same command resumes from them\n", count(res.measured, "measurement"), verb, plan.cacheDir)
		return 130
	}
	var bad badInputError
	if errors.As(err, &bad) {
		fmt.Fprintf(stderr, "loopgen tune: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "loopgen tune: %v\n", err)
		return 1
	}
	rank := rankCandidates(plan, res)
	rank.write(stdout)
	if f.write == "" {
		return 0
	}
	if err := plan.writeWinner(ctx, rank); err != nil {
		if errors.Is(err, errInterrupted) {
			fmt.Fprintf(stderr, "loopgen tune: %v\n", err)
			return 130
		}
		var left *gen.LeftoverError
		if !errors.As(err, &left) {
			fmt.Fprintf(stderr, "loopgen tune: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "loopgen tune: warning: %v (the next run removes it)\n", err)
	}
	fmt.Fprintf(stdout, "\nWrote variant %s into %s and generated %s; build with -tags loop_%s.\n", f.write, f.spec, f.out, f.write)
	return 0
}

// badInputError is a problem with what the user asked for, found once the
// package is built (a -bench pattern that matches nothing): exit status 2.
type badInputError struct{ error }

// tunePlan is a checked tuning request: the candidates and where things are.
type tunePlan struct {
	flags      tuneFlags
	spec       *gen.Spec
	specData   []byte
	base       *gen.Variant
	axes       []tuneAxis
	candidates []*candidate // the base first
	pkgDir     string       // the benchmark package's directory
	pkgPath    string       // and import path
	genDir     string       // the generated/ directory that package builds against
	cacheDir   string
	runID      string // hash of every candidate's binary: measurements are cached per set of candidates
}

// tuneAxis is one parameter of the grid and the values it takes.
type tuneAxis struct {
	key    string
	values []string
}

// candidate is one variant of the grid.
type candidate struct {
	variant  gen.Variant // named tune_<hash of its parameters>
	settings []string    // the grid's values for it, as key=value, in grid order
	isBase   bool
	binary   string // its test binary, once built
	version  string // hash of that binary: the code version its measurements belong to
}

// label names a candidate in tables.
func (c *candidate) label() string {
	if c.isBase {
		return "base"
	}
	return strings.Join(c.settings, " ")
}

// planTune checks everything that can be checked without building: the spec,
// the base, every grid value, every grid point, and the package.
func planTune(f tuneFlags) (*tunePlan, error) {
	if f.count < 1 {
		return nil, fmt.Errorf("-count %d: must be at least 1", f.count)
	}
	if !validBenchtime(f.benchtime) {
		return nil, fmt.Errorf("-benchtime %q: want a duration (1s) or a count (100x)", f.benchtime)
	}
	if err := checkBenchPattern(f.bench); err != nil {
		// The test binary would say so too, but only after the base's
		// build, and as a failed run (exit 1) rather than bad input.
		return nil, fmt.Errorf("-bench %q: %w", f.bench, err)
	}
	data, err := os.ReadFile(f.spec)
	if err != nil {
		return nil, err
	}
	spec, err := gen.Parse(f.spec, data)
	if err != nil {
		return nil, err
	}
	p := &tunePlan{flags: f, spec: spec, specData: data}
	if f.base == "" {
		p.base = spec.Default()
	} else if v, ok := spec.Lookup(f.base); ok {
		p.base = v
	} else {
		return nil, fmt.Errorf("-base %s: no such variant in %s (have: %s)", f.base, f.spec, variantNames(spec))
	}
	if p.axes, err = parseGrid(f.grid, p.base); err != nil {
		return nil, err
	}
	if p.candidates, err = gridCandidates(p.base, p.axes); err != nil {
		return nil, err
	}
	if err := checkWriteOverOther(spec, p.base, p.axes, f.write); err != nil {
		return nil, err
	}
	if f.write != "" {
		// A dry run for every candidate, since any may win, so that a bad
		// name or a value the spec cannot take in place is found now, not
		// after the measuring.
		for _, c := range p.candidates {
			if _, err := gen.PutVariant(f.spec, data, writtenVariant(spec, &c.variant, f.write), ""); err != nil {
				if c.isBase {
					return nil, fmt.Errorf("-write %s: %w", f.write, err)
				}
				return nil, fmt.Errorf("-write %s: for the grid point %s: %w", f.write, strings.Join(c.settings, " "), err)
			}
		}
	}
	if p.pkgDir, p.pkgPath, p.genDir, err = locatePackage(f.pkg); err != nil {
		return nil, err
	}
	if f.write != "" && !sameDir(f.out, p.genDir) {
		// -write generates into -out: any other directory than the one the
		// package builds against would get a stray tree, and leave that one
		// stale against the spec.
		return nil, fmt.Errorf("-write: -out %s is not %s, the generated/ that %s builds against; give -out %s",
			f.out, p.genDir, f.pkg, p.genDir)
	}
	if p.cacheDir = f.cache; p.cacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory (give -cache): %w", err)
		}
		p.cacheDir = filepath.Join(dir, "loopgen", "tune")
	}
	return p, nil
}

// validBenchtime reports whether go test takes s as -benchtime: a positive
// duration or a positive count followed by x.
func validBenchtime(s string) bool {
	if n, ok := strings.CutSuffix(s, "x"); ok {
		k, err := strconv.Atoi(n)
		return err == nil && k > 0
	}
	d, err := time.ParseDuration(s)
	return err == nil && d > 0
}

// checkBenchPattern compiles each element of a -test.bench pattern as the
// testing package does: split at the slashes and bars outside brackets and
// parentheses (a bar there separates alternatives, each with its own
// elements), each element a regular expression.
func checkBenchPattern(pattern string) error {
	var alts [][]string // each alternative's elements
	var elems []string
	s, brackets, parens := pattern, 0, 0
	for i := 0; i < len(s); {
		switch s[i] {
		case '[':
			brackets++
		case ']':
			brackets = max(brackets-1, 0) // an unmatched ] is legal
		case '(':
			if brackets == 0 {
				parens++
			}
		case ')':
			if brackets == 0 {
				parens--
			}
		case '\\':
			i++
		case '/', '|':
			if brackets == 0 && parens == 0 {
				elems = append(elems, s[:i])
				if s[i] == '|' {
					alts, elems = append(alts, elems), nil
				}
				s, i = s[i+1:], 0
				continue
			}
		}
		i++
	}
	alts = append(alts, append(elems, s))
	for _, alt := range alts {
		for k, e := range alt {
			if _, err := regexp.Compile(e); err != nil {
				return fmt.Errorf("element %d, %q: %v", k, e, err)
			}
		}
	}
	return nil
}

func variantNames(s *gen.Spec) string {
	var names []string
	for _, v := range s.Variants {
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}

// writtenVariant is what -write puts into the spec for the parameters of v:
// named name, and the default exactly when the variant it replaces was.
func writtenVariant(s *gen.Spec, v *gen.Variant, name string) gen.Variant {
	w := *v
	w.Name, w.Default = name, false
	if old, ok := s.Lookup(name); ok {
		w.Default = old.Default
	}
	return w
}

// checkWriteOverOther refuses a -write over an existing variant other than
// the base whose values outside the grid differ from the base's. Every
// candidate carries the base's values outside the grid, so the winner
// written over that variant would turn them into the base's: a trial's
// reject/256/poll/stats variant, written over with -base balanced and a
// grid of batch, became grow/4096/auto/no stats, values nobody had asked to
// change. Writing only the grid's values would give a variant that was never
// measured, and a warning would come after the spec was rewritten, perhaps
// hours into the run; refusing here costs nothing, before any building.
// The user meant to tune that variant (-base NAME) or to add another
// (-write a new name); the message lists the values and says both.
func checkWriteOverOther(spec *gen.Spec, base *gen.Variant, axes []tuneAxis, name string) error {
	old, ok := spec.Lookup(name)
	if name == "" || !ok || old.Name == base.Name {
		return nil
	}
	var changed []string
	for _, k := range tunableKeys() {
		if slices.ContainsFunc(axes, func(a tuneAxis) bool { return a.key == k }) {
			continue
		}
		was, _ := old.Get(k)
		now, _ := base.Get(k)
		if was != now {
			changed = append(changed, fmt.Sprintf("%s %s (%s has %s)", k, was, base.Name, now))
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return fmt.Errorf("-write %s: %s is a variant other than the base %s, and the candidates have %s's values outside the grid: "+
		"writing the winner over %s would also change %s; give -base %s to tune %s itself, or -write a new name",
		name, name, base.Name, base.Name, name, strings.Join(changed, ", "), name, name)
}

// parseGrid reads 'key=v1,v2 key=v1,...', checking every key and every value
// against the spec's rules on the base.
func parseGrid(grid string, base *gen.Variant) ([]tuneAxis, error) {
	fields := strings.Fields(grid)
	if len(fields) == 0 {
		return nil, fmt.Errorf("-grid is empty: give at least one key=v1,v2 (keys: %s)", strings.Join(tunableKeys(), ", "))
	}
	var axes []tuneAxis
	for _, field := range fields {
		key, list, ok := strings.Cut(field, "=")
		if !ok || key == "" || list == "" {
			return nil, fmt.Errorf("-grid: %q is not key=v1,v2 (a parameter, =, then values separated by commas)", field)
		}
		if key == "name" || key == "default" {
			return nil, fmt.Errorf("-grid: %s cannot be tuned (keys: %s)", key, strings.Join(tunableKeys(), ", "))
		}
		if slices.ContainsFunc(axes, func(a tuneAxis) bool { return a.key == key }) {
			return nil, fmt.Errorf("-grid: %s given twice", key)
		}
		a := tuneAxis{key: key}
		given := map[string]string{} // the value as given, by its canonical form
		for _, val := range strings.Split(list, ",") {
			w := *base
			if err := w.Set(key, val); err != nil {
				return nil, fmt.Errorf("-grid: %s=%s: %w", key, val, err)
			}
			canonical, _ := w.Get(key)
			// Dropping it, as tune did, hid a typo (64,64 for 64,640) behind
			// a smaller grid than the one asked for.
			if first, dup := given[canonical]; dup {
				if first == val {
					return nil, fmt.Errorf("-grid: %s=%s: %s given twice", key, list, val)
				}
				return nil, fmt.Errorf("-grid: %s=%s: %s and %s are the same value, %s", key, list, first, val, canonical)
			}
			given[canonical] = val
			a.values = append(a.values, canonical)
		}
		axes = append(axes, a)
	}
	return axes, nil
}

func tunableKeys() []string {
	return slices.DeleteFunc(gen.Keys(), func(k string) bool { return k == "name" || k == "default" })
}

// maxGridPoints bounds a grid. Each point is a build of the benchmark
// package (seconds to tens of seconds) and -count measurements of -benchtime
// each: 256 points at the defaults is already over half an hour of measuring,
// and a typo such as a thousand values on one axis would otherwise spend
// minutes expanding the grid before building the first of hours of
// candidates.
const maxGridPoints = 256

// gridCandidates is the base and every distinct variant of the grid's
// points; a point that breaks a rule across parameters is an error naming it.
func gridCandidates(base *gen.Variant, axes []tuneAxis) ([]*candidate, error) {
	points := 1
	var sizes []string
	for _, a := range axes {
		points *= len(a.values)
		sizes = append(sizes, strconv.Itoa(len(a.values)))
		if points > maxGridPoints {
			return nil, fmt.Errorf("-grid has more than %d points (values per key: %s); each point is built and measured -count times: split the grid, or narrow it",
				maxGridPoints, strings.Join(sizes, " × "))
		}
	}
	b := &candidate{variant: *base, isBase: true}
	for _, a := range axes {
		v, _ := base.Get(a.key)
		b.settings = append(b.settings, a.key+"="+v)
	}
	out := []*candidate{b}
	seen := map[gen.Variant]bool{paramsOnly(*base): true}
	var walk func(i int, v gen.Variant, settings []string) error
	walk = func(i int, v gen.Variant, settings []string) error {
		if i == len(axes) {
			if err := v.Validate(); err != nil {
				return fmt.Errorf("-grid point %s: %w", strings.Join(settings, " "), err)
			}
			if !seen[paramsOnly(v)] {
				seen[paramsOnly(v)] = true
				out = append(out, &candidate{variant: v, settings: slices.Clone(settings)})
			}
			return nil
		}
		for _, val := range axes[i].values {
			w := v
			if err := w.Set(axes[i].key, val); err != nil {
				return err // checked by parseGrid
			}
			if err := walk(i+1, w, append(settings, axes[i].key+"="+val)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(0, *base, nil); err != nil {
		return nil, err
	}
	if len(out) == 1 {
		return nil, fmt.Errorf("-grid gives no variant other than the base %s", base.Name)
	}
	// Such a candidate would build and then fail in its first round.
	for _, c := range out {
		if p := c.variant.Poller; !p.AvailableOn(runtime.GOOS) {
			if c.isBase {
				return nil, fmt.Errorf("-base %s: poller %s does not work on %s, where the benchmarks run", base.Name, p, runtime.GOOS)
			}
			return nil, fmt.Errorf("-grid point %s: poller %s does not work on %s, where the benchmarks run", strings.Join(c.settings, " "), p, runtime.GOOS)
		}
	}
	for _, c := range out {
		c.variant.Name = candidateName(c.variant)
		c.variant.Default = false
	}
	return out, nil
}

// paramsOnly is v without its name and default: two variants with equal
// paramsOnly generate the same loop.
func paramsOnly(v gen.Variant) gen.Variant {
	v.Name, v.Default = "", false
	return v
}

// candidateName derives a variant name from the parameters alone, so that a
// candidate's generated code, and the cache key built on it, does not depend
// on the grid it came from.
func candidateName(v gen.Variant) string {
	h := sha256.New()
	for _, k := range tunableKeys() {
		val, _ := v.Get(k)
		fmt.Fprintf(h, "%s=%s\n", k, val)
	}
	return "tune_" + hex.EncodeToString(h.Sum(nil))[:10]
}

// locatePackage finds the benchmark package, and the generated/ directory of
// the loop module it builds against (perhaps in the module cache).
func locatePackage(pkg string) (dir, path, genDir string, err error) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}\n{{.ImportPath}}\n{{len .TestGoFiles}} {{len .XTestGoFiles}}", pkg).Output()
	if err != nil {
		return "", "", "", fmt.Errorf("-pkg %s: %s", pkg, commandError(err))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		return "", "", "", fmt.Errorf("-pkg %s: names %d packages; give one", pkg, len(lines)/3)
	}
	dir, path = lines[0], lines[1]
	if lines[2] == "0 0" {
		// go test -c writes no binary for it, and exits 0.
		return "", "", "", fmt.Errorf("-pkg %s: %s has no test files, so no benchmarks", pkg, path)
	}
	cmd := exec.Command("go", "list", "-f", "{{.Dir}}", gen.Module+"/generated")
	cmd.Dir = dir
	out, err = cmd.Output()
	if err != nil {
		return "", "", "", fmt.Errorf("-pkg %s: it cannot see %s/generated: %s", pkg, gen.Module, commandError(err))
	}
	return dir, path, strings.TrimSpace(string(out)), nil
}

// sameDir reports whether a and b are the same existing directory.
func sameDir(a, b string) bool {
	ai, err := os.Stat(a)
	if err != nil {
		return false
	}
	bi, err := os.Stat(b)
	return err == nil && os.SameFile(ai, bi)
}

// commandError is the most useful text of a failed command: its stderr.
func commandError(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return err.Error()
}

// tuneResult holds the measurements: per candidate, per benchmark, one value
// per measurement of the ranking metric.
type tuneResult struct {
	values     []map[string][]float64 // by candidate index, then benchmark name
	benchmarks []string               // in the order they first appeared
	measured   int                    // measurements finished (run or from the cache)
	cached     int                    // of which came from the cache
}

// run builds every candidate and measures them, round by round.
func (p *tunePlan) run(ctx context.Context, stderr io.Writer, hooks tuneHooks) (tuneResult, error) {
	res := tuneResult{values: make([]map[string][]float64, len(p.candidates))}
	for i := range res.values {
		res.values[i] = map[string][]float64{}
	}
	tmp, err := os.MkdirTemp("", "loopgen-tune-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)

	total := len(p.candidates) * (1 + p.flags.count)
	bar := newTuneProgress(stderr, total)
	defer bar.exit()

	if err := p.checkGenerated(); err != nil {
		return res, err
	}
	for i, c := range p.candidates {
		bar.describe(fmt.Sprintf("build %d/%d", i+1, len(p.candidates)))
		if err := p.build(ctx, tmp, c); err != nil {
			if interrupted(ctx, err) {
				return res, errInterrupted
			}
			return res, err
		}
		if i == 0 {
			if err := p.probe(ctx, c); err != nil {
				if interrupted(ctx, err) {
					return res, errInterrupted
				}
				return res, err
			}
		}
		bar.add(1)
	}
	p.runID = runIdentity(p.candidates)
	n := len(p.candidates)
	for round := range p.flags.count {
		for _, i := range roundOrder(round, n) {
			c := p.candidates[i]
			bar.describe(fmt.Sprintf("round %d/%d", round+1, p.flags.count))
			out, fromCache, err := p.measure(ctx, c, round)
			if err != nil {
				if interrupted(ctx, err) {
					return res, errInterrupted
				}
				return res, err
			}
			if err := res.add(i, out, p.flags.metric); err != nil {
				return res, fmt.Errorf("candidate %s: %w", c.label(), err)
			}
			res.measured++
			if fromCache {
				res.cached++
			}
			bar.add(1)
			if hooks.afterMeasure != nil {
				hooks.afterMeasure(res.measured)
			}
			if ctx.Err() != nil {
				return res, errInterrupted
			}
		}
	}
	bar.finish()
	return res, nil
}

// roundOrder is the order in which round runs the n candidates: it starts
// one candidate further on than the round before and alternates direction,
// so that no candidate always runs first or after the same neighbour.
func roundOrder(round, n int) []int {
	order := make([]int, n)
	for k := range n {
		order[k] = (round + k) % n
		if round%2 == 1 {
			order[k] = ((round-k)%n + n) % n
		}
	}
	return order
}

// interrupted tells whether err, from a step of the run, is the run being
// stopped. Ctrl-C reaches the whole process group, so a child (go test -c,
// a test binary) may die of it before the signal handler has cancelled ctx:
// a child killed by a signal waits a moment for ctx before it counts as a
// failure.
func interrupted(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == -1 {
		select {
		case <-ctx.Done():
			return true
		case <-time.After(time.Second):
		}
	}
	return false
}

// checkGenerated refuses to measure against a generated/ that the spec no
// longer gives: the candidates would be compared on stale code.
func (p *tunePlan) checkGenerated() error {
	files, err := gen.Generate(p.spec, gen.Options{Invocation: "loopgen -spec " + headerPath(p.flags.spec, p.genDir)})
	if err != nil {
		return err
	}
	stale, err := gen.Diff(p.genDir, files)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		if abs, err := filepath.Abs(p.flags.spec); err == nil && !strings.HasPrefix(abs, filepath.Dir(p.genDir)+string(filepath.Separator)) {
			// go generate would not touch that generated/: the spec is
			// another tree's.
			return badInputError{fmt.Errorf("%s, which %s builds against, is not beside %s and was not generated from it (%d stale files, such as %s); give -spec the spec of the module that holds it",
				p.genDir, p.flags.pkg, p.flags.spec, len(stale), stale[0])}
		}
		return badInputError{fmt.Errorf("%s does not match %s (%d stale files, such as %s); run go generate ./... first",
			p.genDir, p.flags.spec, len(stale), stale[0])}
	}
	return nil
}

// build generates the spec plus candidate c into an overlay and builds the
// benchmark package's test binary with c's tag.
func (p *tunePlan) build(ctx context.Context, tmp string, c *candidate) error {
	s := *p.spec
	s.Variants = append(slices.Clone(p.spec.Variants), c.variant)
	files, err := gen.Generate(&s, gen.Options{Invocation: "loopgen tune"})
	if err != nil {
		return fmt.Errorf("candidate %s: %w", c.label(), err)
	}
	dir := filepath.Join(tmp, c.variant.Name)
	overlay := map[string]string{}
	for _, rel := range gen.Paths(files) {
		src := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(src, files[rel], 0o644); err != nil {
			return err
		}
		overlay[filepath.Join(p.genDir, filepath.FromSlash(rel))] = src
	}
	js, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		return err
	}
	overlayFile := filepath.Join(tmp, c.variant.Name+".overlay.json")
	if err := os.WriteFile(overlayFile, js, 0o644); err != nil {
		return err
	}
	c.binary = filepath.Join(tmp, c.variant.Name+".test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-vet=off", "-o", c.binary,
		"-tags", "loop_"+c.variant.Name, "-overlay", overlayFile, p.pkgPath)
	cmd.Dir = p.pkgDir
	// go keeps its work directory (go-build...) in GOTMPDIR and leaves it
	// there when it is killed or interrupted while building (it removes it
	// only on a normal exit): under tmp, it goes with tmp.
	gotmp := filepath.Join(tmp, "gotmp")
	if err := os.MkdirAll(gotmp, 0o755); err != nil {
		return err
	}
	cmd.Env = append(os.Environ(), "GOTMPDIR="+gotmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s for candidate %s: %w\n%s", p.pkgPath, c.label(), err, tail(out, 40))
	}
	bin, err := os.ReadFile(c.binary)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(bin)
	c.version = hex.EncodeToString(sum[:])
	return nil
}

// probe runs each matching benchmark once, so that a -bench pattern that
// matches nothing is an error before any measuring.
func (p *tunePlan) probe(ctx context.Context, c *candidate) error {
	out, err := p.runBinary(ctx, c, "1x", "-test.v")
	if err != nil {
		return err
	}
	var r tuneResult
	r.values = []map[string][]float64{{}}
	if err := r.add(0, out, p.flags.metric); err != nil {
		return badInputError{err}
	}
	if len(r.benchmarks) == 0 {
		if skipped := skippedBenchmarks(out); len(skipped) > 0 {
			// A candidate with another poller might run them, but none
			// could be compared with the base.
			return badInputError{fmt.Errorf("-bench %q matches only benchmarks that the base %s skips: %s",
				p.flags.bench, p.base.Name, strings.Join(skipped, ", "))}
		}
		return badInputError{fmt.Errorf("-bench %q matches no benchmark in %s", p.flags.bench, p.pkgPath)}
	}
	return nil
}

// skippedBenchmarks is the benchmarks that go test -v output reports as
// skipped, each with the reason it logged, when it logged one on the line
// before.
func skippedBenchmarks(out []byte) []string {
	var skipped []string
	lines := strings.Split(string(out), "\n")
	for i, line := range lines {
		name, ok := strings.CutPrefix(line, "--- SKIP: ")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if i > 0 && strings.HasPrefix(lines[i-1], "    ") {
			// "    file_test.go:12: reason"
			_, reason, _ := strings.Cut(strings.TrimSpace(lines[i-1]), ": ")
			name += " (" + reason + ")"
		}
		skipped = append(skipped, name)
	}
	return skipped
}

// measure runs candidate c once at -benchtime, or takes that measurement from
// the cache when it was made before with the same binary.
func (p *tunePlan) measure(ctx context.Context, c *candidate, round int) ([]byte, bool, error) {
	h := sha256.New()
	fmt.Fprintf(h, "version=%s\nbench=%s\nbenchtime=%s\nround=%d\n", c.version, p.flags.bench, p.flags.benchtime, round)
	// Only a run of the same candidates resumes: the base's measurements from
	// a run with another grid were made under that run's conditions, and
	// mixing them with this run's would undo the interleaving.
	fmt.Fprintf(h, "run=%s\n", p.runID)
	// The same binary measures differently, and even names its benchmarks
	// differently (-N), under another runtime setting or CPU count.
	fmt.Fprintf(h, "cpus=%d\n", runtime.NumCPU())
	for _, k := range []string{"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"} {
		fmt.Fprintf(h, "%s=%s\n", k, os.Getenv(k))
	}
	file := filepath.Join(p.cacheDir, hex.EncodeToString(h.Sum(nil))+".txt")
	if out, err := os.ReadFile(file); err == nil {
		// In use: pruneTuneCache keeps it another tuneCacheKeep.
		now := time.Now()
		os.Chtimes(file, now, now)
		return out, true, nil
	}
	out, err := p.runBinary(ctx, c, p.flags.benchtime)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(p.cacheDir, 0o755); err != nil {
		return nil, false, err
	}
	part, err := os.CreateTemp(p.cacheDir, "partial-*")
	if err != nil {
		return nil, false, err
	}
	_, werr := part.Write(out)
	cerr := part.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(part.Name())
		return nil, false, err
	}
	if err := os.Rename(part.Name(), file); err != nil {
		os.Remove(part.Name())
		return nil, false, err
	}
	return out, false, nil
}

// tuneCacheKeep is how long a measurement stays in the cache unused. An entry
// serves only a run of the same candidates, built from the same code, resumed
// or repeated; after a week that is unlikely, and without pruning every tune
// run would leave its measurements behind for good.
const tuneCacheKeep = 7 * 24 * time.Hour

// tuneCacheEntry matches the names measure gives the cache's files: a sha256
// in hex and .txt, or partial-* while one is written.
var tuneCacheEntry = regexp.MustCompile(`^([0-9a-f]{64}\.txt|partial-[0-9]+)$`)

// pruneTuneCache removes the measurements in dir not used for tuneCacheKeep,
// and what a run that died while writing one left, as of now. It removes
// only files named as measure names them, so that a -cache pointed at a
// directory of other files loses none of them. Pruning is housekeeping: what
// cannot be read or removed stays, and the run goes on.
func pruneTuneCache(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !tuneCacheEntry.MatchString(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		// A partial file older than a day is not being written by a run now.
		keep := tuneCacheKeep
		if strings.HasPrefix(e.Name(), "partial-") {
			keep = 24 * time.Hour
		}
		if now.Sub(info.ModTime()) > keep {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// runIdentity is the hash of the candidates' binaries, in any order.
func runIdentity(cs []*candidate) string {
	versions := make([]string, len(cs))
	for i, c := range cs {
		versions[i] = c.version
	}
	slices.Sort(versions)
	sum := sha256.Sum256([]byte(strings.Join(versions, "\n")))
	return hex.EncodeToString(sum[:])
}

// runBinary runs c's test binary on the benchmarks, as go test would.
func (p *tunePlan) runBinary(ctx context.Context, c *candidate, benchtime string, extra ...string) ([]byte, error) {
	args := append([]string{"-test.run", "^$", "-test.bench", p.flags.bench,
		"-test.benchtime", benchtime, "-test.count", "1", "-test.benchmem"}, extra...)
	cmd := exec.CommandContext(ctx, c.binary, args...)
	cmd.Dir = p.pkgDir
	// Only stdout is parsed: a benchmark that logs to stderr while it runs
	// would otherwise split a result line, which benchfmt then skips.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("benchmarking candidate %s: %w\n%s%s", c.label(), err, tail(out, 40), tail(stderr.Bytes(), 20))
	}
	return out, nil
}

// tail is the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// writeWinner puts the winner into the spec as -write's variant and
// generates, if it is significantly better than the base. Unless it returns
// nil or a *gen.LeftoverError, the spec and -out are as they were, and so
// is bench/ but where the driver generator failed partway through writing.
func (p *tunePlan) writeWinner(ctx context.Context, r *ranking) error {
	w := r.winner
	if w == nil || w.isBase {
		return fmt.Errorf("not writing %s: no candidate beats the base %s (%s)", p.flags.write, p.base.Name, r.verdict)
	}
	if !r.significant {
		return fmt.Errorf("not writing %s: the best candidate (%s) is not significantly better than the base %s: %s",
			p.flags.write, w.label(), p.base.Name, r.verdict)
	}
	if ctx.Err() != nil {
		// Interrupted after the last measurement: nothing is written yet.
		return fmt.Errorf("%w before writing %s", errInterrupted, p.flags.write)
	}
	// The run may have taken hours: an edit made to the spec meanwhile
	// would be lost if the bytes read at the start were written back.
	now, err := os.ReadFile(p.flags.spec)
	if err != nil {
		return err
	}
	if !bytes.Equal(now, p.specData) {
		return fmt.Errorf("not writing %s: %s changed during the run; the winner is %s (%s): run tune again, or add it by hand",
			p.flags.write, p.flags.spec, w.label(), r.verdict)
	}
	v := writtenVariant(p.spec, &w.variant, p.flags.write)
	comment := fmt.Sprintf("Tuned by loopgen tune on %s: %s from %s, %s.", time.Now().Format(time.DateOnly), w.label(), p.base.Name, r.verdict)
	data, err := gen.PutVariant(p.flags.spec, p.specData, v, comment)
	if err != nil {
		return err
	}
	spec, err := gen.Parse(p.flags.spec, data)
	if err != nil {
		return err
	}
	invocation := gen.Options{Invocation: "loopgen -spec " + headerPath(p.flags.spec, p.flags.out)}
	files, err := gen.Generate(spec, invocation)
	if err != nil {
		return err
	}
	// What -out held: checkGenerated found it to be what the spec read at
	// the start gives, so that is what a failed write puts back.
	oldFiles, err := gen.Generate(p.spec, invocation)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(p.flags.spec, data); err != nil {
		return err
	}
	var left *gen.LeftoverError
	if err := gen.WriteTree(p.flags.out, files); err != nil && !errors.As(err, &left) {
		// Put the spec back, so that it and generated/ still agree.
		if rerr := writeFileAtomic(p.flags.spec, p.specData); rerr != nil {
			return fmt.Errorf("generating %s: %w; and restoring %s failed too (%v): it now holds %s, which %s does not match",
				p.flags.out, err, p.flags.spec, rerr, p.flags.write, p.flags.out)
		}
		return fmt.Errorf("generating %s: %w (%s is as it was)", p.flags.out, err, p.flags.spec)
	}
	// A left-over old tree: the new tree is in place and matches the spec
	// written, so the drivers follow as after any write and the caller warns.
	if derr := regenerateDrivers(ctx, p.flags.out); derr != nil {
		// Put the spec and -out back: the drivers are written last, so they
		// still match those unless the generator failed partway through
		// writing them (it is built first, which is where it fails or is
		// interrupted).
		serr := writeFileAtomic(p.flags.spec, p.specData)
		terr := gen.WriteTree(p.flags.out, oldFiles)
		if errors.As(terr, new(*gen.LeftoverError)) {
			terr = nil // the old tree is back; what is left is a copy of the new one
		}
		if rerr := errors.Join(serr, terr); rerr != nil {
			return fmt.Errorf("%w; and putting %s and %s back failed too (%v): go generate ./... puts them right", derr, p.flags.spec, p.flags.out, rerr)
		}
		if interrupted(ctx, derr) {
			return fmt.Errorf("%w while writing the bench's drivers; %s and %s are as they were (had the generator begun writing bench/, go generate ./... puts it right)",
				errInterrupted, p.flags.spec, p.flags.out)
		}
		return fmt.Errorf("%w; %s and %s are as they were (had the generator begun writing bench/, go generate ./... puts it right)", derr, p.flags.spec, p.flags.out)
	}
	if left != nil {
		return left
	}
	return nil
}

// driverGenerator is where this module's bench keeps the command that writes
// its per-variant drivers (bench/drive_<variant>_gen.go), relative to the
// module root.
const driverGenerator = "bench/internal/drivegen"

// regenerateDrivers runs the bench's driver generator, as go generate ./...
// does after loopgen, when the module that holds out has one: a variant
// written into the spec without its driver would leave bench/ stale (the
// bench would not run it, and its test that the drivers match the spec
// would fail).
func regenerateDrivers(ctx context.Context, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	root := filepath.Dir(abs)
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(driverGenerator), "main.go")); err != nil {
		return nil // not this module's layout: nothing to keep in step
	}
	// Built, then run, rather than go run: go run does not pass a signal on
	// to the program it runs, so cancelling it would leave the generator
	// writing after the spec and -out are put back. And go leaves its work
	// directory behind when it is interrupted while building (see build):
	// it goes with this one.
	tmp, err := os.MkdirTemp("", "loopgen-tune-drivers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "drivegen")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+driverGenerator)
	build.Dir = root
	build.Env = append(os.Environ(), "GOTMPDIR="+tmp)
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the bench's driver generator failed (%w):\n%s", err, tail(b, 20))
	}
	cmd := exec.CommandContext(ctx, bin, "-dir", "bench")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("writing the bench's drivers failed (%w):\n%s", err, tail(b, 20))
	}
	return nil
}

// writeFileAtomic replaces path's contents through a rename, keeping its mode.
// A symbolic link is written where it points, as gen.WriteTree writes a
// symlinked -out: renaming over the link would replace it with a plain file
// and leave its target, the spec others read, stale.
func writeFileAtomic(path string, data []byte) error {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), info.Mode().Perm())); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
