// These tests pin behaviour of package loop's facade (loop.go) that a
// mutation round found the rest of the suite let through: options applied in
// another order, errors exported under the wrong value, a start time rounded,
// Closed or CallSoon not forwarding what the variant does.

package loop_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/generated/generic"
	"github.com/loopgen/loop/handwritten/core"
	"github.com/loopgen/loop/handwritten/poller"
)

// TestTheLastOfTwoSameOptionsWins: options apply in the order given, so a
// helper that builds a default option list can append an override (another
// panic handler, another clock) and have it take effect.
func TestTheLastOfTwoSameOptionsWins(t *testing.T) {
	first := loop.NewVirtualClock(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	second := loop.NewVirtualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	var handled []string
	l := newLoop(t,
		loop.WithClock(first), loop.WithPanicHandler(func(any) { handled = append(handled, "first") }),
		loop.WithClock(second), loop.WithPanicHandler(func(any) { handled = append(handled, "second") }),
	)
	if !l.Now().Equal(second.Now()) {
		t.Errorf("Now() = %v, want the second clock's %v", l.Now(), second.Now())
	}
	if !l.Variant().Recover {
		return // a panic would end the test binary
	}
	l.CallSoon(func() { panic("boom") })
	if err := l.RunOnce(false); err != nil {
		t.Fatal(err)
	}
	if len(handled) != 1 || handled[0] != "second" {
		t.Errorf("panic handlers called: %v, want only the second", handled)
	}
}

// TestClosedReportsClose: a producer goroutine checks Closed to stop posting;
// it must turn true with Close, and not before.
func TestClosedReportsClose(t *testing.T) {
	l, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	if l.Closed() {
		t.Error("Closed() is true on a new loop")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !l.Closed() {
		t.Error("Closed() is false after Close")
	}
}

// TestRunFromACallbackReturnsErrRunning: a callback that calls Run again gets
// an error that errors.Is matches to loop.ErrRunning, and not ErrClosed, so a
// caller can tell a reentrant call from a closed loop.
func TestRunFromACallbackReturnsErrRunning(t *testing.T) {
	l := newLoop(t)
	var err error
	l.CallSoon(func() { err = l.Run() })
	if e := l.RunOnce(false); e != nil {
		t.Fatal(e)
	}
	if !errors.Is(err, loop.ErrRunning) || errors.Is(err, loop.ErrClosed) {
		t.Errorf("Run inside a callback: %v, want ErrRunning (and not ErrClosed)", err)
	}
}

// TestExportedErrorsMatchWhatLoopsReturn: the errors package loop exports
// are the ones the variants return, so errors.Is works for a user who
// compares against loop.ErrQueueFull or loop.ErrNoPoller; no default build
// rejects a post or lacks a poller, so the values are checked against the
// handwritten ones the generated code returns, and against a loop without a
// poller (the generic build with poller none).
func TestExportedErrorsMatchWhatLoopsReturn(t *testing.T) {
	if !errors.Is(core.ErrQueueFull, loop.ErrQueueFull) || errors.Is(core.ErrClosed, loop.ErrQueueFull) {
		t.Errorf("loop.ErrQueueFull = %v, does not match the inbox's core.ErrQueueFull alone", loop.ErrQueueFull)
	}
	p := generic.Params
	p.Poller = "none"
	l, err := generic.NewWithParams(p, core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.AddReader(0, func() {}); !errors.Is(err, loop.ErrNoPoller) {
		t.Errorf("AddReader on a loop without a poller: %v, does not match loop.ErrNoPoller", err)
	}
	if !errors.Is(poller.ErrNoPoller, loop.ErrNoPoller) {
		t.Errorf("loop.ErrNoPoller = %v, not poller.ErrNoPoller", loop.ErrNoPoller)
	}
}

// TestAVirtualClockStartsExactlyWhereAsked: a test that computes deadlines
// from its start time (start.Add(d)) needs the loop's time to be that start,
// to the nanosecond, not a rounded one.
func TestAVirtualClockStartsExactlyWhereAsked(t *testing.T) {
	start := time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.UTC)
	vc := loop.NewVirtualClock(start)
	l := newLoop(t, loop.WithClock(vc))
	if !vc.Now().Equal(start) || !l.Now().Equal(start) {
		t.Errorf("clock reads %v and loop %v, want both %v", vc.Now(), l.Now(), start)
	}
}

// TestCallSoonWithANilFuncPanics: as documented, a nil fn is a programming
// error that panics where it is made, instead of being dropped silently.
func TestCallSoonWithANilFuncPanics(t *testing.T) {
	l := newLoop(t)
	defer func() {
		if recover() == nil {
			t.Error("CallSoon(nil) did not panic")
		}
	}()
	l.CallSoon(nil)
}

// TestVariantReportsTheSpecValuesOfAGeneratedVariant: Variant is how a
// program or a benchmark report learns which variant a build tag picked; it
// must give that variant's name and numbers exactly as generated, not a
// name of the facade's own.
func TestVariantReportsTheSpecValuesOfAGeneratedVariant(t *testing.T) {
	p := newLoop(t).Variant()
	if !slices.ContainsFunc(all.Variants, func(v all.Variant) bool { return v.Params == p }) {
		t.Errorf("Variant() = %v, the values of no generated variant", p)
	}
}
