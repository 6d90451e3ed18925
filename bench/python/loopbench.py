#!/usr/bin/env python3
"""One repetition of one bench workload on asyncio or uvloop.

    python3 loopbench.py --loop asyncio|uvloop --workload W --n N
    python3 loopbench.py --info

prints one JSON line: {"ops": int, "wall_s": float, "cpu_s": float,
"setup_s": float, "runs": int}, or {"unsupported": true} for a workload this
script does not do. wall_s (time.perf_counter) and cpu_s (time.process_time:
user+system of the whole process, every thread) cover scheduling and running
only; creating the loop is setup_s. The workloads are bench/system.go's.

A repetition is measured as the Go side measures one (bench/main.go,
runSpan): the workload first runs once, untimed, on a loop of its own, at
most at N=WARMUP_MAX_N (the Go side's warm-up round), so the interpreter's
and the loop's first-use costs are not counted; then it runs on a fresh loop each time until at
least MIN_SPAN has been measured (at most MAX_INNER runs), and the figures
are the means of those runs. A single first run in a fresh interpreter
cost uvloop up to twice as much per callback at N=1,000 as later runs.

Each loop runs in its normal, fastest configuration: debug off
(loop.set_debug(False), whatever PYTHONASYNCIODEBUG or -X dev say), asyncio's
default loop for the platform (asyncio.new_event_loop()), uvloop through
uvloop.new_event_loop().

--info prints {"python": version, "executable": path, "asyncio_loop": the
default loop's class, "uvloop": version or null, "workloads": the workloads it
runs} and exits, so the caller can name what it runs and knows what it does.

Exit status: 2 for bad arguments (one line on stderr), 3 if --loop uvloop is
asked for and uvloop cannot be imported.
"""

import asyncio
import gc
import json
import socket
import sys
import threading
import time

WORKLOADS = ("callbacks", "timers", "posts1", "posts4", "timeouts", "mixed")
LOOPS = ("asyncio", "uvloop")
USAGE = "usage: loopbench.py --loop asyncio|uvloop --workload %s --n N | --info" % "|".join(WORKLOADS)


def fail(msg):
    sys.stderr.write("loopbench.py: %s\n" % msg)
    sys.exit(2)


def parse(argv):
    if argv == ["--info"]:
        return None
    opts = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--loop", "--workload", "--n"):
            if i + 1 >= len(argv):
                fail("%s needs a value; %s" % (a, USAGE))
            key, val = a[2:], argv[i + 1]
            i += 2
        elif a.startswith(("--loop=", "--workload=", "--n=")):
            key, val = a[2:].split("=", 1)
            i += 1
        else:
            fail("unknown argument %r; %s" % (a, USAGE))
        if key in opts:
            fail("%s given twice" % a.split("=", 1)[0])
        opts[key] = val
    if opts.get("loop", LOOPS[0]) not in LOOPS:
        fail("unknown loop %r (want %s)" % (opts["loop"], " or ".join(LOOPS)))
    if opts.get("workload", WORKLOADS[0]) not in WORKLOADS:
        fail("unknown workload %r (want one of %s)" % (opts["workload"], ", ".join(WORKLOADS)))
    for key in ("loop", "workload", "n"):
        if key not in opts:
            fail("--%s is required; %s" % (key, USAGE))
    try:
        n = int(opts["n"])
    except ValueError:
        n = 0
    if n < 1:
        fail("--n must be a positive integer, not %r" % opts["n"])
    return opts["loop"], opts["workload"], n


def info():
    try:
        import uvloop
        uv = uvloop.__version__
    except ImportError:
        uv = None
    loop = asyncio.new_event_loop()
    asyncio_loop = type(loop).__name__
    loop.close()
    return {"python": sys.version.split()[0], "executable": sys.executable,
            "asyncio_loop": asyncio_loop, "uvloop": uv, "workloads": sorted(RUNNERS)}


def new_loop(kind):
    if kind == "uvloop":
        import uvloop  # imported by main before the clock starts
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    loop.set_debug(False)
    asyncio.set_event_loop(loop)
    return loop


# Each workload is a function of (loop, n) that does any untimed preparation
# and returns (span, ops), or (span, ops, teardown): span() schedules and runs
# the workload and is the only part timed; teardown, untimed, releases what
# the preparation made.


def callbacks(loop, n):
    count = 0

    def cb():
        nonlocal count
        count += 1
        if count == n:
            loop.stop()

    def span():
        call_soon = loop.call_soon
        for _ in range(n):
            call_soon(cb)
        loop.run_forever()

    return span, lambda: count


def timers(loop, n):
    count = 0

    def cb():
        nonlocal count
        count += 1
        if count == n:
            loop.stop()

    def span():
        call_later = loop.call_later
        for i in range(n):
            call_later((i % 10) / 1000, cb)
        loop.run_forever()

    return span, lambda: count


def posts(producers):
    def workload(loop, n):
        total = producers * n
        count = 0

        def cb():
            nonlocal count
            count += 1
            if count == total:
                loop.stop()

        def produce():
            post = loop.call_soon_threadsafe
            for _ in range(n):
                post(cb)

        threads = [threading.Thread(target=produce) for _ in range(producers)]

        def start():
            for t in threads:
                t.start()

        def span():
            # The producers start from the loop itself, so every post
            # arrives while the loop runs.
            loop.call_soon(start)
            loop.run_forever()
            for t in threads:
                t.join()

        return span, lambda: count

    return workload


