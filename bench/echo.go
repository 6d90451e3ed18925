package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The echo workload: TCP echo servers on loopback, each a separate process,
// driven by the closed-loop client of echoclient.go. Not part of the default
// run (it takes minutes): `go run ./bench -workload echo`, or -full.

// WorkEcho is the echo workload's name, as -workload takes it.
const WorkEcho = "echo"

// echoServerNames are the servers, in report order: ours (loop), Go's net
// package, the peers module's, then Node.js (echonode.go).
var echoServerNames = []string{"loop", "net", "gnet", "nbio", echoNode}

// echoPeers are the servers built from the bench/peers module, the event-loop
// libraries in Go that the goals hold loop against.
var echoPeers = []string{"gnet", "nbio"}

// echoKind is the kind -systems takes to select every echo server.
const echoKind = "server"

// echoPlan is the matrix the echo workload runs.
type echoPlan struct {
	conns    []int // concurrent connections, C
	sizes    []int // message bytes, S
	warmup   time.Duration
	span     time.Duration // measured per point and repetition
	reps     int
	idle     int      // idle connections for the memory point; 0 skips it
	servers  []string // selected, in report order
	quick    bool
	defaultN bool   // reps is the default (not -reps)
	cpus     string // -server-cpus: the servers run pinned to these CPUs; "" for not pinned
	binDir   string // -echo-bin: the server binaries are here, built beforehand; "" to build them
}

// echoDefaultReps is how many repetitions the echo workload runs without -reps.
const echoDefaultReps = 3

func echoPlanFor(o options) echoPlan {
	p := echoPlan{
		conns: []int{1, 100, 1000}, sizes: []int{64, 4096},
		warmup: 500 * time.Millisecond, span: 5 * time.Second,
		reps: echoDefaultReps, idle: 10_000, defaultN: true,
	}
	if o.repsSet {
		p.reps, p.defaultN = o.reps, false
	}
	p.cpus, p.binDir = o.serverCPUs, o.echoBin
	if o.quick {
		p = echoPlan{
			conns: []int{1, 10}, sizes: []int{64},
			warmup: 100 * time.Millisecond, span: 300 * time.Millisecond,
			reps: 1, idle: 200, quick: true, cpus: o.serverCPUs, binDir: o.echoBin,
		}
	}
	// -systems may name servers or "server" (all of them); without it, every
	// server runs, except that -quick leaves out the peers (they need their
	// own module's dependencies, which CI may not have) and node (see
	// defaultEchoServers).
	for _, s := range echoServerNames {
		picked := slices.Contains(o.systems, s) || slices.Contains(o.systems, echoKind)
		if o.systemsSet && picked || !o.systemsSet && slices.Contains(defaultEchoServers(o.quick), s) {
			p.servers = append(p.servers, s)
		}
	}
	return p
}

// defaultEchoServers are the servers a run without -systems measures: all of
// them, or under -quick ours alone. -quick's echo checks that the bench's
// own servers and client work; the others are peers, which it leaves to
// TestNodeEchoServerEchoes (node) and to runs that name them, so that what
// -quick runs does not depend on what the machine has installed.
func defaultEchoServers(quick bool) []string {
	if !quick {
		return echoServerNames
	}
	return slices.DeleteFunc(slices.Clone(echoServerNames), func(s string) bool {
		return slices.Contains(echoPeers, s) || s == echoNode
	})
}

// pointSecs estimates one repetition at one point: warm-up, span, and
// starting the server, dialling and stopping.
func (p echoPlan) pointSecs() float64 { return (p.warmup + p.span).Seconds() + 0.3 }

// idleSecs estimates one idle-memory repetition: dialling and echoing at
// about 10,000 connections a second, the settling, and the server.
func (p echoPlan) idleSecs() float64 { return 2*idleSettle.Seconds() + float64(p.idle)/10_000 + 0.5 }

