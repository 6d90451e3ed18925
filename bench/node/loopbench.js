'use strict';
// One repetition of one bench workload on Node.js's event loop.
//
//     node --expose-gc loopbench.js --loop node --workload W --n N
//     node loopbench.js --info
//
// prints one JSON line: {"ops": int, "wall_s": float, "cpu_s": float,
// "setup_s": float, "runs": int}, or {"unsupported": true} for a workload this
// script does not do. wall_s (process.hrtime.bigint) and cpu_s
// (process.cpuUsage: user+system of the whole process, every thread) cover
// scheduling and running only; preparing the workload's state is setup_s.
// The workloads are bench/system.go's; --loop takes only "node", so that the
// command line is bench/python/loopbench.py's.
//
// A repetition is measured as loopbench.py measures one: the workload first
// runs untimed, each run at most at N=WARMUP_MAX_N, so that V8's compiling
// and optimizing of the script's functions and of Node's timer and immediate
// code are not counted (loopbench.py makes one such run; this script makes
// them until WARMUP_OPS ops or WARMUP_S: see main); then it runs on fresh
// state until at least MIN_SPAN_S has been measured (at most MAX_INNER
// runs), and the figures are the means of those runs. A Node process has
// one event loop, so "fresh" is fresh callbacks, counters and timer objects
// on that loop, not a new loop: setup_s is the preparation of that state
// alone.
//
// Before each span the script collects the young generation, where the
// last run's garbage is (gc({ type: 'minor' }), which --expose-gc gives),
// as the Go side collects before its span and loopbench.py calls
// gc.collect(); without the flag it collects nothing. Not a full collection:
// V8's gc() returns with the sweeping of a mark-compact still to do, and the
// span after it paid for that. 1,000 callbacks took 0.26-2.5 µs each after
// gc(), 0.033-0.036 µs after a minor collection and 0.041-0.13 µs with
// none (five processes each, Node 20.20.2, 2-core VM, 2026-11-28); 1,000
// timeouts 0.37-3.0, 0.086-0.099 and 0.093-0.19 µs. At N=1,000,000 the three
// were alike.
//
// Node runs in its normal configuration: no flags but --expose-gc, which
// only makes gc callable. The Go side (bench/node.go) drops NODE_OPTIONS
// and the other variables that would slow it (an inspector, a profiler,
// coverage, debug logging).
//
// Workloads:
//
//   callbacks  setImmediate(cb) n times, run until the last has run.
//              setImmediate is Node's call_soon: a macrotask of the event
//              loop, run in its check phase. process.nextTick and
//              queueMicrotask are not: they are microtask queues drained
//              between callbacks, outside the loop's phases, with no I/O or
//              timer ever between them, so they are not a loop's ready queue.
//   timers     setTimeout(cb, i % 10) n times, run until all fired. Node
//              makes a delay below 1 ms 1 ms, so the tenth with delay 0 waits
//              1 ms (asyncio's call_later(0) and our 1 ns run at once); the
//              last deadline is 9 ms out, as elsewhere.
//   timeouts   n timeouts 1+(i%60) s ahead, 95% cleared (i%20 != 0), then the
//              rest, then one turn of the loop, as loopbench.py's.
//   posts1, posts4, mixed
//              unsupported. They post callbacks from other threads to the
//              loop (asyncio's call_soon_threadsafe, our Post). Node has no
//              such call: a worker_threads Worker runs its own isolate and
//              reaches the main thread only by postMessage, which copies a
//              message by structured clone (a function cannot be sent) and
//              delivers it as a MessagePort event. Timing that would time the
//              cloning and the port's machinery, not a hand-off of callbacks,
//              and mixed needs posts too.
//
// --info prints {"node": version, "exec_path": process.execPath, "v8": V8's
// version, "uv": libuv's version, "workloads": the workloads it runs} and
// exits.
//
// Exit status: 2 for bad arguments (one line on stderr), 1 when a run fails
// (the work was not done: one line on stderr).

const WORKLOADS = ['callbacks', 'timers', 'posts1', 'posts4', 'timeouts', 'mixed'];
const LOOPS = ['node'];
const USAGE = `usage: loopbench.js --loop node --workload ${WORKLOADS.join('|')} --n N | --info`;

