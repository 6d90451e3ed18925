package main

// Tests for the variant drivers (drive_balanced.go and its copies) and the
// echo servers the echo workload runs (bench/echoserver, and Node's through
// nodeEchoServer), each written for a change that a mutation round let
// through the rest of the suite: a driver that does less work than its
// workload says, or an echo server that echoes less than it reads, makes
// every speedup in the report dishonest. None asserts a speed; real time is
// only a lower bound (a timers span cannot end before its last deadline) or
// a generous bound on a hang.

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// drivenLoop is a loop of one variant, or of package loop, that its copy of
// the driver takes.
type drivenLoop struct {
	name  string
	stats bool // the variant keeps counters
	new   func() (core.Loop, error)
}

func drivenLoops() []drivenLoop {
	var out []drivenLoop
	for _, v := range append(slices.Clone(all.Variants), all.Generic) {
		out = append(out, drivenLoop{v.Name, v.Params.Stats, func() (core.Loop, error) { return v.New(core.Config{}) }})
	}
	return append(out, drivenLoop{"loop", false, func() (core.Loop, error) { return loop.New() }})
}

// inspectable is what the test reads of a loop after its span.
type inspectable interface {
	Pending() int
	Stats() core.Stats
}

// Every copy of the driver leaves nothing behind (no callback queued, no
// timer armed: the span did all of its workload's work, and the op count it
// returns is not just n), does not end a timers span before its last
// deadline, and on the variant that counts makes exactly the workload's
// callbacks and timers. (Catches the timers span running the callbacks
// workload, timers given half their delay or delays i%5, every delay made
// 1 ns, a 0 ms delay given as a CallSoon, every other timer made a
// CallSoon, the timers span stopping one timer short (a hang at n=1), the
// posts span stopping at n posts of 4n, and the timeouts span leaving the
// 5% armed, or all of them, while counting them as cancelled.)
func TestEveryDriverDoesItsWorkloadsWork(t *testing.T) {
	loops := drivenLoops()
	statsSeen := false
	for _, dl := range loops {
		spans := directSpans[dl.name]
		if spans == nil {
			t.Fatalf("%s has no driver", dl.name)
		}
		statsSeen = statsSeen || dl.stats
		for _, w := range []string{WorkCallbacks, WorkTimers, WorkPosts1, WorkPosts4, WorkTimeouts} {
			for _, n := range []int{1, 10, 1000} {
				l, err := dl.new()
				if err != nil {
					t.Fatal(err)
				}
				var handles []core.Timer
				if w == WorkTimeouts {
					handles = make([]core.Timer, n)
				}
				span := spans(l, w, n, handles)
				if span == nil {
					t.Fatalf("%s: no span for %s", dl.name, w)
				}
				ops, wall, err := spanWithin(t, l, span)
				in := l.(inspectable)
				pending, stats := in.Pending(), in.Stats()
				l.Close()
				where := fmt.Sprintf("%s %s at n=%d", dl.name, w, n)
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				if want := workOps(w, n); ops != want {
					t.Errorf("%s: %d ops, want %d", where, ops, want)
				}
				if pending != 0 {
					t.Errorf("%s: %d callbacks or timers left pending after the span", where, pending)
				}
				if last := workTimerDelay(min(n, 10) - 1); w == WorkTimers && wall < last {
					t.Errorf("%s: done after %v, before the last deadline (%v)", where, wall, last)
				}
				if !dl.stats {
					continue
				}
				// The spans that schedule from a callback run one more.
				want := map[string]core.Stats{
					WorkCallbacks: {Callbacks: uint64(n)},
					WorkTimers:    {Callbacks: 1, Timers: uint64(n)},
					WorkPosts1:    {Callbacks: uint64(n) + 1},
					WorkPosts4:    {Callbacks: 4*uint64(n) + 1},
					WorkTimeouts:  {Callbacks: 1},
				}[w]
				if stats.Callbacks != want.Callbacks || stats.Timers != want.Timers {
					t.Errorf("%s: ran %d callbacks and %d timers, want %d and %d", where, stats.Callbacks, stats.Timers, want.Callbacks, want.Timers)
				}
			}
		}
	}
	if !statsSeen {
		t.Error("no variant keeps counters: the callback and timer counts went unchecked")
	}
}

