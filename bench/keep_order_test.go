package main

import (
	"fmt"
	"io"
	"strings"
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

// The progress counts the rounds a kept system still has to run at the
// current scale: it runs them after the others', and the progress left
// them out, so the last scale read 100% and "left ~0s" before the kept
// system had run at all.
func TestProgressCountsTheKeptSystemsRounds(t *testing.T) {
	for _, warmup := range []bool{false, true} {
		var progress strings.Builder
		var seen []string // the last progress line at each of kept's runs
		last := func() string {
			s := progress.String()
			return s[strings.LastIndex(s, "\rbench:")+1:]
		}
		plain := System{Name: "a", Kind: "variant", Run: func(w string, n int) (Result, error) {
			return Result{Ops: n, Wall: 2 * minSpan}, nil
		}}
		kept := System{Name: "kept", Kind: "variant", Close: func() {}, Run: func(w string, n int) (Result, error) {
			if n > 0 {
				seen = append(seen, last())
			}
			return Result{Ops: n, Wall: 2 * minSpan}, nil
		}}
		o := options{quick: true, reps: 2, warmup: warmup, workloads: []string{WorkTimeouts}}
		measureAll(o, []System{plain, kept}, &progress)
		if len(seen) == 0 {
			t.Fatal("the kept system never ran")
		}
		// Both have the same guesses; kept runs one more time without a
		// warm-up round (its untimed run), so at its first run the share
		// done is a's rounds over both's.
		aRuns, keptRuns := o.reps, o.reps+1
		if warmup {
			aRuns++
		}
		want := fmt.Sprintf("%3.0f%%", 100*float64(aRuns)/float64(aRuns+keptRuns))
		if !strings.HasPrefix(seen[0], "bench: "+want) {
			t.Errorf("warm-up %v: progress %q as the kept system starts; want %s", warmup, seen[0], want)
		}
		if end := last(); !strings.Contains(end, "done in") {
			t.Errorf("warm-up %v: progress ends with %q", warmup, end)
		}
	}
}