def timeouts(loop, n):
    def span():
        call_later = loop.call_later
        handles = [call_later(1 + (i % 60), cb) for i in range(n)]
        for i, h in enumerate(handles):
            if i % 20 != 0:
                h.cancel()
        for i in range(0, n, 20):
            handles[i].cancel()
        # One loop iteration, so the loop does the work it owes for the
        # cancellations (asyncio drops cancelled handles from its heap there)
        # and nothing is left to wait for.
        loop.call_soon(loop.stop)
        loop.run_forever()

    def cb():
        raise AssertionError("a cancelled timeout fired")

    return span, lambda: n


def mixed(loop, n):
    """n 64-byte messages read from a socketpair on the loop while a thread
    writes them, another posts n/10 callbacks, and the loop runs n/10 timers
    of (i % 10) ms; it ends when everything has arrived (bench/variants.go's
    loopMixed). The socketpair is made before the span and closed after."""
    msg = 64
    extra = max(n // 10, 1)
    want = n * msg
    rsock, wsock = socket.socketpair()
    rsock.setblocking(False)
    got = posts_run = timers_run = 0

    def check():
        if got == want and posts_run == extra and timers_run == extra:
            loop.stop()

    def readable():
        nonlocal got
        recv = rsock.recv
        while True:
            try:
                data = recv(65536)
            except BlockingIOError:
                break
            if not data:
                break
            got += len(data)
        check()

    def on_post():
        nonlocal posts_run
        posts_run += 1
        check()

    def on_timer():
        nonlocal timers_run
        timers_run += 1
        check()

    failed = []

    def write():
        m = bytes(msg)
        send = wsock.sendall
        for _ in range(n):
            send(m)

    def post():
        post = loop.call_soon_threadsafe
        for _ in range(extra):
            post(on_post)

    def guarded(fn):
        # A thread that fails stops the loop, which would otherwise wait for
        # its bytes or posts for good; ops() reports the failure.
        def run():
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                failed.append(e)
                loop.call_soon_threadsafe(loop.stop)
        return run

    threads = [threading.Thread(target=guarded(write)), threading.Thread(target=guarded(post))]

    def span():
        loop.add_reader(rsock.fileno(), readable)
        call_later = loop.call_later
        for i in range(extra):
            call_later((i % 10) / 1000, on_timer)
        for t in threads:
            t.start()
        loop.run_forever()
        if failed:
            # The loop stopped early: a writer blocked in sendall on a full
            # socketpair would never return, and join would wait for good.
            # Shutting the reading end down fails its send instead.
            rsock.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join()
        loop.remove_reader(rsock.fileno())

    def ops():
        if failed:
            raise AssertionError("mixed: %s" % failed[0])
        if (got, posts_run, timers_run) != (want, extra, extra):
            raise AssertionError("mixed: stopped with %d of %d bytes, %d of %d posts, %d of %d timers"
                                 % (got, want, posts_run, extra, timers_run, extra))
        return n

    def teardown():
        rsock.close()
        wsock.close()

    return span, ops, teardown


RUNNERS = {
    "callbacks": callbacks,
    "timers": timers,
    "posts1": posts(1),
    "posts4": posts(4),
    "timeouts": timeouts,
    "mixed": mixed,
}


# As bench/main.go's minSpan and maxInner.
MIN_SPAN = 0.001
MAX_INNER = 200
WARMUP_MAX_N = 10000


def measure_once(kind, workload, n):
    """One run on a fresh loop: (ops, wall_s, cpu_s, setup_s)."""
    t0 = time.perf_counter()
    loop = new_loop(kind)
    setup_s = time.perf_counter() - t0
    teardown = None
    try:
        span, ops, *rest = RUNNERS[workload](loop, n)
        teardown = rest[0] if rest else None
        gc.collect()  # as the Go side runs a GC before its span
        c0, w0 = time.process_time(), time.perf_counter()
        span()
        wall_s, cpu_s = time.perf_counter() - w0, time.process_time() - c0
        done = ops()
    finally:
        if teardown is not None:
            teardown()
        loop.close()
    return done, wall_s, cpu_s, setup_s


def main(argv):
    args = parse(argv)
    if args is None:
        print(json.dumps(info()))
        return 0
    kind, workload, n = args
    if kind == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            sys.stderr.write("uvloop not installed\n")
            return 3
    if workload not in RUNNERS:
        print(json.dumps({"unsupported": True}))
        return 0

    # The warm-up: not reported. At most WARMUP_MAX_N, which is enough to
    # warm the code paths: a second full run at N=100,000 would add seconds
    # a repetition and gain nothing measurable.
    measure_once(kind, workload, min(n, WARMUP_MAX_N))
    runs, ops, wall_s, cpu_s, setup_s = 0, 0, 0.0, 0.0, 0.0
    while runs == 0 or (wall_s < MIN_SPAN and runs < MAX_INNER):
        o, w, c, st = measure_once(kind, workload, n)
        runs, ops, wall_s, cpu_s, setup_s = runs + 1, ops + o, wall_s + w, cpu_s + c, setup_s + st
    print(json.dumps({"ops": ops // runs, "wall_s": wall_s / runs, "cpu_s": cpu_s / runs,
                      "setup_s": setup_s / runs, "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
