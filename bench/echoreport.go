package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// echoStat summarizes the repetitions of one server at one point: medians,
// and the range of the two figures the tables show it for.
type echoStat struct {
	reps                         int
	perSec, perSecMin, perSecMax float64
	p50, p99                     time.Duration
	p99Min, p99Max               time.Duration
	cpu, cpuMin, cpuMax          float64 // server CPU µs per request
}

func (e *echoResults) stat(server string, conns, size int) (echoStat, bool) {
	rs := e.runs[echoKey{server, conns, size}]
	if len(rs) == 0 {
		return echoStat{}, false
	}
	var perSec, cpu []float64
	var p50, p99 []time.Duration
	for _, r := range rs {
		perSec = append(perSec, r.perSec())
		cpu = append(cpu, r.cpuPerReq())
		p50 = append(p50, r.p50)
		p99 = append(p99, r.p99)
	}
	return echoStat{
		reps:   len(rs),
		perSec: median(perSec), perSecMin: slices.Min(perSec), perSecMax: slices.Max(perSec),
		p50: median(p50), p99: median(p99), p99Min: slices.Min(p99), p99Max: slices.Max(p99),
		cpu: median(cpu), cpuMin: slices.Min(cpu), cpuMax: slices.Max(cpu),
	}, true
}

// idleStat is the median bytes per idle connection, and the range, with the
// RSS before and after of the repetition that gave the median (the lower of
// the middle two for an even count), so that the table's columns agree.
func (e *echoResults) idleStat(server string) (med, lo, hi float64, before, after uint64, ok bool) {
	rs := slices.Clone(e.idle[server])
	if len(rs) == 0 {
		return 0, 0, 0, 0, 0, false
	}
	slices.SortFunc(rs, func(a, b idleRun) int { return cmp.Compare(a.perConn(), b.perConn()) })
	var per []float64
	for _, r := range rs {
		per = append(per, r.perConn())
	}
	mid := rs[(len(rs)-1)/2]
	return median(per), per[0], per[len(per)-1], mid.before, mid.after, true
}

