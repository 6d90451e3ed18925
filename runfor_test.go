package loop_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/loopgen/loop"
)

// virtualLoop makes a loop on a virtual clock that starts at t0, closed
// when the test ends.
func virtualLoop(t *testing.T) (*loop.Loop, *loop.VirtualClock, time.Time) {
	t.Helper()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vc := loop.NewVirtualClock(t0)
	l, err := loop.New(loop.WithClock(vc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, vc, t0
}

// firedAt rounds a deadline up to the tick it fires at under a virtual
// clock: the wheel fires a timer at the first tick boundary at or after it.
func firedAt(d, tick time.Duration) time.Duration { return (d + tick - 1) / tick * tick }

// RunFor on a virtual clock steps through every timer within d in deadline
// order, each at its time, with what they schedule, and stops the clock at
// d; a timer past d stays pending.
func TestRunForStepsAVirtualClockThroughItsTimers(t *testing.T) {
	l, vc, t0 := virtualLoop(t)
	tick := l.Variant().Tick
	var got []string
	note := func(name string) func() {
		return func() { got = append(got, fmt.Sprintf("%s@%v", name, l.Now().Sub(t0))) }
	}
	l.CallLater(5*time.Millisecond, note("b"))
	l.CallLater(time.Millisecond, note("a"))
	l.CallLater(5*time.Millisecond, func() {
		note("c")()
		l.CallSoon(note("c-soon"))
		l.CallLater(3*time.Millisecond, note("d"))
	})
	l.CallLater(12*time.Millisecond, note("e"))
	l.CallLater(30*time.Millisecond, note("late"))
	if err := l.RunFor(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	at := func(name string, d time.Duration) string { return fmt.Sprintf("%s@%v", name, firedAt(d, tick)) }
	want := []string{
		at("a", time.Millisecond), at("b", 5*time.Millisecond), at("c", 5*time.Millisecond),
		at("c-soon", 5*time.Millisecond), at("d", 8*time.Millisecond), at("e", 12*time.Millisecond),
	}
	if !slices.Equal(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
	if now := vc.Now().Sub(t0); now != 20*time.Millisecond {
		t.Errorf("the clock stood at %v after RunFor(20ms), want 20ms", now)
	}
	if l.Pending() != 1 {
		t.Errorf("Pending() = %d after RunFor(20ms), want 1 (the timer at 30ms)", l.Pending())
	}
	if err := l.RunFor(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if last := got[len(got)-1]; last != at("late", 30*time.Millisecond) {
		t.Errorf("the second RunFor fired %v last, want the timer at 30ms", last)
	}
}

// A Stop from a callback ends RunFor after that iteration, on either clock;
// the next RunFor goes on from there.
func TestRunForEndsAtAStop(t *testing.T) {
	t.Run("virtual", func(t *testing.T) {
		l, vc, t0 := virtualLoop(t)
		fired := 0
		l.CallLater(3*time.Millisecond, func() { fired++; l.Stop() })
		l.CallLater(5*time.Millisecond, func() { fired++ })
		if err := l.RunFor(time.Second); err != nil {
			t.Fatal(err)
		}
		if fired != 1 || vc.Now().Sub(t0) >= 5*time.Millisecond {
			t.Errorf("after a Stop at 3ms: %d fired, clock at %v; want 1, before 5ms", fired, vc.Now().Sub(t0))
		}
		if err := l.RunFor(time.Second); err != nil || fired != 2 {
			t.Errorf("the next RunFor: %v, %d fired; want nil, 2", err, fired)
		}
	})
	t.Run("monotonic", func(t *testing.T) {
		l, err := loop.New()
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		l.CallLater(time.Millisecond, l.Stop)
		start := time.Now()
		if err := l.RunFor(time.Hour); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > time.Minute {
			t.Errorf("RunFor(1h) with a Stop after 1ms took %v", took)
		}
		if l.Pending() != 0 {
			t.Errorf("Pending() = %d after RunFor ended early; want 0 (its timer cancelled)", l.Pending())
		}
	})
}

// On the monotonic clock RunFor runs the loop for d: a timer within d fires,
// and it returns no earlier than d.
func TestRunForOnTheMonotonicClockRunsForD(t *testing.T) {
	l, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fired := false
	l.CallLater(5*time.Millisecond, func() { fired = true })
	start := time.Now()
	if err := l.RunFor(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 20*time.Millisecond || !fired {
		t.Errorf("RunFor(20ms) returned after %v, timer fired %v; want at least 20ms, and fired", took, fired)
	}
}

// A Close from a callback ends RunFor with nil, as it ends Run; RunFor
// after Close, or inside Run, says why it cannot run, and on the zero Loop
// it returns Run's error instead of panicking.
func TestRunForAtCloseAndWhereItCannotRun(t *testing.T) {
	l, _, _ := virtualLoop(t)
	ran := false
	l.CallLater(2*time.Millisecond, func() { l.Close(); l.CallSoon(func() { ran = true }) })
	if err := l.RunFor(time.Second); err != nil {
		t.Errorf("RunFor ended by a Close from a callback: %v, want nil", err)
	}
	if !ran {
		t.Error("a callback queued before Close did not run")
	}
	if err := l.RunFor(time.Second); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("RunFor after Close: %v, want ErrClosed", err)
	}

	m, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var inside error
	m.CallSoon(func() { inside = m.RunFor(time.Millisecond); m.Stop() })
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inside, loop.ErrRunning) {
		t.Errorf("RunFor inside Run: %v, want ErrRunning", inside)
	}

	var zero loop.Loop
	if err := zero.RunFor(time.Millisecond); err == nil {
		t.Error("RunFor on the zero Loop returned nil")
	}
}

// A Stop that Run or RunOnce consumed does not end a later RunFor: only a
// Stop made for it, or during it, does.
func TestRunForAfterAStopThatRunConsumed(t *testing.T) {
	for _, how := range []string{"Run", "RunOnce"} {
		t.Run(how, func(t *testing.T) {
			l, vc, t0 := virtualLoop(t)
			l.CallSoon(l.Stop)
			var err error
			if how == "Run" {
				err = l.Run()
			} else {
				err = l.RunOnce(false)
			}
			if err != nil {
				t.Fatal(err)
			}
			fired := false
			l.CallLater(5*time.Millisecond, func() { fired = true })
			if err := l.RunFor(10 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if !fired || vc.Now().Sub(t0) != 10*time.Millisecond {
				t.Errorf("RunFor(10ms) after a Stop that %s consumed: timer fired %v, clock at %v; want true, 10ms", how, fired, vc.Now().Sub(t0))
			}
		})
	}
}
