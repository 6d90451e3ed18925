package tests

import (
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// TestABurstAfterTheWheelEmptiedReusesItsSlab runs the timeouts pattern
// twice on one loop: 100 timers, 95 cancelled, 5 fired. Once the wheel is
// empty its slab is handed out from the start again, entry by entry: none of
// the first burst's handles may cancel a timer of the second, and every
// timer of the second fires once, on time.
func TestABurstAfterTheWheelEmptiedReusesItsSlab(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		const n = 100
		fired := make([]int, 2*n)
		var handles []core.Timer
		burst := func(first int) {
			for i := first; i < first+n; i++ {
				handles = append(handles, l.CallLater(time.Duration(1+i%7)*time.Second, func() { fired[i]++ }))
			}
		}
		burst(0)
		for i := range n {
			if i%20 != 0 && !l.Cancel(handles[i]) {
				t.Fatalf("Cancel of pending timer %d returned false", i)
			}
		}
		vc.Advance(10 * time.Second)
		runUntilIdle(t, l)
		if l.Pending() != 0 {
			t.Fatalf("%d pending after the first burst", l.Pending())
		}
		burst(n)
		for i := range n {
			if l.Cancel(handles[i]) {
				t.Fatalf("a stale handle of the first burst (%d) cancelled a timer of the second", i)
			}
		}
		vc.Advance(time.Second - v.Params.Tick)
		runUntilIdle(t, l)
		for i := n; i < 2*n; i++ {
			if fired[i] != 0 {
				t.Fatalf("timer %d fired before its deadline", i)
			}
		}
		vc.Advance(10 * time.Second)
		runUntilIdle(t, l)
		for i := range fired {
			want := 1
			if i < n && i%20 != 0 {
				want = 0
			}
			if fired[i] != want {
				t.Fatalf("timer %d fired %d times, want %d", i, fired[i], want)
			}
		}
	})
}