// spanWithin runs span, stopping l if it has not returned after a generous
// bound: a driver that lost an op never reaches its count.
func spanWithin(t *testing.T, l core.Loop, span func() (int, error)) (int, time.Duration, error) {
	t.Helper()
	hung := time.AfterFunc(10*time.Second, l.Stop)
	defer hung.Stop()
	start := time.Now()
	ops, err := span()
	wall := time.Since(start)
	if !hung.Stop() {
		return ops, wall, errors.New("not done after 10 s")
	}
	return ops, wall, err
}

// The timeouts workload's handles are made before the span, as the
// baselines make theirs: they are the workload's bookkeeping, not the
// loop's. On a kept loop, whose timer slab the first span grew, the span
// allocates next to nothing; handles made inside it are 8 bytes a timer.
// (Catches the driver making its own handles in the span.)
func TestTheTimeoutsHandlesAreMadeBeforeTheSpan(t *testing.T) {
	s, _, _ := countedSystem(t, true)
	defer s.Close()
	const n = 100_000
	var r Result
	for range 2 {
		var err error
		if r, err = s.Run(WorkTimeouts, n); err != nil || r.Ops != n {
			t.Fatalf("%d ops, %v", r.Ops, err)
		}
	}
	if handles := uint64(n * 8); r.Bytes >= handles/4 {
		t.Errorf("the span on a kept loop allocated %d bytes; the handles alone are %d", r.Bytes, handles)
	}
}

// The shapes of the driver's workloads that no run can show: which of the
// loop's methods each workload's function calls (a callbacks span made of
// Posts runs as many callbacks, and the loop's counters cannot tell them
// apart), and, in the timeouts workload, the timers' delays and the order of
// the two cancelling passes: every timer is cancelled before it fires, so
// delays of 1-60 ms instead of 1-60 s, all timers cancelled in the first
// pass, or a second pass over every timer leave the same counts behind. So
// the template's own syntax is checked against the workloads' helpers.
// (Catches callbacks queued with Post, posts1 run as the callbacks
// workload, posts4's 4n posts sent by one producer, the producers started
// before the loop runs, the timeouts' delays in ms or all workTimeoutDelay(0), the
// first pass not guarded by workCancelledFirst, and the second pass
// stepping by 1.)
func TestTheDriverTemplateCallsWhatEachWorkloadMeasures(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "drive_balanced.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	text := func(n ast.Node) string {
		var b bytes.Buffer
		_ = printer.Fprint(&b, fset, n)
		return b.String()
	}
	funcs := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			funcs[fd.Name.Name] = fd
		}
	}
	// loopCalls are the calls of l's methods in fn, with their arguments.
	loopCalls := func(fn string) (methods []string, calls map[string][]string) {
		calls = map[string][]string{}
		fd := funcs[fn]
		if fd == nil {
			t.Fatalf("drive_balanced.go has no %s", fn)
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "l" {
					if !slices.Contains(methods, sel.Sel.Name) {
						methods = append(methods, sel.Sel.Name)
					}
					for _, a := range call.Args {
						calls[sel.Sel.Name] = append(calls[sel.Sel.Name], text(a))
					}
				}
			}
			return true
		})
		slices.Sort(methods)
		return methods, calls
	}
	for fn, want := range map[string][]string{
		"callbacksBalanced": {"CallSoon", "Run", "Stop"},
		"timersBalanced":    {"CallLater", "CallSoon", "Run", "Stop"},
		"postsBalanced":     {"CallSoon", "Post", "Run", "Stop"},
		"timeoutsBalanced":  {"CallLater", "CallSoon", "Cancel", "Run", "Stop"},
	} {
		if got, _ := loopCalls(fn); !slices.Equal(got, want) {
			t.Errorf("%s calls the loop's %v, want %v", fn, got, want)
		}
	}
	if _, calls := loopCalls("timersBalanced"); !slices.Contains(calls["CallLater"], "max(workTimerDelay(i), time.Nanosecond)") {
		t.Errorf("the timers are scheduled with %v, want max(workTimerDelay(i), time.Nanosecond)", calls["CallLater"])
	}
	_, calls := loopCalls("timeoutsBalanced")
	if !slices.Contains(calls["CallLater"], "workTimeoutDelay(i)") {
		t.Errorf("the timeouts are scheduled with %v, want workTimeoutDelay(i)", calls["CallLater"])
	}
	body := text(funcs["timeoutsBalanced"].Body)
	for _, want := range []string{"workCancelledFirst(i) && l.Cancel(h)", "i += workTimeoutKeepEvery"} {
		if !strings.Contains(body, want) {
			t.Errorf("timeoutsBalanced lacks %q: its cancelling passes are not 95%% then the rest", want)
		}
	}
	// Each workload's span calls the function that measures it, posts with
	// its own number of producers.
	spans := text(funcs["spansBalanced"].Body)
	for _, want := range []string{
		"case WorkCallbacks:\n\t\treturn func() (int, error) { return callbacksBalanced(bl, n) }",
		"case WorkTimers:\n\t\treturn func() (int, error) { return timersBalanced(bl, n) }",
		"case WorkPosts1:\n\t\treturn func() (int, error) { return postsBalanced(bl, 1, n) }",
		"case WorkPosts4:\n\t\treturn func() (int, error) { return postsBalanced(bl, 4, n) }",
		"case WorkTimeouts:\n\t\treturn func() (int, error) { return timeoutsBalanced(bl, handles) }",
	} {
		if !strings.Contains(spans, want) {
			t.Errorf("spansBalanced lacks\n%s\nin\n%s", want, spans)
		}
	}
}

