package tests

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
	"github.com/loopgen/loop/handwritten/poller"
)

// socketpair returns a connected pair of non-blocking Unix stream sockets,
// closed when the test ends.
func socketpair(t testing.TB) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// runUntil runs blocking iterations until cond holds, for at most 10 s.
func runUntil(t testing.TB, l core.Loop, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	stop := l.CallEvery(10*time.Millisecond, func() {}) // bounds each blocking wait
	defer l.Cancel(stop)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
		}
	}
}

func withPoller(t *testing.T, fn func(t *testing.T, v all.Variant)) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if v.Params.Poller == "none" {
			l := newLoop(t, v, core.Config{})
			a, _ := socketpair(t)
			if err := l.AddReader(a, func() {}); !errors.Is(err, poller.ErrNoPoller) {
				t.Fatalf("AddReader on a variant without a poller: %v, want ErrNoPoller", err)
			}
			if err := l.AddWriter(a, func() {}); !errors.Is(err, poller.ErrNoPoller) {
				t.Fatalf("AddWriter on a variant without a poller: %v, want ErrNoPoller", err)
			}
			if l.RemoveReader(a) || l.RemoveWriter(a) {
				t.Fatal("Remove on a variant without a poller returned true")
			}
			return
		}
		fn(t, v)
	})
}

func TestReaderRunsWhenReadableAndStopsAfterRemove(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, b := socketpair(t)
		var got []byte
		buf := make([]byte, 64)
		if err := l.AddReader(a, func() {
			n, err := unix.Read(a, buf)
			if err == nil {
				got = append(got, buf[:n]...)
			}
		}); err != nil {
			t.Fatal(err)
		}
		unix.Write(b, []byte("ping"))
		runUntil(t, l, func() bool { return string(got) == "ping" })
		if !l.RemoveReader(a) {
			t.Fatal("RemoveReader returned false for a watched fd")
		}
		if l.RemoveReader(a) {
			t.Fatal("second RemoveReader returned true")
		}
		unix.Write(b, []byte("pong"))
		for range 5 {
			runOnce(t, l)
		}
		if string(got) != "ping" {
			t.Fatalf("reader ran after RemoveReader: got %q", got)
		}
	})
}

func TestWriterRunsWhenWritable(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, _ := socketpair(t)
		writes := 0
		if err := l.AddWriter(a, func() {
			writes++
			if writes == 3 {
				l.RemoveWriter(a)
			}
		}); err != nil {
			t.Fatal(err)
		}
		runUntil(t, l, func() bool { return writes >= 3 })
		for range 3 {
			runOnce(t, l)
		}
		if writes != 3 {
			t.Fatalf("writer ran %d times, want 3 (removed on the third)", writes)
		}
	})
}

func TestReaderAndWriterOnOneFd(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, b := socketpair(t)
		read, wrote := false, false
		l.AddWriter(a, func() { wrote = true; l.RemoveWriter(a) })
		l.AddReader(a, func() { read = true; l.RemoveReader(a) })
		unix.Write(b, []byte("x"))
		runUntil(t, l, func() bool { return read && wrote })
	})
}

func TestPeerCloseWakesTheReader(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, b := socketpair(t)
		eof := false
		l.AddReader(a, func() {
			n, err := unix.Read(a, make([]byte, 8))
			if n == 0 && err == nil {
				eof = true
				l.RemoveReader(a)
			}
		})
		unix.Close(b)
		runUntil(t, l, func() bool { return eof })
	})
}

