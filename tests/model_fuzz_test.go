package tests

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

// FuzzLoopMatchesAModel decodes its input into at most fuzzMaxOps operations
// on a loop with a virtual clock (CallSoon, Post, CallLater, CallAt and
// CallEvery, each with a callback that may itself schedule, post, cancel,
// advance the clock or check Pending when it runs; Cancel of live, fired,
// cancelled, zero and stale handles; clock advances of a nanosecond to past
// the wheel's horizon; RunOnce(false); Pending), drives every variant with
// them, and checks each against a reference model of the semantics README.md
// promises, and no more:
//
//   - CallSoon (with CallLater(d <= 0) and CallAt of a time past, which behave
//     as it, and return the zero Timer) is FIFO, and what a ready callback
//     queues waits for the next iteration; posts from one goroutine run in
//     the order made. The order between the two queues, and between them and
//     timers, is not promised and not checked.
//   - Each RunOnce runs a batch: at least min(batch, n) of the n callbacks
//     queued or posted before it.
//   - A timer never fires before its deadline, and fires in the RunOnce that
//     first sees the clock a tick or more past it (at most one tick late);
//     equal deadlines fire in scheduling order. Inside a callback, a delay is
//     measured from a reading taken between the callback's start and its
//     first CallLater or CallEvery; a deadline known only to that range is
//     held to its bounds (and to no order).
//   - A CallEvery's k-th run comes no earlier than its first deadline plus k
//     periods, and its next run at most a period and a tick after the last.
//   - Cancel returns true exactly for a timer still pending (a periodic one
//     until cancelled, also from its own callback), and a cancelled timer
//     never runs; no callback runs twice or outside RunOnce.
//   - Pending counts the callbacks queued or posted and the timers pending.
//
// TestWheelMatchesAHeapModel checks the wheel alone, with timers scheduled
// from outside the loop; this one checks the loop as a whole, where the
// interactions are: callbacks that schedule, cancel and move the clock while
// a batch or the due timers run, batch limits, and the two ready queues. Its
// seeds run in plain `go test`; `go test ./tests -run '^$' -fuzz
// FuzzLoopMatchesAModel` searches further. Set LOOP_FUZZ_TRACE=1 to log the
// operations of a failing input.
func FuzzLoopMatchesAModel(f *testing.F) {
	for _, seed := range fuzzModelSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		forEachVariant(t, func(t *testing.T, v all.Variant) {
			runModel(t, v, data)
		})
	})
}

const (
	fuzzMaxOps       = 200  // top-level operations decoded from one input
	fuzzMaxCallbacks = 3000 // callbacks scheduled in all; scheduling past it does nothing
	fuzzMaxPeriodic  = 8    // CallEvery timers made in all; more do nothing
	fuzzMaxDepth     = 2    // callbacks this deep schedule nothing
)

