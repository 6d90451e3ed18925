package loop_test

import (
	"errors"
	"os"
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

// RunOnce(true) waits for the next timer; RunOnce(false) would return at
// once with it still pending (unless this goroutine stalls for 10ms). The
// delay stays inside every variant's first wheel level (latency's is
// 25.6ms): a timer further out wakes RunOnce(true) early to move it down a
// level, and that iteration returns with nothing run. A signal (the
// runtime's own preemption) may end one wait early too (EINTR: 8 times in
// 5,000 here), so the test allows three early returns, where RunOnce(false)
// would take thousands of calls.
func TestRunOnceWithBlockWaitsForTheNextTimer(t *testing.T) {
	l := newLoop(t)
	fired := false
	l.CallLater(10*time.Millisecond, func() { fired = true })
	for calls := 1; !fired; calls++ {
		if calls > 3 {
			t.Fatal("three RunOnce(true) returned before the only timer fired")
		}
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
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
