package loop

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/loopgen/loop/generated"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
	"github.com/loopgen/loop/handwritten/poller"
)

// Errors returned by the loop. Compare with errors.Is.
var (
	// ErrClosed is returned by Post, Run, RunOnce, AddReader and AddWriter
	// after Close (AddReader and AddWriter return ErrNoPoller instead on a
	// variant without a poller).
	ErrClosed = core.ErrClosed
	// ErrRunning is returned by Run or RunOnce while the loop is running.
	ErrRunning = core.ErrRunning
	// ErrQueueFull is returned by Post on a variant with overflow: reject
	// whose inbox is full.
	ErrQueueFull = core.ErrQueueFull
	// ErrNoPoller is returned by AddReader, AddWriter and BackendFd on a
	// variant generated with poller: none.
	ErrNoPoller = poller.ErrNoPoller
	// ErrNoBackendFd is returned by BackendFd on a variant whose poller is
	// poll(2), which has no descriptor that stands for all it watches.
	ErrNoBackendFd = poller.ErrNoFd
	// ErrWrongGoroutine is returned (wrapped, naming the method) by
	// AddReader and AddWriter called while the loop waits for work, which
	// shows that they were called from another goroutine than the loop's;
	// package sock's Listen, Dial, ListenPacket and DialPacket return it too. See
	// Waiting.
	ErrWrongGoroutine = core.ErrWrongGoroutine
)

// Timer is a handle to a scheduled callback, for Cancel. The zero Timer
// refers to no timer. A handle stays safe to use after its timer fired or was
// cancelled: it does not cancel a later timer (barring 2^32 reuses of its
// slot in between; see Cancel).
type Timer = core.Timer

// Params are the spec values of a generated variant (documented on
// handwritten/core.Params, with Horizon, how far ahead the wheel places a
// timer directly, and String).
type Params = core.Params

// Stats are a loop's counters (documented on handwritten/core.Stats, with
// its fields: Iterations, Callbacks, Timers, Events, Polls and Gathers).
// Variants generated with stats: true keep them; the others report zeros.
type Stats = core.Stats

// VirtualClock is a clock that moves only when told to, for tests of timer
// logic that run instantly and deterministically. See WithClock. Its methods,
// documented on handwritten/clock.Virtual: Advance(d) and AdvanceTo(t) move
// it forward and wake the loops that use it; Now, Start and Elapsed read it.
type VirtualClock = clock.Virtual

// NewVirtualClock returns a virtual clock that reads start until advanced.
func NewVirtualClock(start time.Time) *VirtualClock { return clock.NewVirtual(start) }

// Loop is an event loop. Its methods belong to the goroutine that runs it
// (the loop goroutine; before Run, the goroutine that will call Run), except
// Post, Stop, Closed and Waiting, which are safe from any goroutine, and
// Close (see Close).
// Make one with New: the zero Loop has no poller, queues or clock, so its
// Post, Run and RunOnce return an error saying so, and its other methods may
// panic.
type Loop struct {
	v generated.Loop
	// clock is WithClock's, for RunFor to step; made says New made the
	// loop (RunFor on the zero Loop returns Run's error for it).
	clock *VirtualClock
	made  bool
	// stopped is set by Stop and cleared when Run or RunOnce returns, so
	// that RunFor, which runs the loop with RunOnce, sees a Stop that one
	// of them consumed.
	stopped atomic.Bool
}

// Option configures New. Given twice, an option's later value wins (a
// second WithPanicHandler replaces the first).
type Option func(*options)

// options is what the Options set, and the first mistake among them.
type options struct {
	cfg core.Config
	err error
}

