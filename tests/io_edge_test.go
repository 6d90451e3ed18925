package tests

import (
	"errors"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/generated/generic"
	"github.com/loopgen/loop/handwritten/core"
	"github.com/loopgen/loop/handwritten/poller"
)

// TestAddReaderOfANumberNoFdCanHaveFails: the kernel takes an fd as a C int,
// so 2^32+fd named fd on epoll (AddReader returned nil and took over fd's
// registration, whose reader never ran again), and the loop sized its fd
// table by the number before the poller said no (788 MiB for 2^34).
func TestAddReaderOfANumberNoFdCanHaveFails(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, b := socketpair(t)
		ran := false
		if err := l.AddReader(a, func() { ran = true; unix.Read(a, make([]byte, 8)) }); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, bogus := range []int{a + 1<<32, 1 << 34, 1 << 62} {
			if err := l.AddReader(bogus, func() {}); err == nil {
				t.Errorf("AddReader(%d) returned nil", bogus)
			}
			if l.RemoveReader(bogus) {
				t.Errorf("RemoveReader(%d) reported a watched fd", bogus)
			}
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("refusing three bogus fds allocated %d KiB", alloc>>10)
		}
		unix.Write(b, []byte("x"))
		runUntil(t, l, func() bool { return ran })
	})
}

// TestRemoveReaderDropsReadinessAlreadyCollectedWhileAWriterStays: with the
// fd's writer still registered, RemoveReader kept the registration's seq, so
// a reader added again later in the same iteration ran on readiness collected
// before the remove (and a blocking fd would have blocked the loop).
func TestRemoveReaderDropsReadinessAlreadyCollectedWhileAWriterStays(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a1, b1 := socketpair(t)
		a2, b2 := socketpair(t)
		fds := [2]int{a1, a2}
		swapped, spurious := false, false
		swap := func(other int) {
			if swapped {
				return
			}
			swapped = true
			unix.Read(other, make([]byte, 64)) // no longer readable
			l.RemoveReader(other)
			if err := l.AddReader(other, func() {
				if _, err := unix.Read(other, make([]byte, 64)); err == unix.EAGAIN {
					spurious = true
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
		for i, fd := range fds {
			if err := l.AddReader(fd, func() { swap(fds[1-i]) }); err != nil {
				t.Fatal(err)
			}
			if err := l.AddWriter(fd, func() {}); err != nil { // keeps the registration
				t.Fatal(err)
			}
		}
		// A Unix socket is readable as soon as the write returns: one
		// iteration collects both fds' readiness.
		unix.Write(b1, []byte("x"))
		unix.Write(b2, []byte("x"))
		runOnce(t, l)
		if !swapped {
			t.Fatal("neither reader ran")
		}
		runOnce(t, l)
		if spurious {
			t.Fatal("a reader added after RemoveReader in the same iteration ran on readiness collected before it (read: EAGAIN)")
		}
	})
}

// TestReaderOnAnFdNumberClosedAndReusedRuns: an fd closed without
// RemoveReader is a misuse, but AddReader on its reused number returned nil
// and never ran on epoll (the kernel had forgotten the old file; the loop,
// finding a reader registered, asked the kernel nothing). It now runs.
func TestReaderOnAnFdNumberClosedAndReusedRuns(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		old := fds[0]
		if err := l.AddReader(old, func() {}); err != nil {
			t.Fatal(err)
		}
		unix.Close(fds[0]) // without RemoveReader
		unix.Close(fds[1])
		c, d := socketpair(t)
		if c != old && d != old {
			t.Skip("the number was not reused")
		}
		fd, peer := c, d
		if d == old {
			fd, peer = d, c
		}
		ran := false
		if err := l.AddReader(fd, func() { ran = true; unix.Read(fd, make([]byte, 8)) }); err != nil {
			t.Fatalf("AddReader on the reused number: %v", err)
		}
		unix.Write(peer, []byte("x"))
		runUntil(t, l, func() bool { return ran })
	})
}

// TestStatsCountAnEventOnceWhenItsReaderPanics: dispatch resumes at the
// event's writer after its reader panicked, and counted the event again.
func TestStatsCountAnEventOnceWhenItsReaderPanics(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Stats || !v.Params.Recover {
			t.Skip("needs stats and recover")
		}
		l := newLoop(t, v, core.Config{PanicHandler: func(any) {}})
		a, b := socketpair(t)
		if err := l.AddReader(a, func() { panic("reader") }); err != nil {
			t.Fatal(err)
		}
		unix.Write(b, []byte("x")) // stays unread: one event per iteration
		before := l.Stats().Events
		const n = 10
		for range n {
			runOnce(t, l)
		}
		if got := l.Stats().Events - before; got != n {
			t.Fatalf("%d iterations with one ready fd: Stats.Events grew by %d, want %d", n, got, n)
		}
	})
}

// TestStatsDoNotCountDroppedReadiness: readiness collected for a reader
// that an earlier callback of the same iteration removed is dropped, not
// dispatched, and Stats.Events counted it all the same.
func TestStatsDoNotCountDroppedReadiness(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Stats {
			t.Skip("needs stats")
		}
		l := newLoop(t, v, core.Config{})
		a1, b1 := socketpair(t)
		a2, b2 := socketpair(t)
		ran := 0
		// Each reader removes both readers: whichever runs first, the other's
		// readiness, collected in the same wait, must be dropped.
		both := func() { ran++; l.RemoveReader(a1); l.RemoveReader(a2) }
		for _, fd := range []int{a1, a2} {
			if err := l.AddReader(fd, both); err != nil {
				t.Fatal(err)
			}
		}
		unix.Write(b1, []byte("x"))
		unix.Write(b2, []byte("x"))
		before := l.Stats().Events
		// Both fds are readable before the wait, so one wait collects both.
		runOnce(t, l)
		if got := l.Stats().Events - before; ran != 1 || got != 1 {
			t.Fatalf("%d readers ran, Stats.Events grew by %d: want 1 and 1", ran, got)
		}
	})
}

// TestGenericWithoutAPollerAnswersAsAVariantWithout: the generic build with
// Poller "none" returns ErrNoPoller from AddReader whatever the fd, closed
// or not, as a variant generated with poller: none does; it checked the fd
// and Close first.
func TestGenericWithoutAPollerAnswersAsAVariantWithout(t *testing.T) {
	p := generic.Params
	p.Poller = "none"
	l, err := generic.NewWithParams(p, core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AddReader(-1, func() {}); !errors.Is(err, poller.ErrNoPoller) {
		t.Errorf("AddReader(-1): %v, want ErrNoPoller", err)
	}
	l.Close()
	if err := l.AddWriter(0, func() {}); !errors.Is(err, poller.ErrNoPoller) {
		t.Errorf("AddWriter after Close: %v, want ErrNoPoller", err)
	}
}
