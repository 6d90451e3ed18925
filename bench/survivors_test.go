package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Tests for what the bench's figures are computed from, each written for a
// change to the code that the rest of the suite let through. None asserts
// how long something took: where real time is involved, they check
// relations that hold however slow the machine is (a part is no longer than
// the whole it was measured inside), or counts.

// burnCPUUntil spins until this process has used at least d of CPU time, so
// that a figure that took in the process's whole CPU time instead of a
// span's stands out against the span's. Later calls in the same process
// return at once.
func burnCPUUntil(d time.Duration) {
	for cpuTime() < d {
		for i := 0; i < 1_000_000; i++ {
			_ = i * i
		}
	}
}

// idleChild starts a process that does nothing (sleep) and returns its pid;
// it is killed when the test ends.
func idleChild(t *testing.T) int {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep to run: ", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// cpuTime is user plus system time: after this process has spent 10 ms in
// the kernel, it is at least what getrusage says the two came to before.
// (Catches cpuTime returning the user time alone.)
func TestCPUTimeCountsSystemTime(t *testing.T) {
	var ru syscall.Rusage
	for ru.Stime.Nano() < int64(10*time.Millisecond) {
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
	}
	both := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if got := cpuTime(); got < both {
		t.Errorf("cpuTime() = %v, below the %v of user (%v) and system (%v) time read before it",
			got, both, time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()))
	}
}

// measure's wall and CPU times are the span's alone: inside the measure
// call, and with the setup's time kept out of the span's. (Catches the CPU
// time read as the process's total instead of the span's difference, and
// the span's wall time counted from before setup.)
func TestMeasureTimesTheSpanAlone(t *testing.T) {
	burnCPUUntil(500 * time.Millisecond)
	cpu0, t0 := cpuTime(), time.Now()
	r, err := measure(func() error { time.Sleep(50 * time.Millisecond); return nil }, func() (int, error) { return 1, nil }, nil)
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	if err != nil {
		t.Fatal(err)
	}
	if r.CPU < 0 || r.CPU > cpu {
		t.Errorf("span CPU %v; the whole measure call used %v", r.CPU, cpu)
	}
	if r.Setup < 50*time.Millisecond || r.Setup+r.Wall > wall {
		t.Errorf("setup %v and span %v; the whole measure call took %v, its setup slept 50ms", r.Setup, r.Wall, wall)
	}
}

