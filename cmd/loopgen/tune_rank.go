package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchunit"
)

// add reads go test -bench output and keeps, for candidate i, the value of
// metric of every benchmark in it. A benchmark that does not report metric
// is an error naming the units it does report, and so is a result line that
// benchfmt cannot read.
func (r *tuneResult) add(i int, out []byte, metric string) error {
	rd := benchfmt.NewReader(bytes.NewReader(out), "go test output")
	for rd.Scan() {
		if serr, ok := rd.Result().(*benchfmt.SyntaxError); ok {
			// go test prints a benchmark's name before running it and its
			// figures after: skipping the line would drop this measurement
			// without a word, and rank the candidate on fewer.
			line := ""
			if lines := strings.Split(string(out), "\n"); serr.Line >= 1 && serr.Line <= len(lines) {
				line = lines[serr.Line-1]
			}
			return fmt.Errorf("%v: %q is not a whole result line; a benchmark that prints to stdout while it runs splits its result line (log to stderr, or with b.Log, instead)", serr, line)
		}
		res, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			continue // unit metadata
		}
		name := res.Name.String()
		var units []string
		found := false
		for _, v := range res.Values {
			if v.Unit == metric || v.OrigUnit == metric {
				r.values[i][name] = append(r.values[i][name], v.Value)
				found = true
				break
			}
			units = append(units, v.Unit)
		}
		if !found {
			return fmt.Errorf("benchmark %s reports no %s (it reports %s); pick one with -metric", name, metric, strings.Join(units, ", "))
		}
		if !slices.Contains(r.benchmarks, name) {
			r.benchmarks = append(r.benchmarks, name)
		}
	}
	return rd.Err()
}

// ranking is the outcome of a tuning run.
type ranking struct {
	plan        *tunePlan
	metric      string // as tidied: sec/op for ns/op
	benchmarks  []string
	rows        []rankRow // best first
	winner      *candidate
	significant bool    // the winner is better on some benchmark (at alpha) and worse on none (at the uncorrected alpha)
	alpha       float64 // the significance level of "better": CompareAlpha over the number of comparisons
	comparisons int     // candidates other than the base × benchmarks
	needCount   int     // when some comparison cannot reach alpha with the measurements it has: the -count that could
	verdict     string  // the winner against the base, in numbers
	measured    int
	cached      int
}

// rankRow is one candidate's figures.
type rankRow struct {
	c       *candidate
	summary map[string]benchmath.Summary    // by benchmark
	cmp     map[string]benchmath.Comparison // against the base, by benchmark
	ratio   float64                         // geomean over benchmarks of its median / the base's, where neither is zero or both are
	inRatio int                             // benchmarks that ratio is over
	toZero  int                             // benchmarks where its median is zero and the base's is not
	offZero int                             // benchmarks where the base's median is zero and its is not
	missing int                             // benchmarks it has no measurement of
	better  int                             // benchmarks where it is significantly better than the base
	worse   int                             // and significantly worse
}

// higherIsBetter tells, from the unit, which way a metric improves:
// throughputs (ops/s, B/s) go up, costs (sec/op, B/op, allocs/op) go down.
func higherIsBetter(metric string) bool { return strings.HasSuffix(metric, "/s") }

