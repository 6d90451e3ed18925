// Command bench runs the scaling analysis of
// ../shared/reference/pyloop-scaling-analysis.md for every generated loop
// variant, side by side with the floors (a bare ring, a bare wheel), Go
// baselines (chan func(), a mutex-guarded slice, time.AfterFunc, a
// container/heap loop) and, when a Python 3 is present, asyncio and uvloop,
// and Node.js when there is one.
// It prints a Markdown report on stdout and progress on stderr:
//
//	go run ./bench                    # the default run, about two minutes
//	go run ./bench -quick             # small scales, one repetition
//	go run ./bench -out report/       # also report.md and one SVG plot per workload
//	go run ./bench -workload timers,timeouts -systems balanced,heap,asyncio
//	go run ./bench -workload echo     # TCP echo servers: loop, net, gnet, nbio, node (about 9 minutes)
//
// The echo workload is not in the default run; -full adds it, and -quick
// runs a tiny version of it against the loop and net servers.
//
// For benchstat, the same workloads run as testing.B benchmarks:
//
//	go test -run '^$' -bench Workload -benchmem ./bench
package main

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// plan is one workload of the analysis and the scales it runs at.
type plan struct {
	workload string
	title    string
	scales   []int
	// perOp names what one op is, for the tables.
	perOp string
	// cpuBound: compare systems on CPU time per op rather than wall time
	// (timers spend most of their wall time waiting for deadlines; so does
	// mixed at its smaller scales, whose last timer is 9 ms out).
	cpuBound bool
	// guess is a rough idea of one span on a Go system and of one op in
	// Python and in Node, in seconds, for the progress estimate only (see
	// runGuess).
	guess guess
}

// guess is a plan's cost model for the progress estimate, fitted to the time
// each workload, kind of system and scale took in a default run on a 2-core
// AMD EPYC VM (2026-11-27); only its proportions matter, and goPerOp takes
// in whatever a span costs beside its ops. nodePerOp is from runs of
// loopbench.js at N=100,000 and 1,000,000 on the same kind of VM (Node 20);
// 0 for the workloads Node does not run.
type guess struct {
	goFixed, goPerOp, pyPerOp, nodePerOp float64
}

var plans = []plan{
	{WorkCallbacks, "Callback scheduling", []int{1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 1_000_000}, "callback", false, guess{0, 15e-9, 0.5e-6, 0.35e-6}},
	{WorkTimers, "Timer scheduling", []int{100, 500, 1_000, 2_500, 5_000, 10_000, 100_000}, "timer", true, guess{10e-3, 200e-9, 2.2e-6, 0.5e-6}},
	{WorkPosts1, "Cross-goroutine posts, 1 producer", []int{1_000, 10_000, 100_000, 1_000_000}, "post", false, guess{0, 5e-9, 2.2e-6, 0}},
	{WorkPosts4, "Cross-goroutine posts, 4 producers (N each)", []int{1_000, 10_000, 100_000, 250_000}, "post", false, guess{10e-3, 80e-9, 8e-6, 0}},
	{WorkTimeouts, "Timeouts that mostly never fire (95% cancelled)", []int{10_000, 1_000_000}, "timer", false, guess{10e-3, 45e-9, 1.2e-6, 0.4e-6}},
	{WorkMixed, "Mixed: socketpair I/O while timers and posts arrive", []int{1_000, 10_000, 100_000}, "message", true, guess{10e-3, 1.5e-6, 3e-6, 0}},
}

// runGuess guesses the seconds one repetition of p at scale n takes on a
// system of kind kind, with what runSpan and measure add: a Go span shorter
// than minSpan is repeated (up to maxInner times), each run after a
// collection (guessed at 1 ms), a Python run starts an interpreter
// (guessed at 0.06 s), and a Node run starts one and warms it up (0.15 s:
// loopbench.js's warm-up runs up to 0.1 s). Progress is the share of the guesses done, and the
// time left scales the guesses still to do by how long the done ones took.
// Weighing runs by 1+n/1000 instead made the first minutes of a default run
// show an hour left: small scales cost more than that (their repeated runs),
// large ones far less.
func runGuess(p plan, kind string, n int) float64 {
	switch kind {
	case "python":
		return 0.06 + float64(n)*p.guess.pyPerOp
	case "node":
		return 0.15 + float64(n)*p.guess.nodePerOp
	}
	span := p.guess.goFixed + float64(n)*p.guess.goPerOp
	runs := 1.0
	if span < minSpan.Seconds() {
		runs = min(maxInner, math.Ceil(minSpan.Seconds()/max(span, 1e-9)))
	}
	return runs * (span + 1e-3)
}

