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
		p := &pendingProbe{l: l}
		p.then = func(id int) {
			if id%5 == 0 && p.queued < 3*rev12Seg {
				p.push() // queued during the batch: the next iteration's
			}
		}
		for range rev12Seg + 100 {
			p.push()
		}
		for i := 0; p.ran < p.queued; i++ {
			if i > 1<<16 {
				t.Fatalf("ran %d of %d", p.ran, p.queued)
			}
			before, pending := p.ran, l.Pending()
			runOnce(t, l)
			if p.bad != "" {
				t.Fatal(p.bad)
			}
			if got, want := p.ran-before, min(pending, v.Params.Batch); got != want {
				t.Fatalf("an iteration with %d queued ran %d; want %d (batch %d)", pending, got, want, v.Params.Batch)
			}
		}
		p.checkOrder(t)
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
	params := all.Generic.Params
	params.Batch, params.QueueDepth = 1<<20, 16
	panics := 0
	l, err := generic.NewWithParams(params, core.Config{PanicHandler: func(any) { panics++ }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p := &pendingProbe{l: l}
	p.then = func(id int) {
		if id < 5*rev12Seg {
			p.push()
		}
		if id == 2*rev12Seg+7 {
			panic("halfway")
		}
	}
	for range 4*rev12Seg + 11 {
		p.push()
	}
	for i := 0; p.ran < p.queued; i++ {
		if i > 64 {
			t.Fatalf("ran %d of %d", p.ran, p.queued)
		}
		before, pending := p.ran, l.Pending()
		runOnce(t, l)
		if p.bad != "" {
			t.Fatal(p.bad)
		}
		if p.ran-before != pending && !(i == 0 && p.ran == 2*rev12Seg+8) {
			t.Fatalf("iteration %d with %d queued ran %d", i, pending, p.ran-before)
		}
	}
	if panics != 1 {
		t.Errorf("%d panics; want 1", panics)
	}
	p.checkOrder(t)
}

// pendingProbe queues callbacks on l that check, each as it runs, that
// Pending counts what is still queued (itself no longer), note the order
// they run in, and then call then with their number.
type pendingProbe struct {
	l           core.Loop
	queued, ran int
	bad         string
	order       []int
	then        func(id int)
}

func (p *pendingProbe) push() {
	id := p.queued
	p.queued++
	p.l.CallSoon(func() {
		p.ran++
		p.order = append(p.order, id)
		if got, want := p.l.Pending(), p.queued-p.ran; got != want && p.bad == "" {
			p.bad = fmt.Sprintf("callback %d: Pending() = %d; want %d", id, got, want)
		}
		if p.then != nil {
			p.then(id)
		}
	})
}

// checkOrder fails the test unless the callbacks ran in the order queued.
func (p *pendingProbe) checkOrder(t *testing.T) {
	t.Helper()
	for i, id := range p.order {
		if id != i {
			t.Fatalf("callback %d ran at position %d", id, i)
		}
	}
}
