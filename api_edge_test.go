package loop_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
)

func newLoop(t *testing.T, opts ...loop.Option) *loop.Loop {
	t.Helper()
	l, err := loop.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// A pipe's write end is writable at once and never readable, so only a
// writer (not a reader) registered on it fires.
func TestAddWriterWatchesWritabilityAndRemoveWriterUndoesIt(t *testing.T) {
	l := newLoop(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd := int(w.Fd())
	fired := 0
	err = l.AddWriter(fd, func() { fired++ })
	if errors.Is(err, loop.ErrNoPoller) {
		t.Skip("variant without a poller")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := l.RunOnce(false); err != nil {
		t.Fatal(err)
	}
	if fired != 1 {
		t.Fatalf("writer on a writable pipe fired %d times in one iteration, want 1", fired)
	}
	if l.RemoveReader(fd) {
		t.Error("RemoveReader reported a reader that was never added")
	}
	if !l.RemoveWriter(fd) {
		t.Fatal("RemoveWriter reported no writer after AddWriter")
	}
	if l.RemoveWriter(fd) {
		t.Error("a second RemoveWriter reported a writer")
	}
	if err := l.RunOnce(false); err != nil {
		t.Fatal(err)
	}
	if fired != 1 {
		t.Errorf("writer fired after RemoveWriter (%d calls)", fired)
	}
}

// RunOnce(true) waits for the next timer and runs it, in one call; RunOnce(false)
// would return at once with it still pending (unless this goroutine stalls
// for the delay). An iteration that runs nothing on the way (a timer beyond
// the wheel's first level moved down a level, a signal ending the wait
// early) does not end RunOnce(true), so 100ms, beyond latency's first level
// (25.6ms), takes one call too.
func TestRunOnceWithBlockWaitsForTheNextTimer(t *testing.T) {
	l := newLoop(t)
	for _, d := range []time.Duration{10 * time.Millisecond, 100 * time.Millisecond} {
		fired := false
		l.CallLater(d, func() { fired = true })
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
		}
		if !fired {
			t.Fatalf("RunOnce(true) returned before the only timer, %v out, fired", d)
		}
	}
}

func TestPendingCountsQueuedCallbacksAndTimers(t *testing.T) {
	vc := loop.NewVirtualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newLoop(t, loop.WithClock(vc))
	l.CallSoon(func() {})
	tm := l.CallLater(time.Hour, func() {})
	if got := l.Pending(); got != 2 {
		t.Fatalf("Pending() = %d with one callback and one timer, want 2", got)
	}
	if err := l.RunOnce(false); err != nil {
		t.Fatal(err)
	}
	if got := l.Pending(); got != 1 {
		t.Errorf("Pending() = %d after the callback ran, want 1 (the timer)", got)
	}
	l.Cancel(tm)
	if got := l.Pending(); got != 0 {
		t.Errorf("Pending() = %d after Cancel, want 0", got)
	}
}

// Only variants generated with stats: true count (go test -tags
// loop_throughput); the others report zeros by design.
func TestStatsCountWhatRan(t *testing.T) {
	l := newLoop(t)
	if !l.Variant().Stats {
		t.Skipf("variant %s keeps no stats", l.Variant().Name)
	}
	l.CallSoon(func() {})
	if err := l.RunOnce(false); err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.Callbacks != 1 || s.Iterations == 0 {
		t.Errorf("Stats() = %+v after one callback in one iteration, want Callbacks 1 and Iterations > 0", s)
	}
}

// The zero Loop has no poller, queues or clock: Run, RunOnce and Post say
// that it was not made by New, instead of a nil-pointer panic deep in the
// loop (Run, RunOnce) or a nil error for a callback that nothing would ever
// run (Post).
func TestTheZeroLoopSaysItWasNotMadeByNew(t *testing.T) {
	var l loop.Loop
	check := func(name string, f func() error) {
		t.Helper()
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s on the zero Loop panicked: %v", name, r)
				}
			}()
			err = f()
		}()
		if err == nil || !strings.Contains(err.Error(), "New") {
			t.Errorf("%s on the zero Loop: %v, want an error saying to use New", name, err)
		}
	}
	check("Post", func() error { return l.Post(func() {}) })
	check("RunOnce", func() error { return l.RunOnce(false) })
	check("Run", l.Run)
}

// TestATimerMadeByACallbackCloseRunsNeverFires: Close runs what was queued
// before it; a timer such a callback makes is dropped with the others,
// though its Timer is not the zero one (Close's doc says both).
func TestATimerMadeByACallbackCloseRunsNeverFires(t *testing.T) {
	l, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	var tm loop.Timer
	ran, fired := false, false
	l.CallSoon(func() {
		ran = true
		tm = l.CallLater(time.Nanosecond, func() { fired = true })
	})
	l.Close()
	if !ran {
		t.Fatal("Close did not run the callback queued before it")
	}
	if tm == (loop.Timer{}) {
		t.Error("the timer made during Close's drain is the zero Timer; the doc says it is not")
	}
	if err := l.RunOnce(false); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("RunOnce after Close = %v; want ErrClosed", err)
	}
	if fired {
		t.Error("a timer made during Close's drain fired")
	}
}
