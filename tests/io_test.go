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

func TestReadinessForAnFdRemovedEarlierInTheIterationIsDropped(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a1, b1 := socketpair(t)
		a2, b2 := socketpair(t)
		ran := map[int]int{}
		// Whichever reader runs first removes the other; the other's event,
		// already returned by the same Wait, must be dropped.
		l.AddReader(a1, func() { ran[a1]++; l.RemoveReader(a2); l.RemoveReader(a1) })
		l.AddReader(a2, func() { ran[a2]++; l.RemoveReader(a1); l.RemoveReader(a2) })
		unix.Write(b1, []byte("x"))
		unix.Write(b2, []byte("x"))
		time.Sleep(10 * time.Millisecond) // both readable before the loop looks
		runOnce(t, l)
		if ran[a1]+ran[a2] != 1 {
			t.Fatalf("readers ran %v: the removed fd's event was not dropped", ran)
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
