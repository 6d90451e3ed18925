package tests

import (
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

// wantWake fails the test unless NextWake says (d, ok).
func wantWake(t *testing.T, l core.Loop, what string, d time.Duration, ok bool) {
	t.Helper()
	if gd, gok := l.NextWake(); gd != d || gok != ok {
		t.Fatalf("%s: NextWake() = %v, %v; want %v, %v", what, gd, gok, d, ok)
	}
}

// settle drives l as an embedding host on a virtual clock would: advance
// by what NextWake says, run an iteration, until done() or NextWake says
// that only I/O or a post could bring work. It returns how many advances it
// took, failing past limit: a NextWake of 0 with nothing to run, or one
// short of the work, would go round for ever.
func settle(t *testing.T, l core.Loop, vc *clock.Virtual, limit int, done func() bool) int {
	t.Helper()
	for steps := 0; ; steps++ {
		if done() {
			return steps
		}
		if steps == limit {
			t.Fatalf("not done after %d advances by NextWake (clock at %v)", limit, vc.Elapsed())
		}
		d, ok := l.NextWake()
		if !ok {
			t.Fatalf("NextWake says no timer work is left, and the work is not done (clock at %v)", vc.Elapsed())
		}
		vc.Advance(d)
		runOnce(t, l)
	}
}

// TestNextWake: what NextWake says on every variant, for a host that
// embeds a loop with RunOnce(false) and waits on its own.
func TestNextWake(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		l, vc := newVirtual(t, v)
		wantWake(t, l, "a new loop", 0, false)

		ran := false
		l.CallSoon(func() { ran = true })
		wantWake(t, l, "a callback queued", 0, true)
		runOnce(t, l)
		if !ran {
			t.Fatal("the queued callback did not run")
		}
		wantWake(t, l, "after it ran", 0, false)

		// A timer ten ticks out: NextWake is no later than its deadline's tick,
		// and advancing by it, again and again, fires it on time.
		start := vc.Elapsed()
		var firedAt time.Duration
		h := l.CallLater(10*tick, func() { firedAt = vc.Elapsed() })
		if d, ok := l.NextWake(); !ok || d <= 0 || d > 11*tick {
			t.Fatalf("a timer 10 ticks out: NextWake() = %v, %v; want (0, 11 ticks], true", d, ok)
		}
		settle(t, l, vc, 4, func() bool { return firedAt != 0 })
		if late := firedAt - start - 10*tick; late < 0 || late > tick {
			t.Fatalf("the timer fired %v after its deadline; want within a tick, never before", late)
		}
		wantWake(t, l, "after the timer fired", 0, false)
		if l.Cancel(h) {
			t.Fatal("Cancel found the fired timer pending")
		}

		// A timer beyond the first level: the wheel's bookkeeping may wake the
		// loop before the deadline, a few times, and never past it.
		start = vc.Elapsed()
		firedAt = 0
		far := 100_000*tick + tick/3
		l.CallLater(far, func() { firedAt = vc.Elapsed() })
		steps := settle(t, l, vc, 16, func() bool { return firedAt != 0 })
		if late := firedAt - start - far; late < 0 || late > tick {
			t.Fatalf("the far timer fired %v after its deadline (in %d advances); want within a tick", late, steps)
		}

		// A timer due but not run yet: work now.
		l.CallLater(tick, func() {})
		vc.Advance(3 * tick)
		wantWake(t, l, "a timer due", 0, true)
		runOnce(t, l)
		wantWake(t, l, "after the due timer ran", 0, false)

		// A cancelled timer leaves no timer work.
		h = l.CallLater(time.Hour, func() {})
		if _, ok := l.NextWake(); !ok {
			t.Fatal("a timer an hour out: NextWake says no timer work")
		}
		l.Cancel(h)
		wantWake(t, l, "the only timer cancelled", 0, false)

		// A post from another goroutine is work now, once Post has returned.
		posted := make(chan error)
		go func() { posted <- l.Post(func() {}) }()
		if err := <-posted; err != nil {
			t.Fatal(err)
		}
		wantWake(t, l, "a post", 0, true)
		runOnce(t, l)
		wantWake(t, l, "after the post ran", 0, false)

		// A periodic timer always has timer work; stepping by NextWake sees
		// every run.
		runs := 0
		l.CallEvery(5*tick, func() { runs++ })
		settle(t, l, vc, 40, func() bool { return runs == 10 })
	})
}

// A timer that panics ends its iteration's firing, and the timers due with
// it wait on the due list for the next iteration: NextWake must say they
// are work now, not the time to the wheel's next work (it said 56 minutes
// before, on every variant: a review found it).
func TestNextWakeSeesTimersLeftDueByAPanic(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		vc := clock.NewVirtual(epoch)
		l := newLoop(t, v, core.Config{Clock: vc, PanicHandler: func(any) {}})
		ran := false
		l.CallLater(v.Params.Tick, func() { panic("boom") })
		l.CallLater(v.Params.Tick, func() { ran = true })
		l.CallLater(time.Hour, func() {})
		vc.Advance(2 * v.Params.Tick)
		runOnce(t, l)
		if ran {
			t.Fatal("the timer due after the one that panicked ran in the same iteration; the test needs it left due")
		}
		wantWake(t, l, "a timer left due by a panic", 0, true)
		runOnce(t, l)
		if !ran {
			t.Fatal("the timer left due did not run in the next iteration")
		}
	})
}