func (e *echoResults) write(w io.Writer) {
	p := e.plan
	fmt.Fprintf(w, "## Echo over TCP loopback\n\n")
	fmt.Fprintf(w, "Closed loop: C connections, each sends one message of S bytes, waits for all of it to come back, and sends the next. ")
	fmt.Fprintf(w, "The client is the bench process (Go's net package, a goroutine per connection), the same for every server; each server is a separate process, started afresh for every repetition of every point. ")
	if p.cpus == "" {
		fmt.Fprintf(w, "Client and server share this machine's %d CPUs, so requests per second says as much about the client as about the server: **server CPU per request** is the figure that separates servers.\n\n", runtime.NumCPU())
	} else {
		fmt.Fprintf(w, "The servers run pinned to CPUs %s (taskset; their GOMAXPROCS follows), the client on CPUs %s. **Server CPU per request** is the figure that separates servers.\n\n", p.cpus, allowedCPUs())
	}
	mode := fmt.Sprintf("%d repetitions", p.reps)
	if p.defaultN {
		mode += " (the echo default; -reps sets it)"
	}
	if p.quick {
		mode = "-quick: a tiny matrix, one repetition (a check that it runs, not a measurement)"
	}
	fmt.Fprintf(w, "**Run**: %s; %s warm-up and %s measured per point; C = %s; S = %s; idle point %s connections; took %s  \n",
		mode, p.warmup, p.span, joinInts(p.conns), joinSizes(p.sizes), count(p.idle), e.took.Round(time.Second))
	fmt.Fprintf(w, "**Command**: `%s`\n\n", e.command())

	fmt.Fprintf(w, "### Servers\n\n| server | configuration |\n|---|---|\n")
	for _, s := range e.servers {
		fmt.Fprintf(w, "| %s | %s |\n", s.name, s.config)
	}
	for _, n := range e.notes {
		fmt.Fprintf(w, "\n- %s", n)
	}
	if e.ran(echoNode) {
		fmt.Fprintf(w, "\n- node is one process with one event loop on one thread, Node's default (no cluster, no worker_threads), where the Go servers run GOMAXPROCS loops: where the load needs more than one core its requests per second stop growing and theirs need not. It is no goal's yardstick (the goals hold loop against gnet and nbio); \"loop and node\" below sets the two side by side.")
	}
	fmt.Fprintf(w, "\n\n")
	if failed := e.failures(); len(failed) > 0 {
		fmt.Fprintf(w, "**%d echo points failed**; they are missing from the tables below:\n\n", len(failed))
		for _, f := range failed {
			fmt.Fprintf(w, "- %s\n", f)
		}
		fmt.Fprintln(w)
	}
	if len(e.servers) == 0 {
		return
	}
	e.targets(w)
	e.vsNode(w)
	for _, size := range p.sizes {
		for _, conns := range p.conns {
			fmt.Fprintf(w, "### C=%s, %s\n\n", count(conns), sizeName(size))
			fmt.Fprintf(w, "| server | req/s | min–max | p50 µs | p99 µs | server CPU µs/req | min–max |\n|---|---|---|---|---|---|---|\n")
			for _, s := range e.servers {
				st, ok := e.stat(s.name, conns, size)
				if !ok {
					fmt.Fprintf(w, "| %s | – | – | – | – | – | – |\n", s.name)
					continue
				}
				fmt.Fprintf(w, "| %s | %s | %s–%s | %.1f | %.1f | %.2f | %.2f–%.2f |\n", s.name,
					count(int(st.perSec)), count(int(st.perSecMin)), count(int(st.perSecMax)),
					micros(st.p50), micros(st.p99), st.cpu, st.cpuMin, st.cpuMax)
			}
			fmt.Fprintln(w)
		}
	}
	if p.idle > 0 {
		fmt.Fprintf(w, "### Memory per idle connection (%s connections)\n\n", count(p.idle))
		fmt.Fprintf(w, "| server | RSS before | RSS after | bytes per connection | min–max |\n|---|---|---|---|---|\n")
		for _, s := range e.servers {
			if med, lo, hi, before, after, ok := e.idleStat(s.name); ok {
				fmt.Fprintf(w, "| %s | %s | %s | %.0f | %.0f–%.0f |\n", s.name, bytesize(before), bytesize(after), med, lo, hi)
			} else {
				fmt.Fprintf(w, "| %s | – | – | – | – |\n", s.name)
			}
		}
		fmt.Fprintln(w)
	}
	e.method(w)
}

// command is the command line that reproduces this run.
func (e *echoResults) command() string {
	cmd := "go run ./bench -workload echo"
	if e.plan.quick {
		cmd += " -quick"
	}
	if !e.plan.defaultN && !e.plan.quick {
		cmd += fmt.Sprintf(" -reps %d", e.plan.reps)
	}
	if !slices.Equal(e.plan.servers, defaultEchoServers(e.plan.quick)) {
		cmd += " -systems " + strings.Join(e.plan.servers, ",")
	}
	if e.plan.binDir != "" {
		cmd += " -echo-bin " + e.plan.binDir
	}
	if e.plan.cpus != "" {
		cmd += " -server-cpus " + e.plan.cpus
		if c := allowedCPUs(); c != "" {
			cmd = "taskset -c " + c + " " + cmd
		}
	}
	return cmd
}

// ran reports whether server ran (its binary was had; its points may still
// have failed).
func (e *echoResults) ran(server string) bool {
	return slices.ContainsFunc(e.servers, func(s *echoServer) bool { return s.name == server })
}

