package main

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// variantSystems measures every generated variant, and the generic build
// that shows what specialization buys. The workloads call each variant's
// concrete type directly (directSpans), as a program that uses package loop
// does, so that what is measured is the variant and not an interface call
// per operation (10-15% of a callback's cost: 13.6 against 11.2 ns at 1,000
// queued callbacks). Callbacks run by the loop are called directly either
// way.
func variantSystems() []System {
	var out []System
	for _, v := range all.Variants {
		out = append(out, loopSystem(v.Name, "variant", v.Params, v.New, directSpans[v.Name]))
	}
	g := all.Generic
	return append(out, loopSystem(g.Name, "generic", g.Params, g.New, directSpans[g.Name]))
}

// gcOffSuffix names the diagnostic run of the default variant with the
// garbage collector off, warmSuffix the one that keeps its loop.
const (
	gcOffSuffix = "-gcoff"
	warmSuffix  = "-warm"
)

// diagnosticSystems explain a figure instead of competing, both on the
// default variant.
//
// With the garbage collector off during the measured span, on callbacks: a
// queue of a million callbacks is 8 MB of func values that each collection
// must mark; the difference from the default variant's run is what the
// collector costs at that depth.
//
// With one loop kept for every repetition of a workload and scale, on
// callbacks, timers and timeouts: every other loop system is made afresh
// for each span, so a span at 1M also grows the ready queue or the timer
// slab (8 and 32 MB), faults the new memory in (about 8,200 page faults
// for a million timeouts: perf stat) and starts the collections that this
// allocation pays for. A server's loop pays that once, at its first burst;
// the kept loop shows the cost of every burst after it.
//
// The flatness findings and the floor comparisons report both beside the
// default variant's figures.
func diagnosticSystems() []System {
	for _, v := range all.Variants {
		if !v.Default {
			continue
		}
		base := loopSystem(v.Name, "variant", v.Params, v.New, directSpans[v.Name])
		warm := loopSystemOf(v.Name+warmSuffix, "diagnostic", v.Params, v.New, directSpans[v.Name], true)
		warm.Note = v.Name + " on callbacks, timers and timeouts with one loop kept for the warm-up and every repetition of a scale, " +
			"so the span starts with the ready queue and the timer slab already grown to the workload's size, as a long-running loop's are after its first burst"
		warmRun := warm.Run
		warm.Run = func(w string, n int) (Result, error) {
			if w != WorkCallbacks && w != WorkTimers && w != WorkTimeouts {
				return Result{}, ErrUnsupported
			}
			return warmRun(w, n)
		}
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
		}, warm}
	}
	return nil
}

// loopSystem makes a System of one loop implementation, whose workloads
// run as spans gives them (directSpans), on a fresh loop for each span. A
// variant without spans (one added to the spec after the last go generate
// ./bench) fails with an error that says so.
func loopSystem(name, kind string, p core.Params, newLoop func(core.Config) (core.Loop, error), spans spanPicker) System {
	return loopSystemOf(name, kind, p, newLoop, spans, false)
}

