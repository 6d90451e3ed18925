package main

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tests from a mutation round on the Python and Node peers (loopbench.py,
// loopbench.js, python.go, node.go, peer.go). Each guards something a
// one-line change broke while the rest of the suite still passed; its
// comment names the change. The scripts are checked by drivers that load
// them with the loop's calls recorded (what the workload asks of the loop
// must be the Go side's workload, checked against workTimerDelay,
// workTimeoutDelay and workCancelledFirst), or with clocks that move only
// when told (what is reported must be the means of runs measured as runSpan
// measures), so nothing here depends on how fast the machine is.

// peerDriver writes a driver's source into a temporary directory and
// returns its path.
func peerDriver(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonLines decodes each line of out into a T.
func jsonLines[T any](t *testing.T, out []byte) []T {
	t.Helper()
	var all []T
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("driver output %q: %v", line, err)
		}
		all = append(all, v)
	}
	return all
}

// sameSeconds reports whether a script's figure in seconds is want, to the
// float's precision.
func sameSeconds(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1e-6, math.Abs(want))
}

// wantCancelOrder is the timeouts workload's order of cancellation at scale
// n, as the Go side's: first each timer workCancelledFirst names, then the
// others, each pass in index order.
func wantCancelOrder(n int) []int {
	var first, rest []int
	for i := range n {
		if workCancelledFirst(i) {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	return append(first, rest...)
}

// runsToFill is how many runs of a span of wall seconds runSpan makes to
// fill minSpan, capped at maxInner.
func runsToFill(wall float64) int {
	if wall <= 0 {
		return maxInner
	}
	return min(int(math.Ceil(minSpan.Seconds()/wall)), maxInner)
}

// loopbenchPyWorkDriver runs workloads of loopbench.py (argv[1]) on loop
// kind argv[2] at scale argv[3], each on a loop made by the script's
// new_loop, with the loop's call_soon, call_later and call_soon_threadsafe,
// the timer handles' cancel, the socketpair's bytes and the threads' starts
// recorded, and prints one JSON line a workload. uvloop is a stand-in (a
// subclass of asyncio's loop), so the uvloop path runs without uvloop.
const loopbenchPyWorkDriver = `
import asyncio, importlib.util, json, os, socket, sys, threading, types

# asyncio's debug mode asked for, as a caller's environment may: the script
# must switch it off itself.
os.environ["PYTHONASYNCIODEBUG"] = "1"

spec = importlib.util.spec_from_file_location("loopbench", sys.argv[1])
lb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lb)


class FakeUVLoop(asyncio.SelectorEventLoop):
    pass


# A stand-in uvloop, so that the script's uvloop path runs where uvloop is
# not installed: it must make its loop with uvloop.new_event_loop.
sys.modules["uvloop"] = types.SimpleNamespace(__version__="0-fake", new_event_loop=FakeUVLoop)


class Counted:
    """A socket whose bytes sent and read are counted."""

    def __init__(self, sock, rec):
        self.sock, self.rec = sock, rec

    def __getattr__(self, name):
        return getattr(self.sock, name)

    def sendall(self, data):
        self.rec["bytes_sent"] += len(data)
        return self.sock.sendall(data)

    def recv(self, size):
        data = self.sock.recv(size)
        self.rec["bytes_read"] += len(data)
        return data


class Handle:
    def __init__(self, handle, index, rec):
        self.handle, self.index, self.rec = handle, index, rec

    def cancel(self):
        self.rec["cancels"].append(self.index)
        self.handle.cancel()


def record(kind, workload, n):
    loop = lb.new_loop(kind)
    rec = {"workload": workload, "n": n, "loop_class": type(loop).__name__, "debug": loop.get_debug(),
           "call_soon": 0, "threadsafe": 0, "threadsafe_on_loop_thread": 0, "delays": [], "cancels": [],
           "ran": 0, "ran_after": 0, "bytes_sent": 0, "bytes_read": 0, "thread_starts_while_running": []}
    lock = threading.Lock()
    real_soon, real_later, real_threadsafe = loop.call_soon, loop.call_later, loop.call_soon_threadsafe
    main = threading.get_ident()

    def counted(fn):
        def run(*args):
            rec["ran"] += 1
            return fn(*args)
        return run

    def call_soon(fn, *args, **kw):
        rec["call_soon"] += 1
        return real_soon(counted(fn), *args, **kw)

    def call_later(delay, fn, *args, **kw):
        rec["delays"].append(delay)
        return Handle(real_later(delay, counted(fn), *args, **kw), len(rec["delays"]) - 1, rec)

    def call_soon_threadsafe(fn, *args, **kw):
        with lock:
            rec["threadsafe"] += 1
            if threading.get_ident() == main:
                rec["threadsafe_on_loop_thread"] += 1
        return real_threadsafe(counted(fn), *args, **kw)

    loop.call_soon, loop.call_later, loop.call_soon_threadsafe = call_soon, call_later, call_soon_threadsafe
    real_pair, real_start = socket.socketpair, threading.Thread.start
    socket.socketpair = lambda: tuple(Counted(s, rec) for s in real_pair())

    def start(thread):
        rec["thread_starts_while_running"].append(loop.is_running())
        real_start(thread)

    threading.Thread.start = start
    try:
        span, ops, *rest = lb.RUNNERS[workload](loop, n)
        span()
        rec["ops"] = ops()
        # One more turn of the loop: a workload that left work behind (a
        # callback or a timer due) runs it here.
        ran = rec["ran"]
        real_later(0.02, loop.stop)
        loop.run_forever()
        rec["ran_after"] = rec["ran"] - ran
        if rest:
            rest[0]()
    finally:
        socket.socketpair, threading.Thread.start = real_pair, real_start
        loop.close()
    return rec


kind, n = sys.argv[2], int(sys.argv[3])
for w in sys.argv[4:]:
    print(json.dumps(record(kind, w, n)))
`

// loopbenchPyMeasureDriver runs loopbench.py's main on a stand-in callbacks
// workload whose setup (new_loop) and span move a stand-in clock by argv[4],
// argv[2] (wall) and argv[3] (CPU) seconds, and nothing else does, at scale
// argv[5]; it prints the line main printed and the order of events: each
// loop made, workload prepared, collection and span.
const loopbenchPyMeasureDriver = `
import contextlib, importlib.util, io, json, sys

spec = importlib.util.spec_from_file_location("loopbench", sys.argv[1])
lb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lb)
wall, cpu, setup = (float(a) for a in sys.argv[2:5])
n = sys.argv[5]


class Clock:
    """Stands in for the time module: it moves only when told to."""
    wall = cpu = 0.0

    def perf_counter(self):
        return self.wall

    def process_time(self):
        return self.cpu


clock = Clock()
events = []
real_new_loop = lb.new_loop


def new_loop(kind):
    events.append(["new_loop"])
    clock.wall += setup
    return real_new_loop(kind)


def runner(loop, n):
    events.append(["prepare", n])

    def span():
        events.append(["span", n])
        clock.wall += wall
        clock.cpu += cpu

    return span, lambda: n


lb.time, lb.new_loop, lb.RUNNERS["callbacks"] = clock, new_loop, runner
lb.gc = type("GC", (), {"collect": staticmethod(lambda: events.append(["collect"]))})
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = lb.main(["--loop", "asyncio", "--workload", "callbacks", "--n", n])
print(json.dumps({"status": status, "result": json.loads(out.getvalue()), "events": events}))
`

// loopbenchJSDriver loads loopbench.js (argv[2]) without running its main
// and runs mode argv[3]: "schedule" runs workloads with setImmediate,
// setTimeout and clearTimeout recorded; "measure" runs main on a stand-in
// workload and stand-in clocks; "stall" runs main on a workload that never
// ends.
const loopbenchJSDriver = `
'use strict';
// Loads loopbench.js (argv[2]) without running its main, then runs the mode
// argv[3] with argv[4...].
const fs = require('fs');
const path = require('path');
const src = fs.readFileSync(process.argv[2], 'utf8');
const call = '\nmain(process.argv.slice(2))';
if (!src.includes(call)) {
  throw new Error('loopbench.js no longer ends with a call of main');
}
const copy = path.join(__dirname, 'loopbench-loaded.js');
fs.writeFileSync(copy, src.replace(call,
  '\nmodule.exports = { RUNNERS, measureOnce, main, now };\nif (false) main(process.argv.slice(2))'));
const lb = require(copy);
const [mode, ...args] = process.argv.slice(3);
const real = { setImmediate, setTimeout, clearTimeout };
const write = (v) => process.stdout.write(JSON.stringify(v) + '\n');

// What each workload asks of the loop, and what ran, at scale n.
async function schedule(n, workloads) {
  for (const w of workloads) {
    const rec = { workload: w, n, immediates: 0, delays: [], clears: [], ran: 0, ran_after: 0, ended_in_span: false };
    const index = new Map();
    const counted = (fn) => (...a) => { rec.ran++; return fn(...a); };
    globalThis.setImmediate = (fn, ...a) => { rec.immediates++; return real.setImmediate(counted(fn), ...a); };
    globalThis.setTimeout = (fn, ms, ...a) => {
      const h = real.setTimeout(counted(fn), ms, ...a);
      index.set(h, rec.delays.length);
      rec.delays.push(ms);
      return h;
    };
    globalThis.clearTimeout = (h) => { rec.clears.push(index.has(h) ? index.get(h) : -1); real.clearTimeout(h); };
    const x = lb.RUNNERS[w](n);
    let inSpan = true;
    const ended = new Promise((resolve) => {
      x.span(() => { rec.ended_in_span = inSpan; resolve(); });
      inSpan = false;
    });
    await ended;
    rec.ops = x.ops();
    Object.assign(globalThis, real);
    const ran = rec.ran;
    // Long enough for any timer of the workload still due (the last at 9 ms).
    await new Promise((resolve) => real.setTimeout(resolve, 30));
    rec.ran_after = rec.ran - ran;
    write(rec);
  }
}

// main, on a stand-in workload and clocks that move only in its setup and
// span: what runs, in what order, and the line printed.
async function measure(wallNs, cpuUserUs, cpuSystemUs, setupNs, n) {
  let wall = 0n;
  const cpu = { user: 0, system: 0 };
  process.hrtime.bigint = () => wall;
  process.cpuUsage = () => ({ ...cpu });
  const events = [];
  globalThis.gc = (opts) => events.push(['gc', JSON.stringify(opts)]);
  lb.RUNNERS.callbacks = (n) => {
    wall += BigInt(setupNs);
    let turned = false;
    real.setImmediate(() => { turned = true; });
    events.push(['prepare', n]);
    return {
      span(done) {
        events.push(['span', n, turned ? 'own turn' : 'same turn']);
        wall += BigInt(wallNs);
        cpu.user += cpuUserUs;
        cpu.system += cpuSystemUs;
        done(lb.now());
      },
      ops: () => n,
    };
  };
  let out = '';
  const stdoutWrite = process.stdout.write;
  process.stdout.write = (s) => { out += s; return true; };
  await lb.main(['--loop', 'node', '--workload', 'callbacks', '--n', String(n)]);
  process.stdout.write = stdoutWrite;
  write({ result: JSON.parse(out), events });
}

// main on a workload whose end never comes: the loop runs out of work.
function stall() {
  lb.RUNNERS.callbacks = () => ({ span() {}, ops: () => 0 });
  lb.main(['--loop', 'node', '--workload', 'callbacks', '--n', '10']);
}

if (mode === 'schedule') {
  process.removeAllListeners('exit');
  schedule(Number(args[0]), args.slice(1));
} else if (mode === 'measure') {
  process.removeAllListeners('exit');
  measure(...args.map(Number));
} else if (mode === 'stall') {
  stall();
} else {
  throw new Error('unknown mode ' + mode);
}
`

// pyWork is one line of loopbenchPyWorkDriver.
type pyWork struct {
	Workload               string    `json:"workload"`
	N                      int       `json:"n"`
	LoopClass              string    `json:"loop_class"`
	Debug                  bool      `json:"debug"`
	CallSoon               int       `json:"call_soon"`
	Threadsafe             int       `json:"threadsafe"`
	ThreadsafeOnLoopThread int       `json:"threadsafe_on_loop_thread"`
	Delays                 []float64 `json:"delays"`
	Cancels                []int     `json:"cancels"`
	Ran                    int       `json:"ran"`
	RanAfter               int       `json:"ran_after"`
	BytesSent              int       `json:"bytes_sent"`
	BytesRead              int       `json:"bytes_read"`
	ThreadStartsRunning    []bool    `json:"thread_starts_while_running"`
	Ops                    int       `json:"ops"`
}

// checkDelays compares a script's delays with want(i), in unit.
func checkDelays(t *testing.T, w string, got []float64, count int, unit time.Duration, want func(int) time.Duration) {
	t.Helper()
	if len(got) != count {
		t.Errorf("%s: %d timers, want %d", w, len(got), count)
		return
	}
	for i, d := range got {
		if !sameSeconds(d*unit.Seconds(), want(i).Seconds()) {
			t.Errorf("%s: timer %d has delay %v (×%v), want %v", w, i, d, unit, want(i))
			return
		}
	}
}

// Each Python workload asks of the loop exactly the Go side's work, on a
// loop in its normal configuration, and leaves nothing behind. Mutations
// caught: debug mode on in new_loop (set_debug(True)); uvloop's loop made
// with asyncio.new_event_loop; callbacks scheduled with
// call_soon_threadsafe, which also wakes the loop's self-pipe each time;
// timers' delays (i%9) ms; posts' producers started before the loop runs
// (start() for loop.call_soon(start)); timeouts' delays i%60 s, 90% cancelled
// first (i%10), or the second pass starting at 1 (the kept 5% never
// cancelled); mixed's n/100 posts and timers, 32-byte messages.
func TestLoopbenchPyDoesTheWorkloadsWork(t *testing.T) {
	script, found := pythonsOrSkip(t)
	driver := peerDriver(t, "pywork.py", loopbenchPyWorkDriver)
	const n = 120 // every timeout delay twice, and mixed's n/10 over ten timer delays
	for _, kind := range []string{"asyncio", "uvloop"} {
		out, err := runPython(time.Minute, found[0].Executable, driver, script, kind, jsonText(n),
			WorkCallbacks, WorkTimers, WorkPosts1, WorkPosts4, WorkTimeouts, WorkMixed)
		if err != nil {
			t.Fatalf("%s: %v\n%s", kind, err, out)
		}
		for _, r := range jsonLines[pyWork](t, out) {
			w := kind + " " + r.Workload
			if r.Debug {
				t.Errorf("%s: the loop runs in debug mode", w)
			}
			if isUV := r.LoopClass == "FakeUVLoop"; isUV != (kind == "uvloop") {
				t.Errorf("%s: loop %s, want uvloop's for uvloop alone", w, r.LoopClass)
			}
			if r.Ops != workOps(r.Workload, n) || r.RanAfter != 0 {
				t.Errorf("%s: %d ops, %d callbacks ran after the span; want %d and none", w, r.Ops, r.RanAfter, workOps(r.Workload, n))
			}
			switch r.Workload {
			case WorkCallbacks:
				if r.CallSoon != n || r.Threadsafe != 0 || len(r.Delays) != 0 || r.Ran != n {
					t.Errorf("%s: %d call_soon, %d call_soon_threadsafe, %d timers, %d ran; want %d call_soon that ran", w, r.CallSoon, r.Threadsafe, len(r.Delays), r.Ran, n)
				}
			case WorkTimers:
				checkDelays(t, w, r.Delays, n, time.Second, workTimerDelay)
				if r.CallSoon != 0 || r.Ran != n {
					t.Errorf("%s: %d call_soon, %d ran; want only the %d timers", w, r.CallSoon, r.Ran, n)
				}
			case WorkPosts1, WorkPosts4:
				producers, _ := postProducers(r.Workload)
				if r.Threadsafe != producers*n || r.ThreadsafeOnLoopThread != 0 {
					t.Errorf("%s: %d posts, %d of them from the loop's thread; want %d, all from producers", w, r.Threadsafe, r.ThreadsafeOnLoopThread, producers*n)
				}
				if len(r.ThreadStartsRunning) != producers || slices.Contains(r.ThreadStartsRunning, false) {
					t.Errorf("%s: producer starts while the loop ran: %v; want %d, all while it runs", w, r.ThreadStartsRunning, producers)
				}
			case WorkTimeouts:
				checkDelays(t, w, r.Delays, n, time.Second, workTimeoutDelay)
				if want := wantCancelOrder(n); !slices.Equal(r.Cancels, want) {
					t.Errorf("%s: cancelled %v, want %v", w, r.Cancels, want)
				}
			case WorkMixed:
				extra := max(n/10, 1)
				checkDelays(t, w, r.Delays, extra, time.Second, workTimerDelay)
				if r.Threadsafe != extra || r.BytesSent != 64*n || r.BytesRead != 64*n {
					t.Errorf("%s: %d posts, %d bytes sent, %d read; want %d posts and %d bytes", w, r.Threadsafe, r.BytesSent, r.BytesRead, extra, 64*n)
				}
			}
		}
	}
}

// peerMeasured is what a measure driver prints: the script's result line and
// the order of what its main did.
type peerMeasured struct {
	Result struct {
		Ops    int     `json:"ops"`
		WallS  float64 `json:"wall_s"`
		CPUS   float64 `json:"cpu_s"`
		SetupS float64 `json:"setup_s"`
		Runs   int     `json:"runs"`
	} `json:"result"`
	Events [][]any `json:"events"`
}

// eventText is an event as "name arg...", for comparisons.
func eventText(e []any) string {
	var parts []string
	for _, p := range e {
		if s, ok := p.(string); ok {
			parts = append(parts, s)
		} else {
			parts = append(parts, jsonText(p))
		}
	}
	return strings.Join(parts, " ")
}

// jsonText is v as JSON: a number as a script's command line takes it.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// checkMeasured checks a measure driver's result: one run of n reports its
// span's wall, CPU and setup figures, the means of runsToFill(wall) runs,
// and the events are warmups times warmRun, then that many times run.
func checkMeasured(t *testing.T, name string, m peerMeasured, n int, wall, cpu, setup float64, warmups int, warmRun, run []string) {
	t.Helper()
	r := m.Result
	if r.Ops != n || !sameSeconds(r.WallS, wall) || !sameSeconds(r.CPUS, cpu) || !sameSeconds(r.SetupS, setup) {
		t.Errorf("%s: %+v; want %d ops, wall %v s, CPU %v s, setup %v s, each a run's", name, r, n, wall, cpu, setup)
	}
	if want := runsToFill(wall); r.Runs != want {
		t.Errorf("%s: %d runs of %v s each, want %d: until minSpan (%v) is filled, at most maxInner (%d)", name, r.Runs, wall, want, minSpan, maxInner)
	}
	var want []string
	for range warmups {
		want = append(want, warmRun...)
	}
	for range r.Runs {
		want = append(want, run...)
	}
	var got []string
	for _, e := range m.Events {
		got = append(got, eventText(e))
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: events\n%q\nwant\n%q", name, got, want)
	}
}

// loopbench.py reports the means of the runs it measured as runSpan does:
// one warm-up run at N=10,000 at most, then runs on fresh loops, each after
// a collection, until minSpan is filled (at most maxInner), wall from
// perf_counter, CPU from process_time, the loop's making apart (the
// zero-time case pins the maxInner cap). Mutations caught: MIN_SPAN 0.01,
// WARMUP_MAX_N 1000, no gc.collect before the span, wall and CPU swapped,
// wall counted from before the loop was made, no warm-up run, a warm-up at
// max(n, WARMUP_MAX_N), the wall's sum reported for its mean.
func TestLoopbenchPyMeasuresAsRunSpanDoes(t *testing.T) {
	script, found := pythonsOrSkip(t)
	driver := peerDriver(t, "pymeasure.py", loopbenchPyMeasureDriver)
	// Binary fractions, so that sums and means are exact.
	const wall, cpu, setup = 1.0 / 4096, 1.0 / 16384, 1.0 / 65536
	for _, c := range []struct {
		n                int
		wall, cpu, setup float64
	}{
		{20_000, wall, cpu, setup},
		{20, 0, 0, 0}, // spans that take no time: maxInner runs
	} {
		out, err := runPython(time.Minute, found[0].Executable, driver, script,
			jsonText(c.wall), jsonText(c.cpu), jsonText(c.setup), jsonText(c.n))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		ms := jsonLines[peerMeasured](t, out)
		warmN := jsonText(min(c.n, 10_000))
		checkMeasured(t, "loopbench.py n="+jsonText(c.n), ms[0], c.n, c.wall, c.cpu, c.setup, 1,
			[]string{"new_loop", "prepare " + warmN, "collect", "span " + warmN},
			[]string{"new_loop", "prepare " + jsonText(c.n), "collect", "span " + jsonText(c.n)})
	}
}

// loopbench.py refuses an argument given twice, as loopbench.js does: with
// --loop asyncio --loop uvloop the last would win and the run would measure
// a loop other than the one its caller named first. Mutation caught: the
// "given twice" check dropped (if False).
func TestLoopbenchPyRefusesARepeatedArgument(t *testing.T) {
	script, found := pythonsOrSkip(t)
	for _, args := range [][]string{
		{"--loop", "asyncio", "--loop", "uvloop", "--workload", "callbacks", "--n", "10"},
		{"--loop", "asyncio", "--workload", "callbacks", "--n", "10", "--n=20"},
	} {
		_, err := runPython(time.Minute, found[0].Executable, script, args...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(err.Error(), "given twice") {
			t.Errorf("%q: err %v, want exit status 2 and \"given twice\"", args, err)
		}
	}
}

// jsWork is one line of loopbenchJSDriver's schedule mode.
type jsWork struct {
	Workload    string    `json:"workload"`
	Immediates  int       `json:"immediates"`
	Delays      []float64 `json:"delays"`
	Clears      []int     `json:"clears"`
	Ran         int       `json:"ran"`
	RanAfter    int       `json:"ran_after"`
	EndedInSpan bool      `json:"ended_in_span"`
	Ops         int       `json:"ops"`
}

// Each Node workload asks of the loop exactly the Go side's work and leaves
// nothing behind. Mutations caught: n+1 setImmediate calls (i <= n);
// callbacks as process.nextTick, a microtask queue, not setImmediate;
// timers' delays i%9 ms; timeouts' delays i%60 s, 90% cleared first (i%10),
// the second pass every 10th (clearing cleared ones again), or the span
// ending at once rather than after a turn of the loop.
func TestLoopbenchJSDoesTheWorkloadsWork(t *testing.T) {
	info, script := nodeOrSkip(t)
	driver := peerDriver(t, "jsdriver.js", loopbenchJSDriver)
	const n = 120
	out, err := runNode(time.Minute, info.ExecPath, driver, script, "schedule", jsonText(n), WorkCallbacks, WorkTimers, WorkTimeouts)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	works := jsonLines[jsWork](t, out)
	if len(works) != 3 {
		t.Fatalf("%d workloads run, want 3:\n%s", len(works), out)
	}
	for _, r := range works {
		w := "node " + r.Workload
		if r.Ops != n || r.RanAfter != 0 || r.EndedInSpan {
			t.Errorf("%s: %d ops, %d callbacks ran after the span, ended within span(): %v; want %d, none, false", w, r.Ops, r.RanAfter, r.EndedInSpan, n)
		}
		switch r.Workload {
		case WorkCallbacks:
			if r.Immediates != n || len(r.Delays) != 0 || r.Ran != n {
				t.Errorf("%s: %d setImmediate, %d setTimeout, %d ran; want %d setImmediate that ran", w, r.Immediates, len(r.Delays), r.Ran, n)
			}
		case WorkTimers:
			checkDelays(t, w, r.Delays, n, time.Millisecond, workTimerDelay)
			if r.Immediates != 0 || r.Ran != n {
				t.Errorf("%s: %d setImmediate, %d ran; want only the %d timers", w, r.Immediates, r.Ran, n)
			}
		case WorkTimeouts:
			checkDelays(t, w, r.Delays, n, time.Millisecond, workTimeoutDelay)
			if want := wantCancelOrder(n); !slices.Equal(r.Clears, want) {
				t.Errorf("%s: cleared %v, want %v", w, r.Clears, want)
			}
			if r.Immediates != 1 || r.Ran != 1 {
				t.Errorf("%s: %d setImmediate, %d ran; want the one turn of the loop that ends the span", w, r.Immediates, r.Ran)
			}
		}
	}
}

// loopbench.js reports the means of its runs as runSpan does: warm-up runs
// at N=10,000 at most until nodeWarmupOps ops, then runs until minSpan is
// filled (at most maxInner), each after a minor collection and in a turn of
// the loop of its own; wall from hrtime in ns, CPU user+system from
// cpuUsage in µs, setup apart. Mutations caught: a full gc() for the minor
// one, no collection (typeof gc !== 'function'), no turn of its own before
// the span, wall in ms (/1e6), CPU in ms (/1e3), warm-up at
// Math.max(n, WARMUP_MAX_N), runs <= MAX_INNER, the loop stopping once past
// MIN_SPAN_S (>), the wall's sum reported for its mean.
func TestLoopbenchJSMeasuresAsRunSpanDoes(t *testing.T) {
	info, script := nodeOrSkip(t)
	driver := peerDriver(t, "jsdriver.js", loopbenchJSDriver)
	for _, c := range []struct {
		n                                 int
		wallNs, userUs, systemUs, setupNs int
	}{
		{20_000, 300_000, 100, 20, 7_000},
		{10_000, 0, 0, 0, 0}, // spans that take no time: maxInner runs
	} {
		out, err := runNode(time.Minute, info.ExecPath, driver, script, "measure",
			jsonText(c.wallNs), jsonText(c.userUs), jsonText(c.systemUs), jsonText(c.setupNs), jsonText(c.n))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		ms := jsonLines[peerMeasured](t, out)
		warmN := min(c.n, 10_000)
		// Each warm-up run is warmN ops, and the stand-in clock moves too
		// little to end the warm-up by time.
		warmups := (nodeWarmupOps + warmN - 1) / warmN
		checkMeasured(t, "loopbench.js n="+jsonText(c.n), ms[0], c.n,
			float64(c.wallNs)/1e9, float64(c.userUs+c.systemUs)/1e6, float64(c.setupNs)/1e9, warmups,
			[]string{"prepare " + jsonText(warmN), `gc {"type":"minor"}`, "span " + jsonText(warmN) + " own turn"},
			[]string{"prepare " + jsonText(c.n), `gc {"type":"minor"}`, "span " + jsonText(c.n) + " own turn"})
	}
}

// A Node run whose workload never ends leaves the loop with nothing to do,
// and Node exits; that must be a failure, not an exit status 0 with no
// result line. Mutation caught: the exit handler setting exitCode 0.
func TestLoopbenchJSRunningOutOfWorkFails(t *testing.T) {
	info, script := nodeOrSkip(t)
	driver := peerDriver(t, "jsdriver.js", loopbenchJSDriver)
	out, err := runNode(time.Minute, info.ExecPath, driver, script, "stall")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(err.Error(), "loopbench.js: the loop ran out of work before the workload ended") {
		t.Errorf("err %v, output %q; want exit status 1 and the script's line", err, out)
	}
}

// fakePython puts a python3 first on PATH, a shell script whose --info line
// is info and whose runs do run (after the arguments' checks: $1 is the
// script, then --loop L --workload W --n N), and returns its path.
func fakePython(t *testing.T, info, run string) string {
	t.Helper()
	dir := fakeCommand(t, "python3", `case "$1" in *loopbench-*.py) ;; *) echo "script: $1" >&2; exit 9;; esac
if [ "$2" = --info ]; then echo '`+info+`'; exit 0; fi
if [ "$2" != --loop ] || [ "$4 $6" != "--workload --n" ]; then echo "args: $*" >&2; exit 9; fi
`+run)
	return filepath.Join(dir, "python3")
}

// pyInfo is an --info line of a Python 3.12 (or version), with uvloop
// version uv ("" for none) and an empty executable.
func pyInfo(version, uv string) string {
	uvJSON := "null"
	if uv != "" {
		uvJSON = `"` + uv + `"`
	}
	return `{"python": "` + version + `", "executable": "", "asyncio_loop": "_UnixSelectorEventLoop", "uvloop": ` + uvJSON +
		`, "workloads": ["callbacks", "timers", "posts1", "posts4", "timeouts", "mixed"]}`
}

// The Python peers found through interpreters that are fakes: each system
// runs its own loop on the interpreter found, with none of what slows it in
// its environment, and one candidate met twice is one interpreter.
// Mutations caught: uvloop run as --loop asyncio; found interpreters dropped
// as seen (if seen[...]); a Python 3 rejected and others taken (the "3."
// test reversed); the path found not kept where --info gives no executable;
// runPython passing os.Environ(), or PYTHONMALLOCSTATS not dropped; a scale
// of 0 starting an interpreter (no checkScale).
func TestPythonSystemsFromAFakeInterpreter(t *testing.T) {
	slowing := []string{"PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "PYTHONTRACEMALLOC", "PYTHONMALLOC", "PYTHONMALLOCSTATS"}
	for _, k := range slowing {
		t.Setenv(k, "1")
	}
	marker := filepath.Join(t.TempDir(), "ran")
	envCheck := ""
	for _, k := range slowing {
		envCheck += `if [ -n "${` + k + `+set}" ]; then echo "env: ` + k + `" >&2; exit 9; fi
`
	}
	exe := fakePython(t, pyInfo("3.12.1", "0.19.0"), envCheck+`touch `+marker+`
[ "$3" = "$LOOP_WANTED" ] || { echo "ran --loop $3, want $LOOP_WANTED" >&2; exit 9; }
echo '{"ops": '$7', "wall_s": 0.002, "cpu_s": 0.001, "setup_s": 0.000001, "runs": 1}'`)
	systems, notes := pythonSystemsFrom([]string{"python3", exe})
	if len(systems) != 2 || len(notes) != 0 {
		t.Fatalf("systems %v, notes %q; want asyncio and uvloop from the one fake", systems, notes)
	}
	if _, err := systems[0].Run(WorkCallbacks, 0); err == nil {
		t.Error("scale 0: no error")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a scale of 0 started the interpreter")
	}
	for _, s := range systems {
		t.Setenv("LOOP_WANTED", s.Name)
		r, err := s.Run(WorkCallbacks, 1234)
		if err != nil {
			t.Errorf("%s: %v", s.Name, err)
			continue
		}
		if want := (Result{Ops: 1234, Wall: 2 * time.Millisecond, CPU: time.Millisecond, Setup: time.Microsecond}); r != want {
			t.Errorf("%s: result %+v, want %+v", s.Name, r, want)
		}
	}
}

// An interpreter without uvloop gives asyncio and a note for uvloop; one
// that is not Python 3 gives notes saying so. Mutations caught: the uvloop
// note dropped (a missing uvloop silently left out); the "3." test
// reversed.
func TestPythonSystemsNoteWhatIsMissing(t *testing.T) {
	fakePython(t, pyInfo("3.12.1", ""), `exit 9`)
	systems, notes := pythonSystemsFrom([]string{"python3"})
	if len(systems) != 1 || systems[0].Name != "asyncio" || len(notes) != 1 ||
		!strings.HasPrefix(notes[0], "uvloop: skipped: no Python 3 with uvloop found; tried python3 (Python 3.12.1, no uvloop)") {
		t.Errorf("systems %v, notes %q; want asyncio and a note that uvloop is missing", systems, notes)
	}
	fakePython(t, pyInfo("2.7.18", "0.19.0"), `exit 9`)
	systems, notes = pythonSystemsFrom([]string{"python3"})
	if len(systems) != 0 || len(notes) != 2 || !strings.Contains(notes[0], "python3 (version 2.7.18 is not Python 3)") {
		t.Errorf("systems %v, notes %q; want none, and notes naming Python 2", systems, notes)
	}
}

// Node runs without any of slowingNodeEnv's variables, NODE_DEBUG_NATIVE
// too, and Node.js 18, the oldest taken, is taken. Mutations caught:
// NODE_DEBUG_NATIVE not dropped; the version test m <= nodeMinMajor.
func TestNodeEnvAndOldestVersion(t *testing.T) {
	slowing := []string{"NODE_OPTIONS", "NODE_V8_COVERAGE", "NODE_DEBUG", "NODE_DEBUG_NATIVE"}
	for _, k := range slowing {
		t.Setenv(k, "timers")
	}
	envCheck := ""
	for _, k := range slowing {
		envCheck += `if [ -n "${` + k + `+set}" ]; then echo "env: ` + k + `" >&2; exit 9; fi
`
	}
	info := strings.Replace(fakeInfo(WorkCallbacks), `"20.1.0"`, `"18.0.0"`, 1)
	s := fakeNodeSystem(t, info, envCheck+`echo '{"ops": 10, "wall_s": 0.002, "cpu_s": 0.001, "setup_s": 0.000001, "runs": 1}'`)
	if _, err := s.Run(WorkCallbacks, 10); err != nil {
		t.Error(err)
	}
}

// A subprocess that runs past its time is reported as timed out, naming the
// script. Mutation caught: the deadline's test dropped (the kill reported
// as "signal: killed").
func TestRunScriptNamesATimeout(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	_, err = runScript(50*time.Millisecond, os.Environ(), "/x/slow.py", sh, "-c", "exec sleep 5")
	if err == nil || err.Error() != "slow.py timed out after 50ms" {
		t.Errorf("err %v, want \"slow.py timed out after 50ms\"", err)
	}
}

// A failure's message is the first line of stderr where there is neither a
// traceback nor a stack: the script's own line, before what an interpreter
// prints as it shuts down. Mutation caught: the last line taken.
func TestPeerMessageTakesTheFirstPlainLine(t *testing.T) {
	stderr := "loopbench.py: uvloop not installed\nException ignored in: <module 'threading' from '/usr/lib/python3.11/threading.py'>\nKeyboardInterrupt:\n"
	if got := peerMessage(stderr); got != "loopbench.py: uvloop not installed" {
		t.Errorf("peerMessage = %q", got)
	}
}

// The result line is the last line of the output, whatever came before it;
// a line lacking any of the four figures is an error, not a zero or a
// crash. Mutations caught: the first line's end taken (IndexByte); the
// setup_s or the cpu_s field not required.
func TestParseRepetitionReadsTheLastLineWhole(t *testing.T) {
	out := "a warning\nanother\n{\"ops\": 10, \"wall_s\": 0.5, \"cpu_s\": 0.25, \"setup_s\": 0.125, \"runs\": 3}\n"
	r, err := parseRepetition([]byte(out), "asyncio", WorkCallbacks, 10)
	if want := (Result{Ops: 10, Wall: 500 * time.Millisecond, CPU: 250 * time.Millisecond, Setup: 125 * time.Millisecond}); err != nil || r != want {
		t.Errorf("result %+v, %v; want %+v", r, err, want)
	}
	for _, line := range []string{
		`{"ops": 10, "wall_s": 0.5, "cpu_s": 0.25, "runs": 3}`,
		`{"ops": 10, "wall_s": 0.5, "setup_s": 0.125, "runs": 3}`,
		`{"ops": 10, "cpu_s": 0.25, "setup_s": 0.125, "runs": 3}`,
		`{"wall_s": 0.5, "cpu_s": 0.25, "setup_s": 0.125, "runs": 3}`,
	} {
		if _, err := parseRepetition([]byte(line), "asyncio", WorkCallbacks, 10); err == nil || !strings.Contains(err.Error(), "output lacks a field") {
			t.Errorf("%s: err %v, want a lacking field", line, err)
		}
	}
}

// A file at the script's path that is not the script (left by a crash, or
// edited) is replaced, not run. Mutation caught: any non-empty file at the
// path taken as the script.
func TestEmbeddedScriptReplacesAStaleFile(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	first := &embeddedScript{name: "survivor.py", data: []byte("print('the script')\n")}
	path, err := first.file()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("print('stale')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := &embeddedScript{name: "survivor.py", data: first.data}
	if p, err := second.file(); err != nil || p != path {
		t.Fatalf("path %q, %v; want %q", p, err, path)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != string(first.data) {
		t.Errorf("file holds %q (%v), want the script", got, err)
	}
}
