//go:build linux

package poller

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// leftover reports what a Wake has left pending in b: a token on the channel
// that Wait(-1) blocks on, and whether the kernel wake-up descriptor is
// readable. A pending token ends the next untimed Wait at once, and a
// readable wake-up the next Wait in the kernel, each for a Wake that some
// Wait already consumed.
func leftover(t *testing.T, b backend) (token, kernel bool) {
	t.Helper()
	var wfd int
	switch p := b.(type) {
	case *Epoll:
		wfd, token = p.wake.Fd(), len(*p.park.ch.Load()) > 0
	case *Poll:
		wfd, token = p.wake.Fd(), len(*p.park.ch.Load()) > 0
	case *None:
		wfd, token = p.wake.Fd(), len(p.token) > 0
	default:
		t.Fatalf("leftover: backend %T unknown", b)
	}
	fds := []unix.PollFd{{Fd: int32(wfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll of the wake-up: %v", err)
		}
		return token, n > 0
	}
}

// nothingLeft fails the test if a Wake has left anything pending in b.
func nothingLeft(t *testing.T, b backend, after string) {
	t.Helper()
	token, kernel := leftover(t, b)
	if token || kernel {
		t.Fatalf("after %s: a token pending: %v; the kernel wake-up readable: %v; want neither", after, token, kernel)
	}
}

// untilTrue waits, yielding, until cond holds; it fails the test after failsafe.
func untilTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(failsafe)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, failsafe)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAWakeIsConsumedWholeByTheWaitItEnds pins that a Wait ended by a Wake
// leaves nothing of it behind, on the channel or in the kernel, whichever way
// the Wake reached it; otherwise the next Wait ends early for a Wake already
// consumed, and one left readable in the kernel ends every later kernel Wait
// at once (a loop that spins). It also pins that a Wake made before Close is
// gone after Open. (Catches: a kernel Wait that reports the wake-up without
// draining it, or without dropping the token; a park that does not drain the
// kernel wake-up a Wake wrote beside its token, or a Wake that does not say it
// wrote one; a park that never announces itself, so that every Wake makes a
// system call; Open keeping the token of a Wake made before
// Close; None's timed Wait not draining its wake-up or keeping the token.)
func TestAWakeIsConsumedWholeByTheWaitItEnds(t *testing.T) {
	for _, m := range backends() {
		t.Run(m.name, func(t *testing.T) {
			b := m.new()
			must(t, b.Open())
			t.Cleanup(func() { b.Close() })

			// A Wake made while the backend is not parked writes the kernel
			// wake-up beside its token; the untimed Wait that takes the token
			// must drain the kernel wake-up too.
			must(t, b.Wake())
			waitReturns(t, b, nil)
			nothingLeft(t, b, "a Wake, then Wait(-1) with no fds")

			// Wait(-1) with no fds announces that it is parked, so that a
			// Wake needs only the token. (A Wake whose token the parked Wait
			// takes before the Wake looks at parked writes the kernel wake-up
			// too, which the park may miss; Wait(0) drains it.)
			if p, ok := parkerOf(b); ok {
				waitReturns(t, b, func() {
					untilTrue(t, "Wait(-1) with no fds parked", p.parked.Load)
					must(t, b.Wake())
				})
				if _, err := b.Wait(0); err != nil {
					t.Fatal(err)
				}
				nothingLeft(t, b, "a Wake of a parked Wait(-1), then Wait(0)")
			}

			// A Wake that ends a Wait in the kernel.
			if m.fds {
				idle, _ := pipe(t)
				must(t, b.Add(idle.fd, 1, Readable)) // Wait(-1) now waits in the kernel
				must(t, b.Wake())
				waitReturns(t, b, nil)
				nothingLeft(t, b, "a Wake, then Wait(-1) in the kernel")
				must(t, b.Wake())
				if _, err := b.Wait(int64(time.Hour)); err != nil {
					t.Fatal(err)
				}
				nothingLeft(t, b, "a Wake, then Wait(1h) in the kernel")
				must(t, b.Delete(idle.fd))
			} else {
				// The Wake must end the Wait in the kernel. One that lands
				// between timed's set and the look for a token is taken there
				// instead, and writes a wake-up after the Wait ended (a later
				// Wait drains it): then the round is run again.
				n := b.(*None)
				for round := 1; ; round++ {
					n.fds[0].Revents = 0
					done := make(chan error, 1)
					go func() {
						_, err := n.Wait(int64(time.Hour))
						done <- err
					}()
					untilTrue(t, "None's Wait(1h) under way", n.timed.Load)
					must(t, n.Wake()) // writes the kernel wake-up: the Wait is timed
					select {
					case err := <-done:
						must(t, err)
					case <-time.After(failsafe):
						t.Fatalf("Wait(1h) still blocked %v after Wake", failsafe)
					}
					if n.fds[0].Revents != 0 {
						break
					}
					if round == 10 {
						t.Fatal("in 10 rounds no Wake ended None's Wait(1h) in the kernel")
					}
					must(t, n.Wake())
					if _, err := n.Wait(int64(time.Hour)); err != nil {
						t.Fatal(err)
					}
					n.wake.Drain()
				}
				nothingLeft(t, b, "a Wake of None's Wait(1h)")
			}

			must(t, b.Wake())
			must(t, b.Close())
			must(t, b.Open())
			nothingLeft(t, b, "a Wake, then Close and Open")
		})
	}
}

// parkerOf returns the parker of a backend that has one.
func parkerOf(b backend) (*parker, bool) {
	switch p := b.(type) {
	case *Epoll:
		return &p.park, true
	case *Poll:
		return &p.park, true
	}
	return nil, false
}

// TestNoneWakesTheKernelOnlyForATimedWait pins that None writes its kernel
// wake-up only while a timed Wait is under way: once a timed Wait has ended,
// whether a pending Wake ended it before the kernel or its timeout did, a
// Wake leaves a token alone, and the descriptor stays unreadable. (Catches:
// either path of a timed Wait leaving timed set, which makes every later Wake
// a system call and leaves a wake-up that cuts the next timed Wait short.)
func TestNoneWakesTheKernelOnlyForATimedWait(t *testing.T) {
	var n None
	must(t, n.Open())
	defer n.Close()
	for _, c := range []struct {
		name  string
		setup func()
	}{
		{"a timed Wait that found a Wake pending", func() { must(t, n.Wake()) }},
		{"a timed Wait that timed out", func() {}},
	} {
		c.setup()
		if _, err := n.Wait(int64(time.Microsecond)); err != nil {
			t.Fatal(err)
		}
		must(t, n.Wake())
		if token, kernel := leftover(t, &n); !token || kernel {
			t.Errorf("Wake after %s: a token pending: %v (want true); the kernel wake-up readable: %v (want false)", c.name, token, kernel)
		}
		waitReturns(t, &n, nil) // takes the token
		n.wake.Drain()          // so the next case starts clean whatever this one did
	}
}

// TestNoneTimedWaitInterruptedBySignalIsNotAnError pins that a signal ending
// None's timed Wait in the kernel (EINTR) returns (nil, nil), as it does for
// the fd backends: an error there reaches the loop's panic handler. (Catches:
// None returning EINTR as an error.)
func TestNoneTimedWaitInterruptedBySignalIsNotAnError(t *testing.T) {
	var n None
	must(t, n.Open())
	defer n.Close()
	if r := waitUnderSignals(t, &n, int64(time.Hour)); r.err != nil || r.n != 0 {
		t.Fatalf("None's Wait(1h) interrupted by a signal = %d events, %v; want nothing, nil", r.n, r.err)
	}
}