// WithClock makes the loop read c instead of the monotonic clock: timers fire
// only as c is advanced, and advancing c wakes the loop. A nil c makes New
// fail: a test that meant to pass a clock would otherwise run on real time.
// A loop that runs on a goroutine of its own (a sock.Group's) runs the timers
// an Advance made due at its next iteration, after the I/O that iteration
// found ready: a test that advances past a deadline and then sends a request
// may see it answered first. To know the timers have run, Post a callback
// after the Advance that queues the next step with CallSoon: that step runs
// in a later iteration, which reads the clock afresh and runs the timers due
// before its ready callbacks. (The posted callback alone may run in an
// iteration that read the clock just before the Advance.) Deadlines count
// from the clock as the loop read it: a CallLater in a posted callback that
// runs only after an Advance counts from the advanced time, so let posted
// work run (the same barrier) before advancing past what it schedules.
func WithClock(c *VirtualClock) Option {
	return func(o *options) {
		if c == nil && o.err == nil {
			o.err = errors.New("loop: WithClock(nil): no clock to read")
		}
		o.cfg.Clock = c
	}
}

// WithPanicHandler sets the function that receives what a callback panicked
// with. It runs on the loop goroutine inside the deferred recover, so
// runtime/debug.Stack shows the panicking callback; the loop then goes on with
// the next callback. Without it, or with a nil h, the value and stack are
// printed to standard error. (A variant generated with recover: false lets
// panics propagate.) A handler that panics itself ends the callback's batch
// and unwinds out of Run, or out of Close while it runs what was queued
// before it; the loop's descriptors are released either way once it closes.
func WithPanicHandler(h func(recovered any)) Option {
	return func(o *options) { o.cfg.PanicHandler = h }
}

// New returns a loop of the selected variant. It opens the poller and its
// wake-up descriptor; Close releases them. A nil Option, or WithClock(nil),
// is an error.
func New(opts ...Option) (*Loop, error) {
	var o options
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("loop: New: option %d is nil", i)
		}
		opt(&o)
	}
	if o.err != nil {
		return nil, o.err
	}
	cfg := o.cfg
	l := &Loop{clock: cfg.Clock, made: true}
	if err := l.v.Init(cfg); err != nil {
		return nil, err
	}
	return l, nil
}

// CallSoon queues fn to run on the loop, after everything queued before it.
// Callbacks queued while a batch runs wait for the next iteration, so I/O and
// timers are not starved. Loop goroutine only; from elsewhere use Post.
// A nil fn panics.
func (l *Loop) CallSoon(fn func()) { l.v.CallSoon(fn) }

// Post queues fn from any goroutine and wakes the loop if it is blocked (one
// wake-up per sleep, however many posts). A nil error means fn will run: it
// is never dropped, even if Close follows at once. After Close it returns
// ErrClosed; a nil fn is an error. Each goroutine's posts run in the order
// it made them. A Post that finds the inbox full yields the calling goroutine
// a few times before it spills (see the spec's overflow in the README): from
// another loop's callback that holds up that loop too, so two loops that
// flood each other with posts slow each other down. While posts stream in, a
// variant with inbox.gather (the default's is 4µs) lets them gather into a
// batch for at most that long before running them; a lone post runs at once.
func (l *Loop) Post(fn func()) error { return l.v.Post(fn) }

// CallLater runs fn once, no earlier than d from now and, on an idle loop, at
// most one wheel tick later, plus the time the system takes to wake the loop's
// thread (see the README). Equal deadlines run in the order scheduled.
// d <= 0 behaves as CallSoon and returns the zero Timer, which Cancel and
// Reschedule do nothing with: unlike asyncio's call_later(0), such a call
// cannot be taken back (see the README's Coming from asyncio). Inside a callback,
// "now" is the clock as read when the callback first scheduled a timer (one
// read per callback that schedules, not per call), so callbacks that ran
// before it cannot make it early; to measure from the exact present after a
// long computation in the same callback, use CallAt(l.Now().Add(d), fn)
// (l.Now, not time.Now: under a virtual clock the loop's time is the clock's).
// Loop time ends 2^62 ns (about 146 years) after the loop began: a deadline
// beyond that is due then.
// A nil fn panics.
func (l *Loop) CallLater(d time.Duration, fn func()) Timer { return l.v.CallLater(d, fn) }

