package loop_test

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// Tests from the night's mutation round over Forgotten and watch: each
// pins behaviour that a mutant changed without any test noticing.

// epollLoop returns a new loop, skipping the test where the backend is not
// epoll-like (poll and none cannot tell a closed fd's registration went).
func epollLoop(t *testing.T) *loop.Loop {
	t.Helper()
	l, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if p := l.Variant().Poller; p == "poll" || p == "none" {
		t.Skipf("the %s backend", p)
	}
	return l
}

// watchClosedReader watches a socket for reading with a callback holding
// an object, closes the socket without RemoveReader, and returns its number
// and a channel closed once the object is collected.
func watchClosedReader(t *testing.T, l *loop.Loop) (int, <-chan struct{}) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[1])
	held := new([64]byte)
	gone := make(chan struct{})
	runtime.AddCleanup(held, func(ch chan struct{}) { close(ch) }, gone)
	if err := l.AddReader(fds[0], func() { _ = held[0] }); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[0]) // without RemoveReader, and the number left unused
	return fds[0], gone
}

// TestAClosedNumberLeavesNoRegistration: AddWriter on a number closed
// without RemoveReader, and not reused, fails with EBADF, and the loop
// drops the old registration (EBADF counts as forgotten, as ENOENT and
// EPERM do): RemoveReader finds nothing, and the old reader, with what it
// holds, is released.
func TestAClosedNumberLeavesNoRegistration(t *testing.T) {
	l := epollLoop(t)
	fd, gone := watchClosedReader(t, l)
	if err := l.AddWriter(fd, func() {}); !errors.Is(err, syscall.EBADF) {
		t.Errorf("AddWriter on the closed number = %v; want EBADF", err)
	}
	if l.RemoveReader(fd) {
		t.Error("RemoveReader found the closed socket's reader: the loop kept its registration")
	}
	deadline := time.Now().Add(10 * time.Second) // generous: a cleanup runs after a collection, on a busy machine late
	for {
		runtime.GC()
		select {
		case <-gone:
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the dropped reader is still held by the loop")
		}
	}
}

// TestForgottenRegistrationsDoNotFillTheSeqTable: a number closed and
// reused without a Remove, many times over on one loop, each time watched
// afresh once Modify finds it forgotten, leaves nothing behind in the
// table of event tags: the loop goes on taking watches (a tag left
// occupied each time filled the table and made the next watch spin).
func TestForgottenRegistrationsDoNotFillTheSeqTable(t *testing.T) {
	l := epollLoop(t)
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for range 300 {
				a, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					return err
				}
				if err := l.AddReader(a[0], func() {}); err != nil {
					return err
				}
				unix.Close(a[0]) // without RemoveReader
				b, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					return err
				}
				if b[0] != a[0] {
					if err := unix.Dup3(b[0], a[0], unix.O_CLOEXEC); err != nil {
						return err
					}
					unix.Close(b[0])
				}
				if err := l.AddWriter(a[0], func() {}); err != nil {
					return err
				}
				if !l.RemoveWriter(a[0]) {
					return errors.New("RemoveWriter found no writer")
				}
				unix.Close(a[0])
				unix.Close(a[1])
				unix.Close(b[1])
			}
			return nil
		}()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second): // they take milliseconds; a full table spins for ever
		t.Fatal("300 watches of reused numbers did not finish within 10 s")
	}
}

// TestAFailedWatchKeepsNothing: a watch the poller refuses for a number
// the loop did not watch (here numbers no file has: EBADF) leaves nothing
// in the loop's table, so that refusals, however many, do not grow it.
func TestAFailedWatchKeepsNothing(t *testing.T) {
	l := epollLoop(t)
	const n = 100_000
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range n {
		if err := l.AddReader(1<<30+i, func() {}); !errors.Is(err, syscall.EBADF) {
			t.Fatalf("AddReader of a number no file has = %v; want EBADF", err)
		}
	}
	if grown := int64(heap()) - int64(before); grown > 1<<20 {
		t.Errorf("%d refused watches grew the heap by %d bytes: the loop kept their entries", n, grown)
	}
	runtime.KeepAlive(l)
}