// measure counts the span's allocations and the bytes they took, also
// those a collection inside the span freed again. (Catches Allocs read as
// the process's total mallocs, and Bytes taken from the heap in use instead
// of the bytes allocated.)
func TestMeasureCountsTheSpansAllocations(t *testing.T) {
	const n, size = 500, 16 << 10
	var sink []byte
	r, err := measure(nil, func() (int, error) {
		for range n {
			sink = make([]byte, size)
		}
		sink = nil
		runtime.GC()
		return n, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(sink)
	if r.Allocs < n || r.Allocs > 2*n {
		t.Errorf("%d allocations counted; the span made %d", r.Allocs, n)
	}
	if r.Bytes < n*size || r.Bytes > 2*n*size {
		t.Errorf("%d bytes counted; the span allocated %d (and freed them before it ended)", r.Bytes, n*size)
	}
}

// settleAfterBlockingWait keeps its P busy for settleSpin, no less.
// (Catches the spin loop's condition reversed, which spins not at all.)
func TestSettleSpinsForSettleSpin(t *testing.T) {
	start := time.Now()
	settleAfterBlockingWait()
	if took := time.Since(start); took < settleSpin {
		t.Errorf("settleAfterBlockingWait returned after %v, want at least %v", took, settleSpin)
	}
}

// procCPU and procRSS read the process they are given: a sleeping child
// uses next to no CPU and far less memory than this process, which has
// burnt half a second and holds 64 MiB. This process's own figure from
// /proc agrees with getrusage's, in ticks of 10 ms (USER_HZ 100): at most
// one tick each of user and system time below it. (Catches the server's
// figures read from /proc/self, and a clock tick other than 10 ms.)
func TestProcReadsTheGivenProcessInClockTicks(t *testing.T) {
	child := idleChild(t)
	burnCPUUntil(500 * time.Millisecond)
	held := make([]byte, 64<<20)
	for i := range held {
		held[i] = 1
	}
	before := cpuTime()
	self, err := procCPU(os.Getpid())
	after := cpuTime()
	if err != nil {
		t.Fatal(err)
	}
	if self < before-20*time.Millisecond || self > after {
		t.Errorf("procCPU(self) = %v; getrusage said %v before and %v after", self, before, after)
	}
	if c, err := procCPU(child); err != nil || c > 100*time.Millisecond {
		t.Errorf("procCPU(sleeping child) = %v, %v; want next to nothing", c, err)
	}
	selfRSS, err := procRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	childRSS, err := procRSS(child)
	if err != nil || childRSS >= selfRSS || selfRSS < 64<<20 {
		t.Errorf("RSS of a sleeping child %d B (%v), of this process holding 64 MiB %d B", childRSS, err, selfRSS)
	}
	runtime.KeepAlive(held)
}

// Each bucket reads back as its middle: the values that fall into it run
// from lo to hi, and it reads as lo + (hi-lo+1)/2. (Catches the low edge
// read back instead, which stays within the 1/128 that
// TestLatHistBucketsAreContiguousAndNarrow allows for its values.)
func TestLatHistReadsABucketAsItsMiddle(t *testing.T) {
	lo := time.Duration(0)
	for v := time.Duration(1); v <= 1<<16; v++ {
		if v < 1<<16 && latBucket(v) == latBucket(lo) {
			continue
		}
		hi := v - 1
		if got, want := latValue(latBucket(lo)), lo+(hi-lo+1)/2; got != want {
			t.Fatalf("bucket %d holds %v to %v and reads as %v, want %v", latBucket(lo), lo, hi, got, want)
		}
		lo = v
	}
}

// The nearest rank is ceil(q·n), counted from 1: exact on few values,
// where the 1,000 of TestLatHistQuantilesAreNearestRank leave an
// off-by-one within its 1%. (Catches floor for ceil, q·(n-1) for q·n, and
// the first bucket past the rank instead of the one that reaches it.)
func TestLatHistQuantileRanksExactly(t *testing.T) {
	var h latHist
	for _, v := range []time.Duration{30, 10, 20} { // below 128 ns: exact
		h.record(v)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, 10}, {0.3, 10}, {0.34, 20}, {0.5, 20}, {0.67, 30}, {1, 30}} {
		if got := h.quantile(tc.q); got != tc.want {
			t.Errorf("of 10, 20, 30 ns: quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	var ten latHist
	for i := 1; i <= 10; i++ {
		ten.record(time.Duration(10 * i))
	}
	if got := ten.quantile(0.99); got != 100 {
		t.Errorf("p99 of 10..100 ns = %v, want the largest, 100ns", got)
	}
}

// Requests per second is requests over the window's seconds, and server
// CPU per request is the CPU over the requests. (Catches a divisor off by
// one, which the synthetic reports' 100,000 requests hide.)
func TestEchoRunRates(t *testing.T) {
	r := echoRun{requests: 4, wall: 2 * time.Second, serverCPU: 10 * time.Microsecond}
	if got := r.perSec(); got != 2 {
		t.Errorf("4 requests in 2 s: %v per second", got)
	}
	if got := r.cpuPerReq(); got != 2.5 {
		t.Errorf("10 µs of server CPU over 4 requests: %v µs each", got)
	}
}

// A second repetition of a point is kept beside the first, for the idle
// point too: the report's median and range are over all of them. (Catches
// record and recordIdle keeping only the last.)
func TestRecordKeepsEveryRepetition(t *testing.T) {
	e := &echoResults{runs: map[echoKey][]echoRun{}, idle: map[string][]idleRun{}, errs: map[echoKey]error{}}
	k := echoKey{"loop", 10, 64}
	e.record(k, echoRun{requests: 1}, nil)
	e.record(k, echoRun{requests: 2}, nil)
	if got := e.runs[k]; len(got) != 2 || got[0].requests != 1 || got[1].requests != 2 {
		t.Errorf("two repetitions recorded, kept %+v", got)
	}
	ki := echoKey{"loop", 100, 0}
	e.recordIdle(ki, idleRun{conns: 1}, nil)
	e.recordIdle(ki, idleRun{conns: 2}, nil)
	if got := e.idle["loop"]; len(got) != 2 || got[0].conns != 1 || got[1].conns != 2 {
		t.Errorf("two idle repetitions recorded, kept %+v", got)
	}
}

// The echo table's ranges are the repetitions' lowest and highest: of three
// repetitions, each figure's extremes are in different ones. Likewise the
// CPU range of the other workloads' tables. (Catches a min taken as a max
// or a median, and min and max swapped.)
func TestEchoAndSummaryRangesAreMinAndMax(t *testing.T) {
	e := syntheticEcho(map[string]float64{"loop": 5}, map[string]float64{"loop": 100}, map[string]float64{"loop": 200})
	k := echoKey{"loop", 100, 64}
	e.runs[k] = []echoRun{
		{requests: 200_000, wall: time.Second, serverCPU: 1000 * time.Millisecond, p99: 300 * time.Microsecond},
		{requests: 100_000, wall: time.Second, serverCPU: 300 * time.Millisecond, p99: 100 * time.Microsecond},
		{requests: 300_000, wall: time.Second, serverCPU: 1200 * time.Millisecond, p99: 200 * time.Microsecond},
	}
	st, ok := e.stat("loop", 100, 64)
	if !ok || st.perSec != 200_000 || st.perSecMin != 100_000 || st.perSecMax != 300_000 {
		t.Errorf("req/s %v in %v–%v; want 200,000 in 100,000–300,000", st.perSec, st.perSecMin, st.perSecMax)
	}
	if st.cpu != 4 || st.cpuMin != 3 || st.cpuMax != 5 {
		t.Errorf("CPU µs/req %v in %v–%v; want 4 in 3–5", st.cpu, st.cpuMin, st.cpuMax)
	}
	if st.p99 != 200*time.Microsecond || st.p99Min != 100*time.Microsecond || st.p99Max != 300*time.Microsecond {
		t.Errorf("p99 %v in %v–%v; want 200µs in 100µs–300µs", st.p99, st.p99Min, st.p99Max)
	}
	s := summarize(1, []Result{{Ops: 1, CPU: 2}, {Ops: 1, CPU: 3}, {Ops: 1, CPU: 1}})
	if s.cpu != 2 || s.cpuMin != 1 || s.cpuMax != 3 {
		t.Errorf("summarized CPU %v in %v–%v; want 2 in 1–3", s.cpu, s.cpuMin, s.cpuMax)
	}
}

// closedLoop against an in-process server that echoes connection 0 only
// after 400 ms (none of its round trips ends within the window) and the
// others after 2 ms (hundreds of round trips in warm-up and window):
// requests are the window's round trips of every connection, none of the
// warm-up's; the window is inside the call, after the warm-up; the server
// CPU is the window's; every round trip took at least the server's 2 ms.
// The server is this process, which has used half a second of CPU before.
// (Catches warm-up round trips counted, requests taken from the first
// connection alone, the window's start put before the warm-up, and the
// server's CPU read as its total instead of the window's difference.)
func TestClosedLoopCountsTheWindowAlone(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	const conns, size = 4, 64
	// The warm-up is longer than what the call does after the window (the
	// rest of connection 0's echo, 100 ms, and nothingMore's 20 ms), so
	// that a window that took it in would not fit in the call.
	const warmup, span = 200 * time.Millisecond, 100 * time.Millisecond
	var echoed atomic.Int64
	addr := serveTCP(t, func(c net.Conn) {
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if binary.LittleEndian.Uint64(buf[8:]) == 0 {
				time.Sleep(400 * time.Millisecond)
			} else {
				time.Sleep(2 * time.Millisecond)
			}
			echoed.Add(1)
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	burnCPUUntil(500 * time.Millisecond)
	cpu0, t0 := cpuTime(), time.Now()
	r, err := closedLoop(addr, os.Getpid(), conns, size, warmup, span)
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	if err != nil {
		t.Fatal(err)
	}
	total := int(echoed.Load())
	// Unmeasured: the warm-up's round trips and at most one per connection
	// that ended after the window.
	if r.requests <= 0 || total-r.requests <= conns {
		t.Errorf("%d requests counted of the %d round trips made, %d connections; want some, and fewer than all but one a connection (the warm-up's are not counted)", r.requests, total, conns)
	}
	if r.wall < span || warmup+r.wall > elapsed {
		t.Errorf("window %v; want at least the %v span, and with the %v warm-up within the %v the call took", r.wall, span, warmup, elapsed)
	}
	// procCPU is whole ticks of user and system time: up to one of each
	// more than the difference of the exact figures.
	if r.serverCPU < 0 || r.serverCPU > cpu+20*time.Millisecond {
		t.Errorf("server CPU %v over the window; the whole call used %v", r.serverCPU, cpu)
	}
	if r.p50 < 2*time.Millisecond || r.p99 < r.p50 {
		t.Errorf("p50 %v, p99 %v; every echo took at least 2ms", r.p50, r.p99)
	}
}

// idleConns reads the RSS of the server it is given, before and after: here
// a sleeping child, whose RSS does not move, while the connections go to a
// server in this process. (Catches the baseline read from this process.)
func TestIdleConnsReadsTheServersRSS(t *testing.T) {
	child := idleChild(t)
	addr := serveTCP(t, func(c net.Conn) { io.Copy(c, c) })
	rss0, err := procRSS(child)
	if err != nil {
		t.Fatal(err)
	}
	r, err := idleConns(addr, child, 8)
	if err != nil {
		t.Fatal(err)
	}
	rss1, err := procRSS(child)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := min(rss0, rss1), max(rss0, rss1)
	if r.conns != 8 || r.before < lo || r.before > hi || r.after < lo || r.after > hi {
		t.Errorf("idle run %+v; the server's RSS was %d B before and %d B after", r, rss0, rss1)
	}
}

// The setup's garbage is collected before the span, not on its time: a
// 64 MiB buffer setup made and dropped is gone from the heap when the span
// starts. (Catches the collection before the span left out.)
func TestMeasureCollectsBeforeTheSpan(t *testing.T) {
	const big = 64 << 20
	var sink []byte
	var inSpan uint64
	_, err := measure(func() error {
		sink = make([]byte, big)
		sink[big-1] = 1
		sink = nil
		return nil
	}, func() (int, error) {
		inSpan = heapObjectsNow()
		return 1, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(sink)
	if inSpan >= big {
		t.Errorf("the span started with %d B of heap objects; setup's %d B of garbage was not collected first", inSpan, big)
	}
}

// fakeEchoLog is the variable that makes TestFakeEchoServer an echo server,
// and names the file it logs to: "conn" for each connection it accepts,
// "read N" for each read.
const fakeEchoLog = "LOOP_BENCH_FAKE_ECHO_LOG"

// TestFakeEchoServer is not a test: run with fakeEchoLog set, as
// fakeEchoServer runs it, it is an echo server that says what it got.
func TestFakeEchoServer(t *testing.T) {
	path := os.Getenv(fakeEchoLog)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, format, args...)
	}
	fmt.Printf("config fake\nlistening %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		logf("conn\n")
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				logf("read %d\n", n)
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
	}
}

// fakeEchoServer is an echoServer that runs this test binary as
// TestFakeEchoServer, and reads back its log: the connections it accepted
// and the largest read.
func fakeEchoServer(t *testing.T) (s *echoServer, log func() (conns, maxRead int)) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the echo workload reads /proc")
	}
	path := t.TempDir() + "/log"
	s = &echoServer{
		name: "fake",
		bin:  os.Args[0],
		args: []string{"-test.run=^TestFakeEchoServer$"},
		env:  append(os.Environ(), fakeEchoLog+"="+path),
	}
	return s, func() (conns, maxRead int) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
			if line == "conn" {
				conns++
			} else if n, ok := strings.CutPrefix(line, "read "); ok {
				k, err := strconv.Atoi(n)
				if err != nil {
					t.Fatalf("log line %q", line)
				}
				maxRead = max(maxRead, k)
			}
		}
		return conns, maxRead
	}
}

// A point runs the connections and message size it is given against its
// server, and the idle point its number of connections, which the figure
// per connection divides by. (Catches runPoint passing closedLoop the size
// for the connections and the connections for the size, and runIdle asking
// for other than n connections.)
func TestEchoPointsRunWhatTheyAreGiven(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server process")
	}
	s, log := fakeEchoServer(t)
	const conns, size = 3, 100
	r, err := s.runPoint(conns, size, 20*time.Millisecond, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got, maxRead := log(); got != conns || maxRead != size {
		t.Errorf("the server saw %d connections and reads of up to %d B; want %d and %d", got, maxRead, conns, size)
	}
	if r.requests <= 0 || s.config != "fake" {
		t.Errorf("run %+v, config %q", r, s.config)
	}
	const n = 6
	s, log = fakeEchoServer(t)
	idle, err := s.runIdle(n)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := log(); idle.conns != n || got != idleWarmConns+n || idle.before == 0 || idle.after == 0 {
		t.Errorf("idle run %+v, the server saw %d connections; want %d and %d more to warm it", idle, got, n, idleWarmConns)
	}
}

// The closed loop fails against a server that answers every message of a
// connection with that connection's first: the echo must carry the
// sequence number of the message just sent. (Catches every message sent
// with sequence number 0, which such a server passes.)
func TestTheClosedLoopCatchesAStaleEcho(t *testing.T) {
	addr := serveTCP(t, func(c net.Conn) {
		var first []byte
		buf := make([]byte, 64)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if first == nil {
				first = append([]byte(nil), buf...)
			}
			if _, err := c.Write(first); err != nil {
				return
			}
		}
	})
	_, err := closedLoop(addr, os.Getpid(), 2, 64, 20*time.Millisecond, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "echo 1 differs") {
		t.Errorf("against a server that repeats each connection's first message: %v, want echo 1 to differ", err)
	}
}