// fuzzModelSeeds are the seed corpus: hand-picked inputs for the cases the
// model cares most about, then pseudo-random ones (fixed seeds) that mix
// everything.
func fuzzModelSeeds() [][]byte {
	seeds := [][]byte{
		// More CallSoon callbacks than the smallest batch (32), each queueing
		// one more, run a step at a time, then drained.
		append(fuzzRepeat(40, 0, 1, 0, 0), 13, 14, 13, 14),
		// Posts from outside and from callbacks, interleaved with CallSoon.
		append(fuzzRepeat(20, 2, 2, 0, 0, 0, 2, 0, 0), 13, 14, 13, 15),
		// Timers with equal deadlines (whole ticks), from outside and from
		// callbacks, then steps of a tick.
		append(fuzzRepeat(12, 3, 7, 3, 7, 0, 3, 0x17, 0), fuzzRepeat(12, 10, 4)...),
		// Cancel: of live, fired, cancelled and zero handles.
		{3, 4, 0, 3, 7, 0, 4, 0, 0, 5, 2, 0, 7, 0, 7, 1, 7, 2, 7, 3, 10, 6, 7, 1, 7, 0, 7, 5, 14},
		// CallEvery of each period, cancelling itself or another timer,
		// advancing the clock from inside, checking Pending, queueing; then
		// steps.
		append([]byte{6, 0, 6, 0, 6, 1, 7, 2, 6, 2, 6, 1, 6, 3, 8, 0, 6, 4, 1, 0, 0, 6, 5, 0},
			fuzzRepeat(30, 10, 4, 10, 2, 14)...),
		// Far timers (past the first level and the horizon), CallAt around
		// the present, then large advances.
		{3, 11, 0, 3, 12, 0, 3, 13, 0, 3, 14, 0, 3, 15, 0, 3, 31, 0, 5, 0, 0, 5, 1, 0, 5, 2, 0, 5, 3, 0,
			5, 4, 0, 5, 5, 0, 5, 6, 0, 5, 7, 0, 14, 12, 7, 12, 8, 12, 9, 12, 10, 12, 11, 12, 11, 14, 15},
	}
	rng := rand.New(rand.NewPCG(1, 0xf022))
	for range 10 {
		b := make([]byte, 300+rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// fuzzRepeat repeats the bytes of one operation n times.
func fuzzRepeat(n int, op ...byte) []byte {
	var b []byte
	for range n {
		b = append(b, op...)
	}
	return b
}

// fuzzInput hands out the input's bytes, then zeros.
type fuzzInput struct {
	b []byte
	i int
}

func (in *fuzzInput) next() byte {
	if in.i >= len(in.b) {
		return 0
	}
	in.i++
	return in.b[in.i-1]
}

func (in *fuzzInput) empty() bool { return in.i >= len(in.b) }

// What a callback does when it runs (each time, for a periodic one).
type actKind uint8

const (
	actNone actKind = iota
	actSoon
	actPost
	actLater
	actAt
	actEvery
	actCancel
	actAdvance
	actPending
	actKinds
)

type action struct {
	kind  actKind
	sel   byte    // which delay, time, period, handle or step
	child *action // what the callback it schedules does
}

var noAction = &action{}

// decodeAction reads a callback's action, and its children's, at once, so
// the input decodes alike whatever order a variant runs callbacks in.
func decodeAction(in *fuzzInput, depth int) *action {
	if depth >= fuzzMaxDepth {
		return noAction
	}
	k := actKind(in.next() % byte(actKinds))
	if k == actNone {
		return noAction
	}
	a := &action{kind: k, sel: in.next()}
	switch k {
	case actSoon, actPost, actLater, actAt, actEvery:
		a.child = decodeAction(in, depth+1)
	}
	return a
}

type cbKind uint8

const (
	kSoon  cbKind = iota // CallSoon, CallLater(d <= 0), CallAt(past)
	kPost                // Post
	kTimer               // CallLater, CallAt
	kEvery               // CallEvery
)

type cbState uint8

const (
	stPending cbState = iota
	stDone
	stCancelled
)

// mcb is the model's view of one scheduled callback.
type mcb struct {
	id     int
	kind   cbKind
	st     cbState
	seq    int   // soon and post: place in its FIFO; timers: scheduling order
	lo, hi int64 // timers: bounds of the (first) deadline, in loop time
	period int64
	runs   int
	nextHi int64 // timers: the latest the next run's deadline may be
	batch  int   // soon: the RunOnce whose ready batch queued it, else -1
	depth  int
	act    *action
	h      core.Timer
}

// bound is the latest deadline of the timer's next run.
func (c *mcb) bound() int64 {
	if c.kind == kEvery {
		return c.nextHi
	}
	return c.hi
}

// cbCtx is the callback running now.
type cbCtx struct {
	cb      *mcb
	start   int64 // clock when it started
	rel     int64 // clock at its first CallLater or CallEvery
	relSet  bool
	inBatch bool // a ready callback (CallSoon or Post): what it queues waits an iteration
}

type loopModel struct {
	t                 *testing.T
	name              string
	l                 core.Loop
	vc                *clock.Virtual
	tick, slots, hzn  int64
	batch             int
	soonNext, soonRan int
	postNext, postRan int
	timerSeq          int
	live              []*mcb // timers pending (and some no longer: compacted after RunOnce)
	livePending       int
	handles           []core.Timer
	handleCB          []*mcb // nil: a zero handle
	byDeadline        map[int64][]*mcb
	ncb, nperiodic    int
	runIdx            int
	inRun, closed     bool
	ctx               *cbCtx
	failed            bool
	trace             bool
	op                int
	dueBuf            []dueTimer
}

type dueTimer struct {
	cb   *mcb
	runs int
}

func runModel(t *testing.T, v all.Variant, data []byte) {
	l, vc := newVirtual(t, v)
	p := v.Params
	m := &loopModel{
		t: t, name: v.Name, l: l, vc: vc,
		tick: int64(p.Tick), slots: int64(p.Slots), hzn: int64(min(p.Horizon(), 24*time.Hour)),
		batch:      p.Batch,
		byDeadline: map[int64][]*mcb{},
		trace:      os.Getenv("LOOP_FUZZ_TRACE") != "",
	}
	// Cleanups run last first: this one before newVirtual's Close, which
	// runs what is still queued after a failure.
	t.Cleanup(func() { m.closed = true })
	in := &fuzzInput{b: data}
	for m.op = 0; m.op < fuzzMaxOps && !in.empty() && !m.failed; m.op++ {
		switch b := in.next(); b % 16 {
		case 0, 1:
			m.callSoon(decodeAction(in, 0), 0)
		case 2:
			m.post(decodeAction(in, 0), 0)
		case 3, 4:
			sel := in.next()
			m.callLater(m.delay(sel), decodeAction(in, 0), 0)
		case 5:
			sel := in.next()
			m.callAt(m.offset(sel), decodeAction(in, 0), 0)
		case 6:
			sel := in.next()
			m.callEvery(m.period(sel), decodeAction(in, 0), 0)
		case 7, 8:
			m.cancel(in.next(), nil)
		case 9:
			m.advance(m.step(in.next()))
		case 10, 11, 12:
			m.advance(m.step(in.next()))
			m.runOnce()
		case 13:
			m.runOnce()
		case 14:
			m.checkPending()
		case 15:
			m.drain()
		}
	}
	if !m.failed {
		m.drain()
		m.checkPending()
	}
	if m.failed {
		t.FailNow()
	}
}

func (m *loopModel) now() int64 { return int64(m.vc.Elapsed()) }

func (m *loopModel) fail(format string, args ...any) {
	if m.failed {
		return
	}
	m.failed = true
	m.t.Errorf("%s: op %d, RunOnce %d, clock %v: %s", m.name, m.op, m.runIdx, time.Duration(m.now()), fmt.Sprintf(format, args...))
}

func (m *loopModel) logf(format string, args ...any) {
	if m.trace {
		m.t.Logf("op %d clock %v: %s", m.op, time.Duration(m.now()), fmt.Sprintf(format, args...))
	}
}

// delay picks a CallLater delay: none, within a few ticks (whole ticks
// often, so deadlines coincide), or at the wheel's level boundaries and past
// its horizon.
func (m *loopModel) delay(sel byte) int64 {
	tk, hi := m.tick, int64(sel>>4)
	switch sel & 15 {
	case 0:
		return 0
	case 1:
		return -tk
	case 2:
		return 1
	case 3:
		return tk - 1
	case 4:
		return tk
	case 5:
		return tk + 1
	case 6:
		return 2*tk + tk/2
	case 7, 8, 9:
		return (1 + hi%6) * tk
	case 10:
		return 1 + hi*tk/3
	case 11:
		return m.slots*tk - 1
	case 12:
		return m.slots*tk + hi*tk
	case 13:
		return m.slots*m.slots*tk + 3
	case 14:
		return m.hzn - tk + hi
	default:
		return m.hzn + (1+hi)*tk
	}
}

// offset picks a CallAt time relative to the present.
func (m *loopModel) offset(sel byte) int64 {
	tk, hi := m.tick, int64(sel>>3)
	switch sel & 7 {
	case 0:
		return -tk
	case 1:
		return -1
	case 2:
		return 0
	case 3:
		return 1
	case 4:
		return tk
	case 5:
		return (1 + hi%6) * tk
	case 6:
		return m.slots*tk + 1
	default:
		return m.hzn + tk
	}
}

// period picks a CallEvery period: below a tick to several ticks.
func (m *loopModel) period(sel byte) int64 {
	tk := m.tick
	switch sel % 6 {
	case 0:
		return max(1, tk/3)
	case 1:
		return tk
	case 2:
		return tk + tk/2
	case 3:
		return 3 * tk
	case 4:
		return 7*tk + 1
	default:
		return m.slots * tk
	}
}

// step picks a clock advance: none, within a tick or a few, to a pending
// deadline (or a tick past it), or across the wheel's levels.
func (m *loopModel) step(sel byte) int64 {
	tk, now := m.tick, m.now()
	switch sel % 12 {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return tk / 2
	case 3:
		return tk - 1
	case 4:
		return tk
	case 5:
		return tk + 1
	case 6:
		return 3 * tk
	case 7:
		return m.slots * tk
	case 8, 9:
		// To the earliest pending deadline, or to a tick past it.
		next := int64(-1)
		for _, c := range m.live {
			if c.st == stPending && (next < 0 || c.bound() < next) {
				next = c.bound()
			}
		}
		if next < now {
			return tk
		}
		if sel%12 == 9 {
			next += tk
		}
		return next - now
	case 10:
		return m.slots * m.slots * tk
	default:
		return m.hzn / 3
	}
}

func (m *loopModel) advance(d int64) {
	m.logf("advance %v", time.Duration(d))
	m.vc.Advance(time.Duration(d))
}

// newCB makes the model's record of a callback, or nil past the limit.
func (m *loopModel) newCB(kind cbKind, act *action, depth int) *mcb {
	if m.ncb >= fuzzMaxCallbacks {
		return nil
	}
	m.ncb++
	return &mcb{id: m.ncb, kind: kind, act: act, depth: depth, batch: -1}
}

func (m *loopModel) fn(c *mcb) func() { return func() { m.run(c) } }

// asSoon puts c in the CallSoon FIFO.
func (m *loopModel) asSoon(c *mcb) {
	c.kind, c.seq = kSoon, m.soonNext
	m.soonNext++
	if m.ctx != nil && m.ctx.inBatch {
		c.batch = m.runIdx
	}
}

func (m *loopModel) addHandle(h core.Timer, c *mcb) {
	if c != nil {
		c.h = h
	}
	m.handles = append(m.handles, h)
	m.handleCB = append(m.handleCB, c)
}

func (m *loopModel) callSoon(act *action, depth int) {
	c := m.newCB(kSoon, act, depth)
	if c == nil {
		return
	}
	m.asSoon(c)
	m.logf("CallSoon #%d (soon %d)", c.id, c.seq)
	m.l.CallSoon(m.fn(c))
}

func (m *loopModel) post(act *action, depth int) {
	c := m.newCB(kPost, act, depth)
	if c == nil {
		return
	}
	c.seq = m.postNext
	m.postNext++
	m.logf("Post #%d (post %d)", c.id, c.seq)
	if err := m.l.Post(m.fn(c)); err != nil {
		m.fail("Post: %v", err)
	}
}

// relBase is what a delay is measured from now: the present outside a
// callback; inside one, a reading between its start and its first
// CallLater or CallEvery.
func (m *loopModel) relBase() (lo, hi int64) {
	now := m.now()
	c := m.ctx
	if c == nil {
		return now, now
	}
	if !c.relSet {
		c.rel, c.relSet = now, true
	}
	return c.start, c.rel
}

func (m *loopModel) addTimer(c *mcb, h core.Timer) {
	if h == (core.Timer{}) {
		m.fail("timer #%d (deadline %v..%v) got the zero Timer", c.id, time.Duration(c.lo), time.Duration(c.hi))
		return
	}
	c.seq = m.timerSeq
	m.timerSeq++
	c.nextHi = c.hi
	m.live = append(m.live, c)
	m.livePending++
	if c.lo == c.hi {
		m.byDeadline[c.lo] = append(m.byDeadline[c.lo], c)
	}
	m.addHandle(h, c)
}

func (m *loopModel) callLater(d int64, act *action, depth int) {
	if d <= 0 {
		c := m.newCB(kSoon, act, depth)
		if c == nil {
			return
		}
		m.asSoon(c)
		m.logf("CallLater(%v) #%d (soon %d)", time.Duration(d), c.id, c.seq)
		h := m.l.CallLater(time.Duration(d), m.fn(c))
		if h != (core.Timer{}) {
			m.fail("CallLater(%v) returned a timer, not the zero Timer", time.Duration(d))
		}
		m.addHandle(h, nil)
		return
	}
	c := m.newCB(kTimer, act, depth)
	if c == nil {
		return
	}
	lo, hi := m.relBase()
	c.lo, c.hi = lo+d, hi+d
	m.logf("CallLater(%v) #%d due %v..%v", time.Duration(d), c.id, time.Duration(c.lo), time.Duration(c.hi))
	m.addTimer(c, m.l.CallLater(time.Duration(d), m.fn(c)))
}

func (m *loopModel) callAt(off int64, act *action, depth int) {
	c := m.newCB(kTimer, act, depth)
	if c == nil {
		return
	}
	now := m.now()
	when := now + off
	h := m.l.CallAt(m.vc.Start().Add(time.Duration(when)), m.fn(c))
	// A time past behaves as CallSoon; the present itself may go either way.
	if off < 0 || off == 0 && h == (core.Timer{}) {
		m.asSoon(c)
		m.logf("CallAt(%+v) #%d (soon %d)", time.Duration(off), c.id, c.seq)
		if h != (core.Timer{}) {
			m.fail("CallAt of a time past returned a timer, not the zero Timer")
		}
		m.addHandle(h, nil)
		return
	}
	c.lo, c.hi = when, when
	m.logf("CallAt(%+v) #%d due %v", time.Duration(off), c.id, time.Duration(when))
	m.addTimer(c, h)
}

func (m *loopModel) callEvery(d int64, act *action, depth int) {
	if m.nperiodic >= fuzzMaxPeriodic || m.ctx != nil && m.ctx.cb.kind == kEvery {
		return // bounded: periodic timers do not multiply
	}
	c := m.newCB(kEvery, act, depth)
	if c == nil {
		return
	}
	m.nperiodic++
	lo, hi := m.relBase()
	c.lo, c.hi, c.period = lo+d, hi+d, d
	m.logf("CallEvery(%v) #%d first due %v..%v", time.Duration(d), c.id, time.Duration(c.lo), time.Duration(c.hi))
	m.addTimer(c, m.l.CallEvery(time.Duration(d), m.fn(c)))
}

// cancel cancels a handle picked by sel: self's (a quarter of the time,
// inside a timer's callback) or any handle made so far, or the zero Timer.
func (m *loopModel) cancel(sel byte, self *mcb) {
	var h core.Timer
	var target *mcb
	if self != nil && sel%4 == 0 {
		h = self.h
		if self.kind == kTimer || self.kind == kEvery {
			target = self
		}
	} else if i := int(sel) % (len(m.handles) + 1); i < len(m.handles) {
		h, target = m.handles[i], m.handleCB[i]
	}
	want := target != nil && target.st == stPending
	got := m.l.Cancel(h)
	id := 0
	if target != nil {
		id = target.id
	}
	m.logf("Cancel(#%d) = %v", id, got)
	if got != want {
		m.fail("Cancel(timer #%d) = %v, want %v", id, got, want)
		return
	}
	if got {
		target.st = stCancelled
		m.livePending--
	}
}

func (m *loopModel) pending() int {
	return m.soonNext - m.soonRan + m.postNext - m.postRan + m.livePending
}

func (m *loopModel) checkPending() {
	if got, want := m.l.Pending(), m.pending(); got != want {
		m.fail("Pending() = %d, want %d (%d queued, %d posted, %d timers)",
			got, want, m.soonNext-m.soonRan, m.postNext-m.postRan, m.livePending)
	}
}

// run is every callback's body: it checks that c may run now, updates the
// model, and does c's action.
func (m *loopModel) run(c *mcb) {
	if m.closed || m.failed {
		return
	}
	now := m.now()
	if !m.inRun {
		m.fail("callback #%d ran outside RunOnce", c.id)
		return
	}
	if c.st != stPending {
		m.fail("callback #%d ran after it had run or was cancelled (state %d)", c.id, c.st)
		return
	}
	switch c.kind {
	case kSoon:
		if c.seq != m.soonRan {
			m.fail("CallSoon #%d ran at FIFO position %d, but was queued at %d", c.id, m.soonRan, c.seq)
			return
		}
		if c.batch == m.runIdx {
			m.fail("CallSoon #%d, queued by a ready callback, ran in the same iteration", c.id)
			return
		}
		m.soonRan++
		c.st = stDone
	case kPost:
		if c.seq != m.postRan {
			m.fail("Post #%d ran at posting position %d, but was posted at %d", c.id, m.postRan, c.seq)
			return
		}
		m.postRan++
		c.st = stDone
	case kTimer, kEvery:
		earliest := c.lo + int64(c.runs)*c.period
		if now < earliest {
			m.fail("timer #%d (run %d) fired %v early: due %v", c.id, c.runs, time.Duration(earliest-now), time.Duration(earliest))
			return
		}
		if c.runs == 0 && c.lo == c.hi {
			for _, o := range m.byDeadline[c.lo] {
				if o == c {
					break
				}
				if o.st == stPending && o.runs == 0 {
					m.fail("timer #%d fired before timer #%d, scheduled earlier for the same deadline %v", c.id, o.id, time.Duration(c.lo))
					return
				}
			}
		}
		c.runs++
		if c.kind == kTimer {
			c.st = stDone
			m.livePending--
		} else {
			c.nextHi = now + c.period
		}
	}
	m.logf("ran #%d", c.id)
	prev := m.ctx
	m.ctx = &cbCtx{cb: c, start: now, inBatch: c.kind == kSoon || c.kind == kPost}
	m.do(c)
	m.ctx = prev
}

// do does c's action, on the loop goroutine inside c.
func (m *loopModel) do(c *mcb) {
	a := c.act
	switch a.kind {
	case actSoon:
		m.callSoon(a.child, c.depth+1)
	case actPost:
		m.post(a.child, c.depth+1)
	case actLater:
		m.callLater(m.delay(a.sel), a.child, c.depth+1)
	case actAt:
		m.callAt(m.offset(a.sel), a.child, c.depth+1)
	case actEvery:
		m.callEvery(m.period(a.sel), a.child, c.depth+1)
	case actCancel:
		m.cancel(a.sel, c)
	case actAdvance:
		// A slow callback: the clock moves while it runs.
		m.advance([]int64{0, 1, m.tick / 2, m.tick + 1}[a.sel%4])
	case actPending:
		m.checkPending()
	}
}

// runOnce runs one RunOnce(false) and checks what it had to run: each timer
// a tick or more past its deadline when it began, and a batch of the ready
// callbacks queued or posted before it.
func (m *loopModel) runOnce() {
	start := m.now()
	due := m.dueBuf[:0]
	for _, c := range m.live {
		if c.st == stPending && c.bound() <= start-m.tick {
			due = append(due, dueTimer{c, c.runs})
		}
	}
	m.dueBuf = due
	soon0, soonNext0 := m.soonRan, m.soonNext
	post0, postNext0 := m.postRan, m.postNext
	m.logf("RunOnce %d", m.runIdx)
	m.inRun = true
	err := m.l.RunOnce(false)
	m.inRun = false
	m.runIdx++
	if err != nil {
		m.fail("RunOnce: %v", err)
	}
	if m.failed {
		return
	}
	for _, d := range due {
		if d.cb.st != stCancelled && d.cb.runs == d.runs {
			m.fail("timer #%d (run %d, due by %v) did not fire in a RunOnce at %v, more than a tick late",
				d.cb.id, d.runs, time.Duration(d.cb.bound()), time.Duration(start))
			return
		}
	}
	queued := soonNext0 - soon0 + postNext0 - post0
	ran := min(m.soonRan, soonNext0) - soon0 + min(m.postRan, postNext0) - post0
	if want := min(m.batch, queued); ran < want {
		m.fail("RunOnce ran %d of the %d callbacks queued or posted before it, want at least %d (batch %d)", ran, queued, want, m.batch)
		return
	}
	live := m.live[:0]
	for _, c := range m.live {
		if c.st == stPending {
			live = append(live, c)
		}
	}
	clear(m.live[len(live):])
	m.live = live
}

// drain runs RunOnce until the callbacks queued or posted before it have
// run, and the one-shot timers made before it that are a tick past due have
// fired. What those schedule in turn, and periodic timers (whose callbacks
// may move the clock on each run, so that they are always due again), are
// left to the checks of each RunOnce.
func (m *loopModel) drain() {
	soonNext0, postNext0, ncb0 := m.soonNext, m.postNext, m.ncb
	for range 10000 {
		if m.failed {
			return
		}
		busy := m.soonRan < soonNext0 || m.postRan < postNext0
		for _, c := range m.live {
			busy = busy || c.kind == kTimer && c.id <= ncb0 && c.st == stPending && c.bound() <= m.now()-m.tick
		}
		if !busy {
			return
		}
		m.runOnce()
	}
	m.fail("still busy after 10000 RunOnce calls")
}
