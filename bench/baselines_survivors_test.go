package main

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tests for the baselines and floors, each written for a change to
// baselines.go, floor.go or floorsleep_linux.go that the rest of the suite
// let through: a baseline or floor that does less (or other) work than the
// workload says makes every speedup against it dishonest. None asserts a
// speed; where real time is involved, they check that a deadline was not
// met early, or give a hang a generous bound so that it fails instead of
// stalling the suite.

// runWithin runs s on workload w at scale n and fails the test if that has
// not returned within a generous bound: a baseline that lost a wake-up hangs.
func runWithin(t *testing.T, s System, w string, n int) Result {
	t.Helper()
	type outcome struct {
		r   Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := s.Run(w, n)
		done <- outcome{r, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("%s %s at n=%d: %v", s.Name, w, n, o.err)
		}
		return o.r
	case <-time.After(10 * time.Second):
		t.Fatalf("%s %s at n=%d: not done after 10 s", s.Name, w, n)
		return Result{}
	}
}

// The workloads' shapes are those of the variants and the Python and Node
// scripts: (i%10) ms timers, timeouts 1-60 s ahead of which all but every
// 20th is cancelled first, and 0, 1 and 4 producer goroutines. (Catches 10%
// kept instead of 5% (workTimeoutKeepEvery 10), and posts1 sent by the
// measuring goroutine itself instead of a producer (postProducers 0).)
func TestTheWorkloadShapesAreTheScripts(t *testing.T) {
	for i, want := range map[int]time.Duration{0: 0, 1: time.Millisecond, 9: 9 * time.Millisecond, 10: 0, 1234: 4 * time.Millisecond} {
		if got := workTimerDelay(i); got != want {
			t.Errorf("timer %d: delay %v, want %v", i, got, want)
		}
	}
	for i, want := range map[int]time.Duration{0: time.Second, 59: 60 * time.Second, 60: time.Second, 1234: 35 * time.Second} {
		if got := workTimeoutDelay(i); got != want {
			t.Errorf("timeout %d: delay %v, want %v", i, got, want)
		}
	}
	first := 0
	for i := range 1000 {
		if workCancelledFirst(i) {
			first++
		} else if i%20 != 0 {
			t.Errorf("timeout %d is kept for the second round; only every 20th is", i)
		}
	}
	if first != 950 {
		t.Errorf("%d of 1000 timeouts cancelled first, want 950 (95%%)", first)
	}
	for w, want := range map[string]int{WorkCallbacks: 0, WorkPosts1: 1, WorkPosts4: 4} {
		if got, ok := postProducers(w); !ok || got != want {
			t.Errorf("%s: %d producers (posting %v), want %d", w, got, ok, want)
		}
	}
	for _, w := range []string{WorkTimers, WorkTimeouts, WorkMixed} {
		if _, ok := postProducers(w); ok {
			t.Errorf("%s counted as a posting workload", w)
		}
	}
}

// Every floor and baseline does its workloads' ops at the smallest scales
// too, and a real-clock timers run lasts until its last deadline, (n-1) ms
// for n <= 10. At n=1000 a hundred timers share the 9 ms deadline, so a run
// that stopped one timer short still lasted 9 ms. (Catches afterfunc's
// countdown ending at 1 instead of 0, and the mutex queue waking its
// goroutine on the second job instead of the first, which never runs a
// batch of one.)
func TestFloorsAndBaselinesAtTinyScales(t *testing.T) {
	for _, s := range floorsAndBaselines() {
		for _, w := range supportedWorkloads[s.Name] {
			for _, n := range []int{1, 2, 3, 10} {
				r := runWithin(t, s, w, n)
				if want := expectedOps(w, n); r.Ops != want {
					t.Errorf("%s %s at n=%d: %d ops, want %d", s.Name, w, n, r.Ops, want)
				}
				last := workTimerDelay(min(n, 10) - 1)
				if w == WorkTimers && s.Name != "floor-wheel" && r.Wall < last {
					t.Errorf("%s timers at n=%d: done after %v, before the last deadline (%v)", s.Name, n, r.Wall, last)
				}
			}
		}
	}
}

