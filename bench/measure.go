package main

import (
	"runtime"
	"runtime/debug"
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
// span returns the number of operations it did. Before the span, the garbage
// is collected and the freed memory handed back to the OS
// (debug.FreeOSMemory), so that neither is left for the runtime to do on
// the span's time. With a collection alone, the background scavenger went on
// returning what an earlier system had freed (time.AfterFunc's 100,000
// timers and their goroutines, say) during later spans, and the process CPU
// time a span measures took it in: in the timers workload run with every
// system, balanced's CPU per timer at N=10,000 was 0.088-0.181 µs with
// runtime.GC and 0.061-0.101 µs with FreeOSMemory (five runs of each,
// alternating), against 0.054-0.061 µs with no other system in the process.
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
	debug.FreeOSMemory()
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
