package tests

import (
	"runtime"
	"testing"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// A callback that ends its goroutine with runtime.Goexit (t.Fatal in a
// callback does) takes Run with it, but leaves the loop usable: it is no
// longer running, so a later Run on another goroutine is not refused with
// ErrRunning, and the callbacks queued behind the one that exited still run.
func TestACallbackThatCallsGoexitLeavesTheLoopUsable(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		ranAfter := false
		l.CallSoon(runtime.Goexit)
		l.CallSoon(func() { ranAfter = true; l.Stop() })
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			_ = l.Run()
			t.Error("Run returned on the goroutine that a callback ended")
		}()
		<-exited
		if err := l.Run(); err != nil {
			t.Fatalf("Run after a callback's Goexit: %v", err)
		}
		if !ranAfter {
			t.Error("the callback queued behind the one that called Goexit did not run")
		}
	})
}