func (p echoPlan) estimate(servers int) time.Duration {
	s := float64(servers*p.reps) * (float64(len(p.conns)*len(p.sizes))*p.pointSecs() + p.idleSecs())
	return time.Duration(s * float64(time.Second))
}

// echoKey identifies the repetitions of one server at one point; the idle
// point has size 0.
type echoKey struct {
	server      string
	conns, size int
}

// echoServer is a server binary and what to run it with.
type echoServer struct {
	name   string
	bin    string
	args   []string
	env    []string // its environment; nil for the bench's own
	cpus   string   // pinned to these CPUs with taskset; "" for not pinned
	config string   // its own line on its configuration, from its first start
}

// echoResults is everything the echo workload measured.
type echoResults struct {
	plan    echoPlan
	servers []*echoServer // that ran, in report order
	notes   []string      // what was skipped, and why
	runs    map[echoKey][]echoRun
	idle    map[string][]idleRun
	errs    map[echoKey]error
	took    time.Duration
}

// record keeps one repetition of a point. A failed repetition drops the
// point's earlier ones too (and the later ones are not run): the point is
// missing from the tables and the targets, as the report says, and a server
// is never judged on the repetitions that happened to succeed.
func (e *echoResults) record(k echoKey, r echoRun, err error) {
	if err != nil {
		e.errs[k] = err
		delete(e.runs, k)
		return
	}
	e.runs[k] = append(e.runs[k], r)
}

// recordIdle is record for the idle point, whose key has size 0.
func (e *echoResults) recordIdle(k echoKey, r idleRun, err error) {
	if err != nil {
		e.errs[k] = err
		delete(e.idle, k.server)
		return
	}
	e.idle[k.server] = append(e.idle[k.server], r)
}

// failures lists the points that failed.
func (e *echoResults) failures() []string {
	var out []string
	for k, err := range e.errs {
		if k.size == 0 {
			out = append(out, fmt.Sprintf("%s on echo idle (%s connections): %v", k.server, count(k.conns), err))
		} else {
			out = append(out, fmt.Sprintf("%s on echo at C=%s, %s: %v", k.server, count(k.conns), sizeName(k.size), err))
		}
	}
	slices.Sort(out)
	return out
}

