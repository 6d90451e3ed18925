package poller

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWaitInterruptedBySignalIsNotAnError: a signal handled on the thread
// blocked in epoll_wait or ppoll ends the call with EINTR (they are never
// restarted), and the Go runtime sends such signals itself (SIGURG to
// preempt). The contract makes that (nil, nil); an error there reaches the
// loop's panic handler. The test sends SIGURG, which the runtime already
// handles, to the waiting thread until the Wait returns. An idle pipe is
// registered so that Wait(-1) blocks in the kernel: with no fds it parks on
// a channel, which no signal interrupts.
func TestWaitInterruptedBySignalIsNotAnError(t *testing.T) {
	for _, m := range backends() {
		if !m.fds {
			continue // the idle fd below cannot be registered with None
		}
		for _, timeout := range []int64{-1, int64(time.Hour)} {
			b := m.new()
			must(t, b.Open())
			idle, _ := pipe(t)
			must(t, b.Add(idle.fd, 1, Readable))
			r := waitUnderSignals(t, b, timeout)
			if r.err != nil || r.n != 0 {
				t.Errorf("%s: Wait(%d) interrupted by a signal = %d events, %v; want nothing, nil", m.name, timeout, r.n, r.err)
			}
			must(t, b.Close())
		}
	}
}

// waitResult is what a Wait returned: how many events, and the error.
type waitResult struct {
	n   int
	err error
}

// waitUnderSignals runs b.Wait(timeout) on a thread of its own and sends that
// thread SIGURG, which the runtime already handles, every 5 ms until the Wait
// returns. If none has ended it within failsafe, it wakes b and logs that.
func waitUnderSignals(t *testing.T, b backend, timeout int64) waitResult {
	t.Helper()
	tid := make(chan int, 1)
	done := make(chan waitResult, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		evs, err := b.Wait(timeout)
		done <- waitResult{len(evs), err}
	}()
	id := <-tid
	deadline := time.After(failsafe)
	for {
		if err := unix.Tgkill(unix.Getpid(), id, unix.SIGURG); err != nil {
			t.Fatalf("tgkill: %v", err)
		}
		select {
		case r := <-done:
			return r
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			b.Wake()
			t.Logf("Wait(%d): no signal ended it within %v", timeout, failsafe)
			return <-done
		}
	}
}

// TestTheWakeFdCannotBeRegistered: the wake-up's own descriptor is refused by
// Add and Modify and left alone by Delete. epoll used to take it: Add
// overwrote the wake-up's registration (EEXIST, then a modify), Delete then
// removed it, and Wake no longer ended a Wait in the kernel, so a loop given
// the number by mistake (a double close) slept through Post and Stop.
func TestTheWakeFdCannotBeRegistered(t *testing.T) {
	for _, c := range []struct {
		name string
		b    backend
		wfd  func(backend) int
	}{
		{"epoll", new(Epoll), func(b backend) int { return int(b.(*Epoll).wfd) }},
		{"poll", new(Poll), func(b backend) int { return int(b.(*Poll).fds[0].Fd) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := c.b
			must(t, b.Open())
			t.Cleanup(func() { b.Close() })
			// An idle fd keeps Wait(-1) in the kernel, where the wake-up is needed.
			idle, _ := pipe(t)
			must(t, b.Add(idle.fd, 1, Readable))
			wfd := c.wfd(b)
			if err := b.Add(wfd, 2, Readable); !errors.Is(err, errWakeFd) {
				t.Errorf("Add(wake fd %d): %v, want errWakeFd", wfd, err)
			}
			if err := b.Modify(wfd, 3, Readable|Writable); err == nil {
				t.Errorf("Modify(wake fd %d) succeeded", wfd)
			}
			must(t, b.Delete(wfd))
			if n := b.Registered(); n != 1 {
				t.Errorf("Registered = %d, want 1 (the idle fd)", n)
			}
			waitReturns(t, b, func() {
				time.Sleep(20 * time.Millisecond) // let Wait block; correct either way
				must(t, b.Wake())
			})
		})
	}
}
