package tests

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

// Edges of the timing wheel that the rest of the suite passed through
// without checking: each test here fails on a one-line change to the wheel
// or the timer paths that every other test let through.

// newVirtualStrict is newVirtual with a panic handler that fails the test: a
// corrupted wheel tends to call a released timer's nil func, and the default
// handler only reports that.
func newVirtualStrict(t *testing.T, v all.Variant) (core.Loop, *clock.Virtual) {
	t.Helper()
	vc := clock.NewVirtual(epoch)
	return newLoop(t, v, core.Config{Clock: vc, PanicHandler: func(r any) {
		t.Errorf("callback panicked: %v", r)
	}}), vc
}

// A due timer is told from one still in its bucket only by the bucket's label,
// which expiring the bucket changes. Cancelling a due timer from the callback of
// another due timer is the only way to cancel a timer that is on the due list,
// and the due list must come out of it whole: the timers after it still run,
// none runs twice, and Pending falls to zero.
func TestCancelOfADueTimerFromAnotherDueTimerKeepsTheDueListWhole(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtualStrict(t, v)
		tick := v.Params.Tick
		var ran []string
		var victim core.Timer
		cancelled := false
		l.CallLater(tick, func() {
			ran = append(ran, "first")
			cancelled = l.Cancel(victim)
		})
		victim = l.CallLater(tick, func() { ran = append(ran, "victim") })
		l.CallLater(tick, func() { ran = append(ran, "after") })
		// A later tick's bucket, expired by the same advance, joins the same due list.
		l.CallLater(2*tick, func() { ran = append(ran, "next tick") })
		vc.Advance(3 * tick)
		runOnce(t, l)
		if !cancelled {
			t.Error("Cancel of a due timer from an earlier due timer returned false")
		}
		if want := []string{"first", "after", "next tick"}; !slices.Equal(ran, want) {
			t.Fatalf("ran %v, want %v", ran, want)
		}
		if n := l.Pending(); n != 0 {
			t.Fatalf("Pending() = %d after every timer ran or was cancelled", n)
		}
		later := 0
		l.CallLater(tick, func() { later++ })
		l.CallLater(tick, func() { later++ })
		vc.Advance(2 * tick)
		runOnce(t, l)
		if later != 2 {
			t.Fatalf("%d of 2 timers scheduled afterwards ran", later)
		}
	})
}

// A deadline that falls exactly on the start of the tick being processed is
// in the past (that tick is done), not the next deadline: a periodic timer that
// finds it so after a stall must move on to the following one, not end.
func TestCallEveryWhoseNextDeadlineIsTheTickBeingProcessedGoesOn(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		tick := v.Params.Tick
		n := 0
		// Loop time 0 is a tick edge, so every deadline is one too.
		l.CallEvery(2*tick, func() { n++ })
		vc.Advance(4 * tick) // due at 2 ticks, run at 4, which is its next deadline
		runOnce(t, l)
		if n != 1 {
			t.Fatalf("ran %d times two periods in, want 1 (the missed period skipped)", n)
		}
		if p := l.Pending(); p != 1 {
			t.Fatalf("Pending() = %d after its first run, want 1: the periodic timer ended", p)
		}
		vc.Advance(2 * tick)
		runOnce(t, l)
		if n != 2 {
			t.Fatalf("ran %d times three periods in, want 2", n)
		}
	})
}

// CallLater's doc promises the zero Timer for d <= 0, and the CallSoon order:
// after callbacks queued before it, which due timers would run ahead of.
func TestCallLaterWithNoDelayIsCallSoon(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, _ := newVirtual(t, v)
		var order []string
		l.CallSoon(func() { order = append(order, "soon") })
		if h := l.CallLater(0, func() { order = append(order, "later") }); h != (core.Timer{}) {
			t.Errorf("CallLater(0) returned the Timer %v, want the zero Timer", h)
		}
		runUntilIdle(t, l)
		if !slices.Equal(order, []string{"soon", "later"}) {
			t.Errorf("ran %v, want [soon later]", order)
		}
	})
}

// A t equal to the clock is no longer in the future: CallAt(Now()) is due at
// once, as CallLater(0) is, and behaves as CallSoon.
func TestCallAtTheCurrentTimeIsCallSoon(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		var order []string
		l.CallSoon(func() { order = append(order, "soon") })
		if h := l.CallAt(vc.Now(), func() { order = append(order, "now") }); h != (core.Timer{}) {
			t.Errorf("CallAt(Now()) returned the Timer %v, want the zero Timer", h)
		}
		runUntilIdle(t, l)
		if !slices.Equal(order, []string{"soon", "now"}) {
			t.Errorf("ran %v, want [soon now]", order)
		}
	})
}