// echoServerBinary builds bench/echoserver as echoserver in a temporary
// directory of its own (as -echo-bin expects it) and returns its path.
func echoServerBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the echo servers are run as on Linux (the workload reads /proc)")
	}
	if testing.Short() {
		t.Skip("builds and runs servers")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "echoserver")
	if err := goBuild(root, bin, "./bench/echoserver"); err != nil {
		t.Fatal(err)
	}
	return bin
}

// roundTrip sends msg on c and checks that exactly msg comes back.
func roundTrip(c net.Conn, msg []byte) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	errc := make(chan error, 1)
	// Written from a goroutine: a message larger than the socket buffers
	// only goes through while its echo is read.
	go func() {
		_, err := c.Write(msg)
		errc <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("%d B: %v", len(msg), err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("%d B: write: %v", len(msg), err)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("%d B: the echo differs", len(msg))
	}
	return nil
}

// Our echo servers echo every byte of messages larger than the bench's
// largest (4 KiB) and than their read buffers, serve a connection while
// another is open, and exit with status 0 on SIGTERM, as the Node server's
// test asks of it. The echo matrix of the suite sends 64 B messages only,
// and the harness's stop takes any exit. (Catches the net server and the
// loop handler echoing at most 1 KiB of a read, the net server serving one
// connection at a time, and SIGTERM left to kill the process.)
func TestOurEchoServersEchoWholeMessagesAndExitCleanly(t *testing.T) {
	bin := echoServerBinary(t)
	for _, name := range []string{"net", "loop"} {
		s := &echoServer{name: name, bin: bin, args: []string{"-server", name}}
		p, err := s.start()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		first, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			p.stop()
			t.Fatalf("%s: %v", name, err)
		}
		second, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			p.stop()
			t.Fatalf("%s: %v", name, err)
		}
		// The second connection first: the first is open and idle.
		for i, c := range []net.Conn{second, first} {
			for _, size := range []int{1, 64, 4096, 200_000} {
				if err := roundTrip(c, newMessage(i, size)); err != nil {
					t.Errorf("%s, connection %d: %v", name, i, err)
				}
			}
			if err := nothingMore(c, i); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		first.Close()
		second.Close()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-p.exited:
			if err != nil {
				t.Errorf("%s on SIGTERM: %v; want exit status 0", name, err)
			}
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("%s: still running 10 s after SIGTERM", name)
		}
	}
}

// -list names every server the binary has: -echo-bin takes the servers it
// runs from that list, so one left off is silently not measured. (Catches
// loop left off the list.)
func TestTheEchoServerListsItsServers(t *testing.T) {
	bin := echoServerBinary(t)
	out, err := exec.Command(bin, "-list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, []string{"loop", "net"}) {
		t.Errorf("-list printed %q, want loop and net", got)
	}
}