// options are the command line.
type options struct {
	reps      int
	full      bool
	warmup    bool
	quick     bool
	workloads []string
	systems   []string
	out       string
	// repsSet and systemsSet: -reps and -systems were given (the echo
	// workload has its own default repetitions and servers).
	repsSet, systemsSet bool
	serverCPUs          string // -server-cpus
	echoBin             string // -echo-bin
}

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage is on stderr, and asking for it is no error
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reps := fs.Int("reps", 5, "repetitions per system, workload and scale (after one warm-up)")
	full := fs.Bool("full", false, "a longer, tighter run: 15 repetitions unless -reps is given, and the echo workload (3 repetitions unless -reps is given)")
	quick := fs.Bool("quick", false, "the two smallest scales of each workload (up to N=100,000), one repetition, no warm-up, and a tiny echo run of the loop and net servers (for CI and a first look)")
	workloads := fs.String("workload", "", "comma-separated workloads to run (default all but echo, which -full and -quick add): "+strings.Join(append(workloadNames(), WorkEcho), ", "))
	systems := fs.String("systems", "", "comma-separated systems or kinds to run (default all): names as in the report, or variant, generic, diagnostic, floor, baseline, python, node; for echo, "+strings.Join(echoServerNames, ", ")+" or "+echoKind)
	out := fs.String("out", "", "also write report.md and one SVG plot per workload into this directory")
	serverCPUs := fs.String("server-cpus", "", "echo only: run the servers pinned to these CPUs (a list as taskset -c takes it, such as 0-1), and run the bench itself under taskset -c with other CPUs, so that client and server do not share cores")
	echoBin := fs.String("echo-bin", "", "echo only: take the server binaries from this directory instead of building them (for a machine with no Go toolchain or module proxy); "+echoBinHint)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o := options{reps: *reps, warmup: true, quick: *quick, full: *full, out: *out, serverCPUs: *serverCPUs, echoBin: *echoBin}
	if o.serverCPUs != "" {
		if _, err := parseCPUList(o.serverCPUs); err != nil {
			return fmt.Errorf("-server-cpus: %w", err)
		}
	}
	fs.Visit(func(f *flag.Flag) {
		o.repsSet = o.repsSet || f.Name == "reps"
		o.systemsSet = o.systemsSet || f.Name == "systems"
	})
	if o.reps < 1 {
		return fmt.Errorf("-reps %d: want at least 1", o.reps)
	}
	if *full && !o.repsSet {
		o.reps = 15
	}
	if o.quick {
		if o.full {
			return fmt.Errorf("-quick and -full ask for opposite runs (one repetition at the smallest scales, or more at all): give one")
		}
		if o.repsSet {
			return fmt.Errorf("-quick runs one repetition: leave out -reps, or -quick for more")
		}
		o.reps, o.warmup = 1, false
	}
	var err error
	if o.workloads, err = pickWorkloads(*workloads, o); err != nil {
		return err
	}
	if o.serverCPUs != "" && !slices.Contains(o.workloads, WorkEcho) {
		return fmt.Errorf("-server-cpus pins the echo servers, and this run has no echo workload (add -workload echo)")
	}
	if o.echoBin != "" && !slices.Contains(o.workloads, WorkEcho) {
		return fmt.Errorf("-echo-bin names the echo servers' binaries, and this run has no echo workload (add -workload echo)")
	}
	all, notes := allSystems()
	var names, kinds []string
	for _, s := range all {
		names = append(names, s.Name)
		kinds = append(kinds, s.Kind)
	}
	// The subprocess peers (Python's, Node) and their kinds are accepted even
	// where this machine lacks them, so that asking for one says why it is
	// missing instead of "unknown"; a run without -systems leaves them out
	// quietly, with a note.
	aliases := append(append(kinds, echoKind), peerKindNames()...)
	// "node" is both the scaling report's Node.js and the echo workload's
	// Node.js server: -systems node selects it in each workload that runs.
	for _, n := range echoServerNames {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if o.systems, err = pick("system", *systems, names, aliases); err != nil {
		return err
	}
	// A peer asked for and missing is an error where it would have run in
	// the scaling workloads; the echo workload leaves a missing Node.js out
	// with a note, as it does a peer it cannot build.
	if o.systemsSet && o.runsPlans() {
		if err := missingPeers(o.systems, all, notes); err != nil {
			return err
		}
	}
	// Asked for by name, the echo workload needs a server; added by -full or
	// -quick, its section says that -systems named none.
	if *workloads != "" && slices.Contains(o.workloads, WorkEcho) && len(echoPlanFor(o).servers) == 0 {
		return fmt.Errorf("-systems %s: none of these is an echo server (%s, or %s for all)", *systems, strings.Join(echoServerNames, ", "), echoKind)
	}
	var chosen []System
	if o.runsPlans() {
		for _, s := range all {
			if slices.Contains(o.systems, s.Name) || slices.Contains(o.systems, s.Kind) {
				chosen = append(chosen, s)
			}
		}
		if len(chosen) == 0 {
			return fmt.Errorf("-systems %s: none of these runs %s", *systems, strings.Join(slices.DeleteFunc(slices.Clone(o.workloads), func(w string) bool { return w == WorkEcho }), ","))
		}
	} else {
		notes = nil // about systems this run does not use
	}
	if o.out != "" {
		// Checked before measuring: a -full run takes many minutes.
		if err := checkOutDir(o.out); err != nil {
			return fmt.Errorf("-out %s: %w", o.out, err)
		}
	}
	res := newResults()
	if len(chosen) > 0 {
		res = measureAll(o, chosen, stderr)
		if len(res.runs) == 0 && res.allUnsupported() {
			return fmt.Errorf("-systems %s: none of these runs %s", *systems, strings.Join(slices.DeleteFunc(slices.Clone(o.workloads), func(w string) bool { return w == WorkEcho }), ","))
		}
	}
	var echo *echoResults
	if slices.Contains(o.workloads, WorkEcho) {
		echo = measureEcho(echoPlanFor(o), stderr)
	}
	rep := newReport(o, chosen, notes, res)
	rep.echo = echo
	if err := rep.write(stdout); err != nil {
		return err
	}
	if o.out != "" {
		if err := writeOut(o.out, rep); err != nil {
			return err
		}
	}
	if failed := rep.failures(); len(failed) > 0 {
		return fmt.Errorf("%d runs failed (listed in the report), the first: %s", len(failed), failed[0])
	}
	return nil
}

