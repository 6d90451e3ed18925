package main

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// variantSystems measures every generated variant, and the generic build
// that shows what specialization buys. They are driven through
// core.Loop, so each call from the workload is an interface call; callbacks
// run by the loop are called directly, as in any use.
func variantSystems() []System {
	var out []System
	for _, v := range all.Variants {
		out = append(out, loopSystem(v.Name, "variant", v.Params, v.New))
	}
	g := all.Generic
	return append(out, loopSystem(g.Name, "generic", g.Params, g.New))
}

// gcOffSuffix names the diagnostic run of the default variant with the
// garbage collector off.
const gcOffSuffix = "-gcoff"

// diagnosticSystems explains a figure instead of competing: the default
// variant on the callbacks workload with the garbage collector off during
// the measured span. A queue of a million callbacks is 8 MB of func values
// that each collection must mark; the difference between this run and the
// default variant's is what the collector costs at that depth, and the
// flatness finding reports both.
func diagnosticSystems() []System {
	for _, v := range all.Variants {
		if !v.Default {
			continue
		}
		base := loopSystem(v.Name, "variant", v.Params, v.New)
		return []System{{
			Name: v.Name + gcOffSuffix,
			Kind: "diagnostic",
			Note: v.Name + " on callbacks with the garbage collector off (debug.SetGCPercent(-1)) during the measured span, to show what the collector costs",
			Run: func(w string, n int) (Result, error) {
				if w != WorkCallbacks {
					return Result{}, ErrUnsupported
				}
				old := debug.SetGCPercent(-1)
				defer debug.SetGCPercent(old)
				return base.Run(w, n)
			},
		}}
	}
	return nil
}

// loopSystem makes a System of one loop implementation.
func loopSystem(name, kind string, p core.Params, newLoop func(core.Config) (core.Loop, error)) System {
	return System{
		Name: name,
		Kind: kind,
		Note: p.String(),
		Run: func(w string, n int) (Result, error) {
			if err := checkScale(n); err != nil {
				return Result{}, err
			}
			var (
				l       core.Loop
				handles []core.Timer // the timeouts workload's, made before the span as the baselines' are
				wd      watchdog
			)
			setup := func() (err error) {
				if w == WorkTimeouts {
					handles = make([]core.Timer, n)
				}
				if l, err = newLoop(core.Config{}); err != nil {
					return err
				}
				wd.arm(l)
				return nil
			}
			teardown := func() {
				wd.disarm()
				l.Close()
			}
			var span func() (int, error)
			switch w {
			case WorkCallbacks:
				span = func() (int, error) { return loopCallbacks(l, n) }
			case WorkTimers:
				span = func() (int, error) { return loopTimers(l, n) }
			case WorkPosts1:
				span = func() (int, error) { return loopPosts(l, 1, n) }
			case WorkPosts4:
				span = func() (int, error) { return loopPosts(l, 4, n) }
			case WorkTimeouts:
				span = func() (int, error) { return loopTimeouts(l, handles) }
			case WorkMixed:
				if p.Poller == "none" {
					return Result{}, ErrUnsupported
				}
				span = func() (int, error) { return loopMixed(l, n) }
			default:
				return Result{}, ErrUnsupported
			}
			return measure(setup, func() (int, error) { return wd.check(span()) }, teardown)
		},
	}
}

// spanLimit bounds one measured span: a workload that cannot finish (a lost
// wake-up, a producer that failed) stops the loop and reports it, instead of
// hanging the run.
const spanLimit = 2 * time.Minute

// watchdog stops a loop whose span runs longer than spanLimit, and fails
// the span. It is armed in setup and disarmed in teardown, outside the
// measured span: arming a runtime timer and stopping it cost a few hundred
// ns that the baselines' spans do not pay (about 2% of 1,000 callbacks).
type watchdog struct {
	t       *time.Timer
	expired atomic.Bool
}

func (wd *watchdog) arm(l core.Loop) {
	wd.expired.Store(false)
	wd.t = time.AfterFunc(spanLimit, func() { wd.expired.Store(true); l.Stop() })
}

func (wd *watchdog) disarm() {
	if wd.t != nil {
		wd.t.Stop()
	}
}

// check passes on the span's result, or fails it if the watchdog fired.
func (wd *watchdog) check(ops int, err error) (int, error) {
	if wd.expired.Load() {
		return ops, fmt.Errorf("did not finish within %v", spanLimit)
	}
	return ops, err
}

