package tests

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// stepTicks advances vc one tick at a time, n times, with an iteration
// after each.
func stepTicks(t *testing.T, l core.Loop, vc interface{ Advance(time.Duration) }, tick time.Duration, n int) {
	t.Helper()
	for range n {
		vc.Advance(tick)
		runOnce(t, l)
	}
}

// firedWithin fails the test unless at holds exactly one firing, within a
// tick after due (never before).
func firedWithin(t *testing.T, what string, at []time.Duration, due, tick time.Duration) {
	t.Helper()
	if len(at) != 1 {
		t.Fatalf("%s: fired %d times (at %v), want once", what, len(at), at)
	}
	if late := at[0] - due; late < 0 || late > tick {
		t.Fatalf("%s: fired at %v, want within a tick after %v", what, at[0], due)
	}
}

// Reschedule moves a pending timer, later or earlier, keeping its handle;
// it refuses, changing nothing, a timer that fired or was cancelled, the
// zero Timer and a stale handle; d <= 0 makes the timer due at once.
func TestRescheduleMovesAPendingTimer(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		l, vc := newVirtual(t, v)

		// Later: a deadline re-armed on activity, halfway through. It fires
		// in the iteration a CallLater made then with the same d fires in.
		var at, ref []time.Duration
		h := l.CallLater(10*tick, func() { at = append(at, vc.Elapsed()) })
		stepTicks(t, l, vc, tick, 5)
		vc.Advance(tick / 3) // off the tick's edge
		runOnce(t, l)
		if !l.Reschedule(h, 10*tick) {
			t.Fatal("Reschedule of a pending timer returned false")
		}
		l.CallLater(10*tick, func() { ref = append(ref, vc.Elapsed()) })
		stepTicks(t, l, vc, tick, 8) // past the first deadline, short of the new one
		if len(at) != 0 {
			t.Fatalf("the timer fired at %v, at its old deadline", at)
		}
		stepTicks(t, l, vc, tick, 5)
		firedWithin(t, "moved later", at, 15*tick+tick/3, tick)
		if len(ref) != 1 || ref[0] != at[0] {
			t.Fatalf("the rescheduled timer fired at %v, a CallLater with the same d at %v", at, ref)
		}
		if l.Reschedule(h, tick) || l.Cancel(h) {
			t.Fatal("Reschedule or Cancel found a fired timer pending")
		}
		stepTicks(t, l, vc, tick, 3)
		if len(at) != 1 {
			t.Fatalf("a refused Reschedule of a fired timer made it fire again (%d times)", len(at))
		}

		// Earlier, from an hour out, and the handle then cancels it.
		at, start := nil, vc.Elapsed()
		h = l.CallLater(time.Hour, func() { at = append(at, vc.Elapsed()) })
		if !l.Reschedule(h, 3*tick) {
			t.Fatal("Reschedule of a timer an hour out returned false")
		}
		stepTicks(t, l, vc, tick, 6)
		firedWithin(t, "moved earlier", at, start+3*tick, tick)
		h = l.CallLater(time.Hour, func() { t.Error("a cancelled timer fired") })
		if !l.Reschedule(h, 2*tick) || !l.Cancel(h) {
			t.Fatal("the handle kept by Reschedule did not cancel the timer")
		}
		if l.Reschedule(h, tick) {
			t.Fatal("Reschedule of a cancelled timer returned true")
		}
		if l.Reschedule(core.Timer{}, tick) {
			t.Fatal("Reschedule of the zero Timer returned true")
		}
		// A stale handle, whose slot a newer timer uses now, moves nothing.
		var newer []time.Duration
		start = vc.Elapsed()
		h2 := l.CallLater(2*tick, func() { newer = append(newer, vc.Elapsed()) })
		if l.Reschedule(h, time.Hour) {
			t.Fatal("Reschedule of a stale handle returned true")
		}
		if i, _, _ := h.Slot(); func() bool { j, _, _ := h2.Slot(); return i != j }() {
			t.Fatal("the newer timer did not reuse the cancelled one's slot: the handle is not stale")
		}
		stepTicks(t, l, vc, tick, 3)
		firedWithin(t, "the timer in a stale handle's slot", newer, start+2*tick, tick)
		stepTicks(t, l, vc, tick, 4)

		// d <= 0: due at once, within a tick, however negative.
		for _, d := range []time.Duration{0, -time.Second, math.MinInt64} {
			at, start = nil, vc.Elapsed()
			h = l.CallLater(time.Minute, func() { at = append(at, vc.Elapsed()) })
			if !l.Reschedule(h, d) {
				t.Fatalf("Reschedule with d = %v returned false", d)
			}
			stepTicks(t, l, vc, tick, 2)
			firedWithin(t, fmt.Sprintf("moved to now with d = %v", d), at, start, tick)
		}

		// A timer beyond the horizon comes in, and one comes to beyond it.
		far := v.Params.Horizon() + time.Hour
		at, start = nil, vc.Elapsed()
		h = l.CallLater(far, func() { at = append(at, vc.Elapsed()) })
		if !l.Reschedule(h, 2*tick) {
			t.Fatal("Reschedule of a parked timer returned false")
		}
		stepTicks(t, l, vc, tick, 4)
		firedWithin(t, "parked, moved near", at, start+2*tick, tick)
		at = nil
		h = l.CallLater(2*tick, func() { at = append(at, vc.Elapsed()) })
		start = vc.Elapsed()
		if !l.Reschedule(h, far) {
			t.Fatal("Reschedule to beyond the horizon returned false")
		}
		stepTicks(t, l, vc, tick, 4)
		if len(at) != 0 {
			t.Fatal("a timer moved beyond the horizon fired at its old deadline")
		}
		vc.Advance(far)
		runOnce(t, l)
		for range 8 {
			if len(at) > 0 {
				break
			}
			vc.Advance(tick)
			runOnce(t, l)
		}
		firedWithin(t, "moved beyond the horizon", at, start+far, 10*tick)
		if n := l.Pending(); n != 0 {
			t.Fatalf("%d callbacks or timers left pending", n)
		}
	})
}

