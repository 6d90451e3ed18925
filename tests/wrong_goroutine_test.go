package tests

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// TestAddFromAnotherGoroutineWhileTheLoopWaitsIsRefused: AddReader and
// AddWriter called from another goroutine while the loop waits for work
// (parked with no fd registered, or in the kernel with one) return an error
// wrapping ErrWrongGoroutine that names the method, and register nothing;
// Waiting is false before Run, inside a callback and after Run.
func TestAddFromAnotherGoroutineWhileTheLoopWaitsIsRefused(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		for _, withFd := range []bool{false, true} {
			l := newLoop(t, v, core.Config{})
			a, b := socketpair(t)
			if withFd {
				// Registered before Run, by the goroutine that will run it: the
				// loop then waits in the kernel, not on a channel.
				if err := l.AddReader(b, func() {}); err != nil {
					t.Fatal(err)
				}
			}
			if l.Waiting() {
				t.Fatal("Waiting before Run")
			}
			inCallback := make(chan bool, 1)
			l.CallSoon(func() { inCallback <- l.Waiting() })
			ran := false
			runFor(t, l, func() {
				waitFor(t, "the loop to wait", l.Waiting)
				for name, add := range map[string]func(int, func()) error{"AddReader": l.AddReader, "AddWriter": l.AddWriter} {
					err := add(a, func() { ran = true })
					if !errors.Is(err, core.ErrWrongGoroutine) || !strings.Contains(err.Error(), name) {
						t.Errorf("fd %v: %s from another goroutine while the loop waits: %v; want an error naming it and wrapping ErrWrongGoroutine", withFd, name, err)
					}
				}
			})
			if <-inCallback {
				t.Error("Waiting inside a callback")
			}
			if l.Waiting() {
				t.Error("Waiting after Run returned")
			}
			if l.RemoveReader(a) || l.RemoveWriter(a) || ran {
				t.Errorf("fd %v: a refused Add registered the fd", withFd)
			}
		}
	})
}

// waitFor yields until cond holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10 s waiting for %s", what)
		}
		runtime.Gosched()
	}
}
