package tests

import (
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// slots returns the slab entries that handles name, in order.
func slots(t *testing.T, handles []core.Timer) []int32 {
	t.Helper()
	var out []int32
	for _, h := range handles {
		i, _, ok := h.Slot()
		if !ok {
			t.Fatalf("handle %v names no slot", h)
		}
		out = append(out, i)
	}
	return out
}

// wantFromZero fails unless got is 0, 1, 2, ...: the slab handed out from its start, in order.
func wantFromZero(t *testing.T, what string, got []int32) {
	t.Helper()
	for k, i := range got {
		if i != int32(k) {
			t.Fatalf("%s: timer %d of the burst is in slot %d, want %d (slots %v)", what, k, i, k, got)
		}
	}
}

// TestOnceEmptyTheWheelHandsOutItsSlabFromTheStartAgain: when the last
// timer is cancelled, fires, or the burst mixes both, the next burst's
// timers take the slab's entries in order from the first, whatever order
// the free list had them in (cancelled in order, it runs backwards).
func TestOnceEmptyTheWheelHandsOutItsSlabFromTheStartAgain(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		const n = 40
		burst := func(every bool) []core.Timer {
			var hs []core.Timer
			for k := range n {
				d := time.Duration(1+k%3) * time.Second
				switch {
				case every && k%2 == 0:
					hs = append(hs, l.CallEvery(d, func() {}))
				case k%2 == 0:
					hs = append(hs, l.CallAt(l.Now().Add(d), func() {}))
				default:
					hs = append(hs, l.CallLater(d, func() {}))
				}
			}
			return hs
		}
		hs := burst(false)
		wantFromZero(t, "a fresh loop", slots(t, hs))

		// All cancelled, in order.
		for _, h := range hs {
			if !l.Cancel(h) {
				t.Fatalf("Cancel of pending %v returned false", h)
			}
		}
		hs = burst(false)
		wantFromZero(t, "after every timer was cancelled", slots(t, hs))

		// All fired.
		vc.Advance(4 * time.Second)
		runUntilIdle(t, l)
		if p := l.Pending(); p != 0 {
			t.Fatalf("%d pending after every deadline passed", p)
		}
		hs = burst(true)
		wantFromZero(t, "after every timer fired", slots(t, hs))

		// Some fired (the one-shot ones), then the periodic ones cancelled in reverse.
		vc.Advance(4 * time.Second)
		runUntilIdle(t, l)
		for k := n - 2; k >= 0; k -= 2 {
			if !l.Cancel(hs[k]) {
				t.Fatalf("Cancel of periodic %v returned false", hs[k])
			}
		}
		if p := l.Pending(); p != 0 {
			t.Fatalf("%d pending after the periodic timers were cancelled", p)
		}
		hs = burst(false)
		wantFromZero(t, "after some fired and the rest were cancelled", slots(t, hs))
	})
}

// TestBurstsOnAKeptLoopAllocateNothing schedules and cancels 3,000 timers
// five times over on one loop after a first round: once the wheel is empty
// the next burst reuses the entries the first one made, so the slab stays
// at the size of one burst and no burst after the first allocates.
func TestBurstsOnAKeptLoopAllocateNothing(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, _ := newVirtual(t, v)
		const n = 3000
		fn := func() {}
		hs := make([]core.Timer, n)
		burst := func() {
			for k := range hs {
				hs[k] = l.CallLater(time.Duration(1+k%5)*time.Second, fn)
			}
			for _, h := range hs {
				if !l.Cancel(h) {
					t.Fatalf("Cancel of pending %v returned false", h)
				}
			}
		}
		burst()
		if got, bytes := fewestMallocs(func() func() {
			return func() {
				for range 5 {
					burst()
				}
			}
		}); got != 0 {
			t.Errorf("5 bursts of %d timers on a loop that had one allocated %d times (%d bytes), want 0", n, got, bytes)
		}
	})
}

// TestAnotherLoopsCallEveryAndCallAtHandlesCancelNothing: timers made by
// CallEvery and CallAt, as those of CallLater, start at the loop's own
// random generation, so that the first timers of two loops, in the same
// slots, have handles that differ; the other loop's handles cancel nothing,
// on a fresh slab and on one handed out again after the wheel emptied.
func TestAnotherLoopsCallEveryAndCallAtHandlesCancelNothing(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		a, _ := newVirtual(t, v)
		b, vcb := newVirtual(t, v)
		period := wholeTicks(v.Params, time.Second) // a second, on a tick's edge
		for round := range 2 {
			fired := 0
			var ha, hb []core.Timer
			for k := range 20 {
				if k%2 == 0 {
					ha = append(ha, a.CallEvery(period, func() {}))
					hb = append(hb, b.CallEvery(period, func() { fired++ }))
				} else {
					ha = append(ha, a.CallAt(a.Now().Add(period), func() {}))
					hb = append(hb, b.CallAt(b.Now().Add(period), func() { fired++ }))
				}
			}
			for _, h := range ha {
				if b.Cancel(h) {
					t.Fatalf("round %d: loop b's Cancel of loop a's handle %v returned true", round, h)
				}
			}
			vcb.Advance(period)
			runUntilIdle(t, b)
			if fired != 20 {
				t.Fatalf("round %d: %d of loop b's 20 timers fired after Cancel with loop a's handles", round, fired)
			}
			for _, h := range ha {
				a.Cancel(h)
			}
			for _, h := range hb {
				b.Cancel(h) // the periodic ones are still pending
			}
			if a.Pending() != 0 || b.Pending() != 0 {
				t.Fatalf("round %d: %d and %d pending after every timer was cancelled", round, a.Pending(), b.Pending())
			}
		}
	})
}