// A CallEvery timer rescheduled runs next d from then, and every period
// after that; a timer rescheduled by another that fires in the same tick
// does not run then; one that reschedules itself to now from its own
// periodic callback runs once an iteration, not in a loop.
func TestRescheduleOfPeriodicAndDueTimers(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		l, vc := newVirtual(t, v)

		var runs []time.Duration
		start := vc.Elapsed()
		h := l.CallEvery(5*tick, func() { runs = append(runs, vc.Elapsed()-start) })
		stepTicks(t, l, vc, tick, 11) // runs at 5 and 10 ticks
		if len(runs) != 2 {
			t.Fatalf("CallEvery ran %d times in 11 ticks, want 2", len(runs))
		}
		moved := vc.Elapsed() - start
		if !l.Reschedule(h, 20*tick) {
			t.Fatal("Reschedule of a periodic timer returned false")
		}
		stepTicks(t, l, vc, tick, 31)
		want := []time.Duration{moved + 20*tick, moved + 25*tick, moved + 30*tick}
		if len(runs) != 2+len(want) {
			t.Fatalf("after the Reschedule it ran at %v, want 3 more runs near %v", runs[2:], want)
		}
		for i, w := range want {
			if late := runs[2+i] - w; late < 0 || late > tick {
				t.Fatalf("run %d at %v, want within a tick after %v", 2+i, runs[2+i], w)
			}
		}
		l.Cancel(h)

		// Two timers due in one tick: the first moves the second away.
		var second []time.Duration
		var h2 core.Timer
		start = vc.Elapsed()
		l.CallLater(2*tick, func() {
			if !l.Reschedule(h2, 10*tick) {
				t.Error("a due timer, not yet run, could not be rescheduled")
			}
		})
		h2 = l.CallLater(2*tick, func() { second = append(second, vc.Elapsed()) })
		stepTicks(t, l, vc, tick, 4)
		if len(second) != 0 {
			t.Fatalf("the timer moved away by one due with it still ran at %v", second)
		}
		stepTicks(t, l, vc, tick, 10)
		if len(second) != 1 || second[0] < start+2*tick+10*tick-tick {
			t.Fatalf("the moved timer ran at %v, want once, about 12 ticks after %v", second, start)
		}

		// A one-shot timer cannot reschedule itself from its callback (it has
		// fired); a periodic one can, to now, and then runs once an iteration.
		var self core.Timer
		refused := false
		self = l.CallLater(tick, func() { refused = !l.Reschedule(self, tick) })
		stepTicks(t, l, vc, tick, 3)
		if !refused {
			t.Fatal("a one-shot timer rescheduled itself from its own callback")
		}
		n := 0
		var p core.Timer
		p = l.CallEvery(time.Hour, func() {
			n++
			l.Reschedule(p, 0)
		})
		l.Reschedule(p, 0)
		stepTicks(t, l, vc, tick, 10)
		if n < 9 || n > 10 {
			t.Fatalf("a timer rescheduled to now from its own callback ran %d times in 10 iterations, want one an iteration", n)
		}
		l.Cancel(p)
	})
}

// Re-arming a deadline with Reschedule allocates nothing and leaves one
// timer pending however often it is done.
func TestRescheduleAllocatesNothing(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, _ := newVirtual(t, v)
		h := l.CallLater(time.Second, func() {})
		if n := testing.AllocsPerRun(1000, func() { l.Reschedule(h, time.Second) }); n != 0 {
			t.Errorf("Reschedule: %v allocations per run, want 0", n)
		}
		if n := l.Pending(); n != 1 {
			t.Errorf("after 1,000 Reschedules %d timers pending, want 1", n)
		}
	})
}

// Reschedule with d <= 0 gives the timer a deadline of now, as its doc
// says: where the clock stands on a tick the loop has not processed (a
// loop that has not run yet), the next iteration runs it without the clock
// moving; where the loop has processed the clock's tick, it waits for the
// clock to move on (a user's trial found the first case, which the doc
// then denied).
func TestRescheduleToNowRunsWhenTheLoopNextProcessesTheTick(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		l, vc := newVirtual(t, v)
		ran := 0
		h := l.CallLater(time.Minute, func() { ran++ })
		if !l.Reschedule(h, 0) {
			t.Fatal("Reschedule returned false")
		}
		runOnce(t, l)
		if ran != 1 {
			t.Fatalf("on a loop that had not run, Reschedule(t, 0) then an iteration ran it %d times, want 1", ran)
		}
		vc.Advance(tick + tick/2) // mid-tick, and the loop processes up to here
		runOnce(t, l)
		h = l.CallLater(time.Minute, func() { ran++ })
		l.Reschedule(h, 0)
		runOnce(t, l)
		runOnce(t, l)
		if ran != 1 {
			t.Fatalf("with the clock's tick processed, Reschedule(t, 0) ran without the clock moving")
		}
		vc.Advance(tick)
		runOnce(t, l)
		if ran != 2 {
			t.Fatalf("after the clock moved a tick, the timer rescheduled to now ran %d times in all, want 2", ran)
		}
	})
}
