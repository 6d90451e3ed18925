package main

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"
)

// The floors: the bare data structures a loop is built around, with no loop
// around them, so that every figure can be read against the physical limit.

func floorSystems() []System {
	return []System{
		{
			Name: "floor-ring",
			Kind: "floor",
			Note: "bare power-of-two ring of func values, sized for all n and faulted in before the span (mask kept in a field), " +
				"push n then pop+call n; no loop",
			Run: runFloorRing,
		},
		{
			Name: "floor-wheel",
			Kind: "floor",
			Note: fmt.Sprintf("bare hierarchical timing wheel (%d slots x %d levels, 1 ms tick, intrusive slab sized for all n and faulted in before the span, "+
				"O(1) unlink, no handle generations) under a virtual clock advanced 1 ms at a time; no loop",
				fwSlots, fwLevels),
			Run: runFloorWheel,
		},
		{
			// A diagnostic rather than a floor: how much CPU a Go thread's
			// blocking sleeps cost varies with the machine and the runtime's
			// scheduling, and a loop blocked in epoll_pwait2 has come in both
			// above and below it.
			Name: "floor-sleep",
			Kind: "diagnostic",
			Note: "the timers workload's waiting alone: one goroutine sleeps in the kernel (" + sleeperNote +
				", 9 of them for n >= 10) and does nothing else; its CPU per timer is what that much sleeping and waking costs a Go thread here",
			Run: runFloorSleep,
		},
	}
}

// runFloorSleep waits as the timers workload must, and does nothing else:
// at small n a timer's CPU is mostly its share of the loop's wake-ups, and
// this floor measures what those wake-ups cost on the machine at hand.
func runFloorSleep(w string, n int) (Result, error) {
	if w != WorkTimers {
		return Result{}, ErrUnsupported
	}
	if err := checkScale(n); err != nil {
		return Result{}, err
	}
	deadlines := floorSleepDeadlines(n)
	span := func() (int, error) {
		s, err := newSleeper()
		if err != nil {
			return 0, err
		}
		for _, d := range deadlines {
			if err := s.until(d); err != nil {
				return 0, err
			}
		}
		return n, nil
	}
	return measure(nil, span, nil)
}

// floorSleepDeadlines returns what floor-sleep sleeps until at scale n: the
// distinct deadlines of the timers workload, (i%10) ms for i < n, in order,
// less 0 ms, which is due at once and needs no sleep.
func floorSleepDeadlines(n int) []time.Duration {
	var deadlines []time.Duration
	for i := range min(n, 10) {
		if d := workTimerDelay(i); d > 0 {
			deadlines = append(deadlines, d)
		}
	}
	slices.Sort(deadlines)
	return deadlines
}

// The floor ring is sized to hold all n callbacks before the span starts,
// and its buffer is written once there, so that the span is push, pop and
// call only, on memory already faulted in: the physical floor. (A ring that
// doubles inside the span copies and faults in fresh memory; and a buffer
// made but never written is faulted in by the span's pushes whenever the
// allocator hands it pages fresh from the OS, 8 MB or some 2,000 pages for
// a million func values: the floor ring lost 49% from 10k to 1M in a run
// before it was written in setup, 10% after. A loop's queue grows inside the
// span, and the balanced-warm diagnostic shows one whose queue has grown
// already.)

// floorRing is a FIFO of func values in a power-of-two buffer, as a loop's
// ready queue is: head and tail count pops and pushes since the start.
type floorRing struct {
	buf  []func()
	mask uint64 // len(buf)-1; changes only when the ring grows
	head uint64
	tail uint64
}

func newFloorRing(depth int) *floorRing {
	r := &floorRing{buf: make([]func(), depth), mask: uint64(depth - 1)}
	clear(r.buf) // faults the buffer in, outside the span
	return r
}

func (r *floorRing) push(fn func()) {
	if r.tail-r.head == uint64(len(r.buf)) {
		r.grow()
	}
	r.buf[r.tail&r.mask] = fn
	r.tail++
}