// vsNode sets loop beside node at every point, medians, where both ran: no
// goal, no verdict, the figures and their ratio.
func (e *echoResults) vsNode(w io.Writer) {
	if !e.ran("loop") || !e.ran(echoNode) {
		return
	}
	fmt.Fprintf(w, "### loop and node\n\nNot a goal: Node.js's server beside ours, medians over the repetitions; loop ÷ node below 1 is less for loop (for req/s, above 1 is more). node runs one event loop, loop %s.\n\n", loopCount(e.servers))
	fmt.Fprintf(w, "| point | req/s, loop ÷ node | server CPU µs/req, loop ÷ node | p99 µs, loop ÷ node |\n|---|---|---|---|\n")
	for _, size := range e.plan.sizes {
		for _, conns := range e.plan.conns {
			ours, ok1 := e.stat("loop", conns, size)
			node, ok2 := e.stat(echoNode, conns, size)
			if !ok1 || !ok2 {
				fmt.Fprintf(w, "| C=%s, %s | – | – | – |\n", count(conns), sizeName(size))
				continue
			}
			fmt.Fprintf(w, "| C=%s, %s | %s ÷ %s = %s | %.2f ÷ %.2f = %s | %.1f ÷ %.1f = %s |\n", count(conns), sizeName(size),
				count(int(ours.perSec)), count(int(node.perSec)), ratioText(ours.perSec, node.perSec),
				ours.cpu, node.cpu, ratioText(ours.cpu, node.cpu),
				micros(ours.p99), micros(node.p99), ratioText(micros(ours.p99), micros(node.p99)))
		}
	}
	if e.plan.idle > 0 {
		ours, _, _, _, _, ok1 := e.idleStat("loop")
		node, _, _, _, _, ok2 := e.idleStat(echoNode)
		if ok1 && ok2 {
			fmt.Fprintf(w, "\nMemory per idle connection (%s connections): loop %s B, node %s B; loop ÷ node %s.\n",
				count(e.plan.idle), count(int(math.Round(ours))), count(int(math.Round(node))), ratioText(ours, node))
		} else {
			fmt.Fprintf(w, "\nMemory per idle connection: not measured on both.\n")
		}
	}
	fmt.Fprintln(w)
}

