package tests

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/generated/generic"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

func TestTimerNeverFiresEarlyAndAtMostOneTickLate(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		for _, d := range []time.Duration{1, tick / 3, tick, tick + 1, 7*tick + tick/2, 1000 * tick, time.Hour} {
			l, vc := newVirtual(t, v)
			var firedAt time.Duration = -1
			l.CallLater(d, func() { firedAt = vc.Elapsed() })
			// Jump to two ticks before the deadline, then step a third of a tick
			// at a time, so earliness and lateness both show up.
			if d > 2*tick {
				vc.Advance(d - 2*tick)
				runOnce(t, l)
			}
			step := max(tick/3, 1)
			for firedAt < 0 && vc.Elapsed() < d+2*tick {
				vc.Advance(step)
				runOnce(t, l)
			}
			switch {
			case firedAt < 0:
				t.Fatalf("d=%v: not fired %v after its deadline", d, 2*tick)
			case firedAt < d:
				t.Fatalf("d=%v: fired early, at %v", d, firedAt)
			case firedAt > d+tick+step:
				t.Fatalf("d=%v: fired at %v, more than a tick late", d, firedAt)
			}
		}
	})
}

func TestTimersWithEqualDeadlinesFireInSchedulingOrder(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		var got []int
		// Mid-way through a level-0 round 50 rounds ahead: placed on level 1.
		slots := time.Duration(v.Params.Slots)
		deadline := (50*slots + slots/2) * v.Params.Tick
		for i := range 5 {
			l.CallLater(deadline, func() { got = append(got, i) })
		}
		// Three ticks before it, inside the same round: the earlier five have
		// cascaded to level 0, and these five are placed there directly.
		vc.Advance(deadline - 3*v.Params.Tick)
		runOnce(t, l)
		for i := 5; i < 10; i++ {
			l.CallAt(epoch.Add(deadline), func() { got = append(got, i) })
		}
		vc.Advance(time.Hour)
		runOnce(t, l)
		if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(got, want) {
			t.Fatalf("fired %v, want %v", got, want)
		}
	})
}

func TestTimerBeyondTheHorizonFiresOnTime(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		horizon := v.Params.Horizon()
		for _, d := range []time.Duration{satAdd(horizon, v.Params.Tick), satAdd(satMul(horizon, 3), horizon/3), 72 * time.Hour} {
			var firedAt time.Duration = -1
			start := vc.Elapsed()
			if d > horizon {
				// A wide wheel's horizon is a good share of loop time: park
				// the timer as far beyond it as what is left allows.
				want := d
				var ok bool
				if d, ok = beyondHorizon(v.Params, start, want); !ok {
					t.Logf("d=%v (horizon %v): no deadline beyond the horizon is left in loop time %v in", want, horizon, start)
					continue
				}
			}
			l.CallLater(d, func() { firedAt = vc.Elapsed() - start })
			vc.Advance(d - v.Params.Tick)
			runOnce(t, l)
			if firedAt >= 0 {
				t.Fatalf("d=%v (horizon %v): fired early, at %v", d, horizon, firedAt)
			}
			vc.Advance(2 * v.Params.Tick)
			runOnce(t, l)
			if firedAt < d {
				t.Fatalf("d=%v (horizon %v): not fired a tick after its deadline (fired at %v)", d, horizon, firedAt)
			}
		}
	})
}

func TestCancel(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		fired := 0
		a := l.CallLater(time.Second, func() { fired++ })
		if !l.Cancel(a) {
			t.Fatal("Cancel of a pending timer returned false")
		}
		if l.Cancel(a) {
			t.Fatal("second Cancel returned true")
		}
		b := l.CallLater(time.Second, func() { fired++ })
		if l.Cancel(a) {
			t.Fatal("a stale handle cancelled a newer timer in the same slot")
		}
		vc.Advance(2 * time.Second)
		runOnce(t, l)
		if fired != 1 {
			t.Fatalf("fired %d timers, want 1 (the cancelled one must not fire)", fired)
		}
		if l.Cancel(b) {
			t.Fatal("Cancel after fire returned true")
		}
		if l.Cancel(core.Timer{}) {
			t.Fatal("Cancel of the zero Timer returned true")
		}
		// A timer cancelled by one that fires in the same iteration does not run.
		var c core.Timer
		l.CallLater(time.Second, func() { l.Cancel(c) })
		c = l.CallLater(time.Second, func() { fired++ })
		vc.Advance(2 * time.Second)
		runOnce(t, l)
		if fired != 1 {
			t.Fatal("a due timer cancelled by an earlier due timer still ran")
		}
	})
}