// rankCandidates summarizes every candidate the way benchstat does (median
// with a 95% confidence interval, assuming no distribution) and compares each
// with the base by a Mann-Whitney U test; candidates rank by the geometric
// mean of their median relative to the base's.
//
// The winner is the best of many candidates, each compared on every
// benchmark, so "significantly better" is judged at CompareAlpha divided by
// the number of those comparisons (Bonferroni): at the plain 0.05, 12
// candidates on 6 benchmarks, all drawn from one distribution, gave a
// "significant" winner in 22% of 2,000 simulated rankings. "Worse" keeps the
// plain alpha, which only
// makes a win harder.
func rankCandidates(p *tunePlan, res tuneResult) *ranking {
	metric := p.flags.metric
	if _, tidy := benchunit.Tidy(1, metric); tidy != "" {
		metric = tidy
	}
	r := &ranking{plan: p, metric: metric, benchmarks: res.benchmarks, measured: res.measured, cached: res.cached}
	thresholds := benchmath.DefaultThresholds
	r.comparisons = max((len(p.candidates)-1)*len(res.benchmarks), 1)
	r.alpha = thresholds.CompareAlpha / float64(r.comparisons)
	samples := make([]map[string]*benchmath.Sample, len(p.candidates))
	for i := range p.candidates {
		samples[i] = map[string]*benchmath.Sample{}
		for _, b := range res.benchmarks {
			samples[i][b] = benchmath.NewSample(slices.Clone(res.values[i][b]), &thresholds)
		}
	}
	up := higherIsBetter(metric)
	for i, c := range p.candidates {
		row := rankRow{c: c, summary: map[string]benchmath.Summary{}, cmp: map[string]benchmath.Comparison{}}
		logSum, n := 0.0, 0
		for _, b := range res.benchmarks {
			s := samples[i][b]
			if len(s.Values) == 0 {
				row.missing++
				continue
			}
			sum := benchmath.AssumeNothing.Summary(s, 0.95)
			row.summary[b] = sum
			base := samples[0][b]
			if len(base.Values) == 0 {
				continue
			}
			baseCenter := benchmath.AssumeNothing.Summary(base, 0.95).Center
			// Medians of zero (allocs/op, B/op) have no ratio: two zeros are
			// equal, and a zero on one side only is counted apart (toZero,
			// offZero), which ranks before the ratio does.
			switch {
			case baseCenter == 0 && sum.Center == 0:
				n++
			case baseCenter == 0:
				row.offZero++
			case sum.Center == 0:
				row.toZero++
			case baseCenter > 0 && sum.Center > 0:
				logSum += math.Log(sum.Center / baseCenter)
				n++
			}
			if i == 0 {
				continue
			}
			cmp := benchmath.AssumeNothing.Compare(base, s)
			row.cmp[b] = cmp
			if need := countFor(r.alpha); minMannWhitneyP(len(base.Values), len(s.Values)) >= r.alpha && need > r.needCount {
				r.needCount = need
			}
			if sum.Center != baseCenter {
				switch {
				case (sum.Center < baseCenter) != up && cmp.P < r.alpha:
					row.better++
				case (sum.Center < baseCenter) == up && cmp.P < cmp.Alpha:
					row.worse++
				}
			}
		}
		row.ratio = math.NaN()
		if n > 0 {
			row.ratio = math.Exp(logSum / float64(n))
		}
		row.inRatio = n
		r.rows = append(r.rows, row)
	}
	// A geomean over fewer benchmarks is not comparable with one over all of
	// them: candidates lacking a benchmark rank after those that have all.
	slices.SortStableFunc(r.rows, func(a, b rankRow) int {
		if (a.missing > 0) != (b.missing > 0) {
			if a.missing > 0 {
				return 1
			}
			return -1
		}
		// Reaching zero where the base is not is the largest gain on a cost
		// (and the largest loss on a throughput), whatever the ratios say.
		zx, zy := a.toZero-a.offZero, b.toZero-b.offZero
		if up {
			zx, zy = -zx, -zy
		}
		if zx != zy {
			if zx > zy {
				return -1
			}
			return 1
		}
		x, y := a.ratio, b.ratio
		if up {
			x, y = -x, -y
		}
		switch {
		case math.IsNaN(x) && math.IsNaN(y):
			return 0
		case math.IsNaN(x):
			return 1
		case math.IsNaN(y):
			return -1
		}
		if x < y {
			return -1
		}
		if x > y {
			return 1
		}
		return 0
	})
	// The winner is the best-ranked candidate that beats the base
	// significantly somewhere and is worse nowhere; one ranked above it
	// that is significantly worse on some benchmark (a large gain on one
	// benchmark outweighing a loss on another in the geomean) does not win.
	// Only candidates ranked above the base qualify, so that a win is also
	// a win on the geomean. Without such a candidate, the first row is
	// reported as the best, not significantly better.
	for _, row := range r.rows {
		if row.c.isBase {
			break
		}
		if row.better > 0 && row.worse == 0 && len(row.cmp) == len(r.benchmarks) {
			r.winner, r.significant, r.verdict = row.c, true, r.describe(row)
			break
		}
	}
	if r.winner == nil && len(r.rows) > 0 {
		r.winner, r.verdict = r.rows[0].c, r.describe(r.rows[0])
	}
	return r
}

// aboveWinner is the rows ranked above the winner: candidates that lead on
// the geomean but are significantly better nowhere, significantly worse
// somewhere, or were not measured on every benchmark.
func (r *ranking) aboveWinner() []rankRow {
	for i, row := range r.rows {
		if row.c == r.winner {
			return r.rows[:i]
		}
	}
	return nil
}

// minMannWhitneyP is the smallest two-sided p-value a Mann-Whitney U test
// of samples of n and m values can give: 2 / C(n+m, n), when one sample lies
// wholly below the other.
func minMannWhitneyP(n, m int) float64 {
	if n == 0 || m == 0 {
		return 1
	}
	lc, _ := math.Lgamma(float64(n + m + 1))
	ln, _ := math.Lgamma(float64(n + 1))
	lm, _ := math.Lgamma(float64(m + 1))
	return min(1, 2*math.Exp(ln+lm-lc))
}