// CallAt runs fn once, no earlier than t. A t already past, or the loop's
// present itself, behaves as CallSoon and returns the zero Timer, as
// CallLater(0) does: it runs before a timer for the same t scheduled while t
// was ahead whose tick the clock has not reached yet (once it has, that timer
// runs first: an iteration runs its due timers before its ready callbacks).
// Under a virtual clock, t is read against that clock.
// A nil fn panics.
func (l *Loop) CallAt(t time.Time, fn func()) Timer { return l.v.CallAt(t, fn) }

// CallEvery runs fn every d, the first time d from now, on a fixed schedule:
// a late run does not delay the next ones, and periods whose deadline is at
// or before the end of the tick being run are skipped (a run up to a tick
// late, as any timer may be, misses no period; a loop more than a tick late
// skips). So a d shorter than the wheel's tick runs once a tick. A test on
// a virtual clock that lets the loop run an iteration after each Advance
// sees every run if each step is at most a tick, or at most d less a tick
// (10ms steps for a d of 50ms on a 1ms tick); a longer step can leave a run
// late enough that the next period is skipped, and one Advance past
// several periods sees one run.
// A run that panics does not stop it. Cancel stops it (also from inside
// fn). d <= 0 panics. A nil fn panics.
func (l *Loop) CallEvery(d time.Duration, fn func()) Timer { return l.v.CallEvery(d, fn) }

// Cancel stops t and reports whether it was still pending: false for a timer
// that already fired or was cancelled, and for the zero Timer, which is what
// CallLater with d <= 0 and CallAt of a past t return (their fn runs
// regardless). O(1). A Timer
// belongs to the loop that made it: another loop's Cancel returns false for it
// and cancels nothing (handles carry a generation that starts at a random
// point per loop, so a mix-up goes unnoticed with odds of 2^-31).
func (l *Loop) Cancel(t Timer) bool { return l.v.Cancel(t) }

// Reschedule moves the pending timer t to fire d from now, keeping its handle
// and callback; a CallEvery timer runs next d from now and every period from
// then on. d <= 0 gives it a deadline of now: like any timer's, it runs in
// the first iteration that processes its deadline's tick, which is the
// next one when the clock stands on a tick the loop has not processed yet,
// and otherwise up to a tick later (on a virtual clock, once the clock has
// moved on). Unlike CallLater's, such a d does not turn it into a
// CallSoon. It returns
// false, and does nothing, where Cancel would: for a timer that already fired
// or was cancelled, the zero Timer, a stale handle or another loop's; then
// make a new one with CallLater. O(1), no allocation: re-arming a deadline on
// every bit of activity (an idle timeout) is one call, and the handle stays
// the same.
func (l *Loop) Reschedule(t Timer, d time.Duration) bool { return l.v.Reschedule(t, d) }

// Now returns the loop's current time (the virtual clock's, under WithClock).
func (l *Loop) Now() time.Time { return l.v.Now() }

// AddReader calls fn on the loop goroutine whenever fd is readable
// (level-triggered, like asyncio's add_reader), replacing an earlier reader
// of fd. The fd stays the caller's: remove it before closing it. Sockets,
// pipes and terminals behave alike on every backend; other files do not:
// epoll refuses regular files and directories (EPERM) where poll and
// kqueue take them, and on darwin kqueue does not tell a reader of a named
// FIFO that its last writer has closed (Go's os package keeps FIFOs out of
// its poller on darwin for that reason).
// Adding a watch the poller refuses (such as a writer on a pipe whose
// reader has gone, which FreeBSD's kqueue refuses with EPIPE) returns the
// error and leaves fd's other watch as it was.
// Called while the loop waits, so from another goroutine, it returns an
// error wrapping ErrWrongGoroutine (see Waiting). A nil fn panics.
func (l *Loop) AddReader(fd int, fn func()) error { return l.v.AddReader(fd, fn) }

// AddWriter calls fn on the loop goroutine whenever fd is writable,
// replacing an earlier writer of fd.
// Called while the loop waits, it returns an error wrapping
// ErrWrongGoroutine, as AddReader does. A nil fn panics.
func (l *Loop) AddWriter(fd int, fn func()) error { return l.v.AddWriter(fd, fn) }