func TestCallEveryKeepsItsPeriod(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		period := 10*v.Params.Tick + v.Params.Tick/2
		var at []time.Duration
		var h core.Timer
		h = l.CallEvery(period, func() {
			at = append(at, vc.Elapsed())
			if len(at) == 5 {
				l.Cancel(h)
			}
		})
		for vc.Elapsed() < 10*period {
			vc.Advance(v.Params.Tick)
			runOnce(t, l)
		}
		if len(at) != 5 {
			t.Fatalf("fired %d times, want 5 (cancelled from its own callback)", len(at))
		}
		for i, x := range at {
			due := time.Duration(i+1) * period
			if x < due || x > due+2*v.Params.Tick {
				t.Fatalf("run %d at %v, want in [%v, %v]: the schedule drifted", i, x, due, due+2*v.Params.Tick)
			}
		}
		// A loop that falls behind skips whole periods instead of bursting.
		n := 0
		l.CallEvery(period, func() { n++ })
		vc.Advance(10*period + period/2)
		runOnce(t, l)
		vc.Advance(period)
		runOnce(t, l)
		if n != 2 {
			t.Fatalf("after a 10-period stall it ran %d times, want 2", n)
		}
	})
}

// A timer fires up to a tick after its deadline, so a CallEvery as short as a
// tick finds its next deadline already behind the clock when it runs; that
// deadline is still in a tick not yet processed, and must not count as a
// missed period (it did: CallEvery(1ms) ran every 2 ms).
func TestCallEveryOfOneTickRunsEveryTick(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		tick := v.Params.Tick
		// Deadlines fall just after a tick's edge, and the loop runs a quarter of a
		// tick after each edge, when the next deadline is already behind the clock.
		vc.Advance(tick / 20)
		runOnce(t, l)
		n := 0
		l.CallEvery(tick, func() { n++ })
		const ticks = 40
		for range 4 * ticks {
			vc.Advance(tick / 4)
			runOnce(t, l)
		}
		// 40 ticks of time: the first run is due after one tick and may wait for the next.
		if n < ticks-2 || n > ticks {
			t.Fatalf("CallEvery(%v) ran %d times in %d ticks, want %d to %d", tick, n, ticks, ticks-2, ticks)
		}
	})
}

// A periodic timer's period is kept beside the slab; a one-shot timer that
// reuses a cancelled periodic timer's slot must not inherit it.
func TestOneShotTimerInACancelledPeriodicTimersSlotFiresOnce(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		periodic := 0
		h := l.CallEvery(3*v.Params.Tick, func() { periodic++ })
		for range 10 {
			vc.Advance(v.Params.Tick)
			runOnce(t, l)
		}
		if periodic < 2 || !l.Cancel(h) {
			t.Fatalf("the periodic timer ran %d times and could not be cancelled", periodic)
		}
		oneShot := 0
		l.CallLater(2*v.Params.Tick, func() { oneShot++ })
		for range 50 {
			vc.Advance(v.Params.Tick)
			runOnce(t, l)
		}
		if oneShot != 1 {
			t.Fatalf("the one-shot timer ran %d times, want 1", oneShot)
		}
	})
}