// countFor is the fewest measurements per candidate with which a comparison
// can reach p < alpha.
func countFor(alpha float64) int {
	c := 1
	for minMannWhitneyP(c, c) >= alpha {
		c++
	}
	return c
}

// describe says how row compares with the base, in numbers.
func (r *ranking) describe(row rankRow) string {
	if row.c.isBase {
		if r.needCount > 0 {
			// Otherwise a run too short to tell reads as "the base is best".
			return fmt.Sprintf("the base itself ranks first; with these measurements no comparison can reach alpha %.2g: -count %d could", r.alpha, r.needCount)
		}
		return "the base itself ranks first"
	}
	delta := fmt.Sprintf("%+.1f%% %s", (row.ratio-1)*100, r.metric)
	if row.inRatio == 0 {
		// The ratio is NaN: no benchmark has two medians to divide.
		delta = "no ratio of " + r.metric
	}
	if row.toZero+row.offZero > 0 {
		delta += fmt.Sprintf(" where neither median is zero; zero on %s where the base is not, not zero on %d where the base is", count(row.toZero, "benchmark"), row.offZero)
	}
	level := fmt.Sprintf("alpha %.2f", benchmath.DefaultThresholds.CompareAlpha)
	if r.comparisons > 1 {
		level = fmt.Sprintf("alpha %.2g for better: %.2f over %s; %.2f for worse", r.alpha, benchmath.DefaultThresholds.CompareAlpha, count(r.comparisons, "comparison"), benchmath.DefaultThresholds.CompareAlpha)
	}
	if r.needCount > 0 {
		level += fmt.Sprintf("; with these measurements no comparison can reach that: -count %d could", r.needCount)
	}
	if len(r.benchmarks) == 1 {
		b := r.benchmarks[0]
		cmp := row.cmp[b]
		s := row.summary[b]
		return fmt.Sprintf("%s (median %s, 95%% CI %s; p=%.3f n=%d+%d, %s)",
			delta, r.format(s.Center), r.interval(s), cmp.P, cmp.N1, cmp.N2, level)
	}
	unmeasured := ""
	if k := len(r.benchmarks) - len(row.cmp); k > 0 {
		unmeasured = fmt.Sprintf(", not compared on %d (no measurements of it or of the base)", k)
	}
	return fmt.Sprintf("%s geomean over %s; significantly better on %d, worse on %d%s (%s)",
		delta, count(row.inRatio, "benchmark"), row.better, row.worse, unmeasured, level)
}

// format writes a value of the metric with an SI prefix: 27.7n (sec/op).
func (r *ranking) format(v float64) string {
	return benchunit.Scale(v, benchunit.ClassOf(r.metric))
}

// interval is a summary's confidence interval, or why there is none: with
// fewer than 6 measurements a median has no 95% interval.
func (r *ranking) interval(s benchmath.Summary) string {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return "none (too few measurements)"
	}
	return fmt.Sprintf("%s to %s (±%s)", r.format(s.Lo), r.format(s.Hi), s.PctRangeString())
}