// measureEcho builds the servers plan selects, then runs the matrix: per
// point (C, S), for each repetition, every server in the order serverOrder gives,
// each in a fresh process; then the idle-memory point the same way.
func measureEcho(p echoPlan, progress io.Writer) *echoResults {
	res := &echoResults{plan: p, runs: map[echoKey][]echoRun{}, idle: map[string][]idleRun{}, errs: map[echoKey]error{}}
	if runtime.GOOS != "linux" {
		res.notes = append(res.notes, "echo: skipped: server CPU and memory are read from Linux's /proc")
		return res
	}
	if len(p.servers) == 0 {
		res.notes = append(res.notes, "echo: no server selected: -systems names none of "+strings.Join(echoServerNames, ", ")+" or "+echoKind)
		return res
	}
	dir, err := os.MkdirTemp("", "loop-echo-")
	if err != nil {
		res.notes = append(res.notes, "echo: skipped: "+err.Error())
		return res
	}
	defer os.RemoveAll(dir)
	if p.binDir != "" {
		res.servers, res.notes = prebuiltEchoServers(p.binDir, p.servers)
	} else {
		if slices.ContainsFunc(p.servers, func(s string) bool { return s != echoNode }) {
			fmt.Fprintf(progress, "bench: echo: building the servers\n")
		}
		res.servers, res.notes = buildEchoServers(dir, p.servers)
	}
	if len(res.servers) == 0 {
		return res
	}
	for _, s := range res.servers {
		s.cpus = p.cpus
	}
	if p.cpus != "" {
		if both := cpuOverlap(allowedCPUs(), p.cpus); len(both) > 0 {
			res.notes = append(res.notes, fmt.Sprintf("echo: the client (this process, CPUs %s) may run on CPUs the servers are pinned to (%s): run the bench under taskset -c with other CPUs", allowedCPUs(), p.cpus))
		}
	}
	if p.idle > 0 {
		if lim := openFileLimit(); lim < uint64(p.idle)+256 {
			res.notes = append(res.notes, fmt.Sprintf("echo idle: skipped: the open-file limit is %d; %s idle connections need %d", lim, count(p.idle), p.idle+256))
			p.idle = 0
			res.plan.idle = 0
		}
	}

	est := p.estimate(len(res.servers))
	fmt.Fprintf(progress, "bench: echo: %d servers × %d points × %d repetitions of %s: about %s\n",
		len(res.servers), len(p.conns)*len(p.sizes), p.reps, p.span, est.Round(time.Second))
	total, done := est.Seconds(), 0.0
	start := time.Now()
	tick := func(what string, round int, secs float64) {
		done += secs
		elapsed := time.Since(start)
		left := time.Duration(max(total-done, 0) * float64(time.Second))
		fmt.Fprintf(progress, "\rbench: echo %3.0f%%  %-16s round %d/%d  elapsed %-6s left ~%-6s ",
			100*min(done/total, 1), what, round+1, p.reps, elapsed.Round(time.Second), left.Round(time.Second))
	}
	for _, size := range p.sizes {
		for _, conns := range p.conns {
			for round := range p.reps {
				order := serverOrder(len(res.servers), uint64(conns*size), round)
				for _, i := range order {
					s := res.servers[i]
					k := echoKey{s.name, conns, size}
					if _, failed := res.errs[k]; !failed {
						r, err := s.runPoint(conns, size, p.warmup, p.span)
						if err != nil {
							fmt.Fprintf(progress, "\nbench: echo %s at C=%d, %s: %v\n", s.name, conns, sizeName(size), err)
						}
						res.record(k, r, err)
					}
					tick(fmt.Sprintf("C=%d %s", conns, sizeName(size)), round, p.pointSecs())
				}
			}
		}
	}
	if p.idle > 0 {
		for round := range p.reps {
			order := serverOrder(len(res.servers), uint64(p.idle), round)
			for _, i := range order {
				s := res.servers[i]
				k := echoKey{s.name, p.idle, 0}
				if _, failed := res.errs[k]; !failed {
					r, err := s.runIdle(p.idle)
					if err != nil {
						fmt.Fprintf(progress, "\nbench: echo %s idle: %v\n", s.name, err)
					}
					res.recordIdle(k, r, err)
				}
				tick(fmt.Sprintf("idle %s", count(p.idle)), round, p.idleSecs())
			}
		}
	}
	res.took = time.Since(start)
	fmt.Fprintf(progress, "\rbench: echo done in %s%s\n", res.took.Round(time.Second), strings.Repeat(" ", 60))
	return res
}