// The longest delay must saturate, not overflow into the past: a timer
// due in 292 years neither fires now nor after a long wait, and cancels.
func TestCallLaterWithTheLongestDelayNeitherFiresNorOverflows(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		vc.Advance(time.Hour) // loop time is no longer 0: now + d would overflow
		runOnce(t, l)
		fired := 0
		h := l.CallLater(time.Duration(math.MaxInt64), func() { fired++ })
		l.CallSoon(func() { l.CallLater(time.Duration(math.MaxInt64), func() { fired++ }) })
		runOnce(t, l)
		vc.Advance(1000 * time.Hour)
		runOnce(t, l)
		if fired != 0 {
			t.Fatalf("%d timers due in 292 years fired", fired)
		}
		if !l.Cancel(h) {
			t.Fatal("the timer could not be cancelled")
		}
	})
}

func TestTimerScheduledFromACallbackUsesLoopTime(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		var firedAt time.Duration = -1
		d := wholeTicks(v.Params, time.Second) // a second, on a tick's edge
		l.CallLater(d, func() {
			l.CallLater(d, func() { firedAt = vc.Elapsed() })
		})
		vc.Advance(d)
		runOnce(t, l)
		vc.Advance(d - v.Params.Tick)
		runOnce(t, l)
		if firedAt >= 0 {
			t.Fatalf("fired early at %v", firedAt)
		}
		vc.Advance(2 * v.Params.Tick)
		runOnce(t, l)
		if firedAt < 2*d {
			t.Fatalf("fired at %v, want >= %v", firedAt, 2*d)
		}
	})
}

// TestWheelMatchesAHeapModel drives each variant's wheel and a reference
// model (a sorted list: due when the deadline's tick has been reached, in
// deadline-tick then scheduling order) with the same random schedule, cancel
// and advance steps, and compares what fires and what Cancel returns.
func TestWheelMatchesAHeapModel(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		seeds := 20
		if testing.Short() {
			seeds = 4
		}
		for seed := range seeds {
			checkAgainstModel(t, v, uint64(seed))
		}
	})
}

type modelTimer struct {
	id   int
	tick int64
	seq  int
}

// endOfLoopTime is where loop time ends: a later deadline is due then.
const endOfLoopTime = math.MaxInt64 / 2

func checkAgainstModel(t *testing.T, v all.Variant, seed uint64) {
	l, vc := newVirtual(t, v)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	tick := int64(v.Params.Tick)
	slots := int64(v.Params.Slots)
	horizon := int64(v.Params.Horizon())
	delay := func() int64 {
		switch rng.IntN(10) {
		case 0, 1, 2, 3:
			return 1 + rng.Int64N(4*tick) // same or next few ticks
		case 4, 5, 6:
			return 1 + rng.Int64N(slots*slots*tick) // levels 1 and 2
		case 7, 8:
			return 1 + rng.Int64N(min(horizon, 1<<50)) // anywhere in range
		default:
			// Parked beyond the horizon: up to twice as far again, as int64 allows.
			extra := int64(math.MaxInt64) - horizon
			if horizon <= extra/2 {
				extra = 2 * horizon
			}
			return horizon + rng.Int64N(max(extra, 1))
		}
	}
	pending := map[int]modelTimer{}
	handles := map[int]core.Timer{}
	var fired []int
	seq := 0
	for step := range 3000 {
		now := int64(vc.Elapsed())
		switch op := rng.IntN(10); {
		case op < 5:
			d := delay()
			id := seq
			seq++
			handles[id] = l.CallLater(time.Duration(d), func() { fired = append(fired, id) })
			// A deadline past the end of loop time (2^62 ns) is due then; once
			// loop time is past it, that is in the past, and the timer fires
			// at the next tick, as any deadline already passed does.
			when := now + min(d, endOfLoopTime-now)
			due := (when + tick - 1) / tick
			if when < now {
				due = max(due, now/tick+1)
			}
			pending[id] = modelTimer{id: id, tick: due, seq: id}
		case op < 7 && len(handles) > 0:
			id := rng.IntN(seq)
			h, ok := handles[id]
			if !ok {
				continue
			}
			_, want := pending[id]
			if got := l.Cancel(h); got != want {
				t.Fatalf("seed %d step %d: Cancel(timer %d) = %v, want %v", seed, step, id, got, want)
			}
			delete(pending, id)
		default:
			var d int64
			switch rng.IntN(4) {
			case 0:
				d = rng.Int64N(tick)
			case 1:
				d = rng.Int64N(8 * tick)
			case 2:
				d = rng.Int64N(slots * slots * tick)
			default:
				// Jump to just before or at a pending deadline.
				for _, m := range pending {
					d = max(0, m.tick*tick-now-rng.Int64N(2)*tick)
					break
				}
			}
			// Steps of a wide wheel (slots² ticks of up to 1s each) may add up
			// to more than int64 holds: the clock stops short of that.
			d = max(0, min(d, math.MaxInt64-math.MaxInt64/8-now))
			vc.Advance(time.Duration(d))
			runOnce(t, l)
			nowTick := int64(vc.Elapsed()) / tick
			var due []modelTimer
			for _, m := range pending {
				if m.tick <= nowTick {
					due = append(due, m)
				}
			}
			slices.SortFunc(due, func(a, b modelTimer) int {
				return cmp.Or(cmp.Compare(a.tick, b.tick), cmp.Compare(a.seq, b.seq))
			})
			want := make([]int, len(due))
			for i, m := range due {
				want[i] = m.id
				delete(pending, m.id)
			}
			if !slices.Equal(fired, want) {
				t.Fatalf("seed %d step %d at tick %d: fired %v, want %v", seed, step, nowTick, fired, want)
			}
			fired = fired[:0]
		}
	}
	if got := l.Pending(); got != len(pending) {
		t.Fatalf("seed %d: loop has %d pending timers, model %d", seed, got, len(pending))
	}
}

