package main

import (
	"errors"
	"time"
)

// Workload names, as -workload takes them.
const (
	WorkCallbacks = "callbacks" // CallSoon n callbacks, run until the last has run
	WorkTimers    = "timers"    // CallLater n timers, delay (i%10) ms, run until all fired
	WorkPosts1    = "posts1"    // 1 producer goroutine posts n callbacks
	WorkPosts4    = "posts4"    // 4 producer goroutines post n callbacks each
	WorkTimeouts  = "timeouts"  // n timers 1-60 s ahead, 95% cancelled (per-connection deadlines)
	WorkMixed     = "mixed"     // socketpair I/O on the loop while timers and posts arrive
)

// Result is one measured repetition of a workload at one scale. Wall and CPU
// cover scheduling and running only; creating the loop is Setup.
type Result struct {
	Ops    int           // operations done (callbacks run, timers fired or scheduled, ...)
	Wall   time.Duration // elapsed time
	CPU    time.Duration // CPU time of the process (user+system) over the same span
	Setup  time.Duration // creating the system, not in Wall
	Allocs uint64        // heap allocations during the span (runtime.MemStats)
	Bytes  uint64        // heap bytes allocated during the span
	// PeakHeap is the most heap sampled during the span, less what was live
	// before the system was made (where PeakSampled: see peakSampling).
	PeakHeap    uint64
	PeakSampled bool
}

// System is one thing measured: a generated variant, the generic build, a
// floor, a Go baseline, a Python event loop or Node.js.
type System struct {
	Name string // as -systems takes it and tables show it
	Kind string // "variant", "generic", "floor", "baseline", "diagnostic", "python" or "node"
	// Note says how the system is configured, for the report's header.
	Note string
	// Run measures one repetition of workload w at scale n. It returns
	// ErrUnsupported for a workload the system does not do, and checks that
	// before anything else: Run(w, 0) does no work and returns ErrUnsupported
	// or the error for a bad scale, so the runner can learn which workloads a
	// system does before it measures (see measureAll).
	Run func(w string, n int) (Result, error)
	// Close, where set, releases what Run keeps from one span to the next.
	Close func()
}

// ErrUnsupported is returned by System.Run for a workload it does not do.
var ErrUnsupported = errors.New("workload not supported by this system")
