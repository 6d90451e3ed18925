package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/loopgen/loop/generated/all"
)

// stat summarizes the repetitions of one system on one workload at one scale.
type stat struct {
	n                int
	wall, cpu        time.Duration // medians
	wallMin, wallMax time.Duration
	cpuMin, cpuMax   time.Duration
	ops              int
	allocs, bytes    float64 // per op, medians
	peakHeap         uint64  // the heap's peak in the warm-up round, less what was live before
	peakSampled      bool    // peakHeap was sampled (there was a warm-up round)
	setup            time.Duration
}

// peakHeapText is the peak heap sampled in the warm-up round, or "–" in a run
// without one (-quick).
func (s stat) peakHeapText() string {
	if !s.peakSampled {
		return "–"
	}
	return bytesize(s.peakHeap)
}

// opsPerSec is throughput from the median wall time.
func (s stat) opsPerSec() float64 { return float64(s.ops) / s.wall.Seconds() }

// perOp is the median cost of one op in ns, wall or CPU, kept fractional:
// callbacks cost a few ns, and rounding to whole ns moved ratios by 10-30%.
func (s stat) perOp(cpu bool) float64 {
	d := s.wall
	if cpu {
		d = s.cpu
	}
	return float64(d) / float64(max(s.ops, 1))
}

// rate is ops per second of wall time, or per CPU second: the quantity a
// workload compared on CPU time (timers, mixed) is described and plotted by.
func (s stat) rate(cpu bool) float64 { return 1e9 / s.perOp(cpu) }

func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarize(n int, rs []Result) stat {
	st := stat{n: n, ops: rs[0].Ops}
	var wall, cpu, setup []time.Duration
	var allocs, bytes []float64
	for _, r := range rs {
		wall = append(wall, r.Wall)
		cpu = append(cpu, r.CPU)
		setup = append(setup, r.Setup)
		ops := float64(max(r.Ops, 1))
		allocs = append(allocs, float64(r.Allocs)/ops)
		bytes = append(bytes, float64(r.Bytes)/ops)
	}
	st.wall, st.cpu, st.setup = median(wall), median(cpu), median(setup)
	st.wallMin, st.wallMax = slices.Min(wall), slices.Max(wall)
	st.cpuMin, st.cpuMax = slices.Min(cpu), slices.Max(cpu)
	st.allocs, st.bytes = median(allocs), median(bytes)
	return st
}

// report is the analysis, ready to print.
type report struct {
	o       options
	systems []System
	notes   []string
	res     results
	stats   map[string]map[string][]stat // workload -> system -> by scale
	def     string                       // the default variant's name
	echo    *echoResults                 // nil unless the echo workload ran
}

func newReport(o options, systems []System, notes []string, res results) *report {
	r := &report{o: o, systems: systems, notes: notes, res: res, stats: map[string]map[string][]stat{}}
	for _, v := range all.Variants {
		if v.Default {
			r.def = v.Name
		}
	}
	for _, p := range plans {
		for _, s := range systems {
			for _, n := range res.ranFor[p.workload] {
				k := key{p.workload, s.Name, n}
				if err := res.errs[k]; err != nil && !errors.Is(err, ErrUnsupported) {
					// A failed run drops the scale's earlier repetitions too: a
					// median of fewer runs would sit in the tables and verdicts
					// as if nothing had happened.
					continue
				}
				if rs := res.runs[k]; len(rs) > 0 {
					if r.stats[p.workload] == nil {
						r.stats[p.workload] = map[string][]stat{}
					}
					st := summarize(n, rs)
					st.peakHeap, st.peakSampled = res.peaks[k]

					r.stats[p.workload][s.Name] = append(r.stats[p.workload][s.Name], st)
				}
			}
		}
	}
	return r
}

// at returns the stat of system on workload at scale n.
func (r *report) at(workload, system string, n int) (stat, bool) {
	for _, s := range r.stats[workload][system] {
		if s.n == n {
			return s, true
		}
	}
	return stat{}, false
}