// A level-0 bucket that expires moves its timers to the due list whole; they
// are told apart from timers placed in the bucket later by an epoch that
// wraps (2^15 of them). Here one bucket expires once more than that within a
// single iteration, so every one of its timers is still due when the first
// runs, and timer 1, then at the head of the due list, carries the bucket's
// current epoch again. The first timer cancels it and others: each cancel
// must succeed, the cancelled timers must not run, and the wheel must go on
// working for later timers.
func TestCancelDueTimersFromMoreLapsOfOneBucketThanEpochs(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		tick := v.Params.Tick
		lap := tick * time.Duration(v.Params.Slots)
		const laps = 1<<15 + 1
		cancelled := map[int]bool{1: true, 2: true, 1000: true, 1<<15 - 1: true, 1 << 15: true}
		handles := make([]core.Timer, laps)
		ran := make([]bool, laps)
		failed := []int{}
		for k := range laps {
			handles[k] = l.CallLater(time.Duration(k)*lap+tick, func() {
				ran[k] = true
				if k != 0 {
					return
				}
				for c := range cancelled {
					if !l.Cancel(handles[c]) {
						failed = append(failed, c)
					}
				}
			})
		}
		vc.Advance(time.Duration(laps) * lap)
		runOnce(t, l)
		if len(failed) > 0 {
			t.Fatalf("Cancel of due timers %v returned false", failed)
		}
		for k := range laps {
			if ran[k] == cancelled[k] {
				t.Fatalf("timer %d: ran %v, cancelled %v", k, ran[k], cancelled[k])
			}
		}
		if n := l.Pending(); n != 0 {
			t.Fatalf("Pending() = %d after every timer ran or was cancelled", n)
		}
		after := 0
		for k := range 3 {
			l.CallLater(time.Duration(k+1)*tick, func() { after++ })
		}
		vc.Advance(4 * tick)
		runOnce(t, l)
		if after != 3 {
			t.Fatalf("%d of 3 timers scheduled afterwards fired", after)
		}
	})
}