// ratioText is a ÷ b with two decimals, or three below 0.1, so that a
// small ratio does not read 0.00 or 0.01.
func ratioText(a, b float64) string {
	r := ratio(a, b)
	if r < 0.1 {
		return fmt.Sprintf("%.3f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// loopCount says how many event loops the loop server ran, from its config
// line ("sock.Group of N loops"), or "GOMAXPROCS" where that is not known.
func loopCount(servers []*echoServer) string {
	for _, s := range servers {
		if s.name != "loop" {
			continue
		}
		if rest, ok := strings.CutPrefix(s.config, "sock.Group of "); ok {
			if n, _, ok := strings.Cut(rest, " "); ok {
				return n + " (GOMAXPROCS)"
			}
		}
	}
	return "GOMAXPROCS"
}

// echoGoal is a target of the echo issue, for ours against the best peer.
type echoGoal struct {
	text           string
	ours, best     float64 // medians
	oursLo, oursHi float64 // ranges over the repetitions
	bestLo, bestHi float64
	peer           string
	unit           string
	ok             bool
	absent         string   // why it was not measured; "" when it was
	missing        []string // peers not measured at the point (failed, or not run)
}

// overlap reports whether the repetitions of ours and of what it is held
// against overlap: then the verdict rests on medians within the noise.
func (g echoGoal) overlap() bool { return g.oursLo <= g.bestHi && g.bestLo <= g.oursHi }

// spread is a figure's median and range over the repetitions.
type spread struct{ med, lo, hi float64 }

// targets checks the goals: server CPU per request at C=100 and
// C=1000 below the best of gnet and nbio, p99 no worse than the better of
// theirs at every point, and at most 300 B per idle connection.
func (e *echoResults) targets(w io.Writer) {
	var goals []echoGoal
	for _, size := range e.plan.sizes {
		for _, conns := range e.plan.conns {
			if conns == 100 || conns == 1000 {
				goals = append(goals, e.vsPeers(fmt.Sprintf("server CPU per request at C=%s, %s below the best of gnet and nbio", count(conns), sizeName(size)),
					conns, size, "µs", func(s echoStat) spread { return spread{s.cpu, s.cpuMin, s.cpuMax} }, false))
			}
		}
	}
	for _, size := range e.plan.sizes {
		for _, conns := range e.plan.conns {
			goals = append(goals, e.vsPeers(fmt.Sprintf("p99 at C=%s, %s no worse than the better of gnet and nbio", count(conns), sizeName(size)),
				conns, size, "µs", func(s echoStat) spread {
					return spread{micros(s.p99), micros(s.p99Min), micros(s.p99Max)}
				}, true))
		}
	}
	if e.plan.idle > 0 {
		g := echoGoal{text: "at most 300 B of server memory per idle connection", best: 300, bestLo: 300, bestHi: 300, unit: "B"}
		if med, lo, hi, _, _, ok := e.idleStat("loop"); ok {
			g.ours, g.oursLo, g.oursHi, g.ok = med, lo, hi, med <= 300
		} else {
			g.absent = "loop not measured"
		}
		goals = append(goals, g)
	}
	fmt.Fprintf(w, "### Targets\n\nMedians over the repetitions; loop ÷ against below 1 is better for loop. Where loop's repetitions and those it is held against overlap, the verdict says so: the medians differ by less than this run's noise.\n\n")
	fmt.Fprintf(w, "| goal | loop | against | loop ÷ against | verdict |\n|---|---|---|---|---|\n")
	for _, g := range goals {
		if g.absent != "" {
			fmt.Fprintf(w, "| %s | not measured (%s) | – | – | – |\n", g.text, g.absent)
			continue
		}
		against := fmt.Sprintf("%s %s", num(g.best), g.unit)
		if g.peer != "" {
			who := g.peer
			if len(g.missing) > 0 {
				who += "; " + strings.Join(g.missing, " and ") + " not measured"
			}
			against = fmt.Sprintf("%s %s (%s)", num(g.best), g.unit, who)
		}
		v := verdict(g.ok)
		if g.overlap() {
			v += " (ranges overlap)"
		}
		if e.plan.quick {
			v = "not judged (-quick)"
		}
		fmt.Fprintf(w, "| %s | %s %s | %s | %.2f | %s |\n", g.text, num(g.ours), g.unit, against, ratio(g.ours, g.best), v)
	}
	fmt.Fprintln(w)
}

// vsPeers compares loop's figure at a point with the lowest of gnet's and
// nbio's: below it (or, with orEqual, not above it) meets the goal.
func (e *echoResults) vsPeers(text string, conns, size int, unit string, fig func(echoStat) spread, orEqual bool) echoGoal {
	g := echoGoal{text: text, unit: unit}
	ours, ok := e.stat("loop", conns, size)
	if !ok {
		g.absent = "loop not measured"
		return g
	}
	for _, p := range echoPeers {
		st, ok := e.stat(p, conns, size)
		if !ok {
			g.missing = append(g.missing, p)
			continue
		}
		if g.peer == "" || fig(st).med < g.best {
			f := fig(st)
			g.best, g.bestLo, g.bestHi, g.peer = f.med, f.lo, f.hi, p
		}
	}
	if g.peer == "" {
		g.absent = "neither gnet nor nbio measured"
		return g
	}
	f := fig(ours)
	g.ours, g.oursLo, g.oursHi = f.med, f.lo, f.hi
	g.ok = g.ours < g.best || orEqual && g.ours == g.best
	return g
}

func (e *echoResults) method(w io.Writer) {
	fmt.Fprintf(w, "### Method (echo)\n\n")
	fmt.Fprintf(w, "- Per point (C, S) and repetition, every server runs once, in the order of a row of a Williams square relabelled per point (in each run of as many rounds as there are servers, a server takes each place once and, with an even number of servers, follows each other server once; fewer rounds cover part of that), each in a fresh process on 127.0.0.1 with an ephemeral port; tables show the median over repetitions, and the range for req/s and CPU.\n")
	fmt.Fprintf(w, "- The client dials C connections, runs the closed loop for the warm-up, then counts and times round trips for the measured span. Each connection sends messages of its own, each with its sequence number, checks that every echo equals what it sent, and after the last one that nothing more arrives. Latency is from just before the write to the last byte of the echo read, in a histogram that reads each back within 0.8%%; p50 and p99 are over all connections' round trips. A closed loop sends the next message only once the echo is back, so a stall delays the requests it holds up and is counted once, not for every request it would have delayed at a fixed rate (coordinated omission); and with C connections on two shared CPUs, p50 is about C ÷ the rate, so at C=100 and 1,000 latency says as much about the client's scheduling as about the server.\n")
	fmt.Fprintf(w, "- Server CPU is utime+stime of the server process from /proc/PID/stat (all threads), read at the start and end of the measured span, in ticks of %s; CPU per request is its change divided by the round trips. At the rates here a 5 s span holds a few hundred ticks. It includes the kernel's work on the server's system calls, and the receive processing (softirq) the kernel charges to whichever process is running: on loopback some of the client's receiving too, the same for every server.\n", clockTick)
	if e.plan.idle > 0 {
		fmt.Fprintf(w, "- Idle memory: a fresh server, %d connections that make one round trip each and close (so every event loop has set up what its first connection needs), %s of quiet, then VmRSS from /proc/PID/status; then %s connections that each send one byte and wait for its echo (so every one is accepted and served), %s of quiet, VmRSS again. Bytes per connection = (after − before) / %s. RSS counts the process's own touched pages (Go heap, goroutine stacks, buffers), not the kernel's socket buffers; the Go servers run at the default GOGC=100, so it includes the heap's room to grow between collections as well as what is live (the servers inherit the bench's environment, GOGC, GOMAXPROCS and GODEBUG included, so set none of them, or the same for all).",
			idleWarmConns, idleSettle, count(e.plan.idle), idleSettle, count(e.plan.idle))
		if e.ran(echoNode) {
			fmt.Fprintf(w, " For node it is V8's heap (a net.Socket and its stream state per connection, collected when V8 decides) and Node's native per-connection memory.")
		}
		fmt.Fprintln(w)
	}
	built := "built with `go build` when the bench starts"
	if e.plan.binDir != "" {
		built = "built beforehand and taken from " + e.plan.binDir + " (-echo-bin)"
	}
	fmt.Fprintf(w, "- The servers are `bench/echoserver` (loop, net; this module) and `bench/peers` (gnet, nbio; a module of its own, so the library's go.mod does not depend on them), %s", built)
	if e.ran(echoNode) {
		fmt.Fprintf(w, "; node is `bench/node/echoserver.js`, run by the Node.js the scaling report's node runs on, with no flags and without %s", slowingNodeEnvText())
	}
	fmt.Fprintf(w, ".\n\n")
}

// plot writes echo.svg: server CPU per request against C (log x), a line
// per server and message size.
func (e *echoResults) plot(dir string) error {
	if len(e.runs) == 0 {
		return nil
	}
	pl := plot.New()
	pl.Title.Text = "Echo over TCP loopback: server CPU per request"
	pl.X.Label.Text = "connections (C)"
	pl.Y.Label.Text = "server CPU µs per request"
	pl.X.Scale = plot.LogScale{}
	pl.X.Tick.Marker = plot.LogTicks{Prec: -1}
	pl.Legend.Top = true
	var lines []any
	for _, size := range e.plan.sizes {
		for _, s := range e.servers {
			var pts plotter.XYs
			for _, conns := range e.plan.conns {
				if st, ok := e.stat(s.name, conns, size); ok {
					pts = append(pts, plotter.XY{X: float64(conns), Y: st.cpu})
				}
			}
			if len(pts) > 0 {
				lines = append(lines, fmt.Sprintf("%s %s", s.name, sizeName(size)), pts)
			}
		}
	}
	if err := plotutil.AddLinePoints(pl, lines...); err != nil {
		return fmt.Errorf("plot echo: %w", err)
	}
	pl.Y.Min = 0
	pl.Y.Max *= 1.6 // room for the legend
	if err := pl.Save(7*vg.Inch, 6*vg.Inch, filepath.Join(dir, "echo.svg")); err != nil {
		return fmt.Errorf("plot echo: %w", err)
	}
	return nil
}

func num(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, count(x))
	}
	return strings.Join(s, ", ")
}

func joinSizes(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, sizeName(x))
	}
	return strings.Join(s, ", ")
}