// loopSystemOf is loopSystem, or with keep the same System keeping its loop
// from one span to the next while the workload and scale stay the same (the
// runner does every repetition of one scale before the next); it closes the
// kept loop when they change, and Close closes the last, so at most one is
// open.
func loopSystemOf(name, kind string, p core.Params, newLoop func(core.Config) (core.Loop, error), spans spanPicker, keep bool) System {
	var (
		kept    core.Loop
		keptFor struct {
			w string
			n int
		}
	)
	s := System{
		Name: name,
		Kind: kind,
		Note: p.String(),
		Run: func(w string, n int) (Result, error) {
			switch w {
			case WorkCallbacks, WorkTimers, WorkPosts1, WorkPosts4, WorkTimeouts:
			case WorkMixed:
				if p.Poller == "none" {
					return Result{}, ErrUnsupported
				}
			default:
				return Result{}, ErrUnsupported
			}
			if err := checkScale(n); err != nil {
				return Result{}, err
			}
			var (
				l       core.Loop
				handles []core.Timer // the timeouts workload's, made before the span as the baselines' are
				rig     *mixedRig    // the mixed workload's, likewise
				wd      watchdog
			)
			setup := func() (err error) {
				if w == WorkTimeouts {
					handles = make([]core.Timer, n)
				}
				if kept != nil && keptFor.w == w && keptFor.n == n {
					l = kept
				} else {
					if kept != nil {
						kept.Close()
						kept = nil
					}
					if l, err = newLoop(core.Config{}); err != nil {
						return err
					}
					if keep {
						kept, keptFor.w, keptFor.n = l, w, n
					}
				}
				wd.arm(l)
				return nil
			}
			teardown := func() {
				wd.disarm()
				if rig != nil {
					rig.close()
					rig = nil
				}
				if !keep {
					l.Close()
				}
			}
			if spans == nil && w != WorkMixed {
				return Result{}, fmt.Errorf("%s: no direct spans for variant %q: regenerate the drivers with go generate ./... (spec/generate.go)", name, p.Name)
			}
			// The direct span needs the loop, so setup picks it, out of the
			// measured span.
			var run func() (int, error)
			pick := func() (err error) {
				if err := setup(); err != nil {
					return err
				}
				// measure runs no teardown when this fails: release the
				// loop and the watchdog that setup made here.
				defer func() {
					if err != nil {
						teardown()
					}
				}()
				if w == WorkMixed {
					if rig, err = newMixedRig(); err != nil {
						return err
					}
					run = func() (int, error) { return loopMixed(l, rig, n) }
				} else if run = spans(l, w, n, handles); run == nil {
					return fmt.Errorf("%s: the loop is a %T, not the type its direct spans take", name, l)
				}
				return nil
			}
			return measure(pick, func() (int, error) { return wd.check(run()) }, teardown)
		},
	}
	if keep {
		s.Close = func() {
			if kept != nil {
				kept.Close()
				kept = nil
			}
		}
	}
	return s
}

// directSpans maps a variant's package name to its spans in direct calls
// (drive_balanced.go and its generated copies): the span of workload w at
// scale n on l, or nil when l is not that variant's type or w has no
// direct span. handles is the timeouts workload's, made in setup.
var directSpans = map[string]spanPicker{}

// spanPicker returns the span of workload w at scale n on l.
type spanPicker func(l core.Loop, w string, n int, handles []core.Timer) func() (int, error)

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

// mixedRig is the mixed workload's socketpair and read buffer, made before
// the span (as the loop is) and closed after it.
type mixedRig struct {
	fds [2]int // fds[0], non-blocking, is the loop's; a goroutine writes to fds[1]
	buf []byte
}

func newMixedRig() (*mixedRig, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, err
	}
	r := &mixedRig{fds: fds, buf: make([]byte, 64<<10)}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *mixedRig) close() {
	unix.Close(r.fds[0])
	unix.Close(r.fds[1])
}

// loopMixed reads n 64-byte messages from the rig's socketpair on the loop
// while a goroutine writes them, another posts n/10 callbacks, and the loop
// runs n/10 timers of (i%10) ms. It ends when everything has arrived, so
// its wall time is at least the last timer's 9 ms: the workload is compared
// on CPU time (its plan is cpuBound), which counts the work, not the wait.
func loopMixed(l core.Loop, rig *mixedRig, n int) (int, error) {
	fds, buf := rig.fds, rig.buf
	const msg = 64
	extra := max(n/10, 1)
	wantBytes := n * msg
	gotBytes, posts, timers := 0, 0, 0
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
	var ended atomic.Bool // Run returned: a full inbox will not drain now
	go func() {
		for range extra {
			for {
				err := l.Post(func() { posts++; check() })
				if err == nil {
					break
				}
				if !errors.Is(err, core.ErrQueueFull) || ended.Load() {
					l.Stop()
					return
				}
				runtime.Gosched() // overflow: reject, inbox full: the loop drains it
			}
		}
	}()
	runErr := l.Run()
	ended.Store(true)
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