// CallAt and CallEvery do not share CallLater's code (CallLater's is written
// out inline), so a timer parked beyond the horizon by each must fire on its
// own: with no CallLater timer parked beside it to make the wheel look there.
func TestTimerBeyondTheHorizonFiresOnTimeWhateverScheduledIt(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		d, ok := beyondHorizon(v.Params, 0, satAdd(satMul(v.Params.Horizon(), 2), v.Params.Horizon()/3))
		if !ok {
			t.Skipf("horizon %v: no deadline lies beyond it within loop time", v.Params.Horizon())
		}
		for _, how := range []string{"CallLater", "CallAt", "CallEvery"} {
			l, vc := newVirtual(t, v)
			var firedAt time.Duration = -1
			fn := func() {
				if firedAt < 0 {
					firedAt = vc.Elapsed()
				}
			}
			switch how {
			case "CallLater":
				l.CallLater(d, fn)
			case "CallAt":
				l.CallAt(vc.Now().Add(d), fn)
			case "CallEvery":
				l.CallEvery(d, fn)
			}
			vc.Advance(d - tick)
			runOnce(t, l)
			if firedAt >= 0 {
				t.Fatalf("%s(%v): fired early, at %v", how, d, firedAt)
			}
			vc.Advance(2 * tick)
			runOnce(t, l)
			if firedAt < d {
				t.Fatalf("%s(%v): not fired a tick after its deadline", how, d)
			}
		}
	})
}

// Once loop time is past its end (2^62 ns), every deadline, clamped to the
// end, is in the past: the timer is due and fires at the next tick, and a
// periodic one then ends. A deadline behind the wheel's current tick must be
// placed at that tick, not by its own digits, which point at a bucket the
// wheel has already passed.
func TestTimersScheduledAfterTheEndOfLoopTimeFireAtTheNextTick(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		const endOfTime = time.Duration(math.MaxInt64 / 2)
		for _, how := range []string{"CallLater", "CallAt", "CallEvery"} {
			l, vc := newVirtual(t, v)
			vc.Advance(endOfTime + time.Hour)
			runOnce(t, l)
			n := 0
			fn := func() { n++ }
			switch how {
			case "CallLater":
				l.CallLater(time.Minute, fn)
			case "CallAt":
				l.CallAt(vc.Now().Add(time.Minute), fn)
			case "CallEvery":
				l.CallEvery(time.Minute, fn)
			}
			for range 3 {
				vc.Advance(v.Params.Tick)
				runOnce(t, l)
			}
			if n != 1 {
				t.Fatalf("%s after the end of loop time: ran %d times within 3 ticks, want 1", how, n)
			}
			if p := l.Pending(); p != 0 {
				t.Fatalf("%s after the end of loop time: Pending() = %d after it ran, want 0", how, p)
			}
		}
	})
}

// A handle's slot may lie past the end of this loop's slab (another loop's
// handle, on a loop with fewer timers); Cancel must miss it, not read past
// the slab, including where the slot would start a chunk not yet made.
func TestCancelOfASlotPastTheSlabReturnsFalse(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		for _, n := range []int{0, 512} {
			t.Run(fmt.Sprintf("%d timers", n), func(t *testing.T) {
				a, _ := newVirtual(t, v)
				b, _ := newVirtual(t, v)
				var handles []core.Timer
				for range n + 1 {
					handles = append(handles, a.CallLater(time.Second, func() {}))
				}
				for range n {
					b.CallLater(time.Second, func() {})
				}
				if b.Cancel(handles[n]) {
					t.Fatalf("Cancel on a loop of %d timers, of another loop's handle to its timer %d, returned true", n, n)
				}
				if p := b.Pending(); p != n {
					t.Fatalf("Pending() = %d, want %d", p, n)
				}
			})
		}
	})
}

// Close drops pending timers: their handles go stale, and nothing is pending
// any more, wherever in the wheel the timers were.
func TestCloseMakesTimerHandlesStaleAndLeavesNothingPending(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		tick := v.Params.Tick
		var handles []core.Timer
		for _, d := range []time.Duration{tick, 100 * tick, satMul(v.Params.Horizon(), 2)} {
			handles = append(handles, l.CallLater(d, func() { t.Error("a timer ran after Close") }))
		}
		handles = append(handles, l.CallEvery(3*tick, func() { t.Error("a periodic timer ran after Close") }))
		vc.Advance(tick / 2)
		runOnce(t, l)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if n := l.Pending(); n != 0 {
			t.Errorf("Pending() = %d after Close, want 0", n)
		}
		for i, h := range handles {
			if l.Cancel(h) {
				t.Errorf("Cancel of timer %d after Close returned true", i)
			}
		}
	})
}

// A virtual clock advanced exactly onto a timer's tick leaves no time to wait
// for: the woken loop must see the timer due now (a wait of zero), not go
// back to a wait that only the next Advance would end.
func TestVirtualClockAdvancedExactlyToATimersTickFiresIt(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		fired := make(chan struct{})
		l.CallLater(5*v.Params.Tick, func() { close(fired) })
		runFor(t, l, func() {
			vc.Advance(5 * v.Params.Tick)
			select {
			case <-fired:
			case <-time.After(10 * time.Second):
				t.Error("the timer did not fire within 10 s of the clock reaching its tick")
			}
		})
	})
}