// missingPeers returns an error naming why, for each subprocess peer
// (asyncio, uvloop, node) that selected names and this machine lacks, or for
// every peer of a kind that selected asks for when the machine has none of
// them; nil otherwise.
func missingPeers(selected []string, available []System, notes []string) error {
	have := func(name string) bool {
		return slices.ContainsFunc(available, func(s System) bool { return s.Name == name })
	}
	var why []string
	for _, p := range peerKinds {
		noneOfKind := !slices.ContainsFunc(p.names, have)
		for _, name := range p.names {
			asked := slices.Contains(selected, name) || slices.Contains(selected, p.kind) && noneOfKind
			if !asked || have(name) {
				continue
			}
			for _, note := range notes {
				if strings.HasPrefix(note, name+": ") {
					why = append(why, note)
				}
			}
		}
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("-systems asks for a peer this machine lacks: %s", strings.Join(why, "; "))
}

// pickWorkloads parses -workload. Without it, every workload runs but echo,
// which takes minutes: -full runs it, and -quick runs a tiny version of it.
func pickWorkloads(list string, o options) ([]string, error) {
	if list == "" && !o.full && !o.quick {
		return workloadNames(), nil
	}
	return pick("workload", list, append(workloadNames(), WorkEcho), nil)
}

// runsPlans reports whether any workload of plans (all but echo) is selected.
func (o options) runsPlans() bool {
	return slices.ContainsFunc(o.workloads, func(w string) bool { return w != WorkEcho })
}

// allSystems lists everything that can be measured here, and notes on what
// was skipped and why.
func allSystems() ([]System, []string) {
	var systems []System
	systems = append(systems, variantSystems()...)
	systems = append(systems, diagnosticSystems()...)
	systems = append(systems, floorSystems()...)
	systems = append(systems, baselineSystems()...)
	py, notes := pythonSystems()
	systems = append(systems, py...)
	js, jsNotes := nodeSystems()
	systems = append(systems, js...)
	return systems, append(notes, jsNotes...)
}

func workloadNames() []string {
	var names []string
	for _, p := range plans {
		names = append(names, p.workload)
	}
	return names
}

// pick parses a comma-separated selection; empty selects every name.
func pick(what, list string, names, aliases []string) ([]string, error) {
	if list == "" {
		return names, nil
	}
	var out []string
	for _, x := range strings.Split(list, ",") {
		x = strings.TrimSpace(x)
		if !slices.Contains(names, x) && !slices.Contains(aliases, x) {
			// The kinds, and the peers this machine lacks, are accepted
			// too: name them, or -systems nodejs would list no "node"
			// where Node.js is missing.
			var also []string
			for _, a := range aliases {
				if !slices.Contains(names, a) && !slices.Contains(also, a) {
					also = append(also, a)
				}
			}
			known := strings.Join(names, ", ")
			if len(also) > 0 {
				known += "; also " + strings.Join(also, ", ")
			}
			return nil, fmt.Errorf("unknown %s %q (known: %s)", what, x, known)
		}
		out = append(out, x)
	}
	return out, nil
}

// key identifies the repetitions of one system on one workload at one scale.
type key struct {
	workload, system string
	n                int
}

// results holds every measured repetition, and the errors met.
type results struct {
	runs   map[key][]Result
	errs   map[key]error
	took   time.Duration
	ranFor map[string][]int // workload -> scales actually run
	peaks  map[key]uint64   // the heap's peak, sampled in the warm-up round
}

func newResults() results {
	return results{runs: map[key][]Result{}, errs: map[key]error{}, ranFor: map[string][]int{}, peaks: map[key]uint64{}}
}

// allUnsupported reports whether every error met says that a system does not
// run a workload (true when there is none).
func (res results) allUnsupported() bool {
	for _, err := range res.errs {
		if !errors.Is(err, ErrUnsupported) {
			return false
		}
	}
	return true
}

// pythonMaxN caps the scales a Python peer runs at, except with -full: one
// run of asyncio at N=1,000,000 takes seconds (posts: ~6 s), and these alone
// would take the default run far past two minutes. Node runs at every
// scale: a loopbench.js run at N=1,000,000 took 0.16-0.59 s (callbacks,
// timers, timeouts; node --expose-gc loopbench.js --loop node --workload W
// --n 1000000, Node 20.20.2 on the 2-core AMD EPYC VM while other tests
// loaded it, 2026-11-28), its process with the warm-up 0.34-0.79 s.
const pythonMaxN = 100_000

// skip reports whether this run leaves system s out at scale n.
func skip(o options, s System, n int) bool {
	return s.Kind == "python" && n > pythonMaxN && !o.full
}

// quickMaxN bounds -quick's scales: a million timeouts on time.AfterFunc
// take over a second to make on a loaded machine, so the first, due after
// 1 s, fired and failed the run (CI runs -quick).
const quickMaxN = 100_000

// scalesFor is the scales of p that this run uses.
func scalesFor(o options, p plan) []int {
	if o.quick {
		var small []int
		for _, n := range p.scales {
			if n <= quickMaxN && len(small) < 2 {
				small = append(small, n)
			}
		}
		return small
	}
	return p.scales
}

// measureAll runs the plan: per workload and scale, a warm-up round, then
// the repetitions, each round visiting every system in its own shuffled
// order (seeded, so runs are comparable), so that drift on a shared machine
// hits all systems alike and no system always follows the same one: a
// rotation keeps neighbours together, and the system after a Python
// subprocess paid for it in every round (the cost was the runtime's
// monitor thread, which runPython now lets settle: see settleSpin).
// A system that keeps a loop between its spans (balanced-warm) runs its
// rounds after the others', and is closed before the next scale.
func measureAll(o options, systems []System, progress io.Writer) results {
	res := newResults()
	rounds := o.reps
	if o.warmup {
		rounds++
	}
	// The (workload, scale) points in the order they run.
	type point struct {
		p plan
		n int
	}
	var points []point
	for _, p := range plans {
		if slices.Contains(o.workloads, p.workload) {
			for _, n := range scalesFor(o, p) {
				points = append(points, point{p, n})
			}
		}
	}
	// unsupported holds each workload and system that do not go together,
	// asked before anything runs (Run with scale 0 does no work): they leave
	// the estimate. Learnt from each first run instead, the estimate counted
	// every system on every workload not yet begun, and showed 2-3 times the
	// time a default run had left.
	unsupported := map[[2]string]bool{}
	for _, w := range o.workloads {
		for _, s := range systems {
			if _, err := s.Run(w, 0); errors.Is(err, ErrUnsupported) {
				unsupported[[2]string{w, s.Name}] = true
			}
		}
	}
	// guessRounds guesses `rounds` rounds of point pt on the systems at
	// indices which, the warm-up among them if warm (a subprocess peer skips
	// it: see runOne).
	guessRounds := func(pt point, which []int, rounds int, warm bool) float64 {
		sum := 0.0
		for _, i := range which {
			s := systems[i]
			_, failed := res.errs[key{pt.p.workload, s.Name, pt.n}]
			if !skip(o, s, pt.n) && !failed && !unsupported[[2]string{pt.p.workload, s.Name}] {
				k := rounds
				if warm && subprocessPeer(s.Kind) {
					k--
				}
				sum += float64(k) * runGuess(pt.p, s.Kind, pt.n)
			}
		}
		return sum
	}
	done := 0.0 // the guesses of the runs done
	start := time.Now()
	// A system that keeps a loop from span to span (Close set) runs all its
	// rounds of a point after the others' and closes the loop before the
	// next point. Its loop's memory is live heap, and every collection in
	// another system's span would have to mark it: balanced's 1M callbacks
	// took 18.7-20.5 ms with balanced-warm's loop alive in the process and
	// 12.0-12.5 ms without it.
	var shuffled, kept []int
	for i, s := range systems {
		if s.Close != nil {
			kept = append(kept, i)
		} else {
			shuffled = append(shuffled, i)
		}
	}
	// keptRuns is how many runs a kept system makes at each point: its
	// rounds, and without a warm-up round one untimed run before them.
	keptRuns := rounds
	if !o.warmup {
		keptRuns++
	}
	// guessPoint guesses the runs still to do at point pt: the rounds of the
	// shuffled systems from round `from` on, and the kept systems' runs,
	// which follow them, unless keptDone.
	guessPoint := func(pt point, from int, keptDone bool) float64 {
		left := guessRounds(pt, shuffled, rounds-from, o.warmup && from == 0)
		if !keptDone {
			left += guessRounds(pt, kept, keptRuns, o.warmup)
		}
		return left
	}
	runOne := func(s System, p plan, n int, warm bool) {
		k := key{p.workload, s.Name, n}
		if skip(o, s, n) {
			return
		}
		if _, failed := res.errs[k]; failed {
			return
		}
		// A Python or Node run is a fresh interpreter, which warms up inside
		// itself before it measures (loopbench.py, loopbench.js): no round
		// for it here.
		if warm && subprocessPeer(s.Kind) {
			return
		}
		// Only a real warm-up round samples: -quick's untimed run for a kept
		// system must not fill a column the Method says is – without one.
		peakSampling = warm && o.warmup
		r, err := runSpan(s, p.workload, n)
		peakSampling = false
		switch {
		case errors.Is(err, ErrUnsupported):
			res.errs[k] = err
		case err != nil:
			res.errs[k] = err
			fmt.Fprintf(progress, "bench: %s %s n=%d: %v\n", s.Name, p.workload, n, err)
			done += runGuess(p, s.Kind, n)
		default:
			done += runGuess(p, s.Kind, n)
			if warm {
				if r.PeakSampled {
					res.peaks[k] = r.PeakHeap
				}
			} else {
				res.runs[k] = append(res.runs[k], r)
			}
		}
	}
	for pi, pt := range points {
		p, n := pt.p, pt.n
		res.ranFor[p.workload] = append(res.ranFor[p.workload], n)
		// show tells the progress after round, and whether the kept
		// systems have run at this point.
		show := func(round int, keptDone bool) {
			left := guessPoint(pt, round+1, keptDone)
			for _, later := range points[pi+1:] {
				left += guessPoint(later, 0, false)
			}
			elapsed := time.Since(start)
			// The time left scales the guesses still to do by how long those
			// done took: with none done yet (a warm-up round of Python peers
			// alone, or kept systems, which run after it) there is no scale.
			eta := "?"
			if done > 0 {
				eta = "~" + time.Duration(float64(elapsed)/done*left).Round(time.Second).String()
			}
			fmt.Fprintf(progress, "\rbench: %3.0f%%  %-9s n=%-9d round %d/%d  elapsed %-6s left %-7s ",
				100*done/max(done+left, 1e-9), p.workload, n, round+1, rounds, elapsed.Round(time.Second), eta)
		}
		for round := range rounds {
			warm := o.warmup && round == 0
			// Seeded by the workload too: workloads that share a scale would
			// otherwise run their systems in the same orders.
			order := rand.New(rand.NewPCG(uint64(n)^workloadSeed(p.workload), uint64(round))).Perm(len(shuffled))
			for _, i := range order {
				runOne(systems[shuffled[i]], p, n, warm)
			}
			show(round, len(kept) == 0)
		}
		for _, i := range kept {
			if !o.warmup {
				// Without a warm-up round (-quick), the kept system's only
				// repetition would make its loop in setup: a fresh loop,
				// reported as one kept from span to span. One untimed run
				// makes it, as the warm-up round does.
				runOne(systems[i], p, n, true)
			}
			for round := range rounds {
				runOne(systems[i], p, n, o.warmup && round == 0)
			}
			systems[i].Close()
		}
		if len(kept) > 0 {
			show(rounds-1, true)
		}
	}
	res.took = time.Since(start)
	fmt.Fprintf(progress, "\rbench: done in %s%s\n", res.took.Round(time.Second), strings.Repeat(" ", 60))
	return res
}

// workloadSeed is a number of the workload's name, for seeding its orders.
func workloadSeed(w string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(w))
	return h.Sum64()
}