func sizeName(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func (s *echoServer) runPoint(conns, size int, warmup, span time.Duration) (echoRun, error) {
	proc, err := s.start()
	if err != nil {
		return echoRun{}, err
	}
	r, err := closedLoop(proc.addr, proc.pid(), conns, size, warmup, span)
	return r, errors.Join(err, proc.stop())
}

func (s *echoServer) runIdle(n int) (idleRun, error) {
	proc, err := s.start()
	if err != nil {
		return idleRun{}, err
	}
	r, err := idleConns(proc.addr, proc.pid(), n)
	return r, errors.Join(err, proc.stop())
}

// buildEchoServers builds the selected servers into dir: bench/echoserver
// of this module (net, and loop when this build has it), and bench/peers,
// its own module (gnet, nbio); node needs no build. What cannot be built is
// left out with a note.
func buildEchoServers(dir string, names []string) (servers []*echoServer, notes []string) {
	root, err := moduleRoot()
	if err != nil {
		return nil, []string{"echo: skipped: " + err.Error()}
	}
	return echoServersFrom(names, func(bin string) (string, error) {
		out := filepath.Join(dir, bin)
		if bin == "peers" {
			if err := goBuild(filepath.Join(root, "bench", "peers"), out, "."); err != nil {
				return "", fmt.Errorf("cannot build the bench/peers module (it needs gnet and nbio from the module proxy): %v", err)
			}
			return out, nil
		}
		if err := goBuild(root, out, "./bench/echoserver"); err != nil {
			return "", fmt.Errorf("cannot build bench/echoserver: %v", err)
		}
		return out, nil
	})
}

// prebuiltEchoServers finds the selected servers' binaries in dir (-echo-bin),
// for a machine with no Go toolchain or no module proxy: echoserver built
// from bench/echoserver and peers from the bench/peers module. node is not
// there: it is the Node.js found on this machine, as without -echo-bin.
func prebuiltEchoServers(dir string, names []string) (servers []*echoServer, notes []string) {
	// Absolute, so that the binaries are run from dir: "-echo-bin ." would
	// make a bare "echoserver", which exec looks up in $PATH instead.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return echoServersFrom(names, func(bin string) (string, error) {
		path := filepath.Join(dir, bin)
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("-echo-bin: %v (%s)", err, echoBinHint)
		}
		return path, nil
	})
}

// echoBinHint says how to fill an -echo-bin directory.
const echoBinHint = "build them with (DIR an absolute path, as the cd needs): go build -o DIR/echoserver ./bench/echoserver && (cd bench/peers && go build -o DIR/peers .)"

// echoServersFrom makes the selected servers from the two binaries that
// binary returns, by name: "echoserver" (net and loop) and "peers" (gnet and
// nbio); and node from the Node.js found among nodeCandidates. A server
// whose binary cannot be had is left out with a note.
func echoServersFrom(names []string, binary func(name string) (string, error)) (servers []*echoServer, notes []string) {
	built := map[string]*echoServer{}
	var ours, peers []string
	for _, n := range names {
		switch {
		case n == echoNode:
			if s, err := nodeEchoServer(nodeCandidates); err != nil {
				notes = append(notes, n+": skipped: "+err.Error())
			} else {
				built[n] = s
			}
		case slices.Contains(echoPeers, n):
			peers = append(peers, n)
		default:
			ours = append(ours, n)
		}
	}
	if len(ours) > 0 {
		if bin, err := binary("echoserver"); err != nil {
			notes = append(notes, fmt.Sprintf("%s: skipped: %v", strings.Join(ours, ", "), err))
		} else if has, err := listServers(bin); err != nil {
			notes = append(notes, fmt.Sprintf("%s: skipped: %s -list: %v", strings.Join(ours, ", "), bin, err))
		} else {
			for _, n := range ours {
				if !slices.Contains(has, n) {
					notes = append(notes, fmt.Sprintf("%s: skipped: %s has no %q server in this build", n, bin, n))
					continue
				}
				built[n] = &echoServer{name: n, bin: bin, args: []string{"-server", n}}
			}
		}
	}
	if len(peers) > 0 {
		if bin, err := binary("peers"); err != nil {
			notes = append(notes, fmt.Sprintf("%s: skipped: %v", strings.Join(peers, ", "), err))
		} else {
			for _, n := range peers {
				built[n] = &echoServer{name: n, bin: bin, args: []string{"-server", n}}
			}
		}
	}
	for _, n := range echoServerNames {
		if s, ok := built[n]; ok {
			servers = append(servers, s)
		}
	}
	return servers, notes
}

// moduleRoot is the directory of this module's go.mod, found from the
// working directory (go run ./bench and go test both run inside it).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	root := filepath.Dir(gomod)
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the loop repository")
	}
	if _, err := os.Stat(filepath.Join(root, "bench", "echoserver")); err != nil {
		return "", fmt.Errorf("%s has no bench/echoserver: run from the loop repository", root)
	}
	return root, nil
}

// goBuildTimeout bounds a build, which for bench/peers may download modules.
const goBuildTimeout = 5 * time.Minute

