package tests

import (
	"errors"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
	"golang.org/x/sys/unix"
)

// A host with an epoll instance of its own watches BackendFd in it (as a
// GUI toolkit or libuv would) and follows the documented turn exactly:
// PrepareWait, its wait of at most d (no limit when ok is false), then
// RunOnce(false) always. Another goroutine closes the loop as PrepareWait's
// doc says to, with a posted Close. The RunOnce that runs it returns nil
// (Closed true); the next PrepareWait says "no limit"; and the released
// epoll instance has left the host's set, so the host's wait never ends:
// the host hangs instead of reaching the RunOnce that would return
// ErrClosed. (A host on poll(2) gets POLLNVAL at once, unless the number
// was reused meanwhile.) The unlimited wait is capped at 2 s here.
func TestReviewHostEpollDoesNotHangAfterAPostedClose(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		fd := backendFd(t, v, l)
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(ep)
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(10 * time.Millisecond)
			l.Post(func() { l.Close() })
		}()
		evs := make([]unix.EpollEvent, 4)
		for turn := 0; ; turn++ {
			if turn > 100 {
				t.Fatal("no ErrClosed from RunOnce in 100 turns")
			}
			d, ok := l.PrepareWait()
			ms := 2000 // no limit, capped for the test
			if ok {
				ms = int((d + time.Millisecond - 1) / time.Millisecond)
			}
			start := time.Now()
			n, err := unix.EpollWait(ep, evs, ms)
			if err != nil && err != unix.EINTR {
				t.Fatal(err)
			}
			if !ok && n == 0 {
				t.Fatalf("turn %d: PrepareWait said no limit (Closed %v) and the host's wait on BackendFd never ended (%v): the host hangs", turn, l.Closed(), time.Since(start).Round(time.Millisecond))
			}
			if err := l.RunOnce(false); errors.Is(err, core.ErrClosed) {
				return
			} else if err != nil {
				t.Fatal(err)
			}
		}
	})
}