// A callback that runs long (here the virtual clock moves 50 ms during it)
// must not make a timer that a later callback of the same batch schedules
// fire early: its delay counts from when it was scheduled (uvloop #29).
func TestTimerScheduledAfterASlowCallbackIsNotEarly(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		slow, delay := slowAndDelay(v.Params)
		var scheduledAt, firedAt time.Duration = -1, -1
		l.CallSoon(func() { vc.Advance(slow) })
		l.CallSoon(func() {
			scheduledAt = vc.Elapsed()
			l.CallLater(delay, func() { firedAt = vc.Elapsed() })
		})
		runOnce(t, l)
		if v.Params.Batch < 2 {
			runOnce(t, l) // the next iteration runs the second: it counts from there all the same
		}
		for firedAt < 0 && vc.Elapsed() < scheduledAt+delay+3*v.Params.Tick {
			vc.Advance(v.Params.Tick)
			runOnce(t, l)
		}
		if firedAt < scheduledAt+delay {
			t.Fatalf("scheduled at %v for %v, fired at %v", scheduledAt, delay, firedAt)
		}
	})
}

// slowAndDelay returns how long a slow callback runs (50 ms) and the delay of
// a timer scheduled after it (10 ms), lengthened on a coarse wheel (to 5 and
// 2 ticks) so that a delay counted from before the slow callback still
// rounds up to a tick before the right deadline.
func slowAndDelay(p core.Params) (slow, delay time.Duration) {
	return max(50*time.Millisecond, 5*p.Tick), max(10*time.Millisecond, 2*p.Tick)
}

// Advancing a virtual clock wakes the loop without queueing anything:
// Pending counts only what the program scheduled. (The wake-up itself is
// TestVirtualClockAdvanceWakesABlockedLoop's.)
func TestClockAdvancesLeaveNothingPending(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		for range 3 {
			vc.Advance(time.Second)
		}
		if n := l.Pending(); n != 0 {
			t.Fatalf("Pending() = %d after clock advances alone, want 0", n)
		}
		l.CallLater(time.Second, func() {})
		if n := l.Pending(); n != 1 {
			t.Fatalf("Pending() = %d with one timer scheduled, want 1", n)
		}
	})
}

// CallAt with a time already past behaves as CallSoon: the zero Timer, and it
// runs after what was queued before it. "Past" is judged against a fresh
// reading, not the one cached when the iteration began (a past time after
// that one was scheduled as a timer, and ran before earlier CallSoons).
func TestCallAtInThePastIsCallSoon(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		t.Run("between iterations", func(t *testing.T) {
			l, vc := newVirtual(t, v)
			runOnce(t, l)
			vc.Advance(time.Second)
			var order []string
			l.CallSoon(func() { order = append(order, "soon") })
			if h := l.CallAt(vc.Now().Add(-time.Millisecond), func() { order = append(order, "past") }); h != (core.Timer{}) {
				t.Errorf("CallAt(past) returned the Timer %v, want the zero Timer", h)
			}
			runUntilIdle(t, l) // one iteration, or more with batch: 1
			if !slices.Equal(order, []string{"soon", "past"}) {
				t.Errorf("ran %v, want [soon past]", order)
			}
		})
		t.Run("in a callback after the clock moved", func(t *testing.T) {
			l, vc := newVirtual(t, v)
			var h core.Timer
			var order []string
			l.CallSoon(func() {
				vc.Advance(3 * time.Millisecond) // as a slow callback's time passes
				l.CallSoon(func() { order = append(order, "soon") })
				h = l.CallAt(vc.Now().Add(-time.Microsecond), func() { order = append(order, "past") })
			})
			runOnce(t, l)
			if h != (core.Timer{}) {
				t.Errorf("CallAt(past) returned the Timer %v, want the zero Timer", h)
			}
			runUntilIdle(t, l) // one iteration, or more with batch: 1
			if !slices.Equal(order, []string{"soon", "past"}) {
				t.Errorf("ran %v, want [soon past]", order)
			}
		})
		// A deadline scheduled earlier in the callback made it reuse that
		// clock reading, older than a t already past by l.Now().
		t.Run("in a callback that scheduled a deadline before the clock moved", func(t *testing.T) {
			l, vc := newVirtual(t, v)
			var h core.Timer
			var order []string
			l.CallSoon(func() {
				l.CallLater(time.Hour, func() {}) // reads the clock; later deadlines reuse it
				vc.Advance(3 * time.Millisecond)
				l.CallSoon(func() { order = append(order, "soon") })
				h = l.CallAt(l.Now().Add(-time.Microsecond), func() { order = append(order, "past") })
			})
			runOnce(t, l)
			if h != (core.Timer{}) {
				t.Errorf("CallAt(past) returned the Timer %v, want the zero Timer", h)
			}
			runOnce(t, l)
			runUntilIdle(t, l) // one iteration, or more with batch: 1
			if !slices.Equal(order, []string{"soon", "past"}) {
				t.Errorf("ran %v, want [soon past]", order)
			}
		})
	})
}

