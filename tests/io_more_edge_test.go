package tests

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// After RemoveReader of an fd that is still readable, the poller must have
// forgotten it: otherwise every wait returns at once with readiness that the
// loop then drops, and a loop with nothing to do spins instead of sleeping
// until its timer. Level-triggered readiness makes that spin certain, so
// counting blocking iterations tells it apart without measuring time.
func TestRemovedReaderOfAReadableFdDoesNotWakeTheLoop(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, b := socketpair(t)
		ran := false
		if err := l.AddReader(a, func() { ran = true }); err != nil { // never reads: a stays readable
			t.Fatal(err)
		}
		if _, err := unix.Write(b, []byte("x")); err != nil {
			t.Fatal(err)
		}
		runUntil(t, l, func() bool { return ran })
		if !l.RemoveReader(a) {
			t.Fatal("RemoveReader returned false for a watched fd")
		}
		fired := false
		l.CallLater(50*time.Millisecond, func() { fired = true })
		// A sleeping loop takes one or two iterations (a few more if signals
		// interrupt its wait); a spinning one takes thousands in 50 ms.
		const most = 100
		for i := 0; !fired; i++ {
			if i == most {
				t.Fatalf("%d blocking iterations before a 50 ms timer fired: the loop is woken by a removed fd", most)
			}
			if err := l.RunOnce(true); err != nil {
				t.Fatal(err)
			}
		}
	})
}
