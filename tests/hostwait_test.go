package tests

import (
	"errors"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
	"github.com/loopgen/loop/handwritten/poller"
	"golang.org/x/sys/unix"
)

// A host that embeds a loop waits on BackendFd with poll(2) beside its own
// events, as the loop's doc shows: PrepareWait, the wait, RunOnce(false).

// backendFd returns v's backend descriptor, or skips the test on a variant
// that has none, after checking that it says why as documented.
func backendFd(t *testing.T, v all.Variant, l core.Loop) int {
	t.Helper()
	fd, err := l.BackendFd()
	switch v.Params.Poller {
	case "poll":
		if !errors.Is(err, poller.ErrNoFd) {
			t.Fatalf("BackendFd on the poll(2) poller: %d, %v; want ErrNoFd", fd, err)
		}
		t.Skip("poll(2) has no backend descriptor")
	case "none":
		if !errors.Is(err, poller.ErrNoPoller) {
			t.Fatalf("BackendFd without a poller: %d, %v; want ErrNoPoller", fd, err)
		}
		t.Skip("no poller")
	}
	if err != nil || fd < 0 {
		t.Fatalf("BackendFd: %d, %v", fd, err)
	}
	return fd
}

// hostWait polls fd for readability for at most limit, and returns
// whether it became readable and how long that took.
func hostWait(t *testing.T, fd int, limit time.Duration) (bool, time.Duration) {
	t.Helper()
	start := time.Now()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		ms := int((limit - time.Since(start) + time.Millisecond - 1) / time.Millisecond)
		n, err := unix.Poll(fds, max(ms, 0))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		return n > 0, time.Since(start)
	}
}

// A Post from another goroutine ends the host's wait at once, however long
// PrepareWait allowed; the RunOnce that follows runs it and takes the
// wake-up out of the descriptor, so that the next wait is not cut short
// (the host would spin), also on a loop that watches no descriptor, whose
// RunOnce(false) does not otherwise ask the poller.
func TestHostWaitEndsOnAPost(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		fd := backendFd(t, v, l)
		for round := range 3 {
			if d, ok := l.PrepareWait(); ok {
				t.Fatalf("round %d: PrepareWait with nothing scheduled = %v, true; want no limit", round, d)
			}
			if !l.Waiting() {
				t.Fatalf("round %d: Waiting false after PrepareWait", round)
			}
			ran := false
			go func() {
				time.Sleep(10 * time.Millisecond)
				l.Post(func() { ran = true })
			}()
			if woke, took := hostWait(t, fd, 10*time.Second); !woke || took > 5*time.Second {
				t.Fatalf("round %d: the host's wait ended after %v, readable %v; want a Post to end it", round, took, woke)
			}
			runOnce(t, l)
			if !ran {
				t.Fatalf("round %d: the posted callback did not run in the RunOnce after the wait", round)
			}
			if l.Waiting() {
				t.Fatalf("round %d: Waiting true after RunOnce", round)
			}
			l.PrepareWait()
			if woke, _ := hostWait(t, fd, 50*time.Millisecond); woke {
				t.Fatalf("round %d: the descriptor is readable again with nothing to do: the wake-up was left in it", round)
			}
			runOnce(t, l)
		}
	})
}

// Readiness of a watched descriptor ends the host's wait, and RunOnce
// dispatches it.
func TestHostWaitEndsOnReadiness(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		fd := backendFd(t, v, l)
		var p [2]int
		if err := unix.Pipe(p[:]); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		got := 0
		if err := l.AddReader(p[0], func() {
			n, _ := unix.Read(p[0], make([]byte, 16))
			got += n
		}); err != nil {
			t.Fatal(err)
		}
		defer l.RemoveReader(p[0])
		l.PrepareWait()
		go func() {
			time.Sleep(10 * time.Millisecond)
			unix.Write(p[1], []byte("ready"))
		}()
		if woke, took := hostWait(t, fd, 10*time.Second); !woke || took > 5*time.Second {
			t.Fatalf("the host's wait ended after %v, readable %v; want the pipe's readiness to end it", took, woke)
		}
		runOnce(t, l)
		if got != 5 {
			t.Fatalf("the reader read %d bytes in the RunOnce after the wait; want 5", got)
		}
		l.PrepareWait()
		if woke, _ := hostWait(t, fd, 50*time.Millisecond); woke {
			t.Fatal("the descriptor is readable again with the pipe drained")
		}
		runOnce(t, l)
	})
}

// A timer bounds the wait through PrepareWait's duration; a Stop and a
// virtual clock's advance from another goroutine end the wait as a Post
// does.
func TestHostWaitTimersStopAndClock(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		fd := backendFd(t, v, l)
		fired := false
		// start before the CallLater: its deadline counts from a clock
		// reading no earlier than start, so a timer that fires before
		// start+20ms fired early (start read after it was behind by a
		// descheduling once, 0.63 ms, in a CI run under -race).
		start := time.Now()
		l.CallLater(20*time.Millisecond, func() { fired = true })
		for !fired {
			if time.Since(start) > 5*time.Second {
				t.Fatal("the timer did not fire within 5 s of host waits")
			}
			d, ok := l.PrepareWait()
			if !ok || d > 20*time.Millisecond+v.Params.Tick {
				t.Fatalf("PrepareWait with a 20 ms timer = %v, %v", d, ok)
			}
			hostWait(t, fd, d)
			runOnce(t, l)
		}
		if took := time.Since(start); took < 20*time.Millisecond {
			t.Errorf("the timer fired after %v; want no earlier than 20 ms", took)
		}

		l.PrepareWait()
		go func() {
			time.Sleep(10 * time.Millisecond)
			l.Stop()
		}()
		if woke, took := hostWait(t, fd, 10*time.Second); !woke || took > 5*time.Second {
			t.Fatalf("the host's wait ended after %v, readable %v; want a Stop to end it", took, woke)
		}
		runOnce(t, l)

		vl, vc := newVirtual(t, v)
		vfd := backendFd(t, v, vl)
		vfired := false
		vl.CallLater(time.Second, func() { vfired = true })
		vl.PrepareWait()
		go func() {
			time.Sleep(10 * time.Millisecond)
			vc.Advance(2 * time.Second)
		}()
		if woke, took := hostWait(t, vfd, 10*time.Second); !woke || took > 5*time.Second {
			t.Fatalf("the host's wait ended after %v, readable %v; want the clock's advance to end it", took, woke)
		}
		runOnce(t, vl)
		for range 4 { // the wheel may take an iteration or two to reach a timer a level up
			if vfired {
				break
			}
			runOnce(t, vl)
		}
		if !vfired {
			t.Error("the timer did not fire after the clock passed it")
		}
	})
}

// With work queued PrepareWait says so and announces nothing; after Close
// BackendFd says ErrClosed.
func TestPrepareWaitWithWorkAndBackendFdAfterClose(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		l.CallSoon(func() {})
		if d, ok := l.PrepareWait(); d != 0 || !ok || l.Waiting() {
			t.Errorf("PrepareWait with a callback queued = %v, %v (Waiting %v); want 0, true and no wait announced", d, ok, l.Waiting())
		}
		runOnce(t, l)
		l.Close()
		if fd, err := l.BackendFd(); !errors.Is(err, core.ErrClosed) {
			t.Errorf("BackendFd after Close = %d, %v; want ErrClosed", fd, err)
		}
	})
}