// loopCallbacks queues n callbacks with CallSoon, then runs the loop until
// the last has run (it stops the loop).
func loopCallbacks(l core.Loop, n int) (int, error) {
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

// loopTimers schedules n timers with delays (i%10) ms from a callback, as a
// server does, and runs until all fired. A 0 ms delay is given as 1 ns: in
// our API d <= 0 means CallSoon, and every system must create n timers.
func loopTimers(l core.Loop, n int) (int, error) {
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

// loopPosts has `producers` goroutines post n callbacks each to the running
// loop; the last callback to run stops it.
func loopPosts(l core.Loop, producers, n int) (int, error) {
	total := producers * n
	ran := 0
	fn := func() {
		if ran++; ran == total {
			l.Stop()
		}
	}
	var wg sync.WaitGroup
	var postErr atomic.Value
	// The producers start from a callback, so every post meets a running loop
	// (as in the Python version).
	l.CallSoon(func() {
		for range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n {
					if err := l.Post(fn); err != nil {
						postErr.Store(err)
						l.Stop() // the count can no longer be reached
						return
					}
				}
			}()
		}
	})
	err := l.Run()
	wg.Wait()
	if e, ok := postErr.Load().(error); ok {
		return ran, e
	}
	return ran, err
}

// loopTimeouts schedules len(handles) timers 1-60 s ahead from a callback
// and cancels 95% of them, then the rest, as per-connection deadlines that
// almost never fire. handles is made before the span, as the baselines make
// theirs: it is the workload's bookkeeping, not the loop's.
func loopTimeouts(l core.Loop, handles []core.Timer) (int, error) {
	n := len(handles)
	fn := func() {}
	l.CallSoon(func() {
		for i := range n {
			handles[i] = l.CallLater(workTimeoutDelay(i), fn)
		}
		for i, h := range handles {
			if workCancelledFirst(i) {
				l.Cancel(h)
			}
		}
		for i := 0; i < n; i += workTimeoutKeepEvery {
			l.Cancel(handles[i])
		}
		l.Stop()
	})
	return n, l.Run()
}

// loopMixed reads n 64-byte messages from a socketpair on the loop while a
// goroutine writes them, another posts n/10 callbacks, and the loop runs n/10
// timers of (i%10) ms. It ends when everything has arrived.
func loopMixed(l core.Loop, n int) (int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if err := unix.SetNonblock(fds[0], true); err != nil {
		return 0, err
	}
	const msg = 64
	extra := max(n/10, 1)
	wantBytes := n * msg
	gotBytes, posts, timers := 0, 0, 0
	buf := make([]byte, 64<<10)
	check := func() {
		if gotBytes == wantBytes && posts == extra && timers == extra {
			l.Stop()
		}
	}
	if err := l.AddReader(fds[0], func() {
		for {
			k, err := unix.Read(fds[0], buf)
			if k <= 0 || err != nil {
				break
			}
			gotBytes += k
		}
		check()
	}); err != nil {
		return 0, err
	}
	defer l.RemoveReader(fds[0])
	for i := range extra {
		l.CallLater(max(workTimerDelay(i), time.Nanosecond), func() { timers++; check() })
	}
	writeErr := make(chan error, 1)
	go func() {
		m := make([]byte, msg)
		for range n {
			if _, err := unix.Write(fds[1], m); err != nil {
				writeErr <- err
				l.Stop()
				return
			}
		}
		writeErr <- nil
	}()
	go func() {
		for range extra {
			if l.Post(func() { posts++; check() }) != nil {
				l.Stop()
				return
			}
		}
	}()
	runErr := l.Run()
	if gotBytes != wantBytes {
		// Stopped early: unblock the writer, which nobody reads for any more.
		unix.Shutdown(fds[1], unix.SHUT_WR)
	}
	if err := <-writeErr; err != nil && gotBytes == wantBytes {
		return 0, fmt.Errorf("mixed: write: %w", err)
	}
	if runErr != nil {
		return 0, runErr
	}
	if gotBytes != wantBytes || posts != extra || timers != extra {
		return 0, fmt.Errorf("mixed: stopped with %d of %d bytes, %d of %d posts, %d of %d timers", gotBytes, wantBytes, posts, extra, timers, extra)
	}
	return n, nil
}