// write prints the ranking as Markdown.
func (r *ranking) write(w io.Writer) {
	p := r.plan
	fmt.Fprintf(w, "# loopgen tune: %s, base %s\n\n", p.pkgPath, p.base.Name)
	fmt.Fprintf(w, "%s × %s (-bench %q), %s each at -benchtime %s, interleaved; %s, %d of them from the cache (%s).\n",
		count(len(p.candidates), "candidate"), count(len(r.benchmarks), "benchmark"), p.flags.bench, count(p.flags.count, "measurement"),
		p.flags.benchtime, count(r.measured, "measurement"), r.cached, p.cacheDir)
	fmt.Fprintf(w, "Medians with 95%% confidence intervals; vs base and p from a Mann-Whitney U test, as benchstat computes them (~: not significant at alpha %.2f).\n",
		benchmath.DefaultThresholds.CompareAlpha)
	if r.comparisons > 1 {
		fmt.Fprintf(w, "The winner is the best of %s, each compared on %s: it counts as significantly better on a benchmark only at p < %.2g (%.2f over those %s), and as worse at p < %.2f.\n",
			count(len(p.candidates)-1, "candidate"), count(len(r.benchmarks), "benchmark"), r.alpha, benchmath.DefaultThresholds.CompareAlpha,
			count(r.comparisons, "comparison"), benchmath.DefaultThresholds.CompareAlpha)
	}
	keys := make([]string, len(p.axes))
	for i, a := range p.axes {
		keys[i] = a.key
	}
	header := func(extra ...string) {
		cols := append(append([]string{"rank"}, keys...), extra...)
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	}
	settings := func(c *candidate) string {
		vals := make([]string, len(c.settings))
		for i, s := range c.settings {
			_, vals[i], _ = strings.Cut(s, "=")
		}
		cell := strings.Join(vals, " | ")
		if c.isBase {
			cell = strings.Join(vals, " | ") + " (base)"
		}
		return cell
	}
	for _, b := range r.benchmarks {
		fmt.Fprintf(w, "\n## %s\n\n", b)
		var unmeasured []string
		rows := slices.DeleteFunc(slices.Clone(r.rows), func(x rankRow) bool {
			_, ok := x.summary[b]
			if !ok {
				unmeasured = append(unmeasured, x.c.label())
			}
			return !ok // not measured on b: no place in its table
		})
		up := higherIsBetter(r.metric)
		slices.SortStableFunc(rows, func(x, y rankRow) int {
			a, c := x.summary[b].Center, y.summary[b].Center
			if up {
				a, c = -a, -c
			}
			switch {
			case a < c:
				return -1
			case a > c:
				return 1
			}
			return 0
		})
		header(r.metric+" (median)", "95% CI", "vs base", "p")
		base := r.rows[slices.IndexFunc(r.rows, func(x rankRow) bool { return x.c.isBase })].summary[b]
		for i, row := range rows {
			s := row.summary[b]
			vs, pv := "", ""
			if cmp, ok := row.cmp[b]; ok {
				vs = cmp.FormatDelta(base.Center, s.Center)
				pv = fmt.Sprintf("%.3f", cmp.P)
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s |\n",
				i+1, settings(row.c), r.format(s.Center), r.interval(s), vs, pv)
		}
		if len(unmeasured) > 0 {
			// Its binary skipped the benchmark (b.Skip: a poller the
			// workload needs) or did not report it.
			fmt.Fprintf(w, "\nNot measured (skipped, or no result): %s.\n", strings.Join(unmeasured, "; "))
		}
	}
	if len(r.benchmarks) > 1 {
		fmt.Fprintf(w, "\n## All benchmarks: geomean of medians relative to the base\n\n")
		header("ratio", "better", "worse", "not measured")
		zeros := false
		for i, row := range r.rows {
			ratio := fmt.Sprintf("%.3f", row.ratio)
			if math.IsNaN(row.ratio) {
				ratio = "—"
			}
			if row.toZero > 0 || row.offZero > 0 {
				// The rank rests on these before the ratio: without them
				// a row would seem out of order.
				ratio += fmt.Sprintf(" (zero on %d, off zero on %d)", row.toZero, row.offZero)
				zeros = true
			}
			fmt.Fprintf(w, "| %d | %s | %s | %d | %d | %d |\n", i+1, settings(row.c), ratio, row.better, row.worse, row.missing)
		}
		if zeros {
			fmt.Fprintf(w, "\nZero on K: K benchmarks where its median is zero and the base's is not; off zero: the reverse. These rank before the ratio, which is over the benchmarks where neither median is zero or both are (—: none).\n")
		}
	}
	fmt.Fprintln(w)
	switch {
	case r.winner == nil:
		fmt.Fprintln(w, "No results.")
	case r.winner.isBase && r.needCount > 0:
		// "No candidate beats it" would be a claim these measurements
		// cannot make: say which -count could.
		fmt.Fprintf(w, "Best: the base %s: %s.\n", p.base.Name, r.verdict)
	case r.winner.isBase:
		fmt.Fprintf(w, "Winner: the base %s; no candidate beats it.\n", p.base.Name)
	case r.significant:
		fmt.Fprintf(w, "Winner: %s: %s. Significantly better than the base %s.\n", r.winner.label(), r.verdict, p.base.Name)
		for _, row := range r.aboveWinner() {
			why := "not significantly better than the base on any benchmark"
			switch {
			case row.missing > 0:
				why = "not measured on " + count(row.missing, "benchmark")
			case row.worse > 0:
				why = "significantly worse than the base on " + count(row.worse, "benchmark")
			}
			fmt.Fprintf(w, "Ranked above it but %s: %s.\n", why, row.c.label())
		}
	default:
		fmt.Fprintf(w, "Best: %s: %s. Not significantly better than the base %s.\n", r.winner.label(), r.verdict, p.base.Name)
	}
}

// count is n and noun, in the plural unless n is 1: "1 benchmark",
// "3 benchmarks" (the report said "1 benchmarks").
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
