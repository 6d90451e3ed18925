package main

import (
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/generated/balanced"
	"github.com/loopgen/loop/handwritten/core"
)

// countedLoop counts the Close calls of the loop it wraps.
type countedLoop struct {
	core.Loop
	closed *int
}

func (c countedLoop) Close() error {
	*c.closed++
	return c.Loop.Close()
}

// countedSystem is balanced as loopSystemOf makes it with keep, counting
// the loops it makes and closes.
func countedSystem(t *testing.T, keep bool) (s System, made, closed *int) {
	t.Helper()
	made, closed = new(int), new(int)
	newLoop := func(cfg core.Config) (core.Loop, error) {
		l, err := balanced.New(cfg)
		if err != nil {
			return nil, err
		}
		*made++
		return countedLoop{l, closed}, nil
	}
	spans := func(l core.Loop, w string, n int, handles []core.Timer) func() (int, error) {
		return directSpans["balanced"](l.(countedLoop).Loop, w, n, handles)
	}
	var p core.Params
	for _, v := range all.Variants {
		if v.Name == "balanced" {
			p = v.Params
		}
	}
	return loopSystemOf("balanced-test", "diagnostic", p, newLoop, spans, keep), made, closed
}

func TestAKeptLoopLastsAsLongAsItsWorkloadAndScale(t *testing.T) {
	s, made, closed := countedSystem(t, true)
	run := func(w string, n int) Result {
		t.Helper()
		r, err := s.Run(w, n)
		if err != nil {
			t.Fatal(err)
		}
		if r.Ops != n {
			t.Fatalf("%s at %d: %d ops", w, n, r.Ops)
		}
		return r
	}
	// Five ready-queue segments' worth: the first span grows the queue.
	const n = 5 * 4095
	first := run(WorkCallbacks, n)
	second := run(WorkCallbacks, n)
	if *made != 1 || *closed != 0 {
		t.Fatalf("two spans of one scale: %d loops made, %d closed; want 1 and 0", *made, *closed)
	}
	// The queue starts with two segments (queue_depth 4096 rounded up to
	// whole segments of 4095), so the first span grows it by three of 32
	// KiB; what the kept loop's span allocates is the workload's closure.
	if first.Bytes < 3*32<<10 || second.Bytes > 1<<10 {
		t.Errorf("bytes allocated in the span: %d on a new loop, %d on the kept one; want the queue's growth in the first only", first.Bytes, second.Bytes)
	}
	run(WorkCallbacks, 2*n)
	if *made != 2 || *closed != 1 {
		t.Fatalf("after a change of scale: %d loops made, %d closed; want 2 and 1", *made, *closed)
	}
	run(WorkTimeouts, 1000)
	run(WorkTimeouts, 1000)
	if *made != 3 || *closed != 2 {
		t.Fatalf("after a change of workload: %d loops made, %d closed; want 3 and 2", *made, *closed)
	}
	s.Close()
	s.Close()
	if *closed != 3 {
		t.Fatalf("after Close: %d closed, want 3", *closed)
	}
}

func TestAFreshLoopIsMadeAndClosedForEverySpan(t *testing.T) {
	s, made, closed := countedSystem(t, false)
	for range 3 {
		if _, err := s.Run(WorkCallbacks, 1000); err != nil {
			t.Fatal(err)
		}
	}
	if *made != 3 || *closed != 3 || s.Close != nil {
		t.Fatalf("%d loops made, %d closed, Close set %v; want 3, 3 and no Close", *made, *closed, s.Close != nil)
	}
}

