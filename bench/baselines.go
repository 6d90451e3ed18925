package main

import (
	"container/heap"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The Go baselines: the ways a Go programmer would build the same thing
// without this library, each small and fair: func values built once before
// the span, nothing allocated per op that the design does not need, and every
// system in its fastest normal configuration.

func baselineSystems() []System {
	return []System{
		{
			Name: "chan",
			Kind: "baseline",
			Note: fmt.Sprintf("goroutine draining chan func() (cap %d); producers send a pre-built func", baselineQueueCap),
			Run:  runChanBaseline,
		},
		{
			Name: "mutex",
			Kind: "baseline",
			Note: fmt.Sprintf("goroutine draining a sync.Mutex-protected []func() (cap %d), swapped for a spare per batch, "+
				"woken through chan struct{} (cap 1) when the slice turns non-empty", baselineQueueCap),
			Run: runMutexBaseline,
		},
		{
			Name: "afterfunc",
			Kind: "baseline",
			Note: "time.AfterFunc per timer with a shared pre-built func (atomic countdown); Timer.Stop to cancel",
			Run:  runAfterFuncBaseline,
		},
		{
			Name: "heap",
			Kind: "baseline",
			Note: "single-goroutine loop over container/heap, asyncio's design: *timer handles in a deadline heap, " +
				"time.Timer sleep to the earliest, a ready []func() swapped per iteration, cancel marks the handle and " +
				"the heap is rebuilt when over half of more than 100 timers are cancelled",
			Run: runHeapBaseline,
		},
	}
}

// The workloads' shapes, shared by the floors and the baselines.

// workTimerDelay is timer i's delay in the timers workload: (i%10) ms.
func workTimerDelay(i int) time.Duration { return time.Duration(i%10) * time.Millisecond }

// workTimeoutDelay is timer i's delay in the timeouts workload: 1 s to 60 s,
// (1 + i%60) s, as the variants and the Python scripts have it.
func workTimeoutDelay(i int) time.Duration { return time.Duration(1+i%60) * time.Second }

// workTimeoutKeepEvery: in the timeouts workload, timers i with
// i%workTimeoutKeepEvery != 0 (95%) are cancelled first, then the others (5%),
// so that nothing is left waiting.
const workTimeoutKeepEvery = 20

func workCancelledFirst(i int) bool { return i%workTimeoutKeepEvery != 0 }

// checkScale rejects a scale that would leave a span waiting forever.
func checkScale(n int) error {
	if n <= 0 {
		return fmt.Errorf("scale %d: must be positive", n)
	}
	return nil
}

// postProducers returns how many producer goroutines workload w uses (0: the
// measuring goroutine itself sends), or false if w is not a posting workload.
func postProducers(w string) (int, bool) {
	switch w {
	case WorkCallbacks:
		return 0, true
	case WorkPosts1:
		return 1, true
	case WorkPosts4:
		return 4, true
	}
	return 0, false
}

// baselineQueueCap is the chan baseline's buffer and the mutex baseline's
// initial slice capacity (the default variant's inbox depth).
const baselineQueueCap = 4096

// runChanBaseline: one goroutine ranges over a buffered chan func() and calls
// what it receives. The last callback signals done.
func runChanBaseline(w string, n int) (Result, error) {
	producers, ok := postProducers(w)
	if !ok {
		return Result{}, ErrUnsupported
	}
	if err := checkScale(n); err != nil {
		return Result{}, err
	}
	total := n * max(producers, 1)
	var (
		ch     chan func()
		done   chan struct{}
		exited chan struct{}
		ran    int // loop goroutine only, until done
		fn     func()
	)
	setup := func() error {
		ch = make(chan func(), baselineQueueCap)
		done = make(chan struct{}, 1)
		exited = make(chan struct{})
		fn = func() {
			if ran++; ran == total {
				done <- struct{}{}
			}
		}
		go func() {
			defer close(exited)
			for f := range ch {
				f()
			}
		}()
		return nil
	}
	span := func() (int, error) {
		if producers == 0 {
			for range n {
				ch <- fn
			}
		}
		for range producers {
			go func() {
				for range n {
					ch <- fn
				}
			}()
		}
		<-done
		return ran, nil
	}
	teardown := func() {
		close(ch)
		<-exited
	}
	return measure(setup, span, teardown)
}

// mutexQueue is a job slice behind a mutex, drained by one goroutine that
// swaps it for an empty spare, and woken through a channel of capacity 1 when
// a post finds the slice empty.
type mutexQueue struct {
	mu     sync.Mutex
	jobs   []func()
	closed bool
	wake   chan struct{}
}

func newMutexQueue() *mutexQueue {
	return &mutexQueue{jobs: make([]func(), 0, baselineQueueCap), wake: make(chan struct{}, 1)}
}

func (q *mutexQueue) post(fn func()) {
	q.mu.Lock()
	q.jobs = append(q.jobs, fn)
	first := len(q.jobs) == 1
	q.mu.Unlock()
	if first {
		q.signal()
	}
}

func (q *mutexQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *mutexQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// run drains the queue until it is closed and empty.
func (q *mutexQueue) run() {
	spare := make([]func(), 0, baselineQueueCap)
	for {
		q.mu.Lock()
		for len(q.jobs) == 0 {
			if q.closed {
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			<-q.wake
			q.mu.Lock()
		}
		batch := q.jobs
		q.jobs = spare
		q.mu.Unlock()
		for _, fn := range batch {
			fn()
		}
		clear(batch)
		spare = batch[:0]
	}
}

func runMutexBaseline(w string, n int) (Result, error) {
	producers, ok := postProducers(w)
	if !ok {
		return Result{}, ErrUnsupported
	}
	if err := checkScale(n); err != nil {
		return Result{}, err
	}
	total := n * max(producers, 1)
	var (
		q      *mutexQueue
		done   chan struct{}
		exited chan struct{}
		ran    int // loop goroutine only, until done
		fn     func()
	)
	setup := func() error {
		q = newMutexQueue()
		done = make(chan struct{}, 1)
		exited = make(chan struct{})
		fn = func() {
			if ran++; ran == total {
				done <- struct{}{}
			}
		}
		go func() {
			defer close(exited)
			q.run()
		}()
		return nil
	}
	span := func() (int, error) {
		if producers == 0 {
			for range n {
				q.post(fn)
			}
		}
		for range producers {
			go func() {
				for range n {
					q.post(fn)
				}
			}()
		}
		<-done
		return ran, nil
	}
	teardown := func() {
		q.close()
		<-exited
	}
	return measure(setup, span, teardown)
}

// runAfterFuncBaseline: one time.AfterFunc per timer, all sharing one func.
func runAfterFuncBaseline(w string, n int) (Result, error) {
	if w != WorkTimers && w != WorkTimeouts {
		return Result{}, ErrUnsupported
	}
	if err := checkScale(n); err != nil {
		return Result{}, err
	}
	if w == WorkTimers {
		var (
			left atomic.Int64
			done chan struct{}
			fn   func()
		)
		setup := func() error {
			left.Store(int64(n))
			done = make(chan struct{})
			fn = func() {
				if left.Add(-1) == 0 {
					close(done)
				}
			}
			return nil
		}
		span := func() (int, error) {
			for i := range n {
				time.AfterFunc(workTimerDelay(i), fn)
			}
			<-done
			return n, nil
		}
		return measure(setup, span, nil)
	}
	var (
		timers []*time.Timer
		fired  atomic.Int64
		fn     func()
	)
	setup := func() error {
		timers = make([]*time.Timer, n)
		fn = func() { fired.Add(1) }
		return nil
	}
	span := func() (int, error) {
		for i := range n {
			timers[i] = time.AfterFunc(workTimeoutDelay(i), fn)
		}
		// The ops are the cancels that took effect, as the variants count
		// theirs: a Stop that finds its timer stopped already did no work,
		// and a span that skipped cancels must not report n.
		stopped := 0
		for i, t := range timers {
			if workCancelledFirst(i) && t.Stop() {
				stopped++
			}
		}
		for i := 0; i < n; i += workTimeoutKeepEvery {
			if timers[i].Stop() {
				stopped++
			}
		}
		// The runtime takes stopped timers out of its heap lazily, at the
		// next scheduling point: let that happen inside the span, as the
		// heap loop's and asyncio's clean-up does (2.6-6.5 ms after 1M).
		runtime.Gosched()
		if fired.Load() != 0 {
			return stopped, errors.New("afterfunc: a timeout fired")
		}
		return stopped, nil
	}
	teardown := func() {
		for _, t := range timers {
			if t != nil {
				t.Stop() // only matters if the span failed half-way
			}
		}
	}
	return measure(setup, span, teardown)
}

// heapTimer is a timer handle of the heap loop, as asyncio's TimerHandle.
type heapTimer struct {
	when      int64 // deadline, loop time in ns
	seq       uint64
	fn        func()
	cancelled bool
	scheduled bool // in the heap
}

// timerHeap orders timers by deadline, then scheduling order.
type timerHeap []*heapTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(*heapTimer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// asyncio's thresholds for rebuilding the heap without its cancelled timers
// (_MIN_SCHEDULED_TIMER_HANDLES and _MIN_CANCELLED_TIMER_HANDLES_FRACTION).
const (
	heapMinScheduled     = 100
	heapCancelledPercent = 50
)

// heapLoop is a single-goroutine event loop in asyncio's design: callbacks
// in a ready slice, timers in a binary heap by deadline, lazy cancellation.
// All its methods belong to the goroutine that runs it.
type heapLoop struct {
	base      time.Time
	now       int64 // loop time in ns since base, read once per iteration
	seq       uint64
	ready     []func()
	spare     []func()
	due       []*heapTimer
	timers    timerHeap
	cancelled int // cancelled timers still in the heap
	sleep     *time.Timer
}

func newHeapLoop() *heapLoop {
	l := &heapLoop{
		base:  time.Now(),
		ready: make([]func(), 0, baselineQueueCap),
		spare: make([]func(), 0, baselineQueueCap),
		sleep: time.NewTimer(time.Hour),
	}
	l.sleep.Stop()
	return l
}

func (l *heapLoop) updateTime() { l.now = int64(time.Since(l.base)) }

func (l *heapLoop) callSoon(fn func()) { l.ready = append(l.ready, fn) }

func (l *heapLoop) callLater(d time.Duration, fn func()) *heapTimer {
	l.seq++
	t := &heapTimer{when: l.now + int64(d), seq: l.seq, fn: fn, scheduled: true}
	heap.Push(&l.timers, t)
	return t
}

func (l *heapLoop) cancel(t *heapTimer) {
	if t.cancelled {
		return
	}
	t.cancelled, t.fn = true, nil
	if t.scheduled {
		l.cancelled++
	}
}

// runOnce is one iteration, as asyncio's _run_once: drop cancelled timers
// (rebuilding the heap when they are the majority, else popping them off the
// top), sleep until the earliest deadline if block and nothing is ready, move
// due timers behind the ready callbacks, and run what was ready when the
// iteration began.
func (l *heapLoop) runOnce(block bool) {
	if n := len(l.timers); n > heapMinScheduled && l.cancelled*100 > n*heapCancelledPercent {
		kept := l.timers[:0]
		for _, t := range l.timers {
			if t.cancelled {
				t.scheduled = false
			} else {
				kept = append(kept, t)
			}
		}
		clear(l.timers[len(kept):])
		l.timers = kept
		heap.Init(&l.timers)
		l.cancelled = 0
	} else {
		for len(l.timers) > 0 && l.timers[0].cancelled {
			heap.Pop(&l.timers).(*heapTimer).scheduled = false
			l.cancelled--
		}
	}
	if len(l.timers) > 0 {
		l.updateTime()
		if d := l.timers[0].when - l.now; block && len(l.ready) == 0 && d > 0 {
			l.sleep.Reset(time.Duration(d))
			<-l.sleep.C
			l.updateTime()
		}
		for len(l.timers) > 0 && l.timers[0].when <= l.now {
			t := heap.Pop(&l.timers).(*heapTimer)
			t.scheduled = false
			if t.cancelled {
				l.cancelled--
			} else {
				l.due = append(l.due, t)
			}
		}
	}
	batch := l.ready
	l.ready = l.spare
	for _, fn := range batch {
		fn()
	}
	clear(batch)
	l.spare = batch[:0]
	for _, t := range l.due {
		if !t.cancelled { // cancelled by an earlier callback of this iteration
			fn := t.fn
			t.fn = nil
			fn()
		}
	}
	clear(l.due)
	l.due = l.due[:0]
}

func runHeapBaseline(w string, n int) (Result, error) {
	if w != WorkCallbacks && w != WorkTimers && w != WorkTimeouts {
		return Result{}, ErrUnsupported
	}
	if err := checkScale(n); err != nil {
		return Result{}, err
	}
	var (
		l       *heapLoop
		ran     int
		fn      func()
		handles []*heapTimer
	)
	setup := func() error {
		l = newHeapLoop()
		fn = func() { ran++ }
		if w == WorkTimeouts {
			handles = make([]*heapTimer, n)
		}
		return nil
	}
	var span func() (int, error)
	switch w {
	case WorkCallbacks:
		span = func() (int, error) {
			for range n {
				l.callSoon(fn)
			}
			for len(l.ready) > 0 {
				l.runOnce(false)
			}
			return ran, nil
		}
	case WorkTimers:
		span = func() (int, error) {
			l.updateTime()
			for i := range n {
				l.callLater(workTimerDelay(i), fn)
			}
			for ran < n {
				l.runOnce(true)
			}
			return ran, nil
		}
	case WorkTimeouts:
		span = func() (int, error) {
			l.updateTime()
			for i := range n {
				handles[i] = l.callLater(workTimeoutDelay(i), fn)
			}
			for i, t := range handles {
				if workCancelledFirst(i) {
					l.cancel(t)
				}
			}
			for i := 0; i < n; i += workTimeoutKeepEvery {
				l.cancel(handles[i])
			}
			l.runOnce(false) // drops the cancelled timers, as the next iteration would
			if len(l.timers) != 0 || ran != 0 {
				return n, fmt.Errorf("heap: %d timers left, %d fired", len(l.timers), ran)
			}
			return n, nil
		}
	}
	return measure(setup, span, func() { l.sleep.Stop() })
}
