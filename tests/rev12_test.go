package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/generated/generic"
	"github.com/loopgen/loop/handwritten/core"
)

// rev12Seg is a ready-queue segment's size (generated/*/ready_gen.go).
const rev12Seg = 4095

// runReady runs callbacks where they lie, a segment's stretch at a time:
// each callback must see the queue whole, Pending counting what is still
// queued (itself no longer), across the segment boundary, with callbacks
// queued during the batch waiting for the next iteration, in FIFO order.
func TestRev12PendingInsideAStretchAcrossSegments(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		queued, ran, bad := 0, 0, ""
		var order []int
		var push func()
		push = func() {
			id := queued
			queued++
			l.CallSoon(func() {
				ran++
				if got, want := l.Pending(), queued-ran; got != want && bad == "" {
					bad = fmt.Sprintf("callback %d: Pending() = %d; want %d", id, got, want)
				}
				order = append(order, id)
				if id%5 == 0 && queued < 3*rev12Seg {
					push() // queued during the batch: the next iteration's
				}
			})
		}
		for range rev12Seg + 100 {
			push()
		}
		for i := 0; ran < queued; i++ {
			if i > 1<<16 {
				t.Fatalf("ran %d of %d", ran, queued)
			}
			before, pending := ran, l.Pending()
			runOnce(t, l)
			if bad != "" {
				t.Fatal(bad)
			}
			if got, want := ran-before, min(pending, v.Params.Batch); got != want {
				t.Fatalf("an iteration with %d queued ran %d; want %d (batch %d)", pending, got, want, v.Params.Batch)
			}
		}
		for i, id := range order {
			if id != i {
				t.Fatalf("callback %d ran at position %d", id, i)
			}
		}
	})
}

// A callback that panics as the last one queued leaves the queue empty
// without settle: the bursts that follow still run whole, once each, in
// order, and Pending stays right, whether the panic falls at the end of a
// segment or not.
func TestRev12PanicAsTheLastQueuedThenBursts(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Recover {
			t.Skip("panics are not recovered")
		}
		panics := 0
		l := newLoop(t, v, core.Config{PanicHandler: func(any) { panics++ }})
		queued, ran, bad := 0, 0, ""
		var order []int
		burst := func(n int, panicLast bool) {
			for i := range n {
				id := queued
				queued++
				last := panicLast && i == n-1
				l.CallSoon(func() {
					ran++
					order = append(order, id)
					if got, want := l.Pending(), queued-ran; got != want && bad == "" {
						bad = fmt.Sprintf("callback %d: Pending() = %d; want %d", id, got, want)
					}
					if last {
						panic("last")
					}
				})
			}
			for i := 0; ran < queued; i++ {
				if i > 1<<16 {
					t.Fatalf("ran %d of %d", ran, queued)
				}
				runOnce(t, l)
			}
		}
		burst(rev12Seg, true) // ends exactly at the segment's end
		burst(7, true)
		burst(2*rev12Seg+3, false)
		burst(rev12Seg-9, true)
		burst(3*rev12Seg, false)
		if bad != "" {
			t.Error(bad)
		}
		if panics != 3 {
			t.Errorf("%d panics; want 3", panics)
		}
		if l.Pending() != 0 {
			t.Errorf("Pending() = %d after all ran", l.Pending())
		}
		for i, id := range order {
			if id != i {
				t.Fatalf("callback %d ran at position %d (ran %d of %d)", id, i, len(order), queued)
			}
		}
	})
}

// Close from a callback in the middle of a stretch that crosses a segment:
// every callback queued before it, and after it within the batch, runs
// once, in order, the rest in Close's rounds, with what they queue.
func TestRev12CloseFromTheMiddleOfAStretch(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		queued, ran, bad := 0, 0, ""
		var order []int
		var push func(depth int)
		push = func(depth int) {
			id := queued
			queued++
			l.CallSoon(func() {
				ran++
				order = append(order, id)
				if got, want := l.Pending(), queued-ran; got != want && !l.Closed() && bad == "" {
					bad = fmt.Sprintf("callback %d: Pending() = %d; want %d", id, got, want)
				}
				if id == rev12Seg-3 {
					l.Close()
				}
				if depth < 3 && id%100 == 0 {
					push(depth + 1)
				}
			})
		}
		for range rev12Seg + 50 {
			push(0)
		}
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after Close")
		}
		if bad != "" {
			t.Error(bad)
		}
		if ran != queued {
			t.Errorf("ran %d of %d queued", ran, queued)
		}
		for i, id := range order {
			if id != i {
				t.Fatalf("callback %d ran at position %d", id, i)
			}
		}
	})
}

// The generic build with the largest batch runs several segments in one
// runReady: the segments it leaves go back to the free list while the
// callbacks it runs queue more, which take them again. Each runs once, in
// order, the ones queued during the batch in the next iteration, with
// Pending right, and a panic halfway leaves the rest to the next one.
func TestRev12OneBatchAcrossManySegments(t *testing.T) {
	p := all.Generic.Params
	p.Batch, p.QueueDepth = 1<<20, 16
	panics := 0
	l, err := generic.NewWithParams(p, core.Config{PanicHandler: func(any) { panics++ }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	queued, ran, bad := 0, 0, ""
	var order []int
	var push func()
	push = func() {
		id := queued
		queued++
		l.CallSoon(func() {
			ran++
			order = append(order, id)
			if got, want := l.Pending(), queued-ran; got != want && bad == "" {
				bad = fmt.Sprintf("callback %d: Pending() = %d; want %d", id, got, want)
			}
			if id < 5*rev12Seg {
				push()
			}
			if id == 2*rev12Seg+7 {
				panic("halfway")
			}
		})
	}
	for range 4*rev12Seg + 11 {
		push()
	}
	for i := 0; ran < queued; i++ {
		if i > 64 {
			t.Fatalf("ran %d of %d", ran, queued)
		}
		before, pending := ran, l.Pending()
		runOnce(t, l)
		if bad != "" {
			t.Fatal(bad)
		}
		if ran-before != pending && !(i == 0 && ran == 2*rev12Seg+8) {
			t.Fatalf("iteration %d with %d queued ran %d", i, pending, ran-before)
		}
	}
	if panics != 1 {
		t.Errorf("%d panics; want 1", panics)
	}
	for i, id := range order {
		if id != i {
			t.Fatalf("callback %d ran at position %d", id, i)
		}
	}
}