// Parked timers are re-placed at each wrap of the top level they reach, and
// the wheel skips the wraps from which none fits. After the nearest parked
// timer fits, the rest, parked far beyond it, must still be reached in one
// jump: stepping through every wrap in between (about 263,000 of them for a
// 4.66 h horizon) re-places all of them at each one, minutes of CPU here.
// The bound is wall time, generous: the jump takes milliseconds.
func TestFarParkedTimersAreReachedInOneJumpAfterANearOneFires(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		const far = 140 * 365 * 24 * time.Hour // short of the end of loop time
		if satAdd(v.Params.Horizon(), v.Params.Tick) >= far {
			t.Skipf("horizon %v: a timer %v away is not parked beyond it", v.Params.Horizon(), far)
		}
		l, vc := newVirtual(t, v)
		fired, farFired := 0, 0
		l.CallLater(v.Params.Horizon()+v.Params.Tick, func() { fired++ })
		for range 10000 {
			l.CallLater(far, func() { farFired++ })
		}
		done := make(chan error, 1)
		go func() {
			vc.Advance(far + v.Params.Tick)
			done <- l.RunOnce(false)
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the jump to timers parked 140 years away did not finish in 10 s")
		}
		if fired != 1 || farFired != 10000 {
			t.Fatalf("ran %d of 1 near and %d of 10000 far timers", fired, farFired)
		}
	})
}

// A bucket that expires relabels the whole due list only when its epoch wraps,
// once in 2^15 expiries. A clock jump that expires 100,000 buckets, one timer
// each, before any of them runs must not walk the due list at each one (5e9
// steps, against a few hundred thousand). The bound is wall time, generous.
func TestExpiringManyBucketsInOneJumpTakesLinearTime(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		const n = 100000
		ran := 0
		fn := func() { ran++ }
		for k := range n {
			l.CallLater(time.Duration(k+1)*v.Params.Tick, fn)
		}
		done := make(chan error, 1)
		go func() {
			vc.Advance(time.Duration(n+1) * v.Params.Tick)
			done <- l.RunOnce(false)
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("expiring %d buckets in one jump did not finish in 10 s", n)
		}
		if ran != n {
			t.Fatalf("%d of %d timers ran", ran, n)
		}
	})
}

// TestCancelDueTimersFromMoreLapsOfOneBucketThanEpochs cancels the timer that
// carries the bucket's label again together with the one after it, and the
// second Cancel happens to mend the lists the first one broke. Cancelled on
// its own, that timer still heads the due list: Cancel must take it off the
// due list, not off the bucket its label names.
func TestCancelOfADueTimerWhoseBucketEpochCameRoundAgain(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtualStrict(t, v)
		tick := v.Params.Tick
		lap := tick * time.Duration(v.Params.Slots)
		const laps = 1<<15 + 1
		handles := make([]core.Timer, laps)
		ran := make([]bool, laps)
		cancelled := false
		for k := range laps {
			handles[k] = l.CallLater(time.Duration(k)*lap+tick, func() {
				ran[k] = true
				if k == 0 {
					cancelled = l.Cancel(handles[1])
				}
			})
		}
		vc.Advance(time.Duration(laps) * lap)
		runOnce(t, l)
		if !cancelled {
			t.Fatal("Cancel of due timer 1 returned false")
		}
		for k := range laps {
			if ran[k] != (k != 1) {
				t.Fatalf("timer %d: ran %v, want %v", k, ran[k], k != 1)
			}
		}
		if n := l.Pending(); n != 0 {
			t.Fatalf("Pending() = %d after every timer ran or was cancelled", n)
		}
	})
}

// A due timer keeps the label of the level-0 bucket it expired from, and that
// bucket may already hold a timer for its next round. Cancelling the last due
// timer empties the due list, not that bucket.
func TestCancelOfTheLastDueTimerLeavesItsOldBucketAlone(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtualStrict(t, v)
		tick := v.Params.Tick
		slots := time.Duration(v.Params.Slots)
		// Due in the last slot of level 0's first round; one round later is the
		// same slot again, on level 0, once the wheel is past that tick.
		last := (slots - 1) * tick
		nextRound := 0
		var victim core.Timer
		l.CallLater(last, func() {
			l.CallLater(slots*tick, func() { nextRound++ })
			if !l.Cancel(victim) {
				t.Error("Cancel of the last due timer returned false")
			}
		})
		victim = l.CallLater(last, func() { t.Error("the cancelled timer ran") })
		vc.Advance(last)
		runOnce(t, l)
		vc.Advance(slots*tick + tick)
		runOnce(t, l)
		if nextRound != 1 {
			t.Fatalf("the timer placed in the emptied bucket's next round ran %d times, want 1", nextRound)
		}
		if n := l.Pending(); n != 0 {
			t.Fatalf("Pending() = %d, want 0", n)
		}
	})
}
