package main

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
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

// settleSpin is how long settleAfterBlockingWait keeps a P busy.
//
// A goroutine that blocks in a system call for more than 10 ms (cmd.Wait on a
// Python subprocess) has its P taken away. When the call returns and takes an
// idle P, the runtime wakes its monitor thread (sysmon) and has it poll every
// 20 µs for its next 50 rounds, a bet that more such calls follow. sysmon
// sleeps through those rounds while every P is idle, so a pause does not use
// them up: they fell in the next span measured, and its process CPU time took
// them in. On the 2-core VM, balanced's timers at N=100 used 0.22-0.30 ms of
// CPU a span back to back, and 1.11 ms right after a 150 ms blocking
// nanosleep (0.89 ms after a Python that only sleeps 0.15 s). A 150 ms
// time.Sleep, which parks instead, left it at 0.27 ms. Spinning 8 ms after
// the nanosleep brought it back to 0.26 ms; 4 ms only to 0.63.
const settleSpin = 10 * time.Millisecond

// settleAfterBlockingWait spins for settleSpin, to be called after a long
// blocking system call and before the next span: see settleSpin.
func settleAfterBlockingWait() {
	for start := time.Now(); time.Since(start) < settleSpin; {
	}
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
	var base uint64
	if peakSampling {
		// What is live before the system is made, so that the peak is the
		// system's own: the process keeps what earlier systems left live (the
		// 100,000 goroutines of time.AfterFunc at N=100,000 leave some 35 MiB
		// of goroutine records for good). Two collections: what an earlier
		// system left in a sync.Pool survives one (the pool's victim cache),
		// as does an object with a cleanup or finalizer, and the collection
		// before the span would then free it, below base: the chan
		// baseline's peak read 0, its 32 KiB channel buffer live throughout.
		runtime.GC()
		runtime.GC()
		base = heapObjectsNow()
	}
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
	var sampler *heapSampler
	if peakSampling {
		sampler = startHeapSampler()
	}
	cpu0, t0 := cpuTime(), time.Now()
	ops, err := span()
	r.Wall, r.CPU = time.Since(t0), cpuTime()-cpu0
	var peak uint64
	if sampler != nil {
		peak = sampler.stop()
	}
	if err != nil {
		return r, err
	}
	runtime.ReadMemStats(&after)
	r.Ops = ops
	r.Allocs = after.Mallocs - before.Mallocs
	r.Bytes = after.TotalAlloc - before.TotalAlloc
	if sampler != nil {
		peak = max(peak, after.HeapAlloc)
		r.PeakHeap, r.PeakSampled = peak-min(peak, base), true
	}
	return r, nil
}

// peakSampling makes measure sample the heap while the span runs, for the
// report's peak heap. measureAll sets it for the warm-up round only, whose
// times are thrown away: the sampler is a goroutine of its own, and on a
// 2-core machine it would take CPU from the span it measures.
var peakSampling bool

// heapObjects is the runtime/metrics name for the bytes of heap objects, live
// or not yet swept: HeapAlloc, read without stopping the world.
const heapObjects = "/memory/classes/heap/objects:bytes"

// heapSampleEvery is the sampler's pause between readings. The heap a span
// grows stays until the collection after it, so a reading every few tens of
// microseconds sees a burst's queue at its largest; a collection within the
// span may free garbage between two readings, so the peak is a lower bound.
const heapSampleEvery = 20 * time.Microsecond

// heapSampler reads heapObjects until stopped and keeps the largest reading.
type heapSampler struct {
	done atomic.Bool
	peak uint64
	wg   sync.WaitGroup
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for !h.done.Load() {
			h.peak = max(h.peak, heapObjectsNow())
			time.Sleep(heapSampleEvery)
		}
	}()
	return h
}

// heapObjectsNow reads heapObjects.
func heapObjectsNow() uint64 {
	sample := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// stop ends the sampling and returns the largest reading.
func (h *heapSampler) stop() uint64 {
	h.done.Store(true)
	h.wg.Wait()
	return h.peak
}
