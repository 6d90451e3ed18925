package main

import (
	"io"
	"testing"
	"time"
)

// TestAKeptLoopKeepsEveryRoundWithoutAWarmUp: with the warm-up off (as the
// tests and -reps runs with warm-up disabled have it), every round of a
// system that keeps its loop is a repetition, as every round of the others
// is: its first round is not thrown away as a warm-up it never had.
func TestAKeptLoopKeepsEveryRoundWithoutAWarmUp(t *testing.T) {
	sys := func(name string, keep bool) System {
		s := System{Name: name, Kind: "variant", Run: func(w string, n int) (Result, error) {
			return Result{Ops: n, Wall: time.Second}, nil
		}}
		if keep {
			s.Close = func() {}
		}
		return s
	}
	for _, warmup := range []bool{false, true} {
		o := options{quick: true, reps: 2, warmup: warmup, workloads: []string{WorkCallbacks}}
		res := measureAll(o, []System{sys("a", false), sys("kept", true)}, io.Discard)
		var scales []int
		for _, p := range plans {
			if p.workload == WorkCallbacks {
				scales = scalesFor(o, p)
			}
		}
		if len(scales) == 0 {
			t.Fatal("no plan for the callbacks workload")
		}
		for _, n := range scales {
			for _, name := range []string{"a", "kept"} {
				if got := len(res.runs[key{WorkCallbacks, name, n}]); got != o.reps {
					t.Errorf("warm-up %v: %s at n=%d has %d repetitions, want %d", warmup, name, n, got, o.reps)
				}
			}
		}
	}
}