// TestCloseFromATimerDropsTheOtherDueTimers: timers due in the same tick as
// one that closes the loop are still pending when it does (Cancel would
// stop them), and Close drops pending timers; they used to run after it.
func TestCloseFromATimerDropsTheOtherDueTimers(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		closed, ranAfterClose := false, false
		d := wholeTicks(v.Params, time.Second) // a second, on a tick's edge
		l.CallLater(d, func() {
			l.Close()
			closed = true
		})
		l.CallLater(d, func() { ranAfterClose = closed })
		vc.Advance(d)
		l.RunOnce(false)
		if !closed {
			t.Fatal("the first timer did not run")
		}
		if ranAfterClose {
			t.Error("a timer due with the one that closed the loop ran after Close")
		}
	})
}

// Loop time ends 2^62 ns (about 146 years) after the loop
// began: a deadline beyond it is due there, not before, and a periodic timer
// that runs there has no later deadline and ends (its period used to overflow
// into deadlines in the past, and it ran on every tick).
func TestTimersPastTheEndOfLoopTimeAreDueThen(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		const endOfTime = time.Duration(math.MaxInt64 / 2)
		var laterAt, atAt time.Duration = -1, -1
		every := 0
		l.CallLater(time.Duration(math.MaxInt64), func() { laterAt = vc.Elapsed() })
		l.CallAt(vc.Now().Add(time.Duration(math.MaxInt64)-time.Hour), func() { atAt = vc.Elapsed() })
		l.CallEvery(time.Duration(math.MaxInt64), func() { every++ })
		vc.Advance(endOfTime - time.Hour)
		runOnce(t, l)
		if laterAt >= 0 || atAt >= 0 || every > 0 {
			t.Fatalf("an hour before the end of loop time: CallLater ran at %v, CallAt at %v, CallEvery %d times", laterAt, atAt, every)
		}
		vc.Advance(2 * time.Hour)
		for range 10 {
			runOnce(t, l)
			vc.Advance(v.Params.Tick)
		}
		if laterAt < endOfTime || atAt < endOfTime || every != 1 {
			t.Fatalf("past the end of loop time (%v): CallLater ran at %v, CallAt at %v, CallEvery %d times (want once)", endOfTime, laterAt, atAt, every)
		}
		if n := l.Pending(); n != 0 {
			t.Fatalf("Pending() = %d after every timer ran", n)
		}
	})
}

// A Timer belongs to the loop that made it. Handles are a slot and its
// generation, and two loops' first timers had equal ones: another loop's
// Cancel took the timer in the same slot there. Generations start at a random
// point per loop, so it misses (with odds of 2^-32 against).
func TestCancelWithAnotherLoopsHandleCancelsNothing(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		a, _ := newVirtual(t, v)
		b, vcb := newVirtual(t, v)
		fired := 0
		var handles []core.Timer
		for range 100 {
			handles = append(handles, a.CallLater(time.Second, func() {}))
			b.CallLater(time.Second, func() { fired++ })
		}
		for _, h := range handles {
			if b.Cancel(h) {
				t.Fatalf("loop b's Cancel of loop a's handle %v returned true", h)
			}
		}
		vcb.Advance(2 * time.Second)
		runOnce(t, b)
		if fired != 100 {
			t.Fatalf("%d of loop b's 100 timers fired after Cancel with loop a's handles", fired)
		}
	})
}