// floor-sleep sleeps until each distinct deadline of the timers workload
// but 0 ms, and only those: one wake-up fewer and the floor costs less than
// the workload's waiting. (Catches the 1 ms deadline skipped, d > 1 ms for
// d > 0.)
func TestFloorSleepSleepsUntilEachDistinctDeadline(t *testing.T) {
	ms := time.Millisecond
	for n, want := range map[int][]time.Duration{
		1:    nil,
		3:    {ms, 2 * ms},
		1000: {ms, 2 * ms, 3 * ms, 4 * ms, 5 * ms, 6 * ms, 7 * ms, 8 * ms, 9 * ms},
	} {
		if got := floorSleepDeadlines(n); !slices.Equal(got, want) {
			t.Errorf("n=%d: sleeps until %v, want %v", n, got, want)
		}
	}
}

// The floor ring and the floor wheel are sized for all n before the span,
// so their spans allocate nothing: a ring that grows inside the span copies
// and faults in fresh memory, and the floor is then no floor. (Catches the
// ring made a quarter of the size it needs.)
func TestTheFloorSpansAllocateNothing(t *testing.T) {
	for _, s := range floorSystems() {
		if s.Kind != "floor" {
			continue
		}
		for _, w := range supportedWorkloads[s.Name] {
			// Called here, not through runWithin, whose timer would be
			// made while the span may be running: Allocs counts the
			// whole process's.
			r, err := s.Run(w, 1000)
			if err != nil {
				t.Fatalf("%s %s at n=1000: %v", s.Name, w, err)
			}
			if r.Allocs != 0 {
				t.Errorf("%s %s at n=1000: %d allocations in the span, want none", s.Name, w, r.Allocs)
			}
		}
	}
}

// The floor ring keeps its FIFO order when it grows with its head partway
// round, and clears each slot it pops so that it keeps no closure alive.
// The runs never reach grow (the ring is sized for all n), so only this
// sees it. (Catches grow not triggered when full, the wrapped part not
// copied, the tail one short after growing, and pop not clearing its slot.)
func TestTheFloorRingGrowsInOrder(t *testing.T) {
	r := newFloorRing(4)
	var got []int
	pushed := 0
	push := func(k int) {
		for range k {
			i := pushed
			r.push(func() { got = append(got, i) })
			pushed++
		}
	}
	push(3)
	r.pop()()
	r.pop()()
	push(6) // 7 queued in a ring of 4, whose head is at slot 2
	for r.head != r.tail {
		r.pop()()
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
	if len(r.buf) != 8 {
		t.Errorf("ring of %d after 7 queued in 4, want 8", len(r.buf))
	}
	for i, fn := range r.buf {
		if fn != nil {
			t.Errorf("slot %d still holds a popped func", i)
		}
	}
}

// Cancelling a timer from the middle of its bucket's list leaves the list
// whole, and a cancel reports whether it took effect, which the timeouts
// span counts as its ops. (Catches cancel setting the next entry's prev to
// -1 instead of its own prev: the next cancel then cuts the list at the
// head, and the timers before it never fire.)
func TestTheFloorWheelUnlinksFromTheMiddle(t *testing.T) {
	w := newFloorWheel(3)
	fired := make([]int, 3)
	var h [3]int32
	for i := range h {
		h[i] = w.schedule(5, func() { fired[i]++ }) // one bucket: 2 -> 1 -> 0
	}
	if !w.cancel(h[1]) || !w.cancel(h[0]) {
		t.Fatal("cancel of a scheduled timer reported false")
	}
	if w.cancel(h[1]) {
		t.Error("a second cancel of the same timer reported true")
	}
	for range 6 {
		w.step()
	}
	if !slices.Equal(fired, []int{0, 0, 1}) {
		t.Errorf("fired %v times, want [0 0 1]", fired)
	}
	if w.cancel(h[2]) {
		t.Error("cancel of a fired timer reported true")
	}
}

// ticksOf rounds a delay up to whole ticks, so that a timer never fires
// early. The workloads' delays are whole milliseconds, so only this sees it.
// (Catches rounding down.)
func TestTicksOfRoundsUp(t *testing.T) {
	for ns, want := range map[int64]uint64{0: 0, 1: 1, fwTick - 1: 1, fwTick: 1, fwTick + 1: 2} {
		if got := ticksOf(ns); got != want {
			t.Errorf("ticksOf(%d ns) = %d, want %d", ns, got, want)
		}
	}
}

// heapTimersAhead returns a heap loop with n timers an hour or more ahead,
// the earliest first, so that runOnce(false) fires none of them.
func heapTimersAhead(n int) (*heapLoop, []*heapTimer) {
	l := newHeapLoop()
	l.updateTime()
	handles := make([]*heapTimer, n)
	for i := range handles {
		handles[i] = l.callLater(time.Hour+time.Duration(i)*time.Second, func() {})
	}
	return l, handles
}

// The heap loop rebuilds its heap as asyncio's _run_once does: when more
// than 100 timers are scheduled and more than half of them are cancelled,
// and not otherwise (then only cancelled timers at the top are popped).
// (Catches the 100 compared the other way, the half taken as reached at
// exactly half, and the cancelled count left as it was after a rebuild.)
func TestTheHeapLoopRebuildsAsAsyncioDoes(t *testing.T) {
	for _, c := range []struct {
		scheduled, cancelled int
		rebuilt              bool
	}{
		{101, 51, true},
		{100, 51, false},  // not over 100 scheduled
		{200, 100, false}, // exactly half, not over
		{200, 101, true},
	} {
		l, handles := heapTimersAhead(c.scheduled)
		for _, h := range handles[c.scheduled-c.cancelled:] { // the latest: the top stays live
			l.cancel(h)
		}
		l.runOnce(false)
		l.sleep.Stop()
		wantLen, wantCancelled := c.scheduled, c.cancelled
		if c.rebuilt {
			wantLen, wantCancelled = c.scheduled-c.cancelled, 0
		}
		if len(l.timers) != wantLen || l.cancelled != wantCancelled {
			t.Errorf("%d scheduled, %d cancelled: heap of %d with %d counted cancelled, want %d and %d",
				c.scheduled, c.cancelled, len(l.timers), l.cancelled, wantLen, wantCancelled)
		}
	}
}

// A blocking iteration of the heap loop sleeps until the earliest deadline
// and runs that timer in the same iteration. (Catches the sleep skipped,
// which busy-polls the clock, spending CPU the timers workload is judged
// on, and the clock not read again after the sleep.)
func TestTheHeapLoopSleepsUntilTheEarliestTimerAndRunsIt(t *testing.T) {
	l := newHeapLoop()
	defer l.sleep.Stop()
	l.updateTime()
	ran := false
	l.callLater(2*time.Millisecond, func() { ran = true })
	l.runOnce(true)
	if !ran || len(l.timers) != 0 {
		t.Errorf("after one blocking iteration: timer ran %v, %d left in the heap", ran, len(l.timers))
	}
}

// A blocking iteration with callbacks ready runs them at once instead of
// sleeping until a timer an hour ahead. (Catches the ready check dropped
// from the sleep's condition.)
func TestTheHeapLoopDoesNotSleepWithCallbacksReady(t *testing.T) {
	l := newHeapLoop()
	l.updateTime()
	l.callLater(time.Hour, func() {})
	ran := make(chan struct{})
	l.callSoon(func() { close(ran) })
	go l.runOnce(true)
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("a ready callback waited behind a timer an hour ahead")
	}
}