func (r *report) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	r.header(bw)
	if r.o.runsPlans() {
		r.findings(bw)
	}
	for _, p := range plans {
		if r.stats[p.workload] != nil {
			r.section(bw, p)
		}
	}
	if r.echo != nil {
		r.echo.write(bw)
	}
	if r.o.runsPlans() {
		r.method(bw)
	}
	return bw.Flush()
}

func (r *report) header(w io.Writer) {
	fmt.Fprintf(w, "# Loop scaling analysis\n\n")
	fmt.Fprintf(w, "**Date**: %s  \n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "**Machine**: %s, %s (GOMAXPROCS %d), %s/%s  \n", cpuModel(), cpuCount(runtime.NumCPU(), onlineCPUs()), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "**Go**: %s  \n", runtime.Version())
	mode := fmt.Sprintf("%d repetitions after a warm-up", r.o.reps)
	if r.o.quick {
		mode = "-quick: the two smallest scales up to N=100,000, one repetition, no warm-up (a first look, not a measurement)"
	}
	if r.o.runsPlans() {
		fmt.Fprintf(w, "**Run**: %s; took %s  \n", mode, r.res.took.Round(time.Second))
	}
	fmt.Fprintf(w, "**Default variant**: %s\n\n", r.def)
	if len(r.systems) == 0 && len(r.notes) == 0 {
		return
	}
	fmt.Fprintf(w, "## Systems\n\n| system | kind | configuration |\n|---|---|---|\n")
	for _, s := range r.systems {
		fmt.Fprintf(w, "| %s | %s | %s |\n", s.Name, s.Kind, s.Note)
	}
	for _, n := range r.notes {
		fmt.Fprintf(w, "\n- %s", n)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
}

func (r *report) section(w io.Writer, p plan) {
	fmt.Fprintf(w, "## %s\n\n", p.title)
	for _, s := range r.systems {
		sts := r.stats[p.workload][s.Name]
		if len(sts) == 0 {
			continue
		}
		fmt.Fprintf(w, "### %s\n\n", s.Name)
		// The spread is of the time the workload is judged on: for timers,
		// the wall times' is the wait for the last deadline.
		spread := "min–max"
		if p.cpuBound {
			spread = "CPU min–max"
		}
		fmt.Fprintf(w, "| N | Duration | %s | Ops/Sec | µs/Op | CPU µs/Op | Throughput | Setup | allocs/op | B/op | peak heap |\n", spread)
		fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|\n")
		// Relative to the workload's smallest scale in this run: a system
		// that failed there has no base, and its column is –.
		base, hasBase := 0.0, false
		if scales := r.res.ranFor[p.workload]; len(scales) > 0 {
			if b, ok := r.at(p.workload, s.Name, scales[0]); ok {
				base, hasBase = b.opsPerSec(), true
			}
		}
		for _, st := range sts {
			rel := "–"
			if hasBase {
				rel = fmt.Sprintf("%.0f%%", 100*st.opsPerSec()/base)
			}
			// The Go runtime's counters say nothing about a Python or Node
			// process.
			mem := fmt.Sprintf("%.2f | %.1f | %s", st.allocs, st.bytes, st.peakHeapText())
			if subprocessPeer(s.Kind) {
				mem = "– | – | –"
			}
			lo, hi := st.wallMin, st.wallMax
			if p.cpuBound {
				lo, hi = st.cpuMin, st.cpuMax
			}
			fmt.Fprintf(w, "| %s | %s | %s–%s | %s | %s | %s | %s | %s | %s |\n",
				count(st.n), dur(st.wall), dur(lo), dur(hi), count(int(st.opsPerSec())),
				micro3(st.perOp(false)), micro3(st.perOp(true)), rel,
				dur(st.setup), mem)
		}
		fmt.Fprintln(w)
	}
	r.speedups(w, p)
}

// micro3 formats ns as µs with three significant digits (whole µs from 100
// on): callbacks cost a few ns, where %.3f µs kept one digit.
func micro3(ns float64) string {
	us := ns / 1e3
	switch {
	case us >= 100:
		return fmt.Sprintf("%.0f", us)
	case us >= 10:
		return fmt.Sprintf("%.1f", us)
	case us >= 1:
		return fmt.Sprintf("%.2f", us)
	case us >= 0.1 || us == 0:
		return fmt.Sprintf("%.3f", us)
	case us >= 0.01:
		return fmt.Sprintf("%.4f", us)
	}
	return fmt.Sprintf("%.5f", us)
}

// speedups prints, per scale, how many times less the default variant spends
// per op than each other system (wall time, or CPU time for timers).
func (r *report) speedups(w io.Writer, p plan) {
	if len(r.stats[p.workload][r.def]) == 0 {
		return
	}
	var others []string
	for _, s := range r.systems {
		if s.Name != r.def && len(r.stats[p.workload][s.Name]) > 0 {
			others = append(others, s.Name)
		}
	}
	if len(others) == 0 {
		return
	}
	basis := "wall time"
	if p.cpuBound {
		basis = "CPU time"
	}
	fmt.Fprintf(w, "### Speedup of %s by scale\n\n", r.def)
	fmt.Fprintf(w, "Other system's %s per %s ÷ %s's: above 1, %s is faster; for a floor, the figure says how far above the floor %s is (below 1).\n\n", basis, p.perOp, r.def, r.def, r.def)
	fmt.Fprintf(w, "| N | vs %s |\n|---|%s\n", strings.Join(others, " | vs "), strings.Repeat("---|", len(others)))
	for _, st := range r.stats[p.workload][r.def] {
		fmt.Fprintf(w, "| %s |", count(st.n))
		for _, o := range others {
			if ost, ok := r.at(p.workload, o, st.n); ok {
				fmt.Fprintf(w, " %.2fx |", ratio(ost.perOp(p.cpuBound), st.perOp(p.cpuBound)))
			} else {
				fmt.Fprintf(w, " – |")
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

func (r *report) method(w io.Writer) {
	fmt.Fprintf(w, "## Method\n\n")
	warm := "runs once as a warm-up (discarded), then"
	if !r.o.warmup {
		warm = "runs"
	}
	fmt.Fprintf(w, "- Each system, workload and scale %s %d times; every round visits the systems in its own shuffled order (seeded), so drift on a shared machine hits them alike and no system always runs after the same one. Tables show the median, with the fastest and slowest repetition: of wall time, or of CPU time for the workloads compared on CPU time (%s), beside the median wall time (Duration).\n", warm, r.o.reps, strings.Join(cpuBoundWorkloads(), ", "))
	fmt.Fprintf(w, "- A repetition of a Go system that takes less than %v (a thousand callbacks take about 10 µs) runs the workload again, on a fresh system each time, until %v has been measured (at most %d runs), and reports their mean: one span of a few microseconds measures the scheduler more than the system.\n", minSpan, minSpan, maxInner)
	fmt.Fprintf(w, "- Only scheduling and running are timed; creating the loop (or the queue, or starting the interpreter) is not, and the Setup column gives its median: creating the system and preparing the workload (for timeouts, its handle slice), outside the span. CPU time is the process's user+system time over the same span (getrusage); for timers it leaves out the waiting that dominates small N.\n")
	fmt.Fprintf(w, "- Allocations and bytes per op come from runtime.MemStats around the span (Go systems only); peak heap is the system's own: the most heap (live data plus garbage not yet collected) that a goroutine reading runtime/metrics every 20 µs saw during the span of the warm-up round, less what was live before the system was made (what earlier systems left, such as the goroutine records of time.AfterFunc's callbacks, stays with the process). The warm-up's times are not used, so the sampling takes no CPU from a measured span; without a warm-up (-quick) the column is –.\n")
	fmt.Fprintf(w, "- Our variants are driven through direct calls on each variant's concrete type, as a program that uses package loop makes them (bench/drive_balanced.go, copied for every variant by go generate); the callbacks they run are called directly too. They schedule timers (timers, timeouts) from a callback, as a server sets deadlines, so a callback's first deadline reads the clock and its others reuse that reading; the peers schedule before their loop runs: time.AfterFunc and asyncio's call_later (loop.time()) read the clock at each call, uvloop's and Node's setTimeout (libuv's uv_now) and the heap loop's use the time their loop last read.\n")
	fmt.Fprintf(w, "- asyncio and uvloop run in their normal configuration (debug off) in a Python subprocess with the same workloads, measured as the Go systems are: one untimed warm-up run in that interpreter (at N=10,000 at most), then runs on fresh loops until %v has been measured (at most %d), reporting their mean (bench/python/loopbench.py); their allocation columns are –. A timer with a 0 ms delay is call_later(0) in Python and a 1 ns delay in our API (where a delay <= 0 means CallSoon), so every system creates n timers.\n", minSpan, maxInner)
	fmt.Fprintf(w, "- Node.js runs the same way in a Node subprocess (bench/node/loopbench.js), in its normal configuration: no flag but --expose-gc (for a collection of the young generation before each span, where the last run's garbage is: a full one, gc(), left sweeping that made the next small span several times slower), and without %s. Its warm-up repeats runs at N=10,000 at most until %s ops or %v (one run left V8 still optimizing the functions measured); its allocation columns are –. callbacks are setImmediate, Node's call_soon (process.nextTick and queueMicrotask are microtask queues outside the loop's phases); timers and timeouts are setTimeout and clearTimeout, and Node makes a 0 ms delay 1 ms. Node has no call that hands a callback to its loop from another thread (a Worker can only postMessage a structured clone), so it runs neither posts nor mixed.\n", slowingNodeEnvText(), count(nodeWarmupOps), nodeWarmupTime)
	if !r.o.full {
		fmt.Fprintf(w, "- The Python peers stop at N=%s in this run (one asyncio run at 1,000,000 takes seconds); `-full` runs them at every scale.\n", count(pythonMaxN))
	}
	fmt.Fprintf(w, "- Every repetition builds a fresh loop, so queue and slab growth are part of the measured span, as for every peer; only the %s diagnostic keeps one loop for all repetitions of a workload and scale, to show the cost of a burst on a loop that has grown already. It runs its warm-up and repetitions of each scale after the other systems' and closes its loop before the next scale: its loop's memory is live heap, which every collection in another system's span would have to mark.\n", r.def+warmSuffix)
	fmt.Fprintf(w, "- Reproduce: `go run ./bench` (add `-out DIR` for report.md and plots); `go test -run '^$' -bench Workload -benchmem ./bench` for benchstat.\n")
}

// cpuBoundWorkloads names the workloads compared on CPU time.
func cpuBoundWorkloads() []string {
	var out []string
	for _, p := range plans {
		if p.cpuBound {
			out = append(out, p.workload)
		}
	}
	return out
}

// cpuCount says how many CPUs this process may use and, where the machine
// has more online (the bench run under taskset, as -server-cpus asks), how
// many that is: the header describes the machine, not only the client.
func cpuCount(usable, online int) string {
	if online > usable {
		return fmt.Sprintf("%d CPUs online, this process on %d", online, usable)
	}
	return fmt.Sprintf("%d CPUs", usable)
}

// onlineCPUs counts the CPUs online from Linux's
// /sys/devices/system/cpu/online; 0 where it cannot be read.
func onlineCPUs() int {
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 0
	}
	cpus, err := parseCPUList(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	return len(cpus)
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return runtime.GOARCH
}

// ratio is a/b for costs in ns; b is never 0 for a measured span.
func ratio(a, b float64) float64 { return a / math.Max(b, 1e-9) }

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1fµs", micros(d))
	}
}

// count writes n with thousands separators, as the reference report does.
func count(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func bytesize(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
}