func TestTheKeptLoopDiagnosticRunsOnlyWhereGrowthMatters(t *testing.T) {
	for _, s := range diagnosticSystems() {
		if s.Name != "balanced"+warmSuffix {
			continue
		}
		defer s.Close()
		for _, w := range []string{WorkPosts1, WorkPosts4, WorkMixed} {
			if _, err := s.Run(w, 100); err != ErrUnsupported {
				t.Errorf("%s: got %v, want ErrUnsupported", w, err)
			}
		}
		for _, w := range []string{WorkCallbacks, WorkTimers, WorkTimeouts} {
			if r, err := s.Run(w, 100); err != nil || r.Ops != 100 {
				t.Errorf("%s: %d ops, %v", w, r.Ops, err)
			}
		}
		return
	}
	t.Fatal("no balanced" + warmSuffix + " diagnostic")
}

// TestAKeptLoopRunsAfterTheOthersAndClosesBeforeTheNextScale: a system that
// keeps its loop from span to span runs its warm-up and repetitions of a
// scale after every other system's, and is closed before the next scale,
// so that its loop's memory is never live during another system's span.
func TestAKeptLoopRunsAfterTheOthersAndClosesBeforeTheNextScale(t *testing.T) {
	var log []string
	sys := func(name string, keep bool) System {
		s := System{Name: name, Kind: "variant", Run: func(w string, n int) (Result, error) {
			if err := checkScale(n); err != nil {
				return Result{}, err // what measureAll asks before it measures: no run
			}
			log = append(log, fmt.Sprintf("%s@%d", name, n))
			return Result{Ops: n, Wall: time.Second}, nil
		}}
		if keep {
			s.Close = func() { log = append(log, name+" closed") }
		}
		return s
	}
	o := options{quick: true, reps: 2, warmup: true, workloads: []string{WorkCallbacks}}
	measureAll(o, []System{sys("a", false), sys("kept", true), sys("b", false)}, io.Discard)
	scales := scalesFor(o, plans[0])
	var want []string
	for _, n := range scales {
		// 3 rounds (warm-up and 2 repetitions) of a and b in shuffled order, then kept's 3.
		if len(log) < len(want)+6 {
			t.Fatalf("n=%d: only %d runs: %v", n, len(log), log)
		}
		shuffled := slices.Sorted(slices.Values(log[len(want) : len(want)+6]))
		if got := fmt.Sprint(shuffled); got != fmt.Sprint([]string{
			fmt.Sprintf("a@%d", n), fmt.Sprintf("a@%d", n), fmt.Sprintf("a@%d", n),
			fmt.Sprintf("b@%d", n), fmt.Sprintf("b@%d", n), fmt.Sprintf("b@%d", n)}) {
			t.Fatalf("n=%d: the first six runs are %v, want a and b three times each\nlog: %v", n, shuffled, log)
		}
		want = append(want, log[len(want):len(want)+6]...)
		want = append(want, fmt.Sprintf("kept@%d", n), fmt.Sprintf("kept@%d", n), fmt.Sprintf("kept@%d", n), "kept closed")
	}
	if !slices.Equal(log, want) {
		t.Errorf("runs\n%v\nwant\n%v", log, want)
	}
}

// A run whose setup fails after it made the loop (the mixed workload's
// socketpair, or spans that do not take the loop's type) closes the loop:
// measure skipped the teardown when setup failed, so the loop, its fds and
// its armed watchdog were left behind.
func TestAFailedSetupClosesItsLoop(t *testing.T) {
	made, closed := 0, 0
	newLoop := func(cfg core.Config) (core.Loop, error) {
		l, err := balanced.New(cfg)
		if err != nil {
			return nil, err
		}
		made++
		return countedLoop{l, &closed}, nil
	}
	noSpans := func(l core.Loop, w string, n int, handles []core.Timer) func() (int, error) { return nil }
	var p core.Params
	for _, v := range all.Variants {
		if v.Name == "balanced" {
			p = v.Params
		}
	}
	s := loopSystemOf("balanced-test", "variant", p, newLoop, noSpans, false)
	if _, err := s.Run(WorkCallbacks, 1000); err == nil {
		t.Fatal("spans that take no loop: no error")
	}
	if made != 1 || closed != 1 {
		t.Errorf("a failed setup: %d loops made, %d closed; want 1 and 1", made, closed)
	}
}
