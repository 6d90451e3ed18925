package tests

import (
	"testing"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
	"golang.org/x/sys/unix"
)

// TestARunEndedByItsPollerIsNotLeftWaiting: Run ended by a failing wait
// (the epoll descriptor replaced from outside while the loop waits) leaves
// Waiting false, so the goroutine that owns the loop can still add fds.
func TestARunEndedByItsPollerIsNotLeftWaiting(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if v.Params.Poller == "none" {
			t.Skip("no poller")
		}
		l, epfd := newEpollLoop(t, v, core.Config{})
		a, _ := socketpair(t)
		if err := l.AddReader(a, func() {}); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		waitFor(t, "the loop to wait", l.Waiting)
		null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(null)
		if err := unix.Dup2(null, epfd); err != nil {
			t.Fatal(err)
		}
		l.Post(func() {})
		if err := <-done; err == nil {
			t.Fatal("Run returned nil with its poller failing")
		}
		if l.Waiting() {
			t.Error("Waiting after Run ended by a poller error")
		}
	})
}