// RemoveReader stops watching fd for reading and reports whether it was
// watched. Readiness already reported for fd in this iteration is dropped.
func (l *Loop) RemoveReader(fd int) bool { return l.v.RemoveReader(fd) }

// RemoveWriter stops watching fd for writing and reports whether it was
// watched. Readiness already reported for fd in this iteration is dropped.
func (l *Loop) RemoveWriter(fd int) bool { return l.v.RemoveWriter(fd) }

// Run runs the loop on the calling goroutine until Stop or Close. It blocks
// in the poller until the next timer, I/O or a post; it never sleeps a fixed
// time. With no fds registered and no timer pending it waits on a channel
// for a post, so a program in which nothing else could ever post or stop it
// ends with the runtime's "all goroutines are asleep" deadlock error, as a
// select {} would. It returns ErrRunning if the loop is already running and
// ErrClosed after Close. If the poller's wait fails (its descriptor closed
// or replaced from outside, say), Run returns that error, wrapped as
// "loop: poller: ...", rather than go round; RunOnce does too. Run may be
// called again after it returns: what is still queued then runs.
func (l *Loop) Run() error {
	defer l.stopped.Store(false)
	return l.v.Run()
}

// RunOnce runs one iteration (posted callbacks, I/O, due timers and one batch
// of ready callbacks), for embedding the loop in another. With block it first
// waits until there is something to do, and returns only once it has run
// something (an I/O callback, a timer or a ready callback) or a Stop or Close
// ended the wait: an iteration that ran nothing (a timer beyond the wheel's
// first level moved down a level, a wake-up left over from an earlier
// iteration) waits again. Under a virtual clock with nothing due, it waits
// until another goroutine advances the clock (or calls Stop or Close): a
// goroutine that steps time itself calls RunOnce(false) after each Advance.
// A Stop made before or during RunOnce is consumed by it. A Close from
// another goroutine that ends its wait makes it release the loop (what was
// queued runs, then the AtClose functions) and return nil, with Closed
// true; every later call returns ErrClosed.
func (l *Loop) RunOnce(block bool) error {
	err := l.v.RunOnce(block)
	if l.stopped.Load() {
		l.stopped.Store(false)
	}
	return err
}

// RunFor runs the loop for d of its clock's time, then returns; a Stop (or
// a Close) ends it sooner. On the monotonic clock it is Run with a timer
// that stops it after d. Under a virtual clock it moves the clock itself,
// from one wake-up of the loop to the next (NextWake) until d has passed,
// and at each runs what is due, with what that queues (RunOnce(false)
// until nothing is due), so that a test steps through every timer in d in
// deadline order and with the time each fires at, with no goroutine of its
// own: the loop goroutine calls it, as it calls RunOnce. Time that another
// goroutine (or a callback) advances the clock by counts toward d. I/O
// readiness is looked at in each RunOnce, not waited for. It returns what
// Run or RunOnce returns: ErrClosed after Close, ErrRunning inside Run.
func (l *Loop) RunFor(d time.Duration) error {
	if !l.made {
		return l.v.Run() // the zero Loop's error
	}
	if l.clock == nil {
		stopped := false
		t := l.v.CallLater(d, func() {
			stopped = true
			l.v.Stop()
		})
		err := l.Run()
		if !stopped {
			l.v.Cancel(t) // Run ended first: a Stop, a Close, or an error
		}
		return err
	}
	end := l.v.Now().Add(d)
	for {
		// What is due at the clock's present, and what that queues.
		for {
			if err := l.v.RunOnce(false); err != nil || l.stopped.Load() || l.v.Closed() {
				// Closed from a callback: RunOnce has released the loop, and
				// RunFor returns nil, as Run does.
				l.stopped.Store(false)
				return err
			}
			if next, ok := l.v.NextWake(); !ok || next > 0 {
				break
			}
		}
		now := l.v.Now()
		if !now.Before(end) {
			return nil
		}
		to := end
		if next, ok := l.v.NextWake(); ok && now.Add(next).Before(end) {
			to = now.Add(next)
		}
		l.clock.AdvanceTo(to)
	}
}

