package tests

import (
	"math"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// TestTheFirstRegistrationStillDispatchesAfterTheSeqTableGrows watches a
// readable socket first (it takes the slab's first entry) and then 200 more,
// so that the seq table doubles twice while the first registration keeps its
// seq: every reader, the first one included, must run in the next
// iterations. Growing re-places each registration by its seq; one it skips
// (the first entry, whose place holds 1) is never dispatched again.
func TestTheFirstRegistrationStillDispatchesAfterTheSeqTableGrows(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		const fds = 201
		l := newLoop(t, v, core.Config{})
		ran := make([]int, fds)
		for i := range fds {
			a, b := socketpair(t)
			if _, err := unix.Write(b, []byte{1}); err != nil {
				t.Fatal(err)
			}
			if err := l.AddReader(a, func() { ran[i]++ }); err != nil {
				t.Fatalf("AddReader %d: %v", i, err)
			}
		}
		for range 3 {
			runOnce(t, l)
		}
		for i, n := range ran {
			if n == 0 {
				t.Fatalf("the reader of registration %d of %d never ran after the table grew", i, fds)
			}
		}
	})
}

// TestFailedWatchesLeaveNoSeqBehind tries 1,000 times to watch a number that
// no process can have open (MaxInt32 is above any open-file limit), and then
// watches a real socket: every refused watch must give back the seq it was
// handed, or the seq table fills with places no registration holds and the
// next watch searches it forever. The watches run on their own goroutine so
// that such a search fails the test instead of hanging it; the loop is then
// left open, as closing it under the search would crash the test binary.
func TestFailedWatchesLeaveNoSeqBehind(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l, err := v.New(core.Config{})
		if err != nil {
			t.Fatalf("%s: New: %v", v.Name, err)
		}
		a, b := socketpair(t)
		if _, err := unix.Write(b, []byte{1}); err != nil {
			t.Fatal(err)
		}
		ran := 0
		done := make(chan string, 1)
		go func() {
			for i := range 1000 {
				if err := l.AddReader(math.MaxInt32, func() {}); err == nil {
					done <- "AddReader of a number no process can have open succeeded"
					return
				}
				if i%2 == 0 {
					if err := l.AddWriter(math.MaxInt32, func() {}); err == nil {
						done <- "AddWriter of a number no process can have open succeeded"
						return
					}
				}
			}
			if err := l.AddReader(a, func() { ran++ }); err != nil {
				done <- "AddReader after the refused watches: " + err.Error()
				return
			}
			for range 3 {
				if err := l.RunOnce(false); err != nil {
					done <- "RunOnce: " + err.Error()
					return
				}
			}
			done <- ""
		}()
		select {
		case msg := <-done:
			l.Close()
			if msg != "" {
				t.Fatal(msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a watch after 1,500 refused ones did not return within 10 s")
		}
		if ran == 0 {
			t.Fatal("the reader watched after the refused watches never ran")
		}
	})
}
