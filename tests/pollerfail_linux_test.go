package tests

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
	"golang.org/x/sys/unix"
)

// TestAFailingPollerEndsRunWithItsError: when the poller's wait fails, here
// because the loop's epoll descriptor was replaced from outside (dup2 of
// /dev/null over it, as a double close and a reused number would), Run
// returns the error. The wait fails again at once each time, and the loop
// used to hand each failure to the panic handler and go round: a busy loop
// calling the handler (by default, printing a "callback panicked" stack)
// thousands of times a second.
func TestAFailingPollerEndsRunWithItsError(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if v.Params.Poller == "none" {
			t.Skip("no poller")
		}
		handled := 0
		var l core.Loop
		l, epfd := newEpollLoop(t, v, core.Config{PanicHandler: func(any) {
			// Bounds the old behaviour, so that the test fails instead of
			// spinning until it times out.
			if handled++; handled == 100 {
				l.Stop()
			}
		}})
		// An fd registered, so that the loop waits in the kernel rather than
		// on a channel.
		var p [2]int
		if err := nonblockingPipe(&p); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		if err := l.AddReader(p[0], func() {}); err != nil {
			t.Fatal(err)
		}
		null, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer null.Close()
		if err := unix.Dup2(int(null.Fd()), epfd); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		select {
		case err = <-done:
		case <-time.After(time.Minute):
			t.Fatal("Run did not return in a minute with its poller failing")
		}
		if err == nil || !strings.HasPrefix(err.Error(), "loop: poller: ") || !errors.Is(err, unix.EINVAL) {
			t.Errorf("Run = %v, want loop: poller: ... wrapping EINVAL (epoll_wait on a file that is not an epoll)", err)
		}
		if handled != 0 {
			t.Errorf("the panic handler was called %d times; a poller's failure is Run's error, not a callback's panic", handled)
		}
		// RunOnce reports it too, and the loop still closes.
		if err := l.RunOnce(true); err == nil || !errors.Is(err, unix.EINVAL) {
			t.Errorf("RunOnce(true) = %v, want the poller's error", err)
		}
		if err := l.Close(); err != nil && !errors.Is(err, unix.EBADF) {
			t.Logf("Close: %v", err)
		}
	})
}

// newEpollLoop makes a loop of variant v, as newLoop does, and finds its
// epoll descriptor (the one that appeared with it), for a test that makes
// the poller fail from outside; it skips the test where there is none.
func newEpollLoop(t *testing.T, v all.Variant, cfg core.Config) (core.Loop, int) {
	t.Helper()
	before := openFds(t, "anon_inode:[eventpoll]")
	l := newLoop(t, v, cfg)
	for fd := range openFds(t, "anon_inode:[eventpoll]") {
		if !before[fd] {
			n, err := strconv.Atoi(fd)
			if err != nil {
				t.Fatal(err)
			}
			return l, n
		}
	}
	t.Skip("the loop's poller has no epoll descriptor here")
	return nil, -1
}