// Stop makes Run return after the current iteration; what is still queued
// stays queued. Safe from any goroutine. Called while the loop is not
// running, it makes the next Run return after one iteration (as asyncio's
// stop does).
func (l *Loop) Stop() {
	l.stopped.Store(true)
	l.v.Stop()
}

// Close shuts the loop down. From then on Post, Run, RunOnce, AddReader and
// AddWriter return ErrClosed (ErrNoPoller for the last two on a variant
// without a poller); what was posted or queued before runs once more
// (and what that queues, for a few rounds); pending timers are dropped,
// also those already due in the iteration Close is made in (from a timer or
// from another goroutine) and not yet run, while the readers and writers the
// poller reported ready in that iteration still run, with Closed true; the
// functions given to AtClose run; the poller and wake-up descriptors are
// released. Closing twice does nothing. A timer made by a callback Close
// runs never fires either, though its Timer is not the zero one. Once the
// loop is released, CallSoon, CallLater, CallAt and CallEvery drop fn
// (nothing would run it; the timer functions return the zero Timer). Close returns nil; its error
// is there for io.Closer (the poller's descriptors are released whether or
// not their close reports an error, and that often happens after Close has
// returned, at the end of Run).
//
// Close is safe from a callback, and from any goroutine while Run is active:
// it makes Run return, and Run releases the loop before it returns. Such a
// Close returns at once, before that work is done: to know that everything
// has run, wait for Run to return. On a loop that is not running, Close does
// that work on the calling goroutine, which then acts as the loop goroutine:
// do not call it while another goroutine is using the loop between RunOnce
// calls: a host that drives the loop with RunOnce closes it itself, or has
// it closed from a callback (l.Post(func() { l.Close() }) from another
// goroutine), so that the release runs in its next RunOnce. So a goroutine that starts Run while another may Close can see Run
// return ErrClosed at once (the Close came first and did the work) or nil.
func (l *Loop) Close() error { return l.v.Close() }

// AtClose registers fn to run when the loop closes, as a callback after the
// ones queued or posted before Close; what fn queues runs too. A package that
// opens things on the loop uses it to release them: package sock closes the
// sockets still open on a loop that closes. Loop goroutine only (or before
// Run). Called after Close, fn runs with the callbacks Close runs, or at once
// if those have begun (or are over).
// A nil fn panics.
func (l *Loop) AtClose(fn func()) { l.v.AtClose(fn) }

// Variant returns the name and spec values of the variant in use.
func (l *Loop) Variant() Params { return l.v.Variant() }

// Stats returns the loop's counters; zeros unless the variant keeps them.
// Loop goroutine only, or after Run has returned.
func (l *Loop) Stats() Stats { return l.v.Stats() }

// Pending counts the callbacks queued or posted and the timers scheduled,
// and not yet run.
// Loop goroutine only.
func (l *Loop) Pending() int { return l.v.Pending() }

// NextWake returns how long the loop has nothing to do, for a host that
// embeds it (RunOnce(false) from the host's own loop) and waits on its own
// events: 0 when a callback is queued or posted or a timer is due, so
// RunOnce(false) has work now; the time until the timer wheel's next work
// otherwise, which may come before the next timer's deadline (the wheel
// moves timers between its levels then, and RunOnce runs no callback);
// and false when no timer is scheduled, so that only I/O or a Post can
// give the loop work (a Post from another goroutine wakes only a loop
// blocked in Run or RunOnce(true), or a host that waits on BackendFd after
// PrepareWait). Nor does fd readiness show in it: a host whose loop
// watches descriptors (sockets) waits on BackendFd, caps its wait at the
// latency it can bear, or runs the loop on a goroutine of its own with Run
// and has callbacks hand results back. Under a virtual clock the duration
// is on that clock: a test can Advance by it, then call RunOnce(false).
// Loop goroutine only.
func (l *Loop) NextWake() (d time.Duration, ok bool) { return l.v.NextWake() }

