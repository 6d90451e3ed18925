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