func goBuild(dir, out, pkg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), goBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, buildError(stderr.String()))
	}
	return nil
}

// buildError is the line of go build's stderr that says what went wrong:
// the first that is not a "go: downloading" line.
func buildError(stderr string) string {
	for line := range strings.SplitSeq(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "go: downloading ") {
			return line
		}
	}
	return firstLine(stderr)
}

func listServers(bin string) ([]string, error) {
	out, err := exec.Command(bin, "-list").Output()
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if line == "" {
		return "no message"
	}
	return line
}

// serverProc is a running echo server.
type serverProc struct {
	cmd    *exec.Cmd
	addr   string
	exited chan error // receives cmd.Wait's result
	stderr *cappedBuffer
}

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// serverStartTimeout bounds the wait for "listening".
const serverStartTimeout = 10 * time.Second

// start runs the server and waits for its "listening ADDR" line; the
// "config" line before it becomes s.config the first time.
func (s *echoServer) start() (*serverProc, error) {
	lines := &lineWatcher{listening: make(chan string, 1)}
	cmd, err := pinnedCommand(s.cpus, s.bin, s.args)
	if err != nil {
		return nil, err
	}
	p := &serverProc{
		cmd:    cmd,
		exited: make(chan error, 1),
		stderr: &cappedBuffer{max: 4 << 10},
	}
	p.cmd.Env = s.env
	p.cmd.Stdout, p.cmd.Stderr = lines, p.stderr
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.exited <- p.cmd.Wait() }()
	select {
	case p.addr = <-lines.listening:
		if s.config == "" {
			s.config = lines.configLine()
		}
		return p, nil
	case err := <-p.exited:
		return nil, fmt.Errorf("%s exited before listening: %v: %s", s.name, err, firstLine(p.stderr.String()))
	case <-time.After(serverStartTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return nil, fmt.Errorf("%s did not print its address within %v: %s", s.name, serverStartTimeout, firstLine(p.stderr.String()))
	}
}

// stop sends SIGTERM and waits for the exit, killing the server if it takes
// more than a few seconds. Its exit status is not an error: some servers
// report the connections that shutdown cut.
func (p *serverProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("server ignored SIGTERM for 5 s and was killed")
	}
}

// lineWatcher is a server's stdout: it picks out the "config TEXT" and
// "listening ADDR" lines and drops the rest (gnet and nbio log there).
type lineWatcher struct {
	mu        sync.Mutex
	partial   []byte
	config    string
	listening chan string
	sent      bool
}

func (w *lineWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if c, ok := strings.CutPrefix(line, "config "); ok {
			w.config = c
		}
		if a, ok := strings.CutPrefix(line, "listening "); ok && !w.sent {
			w.sent = true
			w.listening <- strings.TrimSpace(a)
		}
	}
	if len(w.partial) > 64<<10 { // a runaway line: not ours
		w.partial = w.partial[:0]
	}
	return len(b), nil
}

func (w *lineWatcher) configLine() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.config
}

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serverOrder is the order in which n servers run in one round of a point:
// row round (mod n) of a Williams square, its servers relabelled by a
// shuffle of the point's own. In n rounds every server takes every place
// once, and with an even n every server follows every other one exactly
// once, so none runs after the same one in every round (with an odd n that
// balance takes 2n rounds). A fresh shuffle per round had put loop second
// in all three rounds of one point, and a shuffle rotated by one place each
// round kept the same server before each one.
func serverOrder(n int, point uint64, round int) []int {
	label := rand.New(rand.NewPCG(point, 0)).Perm(n)
	order := make([]int, n)
	lo, hi := 1, n-1 // the first row: 0, 1, n-1, 2, n-2, ...
	for j := range order {
		var first int
		switch {
		case j == 0:
		case j%2 == 1:
			first, lo = lo, lo+1
		default:
			first, hi = hi, hi-1
		}
		order[j] = label[(first+round)%n]
	}
	return order
}
