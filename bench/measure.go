package main

import (
	"runtime"
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs setup (untimed, but reported as Setup), then span (timed for
// wall and CPU time, and counted for allocations), then teardown (untimed).
// span returns the number of operations it did. A GC runs before the span so
// that one repetition's garbage is not collected on the next one's time.
//
// The runtime's background scavenger still returns memory that earlier
// systems freed during later spans (about 790 MB in a run of the timers
// workload with every system, GODEBUG=scavtrace=1), and the process CPU
// time a span measures takes that in. debug.FreeOSMemory before the span
// would do it first (balanced's CPU per timer at N=10,000 in that run:
// 0.061-0.101 µs against 0.088-0.181, five runs each), but then the memory
// a system allocates in setup is fresh from the OS and its first touch
// lands in the span: 1,000 callbacks took 0.018-0.025 µs each instead of
// 0.011-0.014, also when FreeOSMemory ran before setup. Short spans would
// measure page faults, so a plain GC it is.
func measure(setup func() error, span func() (ops int, err error), teardown func()) (Result, error) {
	var r Result
	start := time.Now()
	if setup != nil {
		if err := setup(); err != nil {
			return r, err
		}
	}
	r.Setup = time.Since(start)
	if teardown != nil {
		defer teardown()
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, t0 := cpuTime(), time.Now()
	ops, err := span()
	r.Wall, r.CPU = time.Since(t0), cpuTime()-cpu0
	if err != nil {
		return r, err
	}
	runtime.ReadMemStats(&after)
	r.Ops = ops
	r.Allocs = after.Mallocs - before.Mallocs
	r.Bytes = after.TotalAlloc - before.TotalAlloc
	r.HeapAfter = after.HeapAlloc
	return r, nil
}
