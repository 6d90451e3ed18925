package tests

import (
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
	"golang.org/x/sys/unix"
)

// processCPU returns the CPU time (user and system) the whole process has used.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestASpinningLoopBlocksOnceItsSpinIsOver: a variant with idle spin:<d>
// busy-waits at most d before it blocks, on the real clock, with no timer
// (the wait has no limit) and with a far one (the spin's time is taken off
// the wait), and does not spin at all under a virtual clock. The spin
// yields with runtime.Gosched, which hands a locked thread's P to another
// thread and back, so the loop's own thread is not a fair measure of it
// (TestIdleLoopUnderAVirtualClockDoesNotSpin passed with a spin that never
// ended): the process's CPU time is, over a stretch in which nothing else
// in the process runs.
func TestASpinningLoopBlocksOnceItsSpinIsOver(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if v.Params.Spin == 0 {
			t.Skip("idle: block, no spin")
		}
		for _, c := range []struct {
			what         string
			far, virtual bool
		}{
			{"no timer", false, false},
			{"a timer an hour away", true, false},
			// Virtual time stands still while the loop spins: it must not spin.
			{"a timer an hour away on a virtual clock", true, true},
		} {
			var l core.Loop
			if c.virtual {
				l, _ = newVirtual(t, v)
			} else {
				l = newLoop(t, v, core.Config{})
			}
			if c.far {
				l.CallLater(time.Hour, func() {})
			}
			started := make(chan struct{})
			if err := l.Post(func() { close(started) }); err != nil {
				t.Fatal(err)
			}
			runFor(t, l, func() {
				<-started
				// The loop spins for Spin, then sleeps; one that never stops
				// spinning uses about a whole core for the stretch.
				const stretch = 300 * time.Millisecond
				cpu0 := processCPU(t)
				time.Sleep(stretch)
				if used := processCPU(t) - cpu0; used > stretch/2 {
					t.Errorf("idle for %v with %s, the process used %v of CPU: the loop did not stop spinning after %v", stretch, c.what, used, v.Params.Spin)
				}
			})
		}
	})
}

// TestStatsCountOnePollPerWait: Stats.Polls goes up by one for each call to
// the poller, which a loop with an fd makes once per non-blocking iteration.
// TestAnIdleLoopWaitsWithoutATimeout bounds it from above only, and let a
// count of two a wait through.
func TestStatsCountOnePollPerWait(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Stats || v.Params.Poller == "none" {
			t.Skip("needs stats and a poller")
		}
		l, _ := newVirtual(t, v)
		a, _ := socketpair(t) // never written to: not readable
		if err := l.AddReader(a, func() { t.Error("reader of an fd with nothing to read ran") }); err != nil {
			t.Fatal(err)
		}
		runOnce(t, l)
		const iterations = 10
		polls := l.Stats().Polls
		for range iterations {
			runOnce(t, l)
		}
		if got := l.Stats().Polls - polls; got != iterations {
			t.Errorf("Stats.Polls went up by %d over %d non-blocking iterations with an fd registered, want %d", got, iterations, iterations)
		}
		l.RemoveReader(a)
	})
}

// TestCloseRunsEveryPostMadeBeforeIt: Close runs all that was posted before
// it, in its first round, however many that is: teardown's rounds (16) are
// for what callbacks queue while it runs them, and a drain that took only an
// inbox's depth a round left what was past 16 depths behind, never run.
func TestCloseRunsEveryPostMadeBeforeIt(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if v.Params.Overflow == "reject" {
			t.Skip("overflow: reject holds at most one inbox of posts")
		}
		l := newLoop(t, v, core.Config{})
		n := 16*v.Params.InboxDepth + 1
		ran := 0 // Close runs them on this goroutine: the loop is not running
		for range n {
			if err := l.Post(func() { ran++ }); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if ran != n {
			t.Fatalf("Close ran %d of the %d callbacks posted before it", ran, n)
		}
	})
}
