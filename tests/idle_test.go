package tests

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/cputime"
)

// An idle loop under a virtual clock sleeps, even on a variant that spins
// before blocking: virtual time stands still while it spins, so a spin would
// never end by itself and would burn a core until the next post.
func TestIdleLoopUnderAVirtualClockDoesNotSpin(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, _ := newVirtual(t, v)
		l.CallLater(time.Hour, func() {})
		// The loop's own thread is measured, from callbacks on it: the
		// process's CPU also counts collections and other goroutines.
		var cpu0, cpu1 time.Duration
		var err0, err1 error // read on the loop goroutine, checked here
		started := make(chan struct{})
		if err := l.Post(func() { cpu0, err0 = cputime.Thread(); close(started) }); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			done <- l.Run()
		}()
		<-started
		time.Sleep(300 * time.Millisecond)
		if err := l.Post(func() { cpu1, err1 = cputime.Thread(); l.Stop() }); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(err0, err1); err != nil {
			t.Fatal(err)
		}
		// A spinning loop uses about the whole 300 ms; a sleeping one a few ms.
		if used := cpu1 - cpu0; used > 150*time.Millisecond {
			t.Fatalf("idle for 300ms, the loop's thread used %v of CPU", used)
		}
	})
}

// TestAnIdleLoopWaitsWithoutATimeout: a loop with nothing to do, no timer and
// no fd, waits in its poller until something wakes it, however long that
// takes: it never sleeps a fixed time and goes round. Over an idle stretch
// the poller is called once (the wait that the Post below ends), where a loop
// that slept 1 ms at a time called it about once a millisecond. Needs the
// poll counter (stats). The stretch gives such a loop time to go round; the
// bound on the count does not depend on how long it is.
func TestAnIdleLoopWaitsWithoutATimeout(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Stats {
			t.Skip("needs stats (Stats.Polls)")
		}
		l, _ := newVirtual(t, v)
		var polls0, polls1 uint64
		started := make(chan struct{})
		if err := l.Post(func() { polls0 = l.Stats().Polls; close(started) }); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		<-started
		time.Sleep(100 * time.Millisecond)
		if err := l.Post(func() { polls1 = l.Stats().Polls; l.Stop() }); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// One wait, ended by the Post; one more is allowed for a wake-up left
		// over from before the stretch (it ends a wait early once).
		if n := polls1 - polls0; n > 2 {
			t.Fatalf("idle with no timer and no fd, the loop called its poller %d times, want at most 2: it does not wait until woken", n)
		}
	})
}