// As bench/main.go's minSpan and maxInner, and loopbench.py's bound on a
// warm-up run's N; the warm-up's length is this script's own (see main).
const MIN_SPAN_S = 0.001;
const MAX_INNER = 200;
const WARMUP_MAX_N = 10000;
const WARMUP_OPS = 100000;
const WARMUP_S = 0.1;

// reported: a result was written. A workload whose last callback never runs
// leaves the loop with nothing to do, and Node then exits, with status 0 and
// nothing written; the exit handler (at the end) makes that a failure.
let reported = false;

function fail(msg) {
  process.stderr.write(`loopbench.js: ${msg}\n`);
  process.exit(2);
}

// RunFailed is a run that did not do its work: one line on stderr, exit 1.
class RunFailed extends Error {}

function parse(argv) {
  if (argv.length === 1 && argv[0] === '--info') {
    return null;
  }
  const opts = {};
  for (let i = 0; i < argv.length;) {
    const a = argv[i];
    let key;
    let val;
    if (a === '--loop' || a === '--workload' || a === '--n') {
      if (i + 1 >= argv.length) {
        fail(`${a} needs a value; ${USAGE}`);
      }
      key = a.slice(2);
      val = argv[i + 1];
      i += 2;
    } else if (a.startsWith('--loop=') || a.startsWith('--workload=') || a.startsWith('--n=')) {
      const eq = a.indexOf('=');
      key = a.slice(2, eq);
      val = a.slice(eq + 1);
      i += 1;
    } else {
      fail(`unknown argument ${JSON.stringify(a)}; ${USAGE}`);
    }
    if (Object.hasOwn(opts, key)) {
      fail(`--${key} given twice`);
    }
    opts[key] = val;
  }
  if (Object.hasOwn(opts, 'loop') && !LOOPS.includes(opts.loop)) {
    fail(`unknown loop ${JSON.stringify(opts.loop)} (want ${LOOPS.join(' or ')})`);
  }
  if (Object.hasOwn(opts, 'workload') && !WORKLOADS.includes(opts.workload)) {
    fail(`unknown workload ${JSON.stringify(opts.workload)} (want one of ${WORKLOADS.join(', ')})`);
  }
  for (const key of ['loop', 'workload', 'n']) {
    if (!Object.hasOwn(opts, key)) {
      fail(`--${key} is required; ${USAGE}`);
    }
  }
  const n = /^[0-9]+$/.test(opts.n) ? Number(opts.n) : 0;
  if (!Number.isSafeInteger(n) || n < 1) {
    fail(`--n must be a positive integer, not ${JSON.stringify(opts.n)}`);
  }
  return { workload: opts.workload, n };
}

// A clock reading: wall time in ns and the process's CPU time in µs.
function now() {
  return { wall: process.hrtime.bigint(), cpu: process.cpuUsage() };
}

// Each workload is a function of n that prepares its state, untimed, and
// returns { span, ops }: span(start, done) schedules and runs the workload,
// and calls done(now()) from the callback that ends it; start is the reading
// taken just before span was called. ops() is the work done, after the span;
// it throws RunFailed when the work was not done.

function callbacks(n) {
  let count = 0;
  let done;
  function cb() {
    count++;
    if (count === n) {
      done(now());
    }
  }
  return {
    span(d) {
      done = d;
      for (let i = 0; i < n; i++) {
        setImmediate(cb);
      }
    },
    ops() {
      if (count !== n) {
        throw new RunFailed(`callbacks: ${count} of ${n} ran`);
      }
      return n;
    },
  };
}

function timers(n) {
  let count = 0;
  let done;
  function cb() {
    count++;
    if (count === n) {
      done(now());
    }
  }
  return {
    span(d) {
      done = d;
      for (let i = 0; i < n; i++) {
        setTimeout(cb, i % 10);
      }
    },
    ops() {
      if (count !== n) {
        throw new RunFailed(`timers: ${count} of ${n} fired`);
      }
      return n;
    },
  };
}

function timeouts(n) {
  let fired = 0;
  function cb() {
    fired++;
  }
  return {
    span(d) {
      const handles = new Array(n);
      for (let i = 0; i < n; i++) {
        handles[i] = setTimeout(cb, 1000 * (1 + (i % 60)));
      }
      for (let i = 0; i < n; i++) {
        if (i % 20 !== 0) {
          clearTimeout(handles[i]);
        }
      }
      for (let i = 0; i < n; i += 20) {
        clearTimeout(handles[i]);
      }
      // One turn of the loop, so that it does any work it owes for the
      // cancellations and nothing is left to wait for.
      setImmediate(() => d(now()));
    },
    ops() {
      if (fired !== 0) {
        throw new RunFailed(`timeouts: ${fired} cleared timeouts fired`);
      }
      // Every timeout cleared leaves no Timeout among the loop's resources.
      const left = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      if (left !== 0) {
        throw new RunFailed(`timeouts: ${left} of ${n} still active after clearTimeout`);
      }
      return n;
    },
  };
}