// A loop made while another goroutine advances its clock reads the clock as
// it is, never ahead of it: Init read Elapsed and Now separately, and an
// Advance between the two put the loop's time ahead for good (its CallAt
// timers then fired before the clock reached them). The window is narrow
// (the old code was caught in about 1 of 2,000 loops), so the test makes
// loops for up to a second.
func TestLoopMadeWhileTheClockMovesIsNotAheadOfIt(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		vc := clock.NewVirtual(epoch)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					vc.Advance(time.Millisecond)
				}
			}
		}()
		defer wg.Wait()
		defer close(stop)
		deadline := time.Now().Add(time.Second)
		for i := 0; i < 5000 && time.Now().Before(deadline); i++ {
			l, err := v.New(core.Config{Clock: vc})
			if err != nil {
				t.Fatal(err)
			}
			ahead := l.Now().Sub(vc.Now()) // the clock read second, so it may only be later
			l.Close()
			if ahead > 0 {
				t.Fatalf("loop %d: its Now is %v ahead of the clock it reads", i, ahead)
			}
		}
	})
}

// A wheel whose horizon is 16 µs (1 µs ticks, 4 slots, 2 levels) holds a
// timer 1,000 hours away parked beyond it. A jump of the virtual clock to
// its deadline used to step through every wrap of the top level, 2.25e11
// of them (hours of CPU); the wheel now goes straight to the wrap from which
// the timer fits. The bound is wall time, generous: the jump takes
// microseconds.
func TestAJumpOfManyHorizonsIsOneStep(t *testing.T) {
	p := generic.Params
	p.Tick, p.Slots, p.Levels = time.Microsecond, 4, 2
	vc := clock.NewVirtual(epoch)
	l, err := generic.NewWithParams(p, core.Config{Clock: vc})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fired := make(chan time.Duration, 1)
	l.CallLater(1000*time.Hour, func() { fired <- vc.Elapsed() })
	l.CallLater(500*time.Hour, func() {})
	done := make(chan error, 1)
	go func() {
		vc.Advance(1000*time.Hour + time.Millisecond)
		for range 5 {
			if err := l.RunOnce(false); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the jump over 2.25e11 horizons did not finish in 30 s")
	}
	select {
	case at := <-fired:
		if at < 1000*time.Hour {
			t.Errorf("fired at %v, before its deadline", at)
		}
	default:
		t.Error("the timer 1,000 hours away did not fire after the clock passed it")
	}
}

// A CallAt(t) made once t has passed runs before a timer for the same t
// scheduled while t was ahead only while the clock has not reached that
// timer's tick; once it has, the timer is due and runs first, as an
// iteration runs its due timers before its ready callbacks. (A trial read
// the README's sentence as unconditional.)
func TestCallAtInThePastAgainstAnEarlierTimerForTheSameTime(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		for _, tc := range []struct {
			name    string
			advance float64 // in ticks; t is at 1.5, in the tick that ends at 2
			want    []string
		}{
			{"tick not reached", 1.6, []string{"made after t passed", "scheduled while t was ahead"}},
			{"tick reached", 2.5, []string{"scheduled while t was ahead", "made after t passed"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l, vc := newVirtual(t, v)
				tick := l.Variant().Tick
				at := vc.Now().Add(tick * 3 / 2)
				var order []string
				l.CallAt(at, func() { order = append(order, "scheduled while t was ahead") })
				vc.Advance(time.Duration(tc.advance * float64(tick)))
				if h := l.CallAt(at, func() { order = append(order, "made after t passed") }); h != (core.Timer{}) {
					t.Fatalf("CallAt(past) returned the Timer %v, want the zero Timer", h)
				}
				runUntilIdle(t, l)
				vc.Advance(2 * tick)
				runUntilIdle(t, l)
				if !slices.Equal(order, tc.want) {
					t.Errorf("ran %q, want %q", order, tc.want)
				}
			})
		}
	})
}