func TestReadinessForAnFdClosedAndReusedInTheIterationIsDropped(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a1, b1 := socketpair(t)
		a2, b2 := socketpair(t)
		fds := [2]int{a1, a2}
		newReaderRan, swapped, reused := false, false, false
		// Whichever reader runs first removes and closes the other fd, opens a
		// socket that takes the same number, and watches it. The closed fd's
		// event, returned by the same wait, must not reach the new reader:
		// the new socket is not readable.
		swap := func(other int) {
			if swapped {
				return
			}
			swapped = true
			l.RemoveReader(other)
			unix.Close(other)
			c, d := socketpair(t)
			reused = c == other || d == other
			for _, fd := range []int{c, d} {
				if fd == other {
					l.AddReader(fd, func() { newReaderRan = true })
				}
			}
		}
		l.AddReader(a1, func() { swap(fds[1]) })
		l.AddReader(a2, func() { swap(fds[0]) })
		unix.Write(b1, []byte("x"))
		unix.Write(b2, []byte("x"))
		time.Sleep(10 * time.Millisecond) // both readable before the loop looks
		runOnce(t, l)
		if !swapped {
			t.Fatal("neither reader ran")
		}
		if !reused {
			t.Skip("the new socket did not reuse the closed fd's number")
		}
		if newReaderRan {
			t.Fatal("a stale event for a closed fd ran the reader of the fd that reused its number")
		}
	})
}

func TestAddReaderRejectsBadInput(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		if err := l.AddReader(-1, func() {}); err == nil {
			t.Error("AddReader(-1) returned nil")
		}
		if err := l.AddReader(1<<20, func() {}); err == nil {
			t.Error("AddReader of a closed fd returned nil")
		}
		l.Close()
		a, _ := socketpair(t)
		if err := l.AddReader(a, func() {}); !errors.Is(err, core.ErrClosed) {
			t.Errorf("AddReader after Close: %v, want ErrClosed", err)
		}
	})
}

func TestTimerScheduledFromAnIOCallbackAfterABlockingWaitIsNotEarly(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, b := socketpair(t)
		var scheduled time.Time
		var elapsed time.Duration
		l.AddReader(a, func() {
			unix.Read(a, make([]byte, 8))
			l.RemoveReader(a)
			scheduled = time.Now()
			l.CallLater(50*time.Millisecond, func() { elapsed = time.Since(scheduled); l.Stop() })
		})
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		time.Sleep(200 * time.Millisecond) // the loop blocks in its wait all this time
		unix.Write(b, []byte("x"))
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the timer did not fire within 10 s")
		}
		if elapsed < 50*time.Millisecond {
			t.Fatalf("a 50 ms timer scheduled from a reader fired after %v", elapsed)
		}
	})
}

func TestPanicInAnIOCallbackReachesTheHandler(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Recover {
			t.Skip("variant generated with recover: false")
		}
		var got []any
		l := newLoop(t, v, core.Config{PanicHandler: func(r any) { got = append(got, r) }})
		a, b := socketpair(t)
		l.AddReader(a, func() { l.RemoveReader(a); panic("reader") })
		unix.Write(b, []byte("x"))
		runUntil(t, l, func() bool { return len(got) > 0 })
		if got[0] != "reader" {
			t.Fatalf("handler got %v", got)
		}
	})
}

// A panicking I/O callback is reported and the loop goes on with the next
// callback: the writer of the same fd and the readers of later fds still run.
// Dispatch used to drop the rest of its events, and since readiness comes back
// in the same order, a reader that always panics starved them.
func TestAPanickingReaderDoesNotStarveOtherCallbacks(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Recover {
			t.Skip("recover: false: a panic ends the program")
		}
		panics := 0
		l := newLoop(t, v, core.Config{PanicHandler: func(any) { panics++ }})
		a, b := socketpair(t)
		c, d := socketpair(t)
		for _, fd := range []int{b, d} {
			if _, err := unix.Write(fd, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		wrote, read := 0, 0
		if err := l.AddReader(a, func() { panic("reader") }); err != nil {
			t.Fatal(err)
		}
		if err := l.AddWriter(a, func() { wrote++ }); err != nil {
			t.Fatal(err)
		}
		if err := l.AddReader(c, func() { read++ }); err != nil {
			t.Fatal(err)
		}
		const iterations = 20
		for range iterations {
			runOnce(t, l)
		}
		if panics != iterations || wrote != iterations || read != iterations {
			t.Fatalf("in %d iterations: reader panicked %d times, the same fd's writer ran %d times, another fd's reader %d",
				iterations, panics, wrote, read)
		}
	})
}