const RUNNERS = { callbacks, timers, timeouts };

function info() {
  return {
    node: process.versions.node,
    exec_path: process.execPath,
    v8: process.versions.v8,
    uv: process.versions.uv,
    workloads: Object.keys(RUNNERS).sort(),
  };
}

// measureOnce is one run on fresh state: { ops, wall_s, cpu_s, setup_s }.
// The clock starts just before the workload schedules anything and stops in
// the callback that ends it.
async function measureOnce(workload, n) {
  const t0 = process.hrtime.bigint();
  const w = RUNNERS[workload](n);
  const setupNs = process.hrtime.bigint() - t0;
  if (typeof gc === 'function') {
    gc({ type: 'minor' }); // eslint-disable-line no-undef
  }
  // The span starts in a turn of the loop of its own. setTimeout counts a
  // delay from libuv's loop time, which the loop reads at the start of each
  // turn and after each poll, in whole milliseconds; in the turn that ran
  // the last run's end, the setup and the collection it was behind the clock
  // by all of them, and timers fell due that much early.
  await new Promise((resolve) => setImmediate(resolve));
  let start;
  const end = await new Promise((resolve) => {
    start = now();
    w.span(resolve);
  });
  const ops = w.ops();
  return {
    ops,
    wall_s: Number(end.wall - start.wall) / 1e9,
    cpu_s: (end.cpu.user - start.cpu.user + end.cpu.system - start.cpu.system) / 1e6,
    setup_s: Number(setupNs) / 1e9,
  };
}

async function main(argv) {
  const args = parse(argv);
  if (args === null) {
    reported = true;
    process.stdout.write(JSON.stringify(info()) + '\n');
    return;
  }
  const { workload, n } = args;
  if (!Object.hasOwn(RUNNERS, workload)) {
    reported = true;
    process.stdout.write(JSON.stringify({ unsupported: true }) + '\n');
    return;
  }
  // The warm-up: not reported. One run, as loopbench.py makes, leaves
  // V8 compiling: the functions of the workload and of Node's timers and
  // immediates are optimized only once they have run a while. After one
  // warm-up run, 1,000 callbacks took 2.0-5.9 ms a run; after this warm-up,
  // 0.033-0.049 ms (six processes each, Node 20.20.2, 2-core VM,
  // 2026-11-28). So the warm-up repeats its run, each at most at
  // N=WARMUP_MAX_N, until WARMUP_OPS ops have run or WARMUP_S has passed.
  const warmN = Math.min(n, WARMUP_MAX_N);
  const warmStart = process.hrtime.bigint();
  for (let done = 0; done < WARMUP_OPS && Number(process.hrtime.bigint() - warmStart) / 1e9 < WARMUP_S;) {
    done += (await measureOnce(workload, warmN)).ops;
  }
  let runs = 0;
  let ops = 0;
  let wall = 0;
  let cpu = 0;
  let setup = 0;
  while (runs === 0 || (wall < MIN_SPAN_S && runs < MAX_INNER)) {
    const r = await measureOnce(workload, n);
    runs++;
    ops += r.ops;
    wall += r.wall_s;
    cpu += r.cpu_s;
    setup += r.setup_s;
  }
  reported = true;
  process.stdout.write(JSON.stringify({
    ops: Math.floor(ops / runs),
    wall_s: wall / runs,
    cpu_s: cpu / runs,
    setup_s: setup / runs,
    runs,
  }) + '\n');
}

process.on('exit', (code) => {
  if (!reported && code === 0) {
    process.stderr.write('loopbench.js: the loop ran out of work before the workload ended\n');
    process.exitCode = 1;
  }
});

main(process.argv.slice(2)).catch((e) => {
  const msg = e instanceof RunFailed ? e.message : String(e && e.stack ? e.stack.split('\n')[0] : e);
  process.stderr.write(`loopbench.js: ${msg}\n`);
  process.exit(1);
});
