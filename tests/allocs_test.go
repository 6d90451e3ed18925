package tests

import (
	"math"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// The steady state allocates nothing: each path below is pinned at zero.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		fn := func() {}
		check := func(name string, f func()) {
			t.Helper()
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("%s: %v allocations per run, want 0", name, n)
			}
		}
		l, vc := newVirtual(t, v)
		// As many iterations as the 16 take (one, unless batch < 16): what is
		// left over from one run would pile up across the 1000 and grow the
		// queues, and AllocsPerRun's average rounds those allocations away.
		runAll := func() {
			for runOnce(t, l); l.Pending() > 0; {
				runOnce(t, l)
			}
		}
		check("CallSoon+run", func() {
			for range 16 {
				l.CallSoon(fn)
			}
			runAll()
		})
		check("Post+run", func() {
			for range 16 {
				l.Post(fn)
			}
			runAll()
		})
		check("CallLater+fire", func() {
			for range 16 {
				l.CallLater(v.Params.Tick, fn)
			}
			vc.Advance(2 * v.Params.Tick)
			runAll()
		})
		check("CallLater+Cancel", func() {
			l.Cancel(l.CallLater(time.Second, fn))
		})
		check("CallEvery+fire", func() {
			h := l.CallEvery(v.Params.Tick, fn)
			vc.Advance(2 * v.Params.Tick)
			runOnce(t, l)
			l.Cancel(h)
		})
		if v.Params.Poller == "none" {
			return
		}
		a, b := socketpair(t)
		unix.Write(b, []byte("x")) // stays readable: level-triggered
		ran := 0
		if err := l.AddReader(a, func() { ran++ }); err != nil {
			t.Fatal(err)
		}
		check("readiness dispatch", func() { runOnce(t, l) })
		if ran == 0 {
			t.Fatal("the reader never ran")
		}
	})
}

func TestVirtualClockAdvanceWakesABlockedLoop(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		fired := make(chan struct{})
		d := wholeTicks(v.Params, time.Minute) // a minute, on a tick's edge
		l.CallLater(d, func() { close(fired) })
		runFor(t, l, func() {
			time.Sleep(5 * time.Millisecond) // the loop blocks: virtual time does not move
			vc.Advance(d)
			select {
			case <-fired:
			case <-time.After(10 * time.Second):
				t.Error("Advance did not wake the loop")
			}
		})
	})
}

func TestRealClockTimerIsNotEarly(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		start := time.Now()
		var elapsed time.Duration
		l.CallLater(15*time.Millisecond, func() { elapsed = time.Since(start); l.Stop() })
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a 15 ms timer did not fire within 10 s")
		}
		if elapsed < 15*time.Millisecond {
			t.Fatalf("fired after %v, before its 15 ms deadline", elapsed)
		}
	})
}

// TestQueueDepthCallbacksFitWithoutAllocating: queue_depth is the ready
// queue's capacity up front. It was rounded down to whole 4095-callback
// segments, so the 4,096th callback of a queue_depth 4096 loop allocated.
func TestQueueDepthCallbacksFitWithoutAllocating(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		fn := func() {}
		n, _ := fewestMallocs(func() func() {
			l := newLoop(t, v, core.Config{})
			return func() {
				for range v.Params.QueueDepth {
					l.CallSoon(fn)
				}
			}
		})
		if n != 0 {
			t.Errorf("queue_depth %d callbacks on a fresh loop allocated %d times; want 0", v.Params.QueueDepth, n)
		}
	})
}

// A loop that runs the same big burst of callbacks again allocates nothing
// the second time: the queue kept the segments the first one grew, and it
// starts the second burst where the first began instead of at the end of a
// segment, which would need one more.
func TestASecondBurstOfCallbacksAllocatesNothing(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		fn := func() {}
		// Whole segments of 4095 callbacks, a multiple of every variant's batch.
		const n = 4 * 4095
		burst := func() {
			for range n {
				l.CallSoon(fn)
			}
			for l.Pending() > 0 {
				runOnce(t, l)
			}
		}
		burst()
		if got, bytes := fewestMallocs(func() func() { return burst }); got != 0 {
			t.Errorf("the second burst allocated %d times (%d bytes), want 0", got, bytes)
		}
	})
}

// fewestMallocs runs the function that setup returns (setup makes what it
// needs afresh: a new loop, say) up to three times, and returns the fewest
// heap allocations one run made, and their bytes. The counts are the
// process's: a run may also count the runtime's own allocations, which come
// now and then (a thread started while the test was in a system call, a
// collection's workers), while an allocation of the code under test comes in
// every run.
func fewestMallocs(setup func() func()) (count, bytes uint64) {
	count = math.MaxUint64
	for range 3 {
		if c, b := mallocsDuring(setup()); c < count {
			count, bytes = c, b
		}
		if count == 0 {
			break
		}
	}
	return count, bytes
}

// mallocsDuring counts the heap allocations fn makes, and their bytes, with
// GOMAXPROCS 1, as testing.AllocsPerRun does, so that fewer of other
// goroutines' allocations are counted with fn's.
func mallocsDuring(fn func()) (count, bytes uint64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc
}
