// This file is the template of drive_<variant>_gen.go: `go generate ./...`
// (bench/internal/drivegen) copies it once for every other variant of
// spec/loop.yaml and for the generic build, with "balanced" replaced by the
// variant's package name. Edit it here; the copies are rewritten.

package main

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopgen/loop/generated/balanced"
	"github.com/loopgen/loop/handwritten/core"
)

func init() { directSpans["balanced"] = spansBalanced }

// spansBalanced returns the span of workload w at scale n on l, written
// against the concrete *balanced.Loop so that each scheduling call is a
// direct call, as through package loop, instead of an interface call; nil
// when l is not a *balanced.Loop or w has no direct span. handles is the
// timeouts workload's, made in setup.
func spansBalanced(l core.Loop, w string, n int, handles []core.Timer) func() (int, error) {
	bl, ok := l.(*balanced.Loop)
	if !ok {
		return nil
	}
	switch w {
	case WorkCallbacks:
		return func() (int, error) { return callbacksBalanced(bl, n) }
	case WorkTimers:
		return func() (int, error) { return timersBalanced(bl, n) }
	case WorkPosts1:
		return func() (int, error) { return postsBalanced(bl, 1, n) }
	case WorkPosts4:
		return func() (int, error) { return postsBalanced(bl, 4, n) }
	case WorkTimeouts:
		return func() (int, error) { return timeoutsBalanced(bl, handles) }
	}
	return nil
}

// callbacksBalanced queues n callbacks with CallSoon, then runs the loop
// until the last has run (it stops the loop).
func callbacksBalanced(l *balanced.Loop, n int) (int, error) {
	ran := 0
	fn := func() {
		if ran++; ran == n {
			l.Stop()
		}
	}
	for range n {
		l.CallSoon(fn)
	}
	err := l.Run()
	return ran, err
}

// timersBalanced schedules n timers with delays (i%10) ms from a callback,
// as a server does, and runs until all fired. A 0 ms delay is given as 1 ns:
// in our API d <= 0 means CallSoon, and every system must create n timers.
func timersBalanced(l *balanced.Loop, n int) (int, error) {
	fired := 0
	fn := func() {
		if fired++; fired == n {
			l.Stop()
		}
	}
	l.CallSoon(func() {
		for i := range n {
			l.CallLater(max(workTimerDelay(i), time.Nanosecond), fn)
		}
	})
	err := l.Run()
	return fired, err
}

// postsBalanced has `producers` goroutines post n callbacks each to the
// running loop; the last callback to run stops it.
func postsBalanced(l *balanced.Loop, producers, n int) (int, error) {
	total := producers * n
	ran := 0
	fn := func() {
		if ran++; ran == total {
			l.Stop()
		}
	}
	var wg sync.WaitGroup
	var postErr atomic.Value
	var ended atomic.Bool // Run returned: a full inbox will not drain now
	// The producers start from a callback, so every post meets a running loop
	// (as in the Python version).
	l.CallSoon(func() {
		for range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n {
					for {
						err := l.Post(fn)
						if err == nil {
							break
						}
						if !errors.Is(err, core.ErrQueueFull) || ended.Load() {
							postErr.Store(err)
							l.Stop() // the count can no longer be reached
							return
						}
						// A variant with overflow: reject refuses posts while its
						// inbox is full: wait for the loop to drain it, as a
						// producer meeting back-pressure would.
						runtime.Gosched()
					}
				}
			}()
		}
	})
	err := l.Run()
	ended.Store(true)
	wg.Wait()
	if e, ok := postErr.Load().(error); ok {
		return ran, e
	}
	return ran, err
}

// timeoutsBalanced schedules len(handles) timers 1-60 s ahead from a
// callback and cancels 95% of them, then the rest, as per-connection
// deadlines that almost never fire. handles is made before the span, as
// the baselines make theirs: it is the workload's bookkeeping, not the
// loop's.
func timeoutsBalanced(l *balanced.Loop, handles []core.Timer) (int, error) {
	n := len(handles)
	fn := func() {}
	cancelled := 0 // the ops: a timer not scheduled cannot be cancelled
	l.CallSoon(func() {
		for i := range n {
			handles[i] = l.CallLater(workTimeoutDelay(i), fn)
		}
		for i, h := range handles {
			if workCancelledFirst(i) && l.Cancel(h) {
				cancelled++
			}
		}
		for i := 0; i < n; i += workTimeoutKeepEvery {
			if l.Cancel(handles[i]) {
				cancelled++
			}
		}
		l.Stop()
	})
	err := l.Run()
	return cancelled, err
}
