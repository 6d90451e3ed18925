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