// The net server's config line, which the report prints, names its read
// buffer, and that buffer holds the bench's largest message (4 KiB) in one
// read, as the line's server is described. (Catches a 256 B buffer, which
// echoes correctly in 16 reads and writes per message.)
func TestTheNetServersBufferHoldsTheLargestMessage(t *testing.T) {
	bin := echoServerBinary(t)
	s := &echoServer{name: "net", bin: bin, args: []string{"-server", "net"}}
	p, err := s.start()
	if err != nil {
		t.Fatal(err)
	}
	p.stop()
	if !strings.Contains(s.config, "its own 4 KiB buffer") {
		t.Errorf("net's config %q does not name a 4 KiB read buffer", s.config)
	}
}

// The loop server is the Group its config line describes: one
// SO_REUSEPORT listener per loop, as many loops as the line says. (Catches
// a Group of one loop under a line that says GOMAXPROCS.)
func TestTheLoopServerListensOncePerLoopItDescribes(t *testing.T) {
	bin := echoServerBinary(t)
	// More than one loop whatever the machine, so that one is not enough.
	s := &echoServer{name: "loop", bin: bin, args: []string{"-server", "loop"}, env: append(os.Environ(), "GOMAXPROCS=3")}
	p, err := s.start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	var loops int
	if _, err := fmt.Sscanf(s.config, "sock.Group of %d loops", &loops); err != nil || loops != 3 {
		t.Fatalf("config %q: %d loops (%v), want a Group of 3", s.config, loops, err)
	}
	_, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	portNum, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip(err)
	}
	// local_address 0100007F:PORT (127.0.0.1, hex), st 0A (LISTEN).
	local := fmt.Sprintf("0100007F:%04X", portNum)
	listeners := 0
	for line := range strings.SplitSeq(string(table), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == local && f[3] == "0A" {
			listeners++
		}
	}
	if listeners != loops {
		t.Errorf("%d listeners on %s, want one per loop (%d)", listeners, p.addr, loops)
	}
}

// The net server outlives running out of descriptors: accept fails
// (EMFILE) while the connections hold them all, and once they are closed
// the server accepts and echoes again. A server that ended on the first
// failed accept lost the point and every later one. (Catches runNet
// returning the accept error.)
func TestTheNetServerOutlivesRunningOutOfDescriptors(t *testing.T) {
	bin := echoServerBinary(t)
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to lower the server's descriptor limit with")
	}
	// ulimit -n lowers the hard limit too, so raiseNoFile cannot lift it.
	s := &echoServer{name: "net", bin: "sh", args: []string{"-c", `ulimit -n 32 && exec "$0" -server net`, bin}}
	p, err := s.start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// More connections than the limit: the kernel completes their
	// handshakes into the backlog, and the server's accepts fail.
	for range 40 {
		c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	if len(conns) == 0 {
		t.Fatal("no connection")
	}
	// One echo on the first connection, accepted before the limit: the
	// server goes on with a failing accept in the background.
	if err := roundTrip(conns[0], newMessage(0, 64)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // some failed accepts
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			err = roundTrip(c, newMessage(1, 64))
			c.Close()
			if err == nil {
				break
			}
		}
		select {
		case err := <-p.exited:
			p.exited <- err // for the deferred stop
			t.Fatalf("the server exited after running out of descriptors: %v: %s", err, firstLine(p.stderr.String()))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no echo 10 s after the connections were closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The Node.js echo server is the Node found among the candidates, run by
// its path, not whatever "node" PATH names. (Catches bin "node": with PATH
// holding no node, the server does not start.)
func TestNodeEchoServerRunsTheNodeItFound(t *testing.T) {
	nodeEchoOrSkip(t)
	path, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on PATH")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	saved := nodeCandidates
	nodeCandidates = []string{abs}
	t.Cleanup(func() { nodeCandidates = saved })
	t.Setenv("PATH", t.TempDir())
	s, err := nodeEchoServer(nodeCandidates)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.start()
	if err != nil {
		t.Fatalf("with no node on PATH: %v", err)
	}
	defer p.stop()
	c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, newMessage(0, 64)); err != nil {
		t.Error(err)
	}
}
