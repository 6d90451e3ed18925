// Package tests runs one conformance suite against every generated variant,
// through the core.Loop interface that each variant's Loop satisfies.
package tests

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/generated/generic"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

// epoch is where virtual clocks start; any fixed time will do.
var epoch = time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)

// forEachVariant runs fn as a subtest per variant, and on the generic build
// (the default variant's code with runtime numbers and an interface poller).
func forEachVariant(t *testing.T, fn func(t *testing.T, v all.Variant)) {
	t.Helper()
	for _, v := range append(append(slices.Clip(all.Variants), all.Generic), genericWithOthersNumbers...) {
		t.Run(v.Name, func(t *testing.T) { fn(t, v) })
	}
}

// genericWithOthersNumbers is the generic build run with each other
// variant's numbers and poller (queue and inbox depths, batch, wheel), and
// the switches it has compiled in from the default variant: the generic
// build is not only right for the one set of numbers it ships with.
var genericWithOthersNumbers = func() []all.Variant {
	var vs []all.Variant
	for _, v := range all.Variants {
		if v.Default {
			continue
		}
		p, g := v.Params, all.Generic.Params
		p.Name = g.Name
		p.Spin, p.Gather, p.Overflow, p.Inbox, p.Recover, p.Stats = g.Spin, g.Gather, g.Overflow, g.Inbox, g.Recover, g.Stats
		vs = append(vs, all.Variant{
			Name:   g.Name + "_" + v.Name,
			Params: p,
			New: func(cfg core.Config) (core.Loop, error) {
				l, err := generic.NewWithParams(p, cfg)
				if err != nil {
					return nil, err
				}
				return l, nil
			},
		})
	}
	return vs
}()

// newLoop makes a loop of variant v and closes it when the test ends.
func newLoop(t testing.TB, v all.Variant, cfg core.Config) core.Loop {
	t.Helper()
	l, err := v.New(cfg)
	if err != nil {
		t.Fatalf("%s: New: %v", v.Name, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// newVirtual makes a loop of variant v on a virtual clock.
func newVirtual(t testing.TB, v all.Variant) (core.Loop, *clock.Virtual) {
	t.Helper()
	vc := clock.NewVirtual(epoch)
	return newLoop(t, v, core.Config{Clock: vc}), vc
}

// runOnce runs one non-blocking iteration and fails the test on error.
func runOnce(t testing.TB, l core.Loop) {
	t.Helper()
	if err := l.RunOnce(false); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
}

// runUntilIdle runs non-blocking iterations until Pending stops falling for a
// few in a row: everything ready has run (future timers may remain).
func runUntilIdle(t testing.TB, l core.Loop) {
	t.Helper()
	still := 0
	for range 1 << 20 {
		before := l.Pending()
		runOnce(t, l)
		if l.Pending() < before {
			still = 0
		} else if still++; still == 3 {
			return
		}
	}
	t.Fatal("loop never went idle")
}

// runFor runs the loop on its own goroutine for the duration of fn, then stops
// it and waits for Run to return, failing if it takes longer than 10 s.
func runFor(t testing.TB, l core.Loop, fn func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	fn()
	l.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of Stop")
	}
}

// satAdd returns a+b for a, b >= 0, or the largest Duration where the sum
// would overflow (a wide wheel's horizon is a good share of int64).
func satAdd(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satMul returns d*n for d, n >= 0, or the largest Duration where the
// product would overflow.
func satMul(d time.Duration, n int64) time.Duration {
	if n != 0 && d > math.MaxInt64/time.Duration(n) {
		return math.MaxInt64
	}
	return d * time.Duration(n)
}

// beyondHorizon returns a delay for a timer that p's wheel must park beyond
// its horizon: want where it fits, else one halfway between the horizon and
// the latest delay that, scheduled at loop time from and waited for with a
// few ticks to spare, stays short of the end of loop time (2^62 ns, where
// every later deadline is clamped, so no timer is parked further). ok is
// false where even the horizon plus a tick does not fit (a horizon that long
// parks nothing).
func beyondHorizon(p core.Params, from, want time.Duration) (d time.Duration, ok bool) {
	least := satAdd(p.Horizon(), p.Tick)
	room := endOfLoopTime - from - 4*p.Tick
	if least >= room {
		return 0, false
	}
	if want < least || want > room {
		want = least + (room-least)/2
	}
	return want, true
}

// wholeTicks rounds d up to a whole number of p's ticks, so that a timer
// due after it is due exactly then, on a tick's edge, whatever the tick
// (1.5ms does not divide a second).
func wholeTicks(p core.Params, d time.Duration) time.Duration {
	return (d + p.Tick - 1) / p.Tick * p.Tick
}