// pop removes the oldest func; the ring must not be empty. The slot is
// cleared so that the ring does not keep the func's closure alive.
func (r *floorRing) pop() func() {
	i := r.head & r.mask
	fn := r.buf[i]
	r.buf[i] = nil
	r.head++
	return fn
}

func (r *floorRing) grow() {
	n := len(r.buf)
	buf := make([]func(), 2*n)
	h := int(r.head & r.mask)
	copy(buf, r.buf[h:])
	copy(buf[n-h:], r.buf[:h])
	r.buf, r.mask = buf, uint64(2*n-1)
	r.head, r.tail = 0, uint64(n)
}

func runFloorRing(w string, n int) (Result, error) {
	if w != WorkCallbacks {
		return Result{}, ErrUnsupported
	}
	if err := checkScale(n); err != nil {
		return Result{}, err
	}
	var (
		r   *floorRing
		ran int
		fn  func()
	)
	setup := func() error {
		r = newFloorRing(1 << bits.Len(uint(n-1)))
		fn = func() { ran++ }
		return nil
	}
	span := func() (int, error) {
		for range n {
			r.push(fn)
		}
		for r.head != r.tail {
			r.pop()()
		}
		return ran, nil
	}
	return measure(setup, span, nil)
}

// The floor wheel's geometry: that of the default variant.
const (
	fwSlots  = 64
	fwBits   = 6 // log2(fwSlots)
	fwMask   = fwSlots - 1
	fwLevels = 4
	fwTick   = 1_000_000 // ns: 1 ms
	// fwHorizon is how many ticks ahead of the current one a timer may be.
	fwHorizon = 1 << (fwBits * fwLevels)
)

// fwTimer is one slab entry. Entries are linked into their bucket's list, or
// into the free list, through next and prev (slab indices, -1 ends a list).
type fwTimer struct {
	fn     func()
	tick   uint64 // the tick it fires at
	next   int32
	prev   int32
	bucket int32 // level*fwSlots + slot while scheduled, -1 while free
}

// floorWheel is a bare hierarchical timing wheel: bucket lists in an
// intrusive slab, a free list, cascading on level boundaries. It has what the
// workloads need and nothing else: handles are bare slab indices (no
// generations: cancelling a handle whose entry a later timer reuses cancels
// that timer), timers fire in no set order within a tick, a callback must not
// schedule timers, and deadlines past the horizon (about 4.7 h) panic.
type floorWheel struct {
	slab []fwTimer
	free int32
	cur  uint64 // the virtual clock, in ticks: the next tick to fire
	head [fwLevels * fwSlots]int32
}

// newFloorWheel returns a wheel whose slab has room for capacity timers, so
// that, as the floor ring is, it is sized before the span: a slab that
// doubles inside the span copies and faults in fresh memory, which made the
// floor slower than the loop it is the floor of (141 ns a timeout at 1M).
// The slab is written once too, so that the span does not fault in pages
// fresh from the OS (32 MB, some 8,200 pages, for a million timers).
func newFloorWheel(capacity int) *floorWheel {
	w := &floorWheel{free: -1, slab: make([]fwTimer, 0, capacity)}
	clear(w.slab[:capacity])
	for i := range w.head {
		w.head[i] = -1
	}
	return w
}

// schedule adds fn to fire delay ticks from now (the current tick).
func (w *floorWheel) schedule(delay uint64, fn func()) int32 {
	i := w.free
	if i >= 0 {
		w.free = w.slab[i].next
	} else {
		w.slab = append(w.slab, fwTimer{})
		i = int32(len(w.slab) - 1)
	}
	t := &w.slab[i]
	t.fn, t.tick = fn, w.cur+delay
	w.place(i)
	return i
}