// BackendFd returns a descriptor that a host which embeds the loop waits on
// in its own event loop (poll, epoll or kqueue, or a GUI toolkit's watch of
// a descriptor), as libuv's uv_backend_fd: it is readable when a watched
// descriptor is ready and, after PrepareWait, when a Post, a Stop or a
// virtual clock's advance comes. The host's turn is then:
//
//	d, ok := l.PrepareWait()  // how long it may wait (ok false: no limit)
//	// wait for BackendFd to be readable, beside the host's own events, at most d
//	l.RunOnce(false)          // always, whatever ended the wait
//
// It is the epoll instance (Linux) or the kqueue (darwin, the BSDs), the
// loop's own: read nothing from it, and do not close it or watch it with
// the loop itself. Watch it level-triggered (not EPOLLET or EV_CLEAR): it
// stays readable while the loop has readiness it has not dispatched, and an
// edge-triggered watch hears of that once, then waits for good. A variant with the poll(2) poller has none
// (ErrNoBackendFd), nor one without a poller (ErrNoPoller); after Close it
// returns ErrClosed. Loop goroutine only.
func (l *Loop) BackendFd() (int, error) { return l.v.BackendFd() }

// PrepareWait tells the loop that its host is about to wait on BackendFd,
// and returns how long it may: NextWake's answer, with 0 when there is work
// now (no wait then). From then until the next RunOnce the loop counts as
// waiting, as it does when it blocks itself: a Post, Stop or clock advance
// from another goroutine makes BackendFd readable, and Waiting reports true,
// so AddReader, AddWriter and package sock's Listen, Dial, ListenPacket and DialPacket
// refuse (ErrWrongGoroutine): call RunOnce(false) after the wait, before
// anything else on the loop. That RunOnce takes the wake-up out of the
// descriptor, so that the next wait does not end at once (one that comes
// after it, from a Post that saw the wait announced, ends one wait early).
// On a closed loop it returns 0 (no wait: the descriptor is released, and
// RunOnce says ErrClosed). To close the loop from another goroutine, post
// the Close, l.Post(func() { l.Close() }), which wakes the host: a Close
// made there directly releases the descriptor while the host waits on it,
// which does not end that wait (and its number may be reused). While a
// Post is between its two steps (its producer descheduled halfway), the
// wait it allows is short (50 µs), as Run's own is then, instead of 0: the
// RunOnce after it could not take that post yet. On a variant without a
// poller it returns NextWake's answer. Loop goroutine only.
func (l *Loop) PrepareWait() (d time.Duration, ok bool) { return l.v.PrepareWait() }

// Closed reports whether Close has been called (asyncio's is_closed): from
// then on Post, Run, RunOnce, AddReader and AddWriter return ErrClosed, also
// in the callbacks queued before Close, which still run. Any goroutine.
func (l *Loop) Closed() bool { return l.v.Closed() }

// Waiting reports whether the loop goroutine is blocked waiting for work (in
// Run or RunOnce(true)), or has announced that it is about to be, or its
// host has announced a wait with PrepareWait and not yet called RunOnce.
// No callback runs then, so a goroutine that sees true is not the loop
// goroutine (but for a host between PrepareWait and RunOnce): a method that
// belongs to the loop goroutine, called now, is called from the wrong one. False proves nothing (the loop may be running
// callbacks, or not be running at all). AddReader and AddWriter return
// ErrWrongGoroutine when they see it, and so do package sock's Listen, Dial
// and ListenPacket: the mistake of setting up a socket from main on a loop
// that already runs elsewhere (a sock.Group's; use Group.Each or l.Post)
// then fails with an error that says so, where it would otherwise race with
// the loop (which the race detector may report). Only those check: the
// other methods, those on the hot paths among them (CallSoon, CallLater,
// Cancel, Conn.Write), do not. Any goroutine.
func (l *Loop) Waiting() bool { return l.v.Waiting() }