// minSpan is the least time one repetition measures. A workload that
// finishes sooner (a thousand callbacks take about 10 µs) is run again, on
// a fresh system each time, until this much has been measured, and the
// repetition reports the mean of those runs: a single span of a few
// microseconds says more about the scheduler's mood than about the system.
const minSpan = time.Millisecond

// maxInner bounds the runs that make one repetition.
const maxInner = 200

// runSpan measures one repetition of workload w at scale n on s: one run,
// or, for a Go system whose run is shorter than minSpan, the mean of as
// many runs as fill it. A Python or Node repetition is one subprocess, which
// does the same inside itself (a warm-up, then runs until minSpan is
// filled).
//
// A run that did not do the workload's ops (workOps) fails: its figures
// would be tabulated as those of N ops.
func runSpan(s System, w string, n int) (Result, error) {
	r, err := s.Run(w, n)
	if err == nil {
		err = checkOps(r, w, n)
	}
	if err != nil || subprocessPeer(s.Kind) || r.Wall >= minSpan {
		return r, err
	}
	sum, k := r, 1
	for sum.Wall < minSpan && k < maxInner {
		r, err := s.Run(w, n)
		if err == nil {
			err = checkOps(r, w, n)
		}
		if err != nil {
			return r, err
		}
		sum.Ops += r.Ops
		sum.Wall += r.Wall
		sum.CPU += r.CPU
		sum.Setup += r.Setup
		sum.Allocs += r.Allocs
		sum.Bytes += r.Bytes
		sum.PeakHeap = max(sum.PeakHeap, r.PeakHeap)
		k++
	}
	kk := time.Duration(k)
	return Result{
		Ops:         sum.Ops / k,
		Wall:        sum.Wall / kk,
		CPU:         sum.CPU / kk,
		Setup:       sum.Setup / kk,
		Allocs:      sum.Allocs / uint64(k),
		Bytes:       sum.Bytes / uint64(k),
		PeakHeap:    sum.PeakHeap,
		PeakSampled: sum.PeakSampled,
	}, nil
}

// workOps is how many ops workload w does at scale n: n, but for posts4,
// whose four producers post n each.
func workOps(w string, n int) int {
	if w == WorkPosts4 {
		return 4 * n
	}
	return n
}

// checkOps fails a run of workload w at scale n that reports other than
// workOps(w, n) ops.
func checkOps(r Result, w string, n int) error {
	if want := workOps(w, n); r.Ops != want {
		return fmt.Errorf("did %d ops, want %d", r.Ops, want)
	}
	return nil
}

// checkOutDir makes dir and checks that a file can be written there.
func checkOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".bench-probe-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// writeOut writes report.md and the plots into dir.
func writeOut(dir string, rep *report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return err
	}
	if err := rep.write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return rep.plots(dir)
}
