package tests

import (
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// Handles made with core.MakeTimer that name no pending timer (a slot past
// the ones handed out, with generation 0, which no handle carries; a
// cancelled timer's slot, with the generation it has on the free list) are
// refused by Reschedule as by Cancel, and the wheel is left as it was.
func TestRescheduleRefusesHandlesOfNoPendingTimer(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		l, vc := newVirtual(t, v)
		fired := 0
		l.CallLater(10*tick, func() { fired++ })
		h2 := l.CallLater(10*tick, func() { t.Error("a cancelled timer fired") })
		if !l.Cancel(h2) {
			t.Fatal("Cancel of a pending timer returned false")
		}
		i2, g2, _ := h2.Slot()
		freeGen := g2 + 1
		if freeGen == 0 {
			freeGen = 1
		}
		for _, h := range []core.Timer{
			core.MakeTimer(i2, freeGen), // the cancelled timer's slot, on the free list
			core.MakeTimer(i2+1, 0),     // a slot no timer was handed out from
		} {
			if l.Reschedule(h, tick) {
				t.Fatalf("Reschedule of %v, no pending timer's handle, returned true", h)
			}
			if l.Cancel(h) {
				t.Fatalf("Cancel of %v, no pending timer's handle, returned true", h)
			}
		}
		stepTicks(t, l, vc, tick, 12)
		if fired != 1 {
			t.Fatalf("the pending timer fired %d times, want once", fired)
		}
		if n := l.Pending(); n != 0 {
			t.Fatalf("%d callbacks or timers left pending", n)
		}
	})
}

// A timer moved to the loop's present on a fresh loop sits in the wheel's
// very first bucket (label 0); moved later again, it must leave that bucket
// and not fire before its new deadline.
func TestRescheduleOutOfTheFirstBucket(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		l, vc := newVirtual(t, v)
		var at []time.Duration
		h := l.CallLater(3*tick, func() { at = append(at, vc.Elapsed()) })
		if !l.Reschedule(h, 0) || !l.Reschedule(h, 5*tick) {
			t.Fatal("Reschedule of a pending timer returned false")
		}
		runOnce(t, l)
		if len(at) != 0 {
			t.Fatalf("the timer moved 5 ticks out fired at once (at %v)", at)
		}
		stepTicks(t, l, vc, tick, 8)
		firedWithin(t, "moved out of the first bucket", at, 5*tick, tick)
		stepTicks(t, l, vc, tick, 70)
		if len(at) != 1 || l.Pending() != 0 {
			t.Fatalf("fired %d times, %d pending; want once, 0", len(at), l.Pending())
		}
	})
}

// A timer moved later no longer wakes the loop at its old deadline:
// NextWake says the new one.
func TestNextWakeAfterRescheduleLater(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		l, vc := newVirtual(t, v)
		stepTicks(t, l, vc, tick, 2)
		h := l.CallLater(3*tick, func() {})
		if !l.Reschedule(h, 40*tick) {
			t.Fatal("Reschedule of a pending timer returned false")
		}
		d, ok := l.NextWake()
		if !ok || d < 3*tick+tick {
			t.Fatalf("NextWake() = %v, %v after the only timer moved from 3 to 40 ticks out; want more than 4 ticks, true", d, ok)
		}
	})
}

// From a timer's callback, with another timer due in the same tick still to
// run and nothing else scheduled, NextWake says there is work now: (0, true).
func TestNextWakeWithOnlyDueTimersLeft(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		l, vc := newVirtual(t, v)
		type wake struct {
			d  time.Duration
			ok bool
		}
		var wakes []wake
		fn := func() {
			d, ok := l.NextWake()
			wakes = append(wakes, wake{d, ok})
		}
		l.CallLater(2*tick, fn)
		l.CallLater(2*tick, fn)
		stepTicks(t, l, vc, tick, 4)
		if len(wakes) != 2 {
			t.Fatalf("the two timers ran %d times, want twice", len(wakes))
		}
		if w := wakes[0]; w.d != 0 || !w.ok {
			t.Fatalf("NextWake from the first of two timers due together = %v, %v; want 0, true", w.d, w.ok)
		}
		if w := wakes[1]; w.d != 0 || w.ok {
			t.Fatalf("NextWake from the last timer = %v, %v; want 0, false", w.d, w.ok)
		}
	})
}