// A timer that has left the heap (fired, or due and about to fire) is not
// counted as a cancelled timer in the heap when cancelled afterwards; the
// count decides when the heap is rebuilt. (Catches scheduled not cleared
// when a due timer is popped.)
func TestTheHeapLoopCountsOnlyCancelsOfTimersInTheHeap(t *testing.T) {
	l := newHeapLoop()
	defer l.sleep.Stop()
	l.updateTime()
	var second *heapTimer
	secondRan := false
	first := l.callLater(0, func() { l.cancel(second) }) // both due in one iteration
	second = l.callLater(0, func() { secondRan = true })
	l.runOnce(false)
	l.cancel(first)
	if secondRan || l.cancelled != 0 {
		t.Errorf("second timer ran %v; %d cancelled counted in an empty heap, want 0", secondRan, l.cancelled)
	}
}

// The mutex baseline's goroutine blocks on its wake channel while the queue
// is empty, as a loop blocks in its poller: one that spins instead burns a
// core the producers need, and every posts figure against it is off.
// (Catches the wait on the wake channel replaced by runtime.Gosched.)
func TestTheMutexQueueWaitsBlocked(t *testing.T) {
	q := newMutexQueue()
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		q.run()
	}()
	defer func() { q.close(); <-exited }()
	buf := make([]byte, 1<<20)
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(time.Millisecond) {
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "(*mutexQueue).run") && strings.Contains(g, "[chan receive") {
				return
			}
		}
	}
	t.Error("the queue's goroutine never blocked on its wake channel in 10 s")
}