// place links timer i into the bucket its tick belongs in, relative to cur:
// the level is that of the highest 6-bit digit in which tick and cur differ.
func (w *floorWheel) place(i int32) {
	t := &w.slab[i]
	e := max(t.tick, w.cur)
	level := 0
	if x := e ^ w.cur; x != 0 {
		level = (bits.Len64(x) - 1) / fwBits
	}
	if level >= fwLevels {
		panic("floor wheel: deadline beyond the horizon")
	}
	b := int32(level*fwSlots + int(e>>(level*fwBits)&fwMask))
	t.bucket, t.prev, t.next = b, -1, w.head[b]
	if t.next >= 0 {
		w.slab[t.next].prev = i
	}
	w.head[b] = i
}

// cancel unlinks timer i and frees its entry: O(1). It does nothing and
// reports false if the entry is free (its timer fired or was cancelled), so
// that a span can count the cancels that took effect, as the variants count
// theirs. That is no generation check: an entry reused by a later timer is
// that timer's.
func (w *floorWheel) cancel(i int32) bool {
	t := &w.slab[i]
	if t.bucket < 0 {
		return false
	}
	if t.prev >= 0 {
		w.slab[t.prev].next = t.next
	} else {
		w.head[t.bucket] = t.next
	}
	if t.next >= 0 {
		w.slab[t.next].prev = t.prev
	}
	w.release(i)
	return true
}

// release puts entry i on the free list, marked as in no bucket.
func (w *floorWheel) release(i int32) {
	t := &w.slab[i]
	t.fn, t.next, t.bucket = nil, w.free, -1
	w.free = i
}

// step fires every timer of the current tick, then moves the clock on by one
// tick, cascading the upper-level buckets that the new tick reaches.
func (w *floorWheel) step() {
	b := int32(w.cur & fwMask)
	i := w.head[b]
	w.head[b] = -1
	for i >= 0 {
		t := &w.slab[i]
		next, fn := t.next, t.fn
		w.release(i)
		fn()
		i = next
	}
	w.cur++
	if w.cur&fwMask != 0 {
		return
	}
	// Highest level first, so timers flow down through every level they need.
	for level := fwLevels - 1; level >= 1; level-- {
		shift := level * fwBits
		if w.cur&(1<<shift-1) != 0 {
			continue
		}
		b := int32(level*fwSlots + int(w.cur>>shift&fwMask))
		i := w.head[b]
		w.head[b] = -1
		for i >= 0 {
			next := w.slab[i].next
			w.place(i)
			i = next
		}
	}
}

// ticksOf converts a delay to whole ticks, rounding up (a timer never fires
// early).
func ticksOf(ns int64) uint64 {
	return uint64(ns+fwTick-1) / fwTick
}

func runFloorWheel(w string, n int) (Result, error) {
	if w != WorkTimers && w != WorkTimeouts {
		return Result{}, ErrUnsupported
	}
	if err := checkScale(n); err != nil {
		return Result{}, err
	}
	var (
		wh      *floorWheel
		fired   int
		fn      func()
		handles []int32
	)
	setup := func() error {
		wh = newFloorWheel(n)
		fn = func() { fired++ }
		if w == WorkTimeouts {
			handles = make([]int32, n)
		}
		return nil
	}
	var span func() (int, error)
	if w == WorkTimers {
		span = func() (int, error) {
			for i := range n {
				wh.schedule(ticksOf(int64(workTimerDelay(i))), fn)
			}
			for fired < n {
				if wh.cur > fwHorizon {
					return fired, fmt.Errorf("floor wheel: %d of %d timers fired by tick %d", fired, n, wh.cur)
				}
				wh.step()
			}
			return fired, nil
		}
	} else {
		span = func() (int, error) {
			for i := range n {
				handles[i] = wh.schedule(ticksOf(int64(workTimeoutDelay(i))), fn)
			}
			cancelled := 0 // the ops, as in the afterfunc baseline
			for i, h := range handles {
				if workCancelledFirst(i) && wh.cancel(h) {
					cancelled++
				}
			}
			for i := 0; i < n; i += workTimeoutKeepEvery {
				if wh.cancel(handles[i]) {
					cancelled++
				}
			}
			if fired != 0 {
				return cancelled, errors.New("floor wheel: a timeout fired")
			}
			return cancelled, nil
		}
	}
	return measure(setup, span, nil)
}
