package tests

import (
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"weak"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// Edges of the loop's queues, Run/Stop/Close and I/O dispatch that the rest
// of the suite passed through without checking: each test here fails on a
// one-line change to the generated loop that every other test let through.

// postN posts n callbacks that append their index to *got, stopping early
// only where overflow: reject refuses one; it returns how many were accepted.
func postN(t *testing.T, l core.Loop, v all.Variant, n int, got *[]int) int {
	t.Helper()
	for i := range n {
		if err := l.Post(func() { *got = append(*got, i) }); err != nil {
			if errors.Is(err, core.ErrQueueFull) && v.Params.Overflow == "reject" {
				return i
			}
			t.Fatalf("Post %d: %v", i, err)
		}
	}
	return n
}

// A single producer's posts run in the order it made them even when they
// overflow the inbox: the ones that spilled were posted after the ones in
// the ring, so the ring has to be emptied first. Only the eight-producer
// race checked the order, and only when its timing made the ring overflow.
func TestPostsBeyondTheInboxRunInPostingOrder(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		var got []int
		n := postN(t, l, v, 3*v.Params.InboxDepth, &got)
		runUntilIdle(t, l)
		if len(got) != n {
			t.Fatalf("ran %d of %d posted callbacks", len(got), n)
		}
		for i, x := range got {
			if x != i {
				t.Fatalf("post %d ran at position %d", x, i)
			}
		}
	})
}

// The inbox, like the ready queue, must let go of a callback once it has
// been handed to the loop: a slot of the ring or of the spill buffers that
// kept its closure would keep whatever it captured alive until the slot is
// reused, which on an idle loop is never.
func TestPostedCallbacksAreNotKeptAliveOnceRun(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		type payload struct{ b [64]byte }
		// Beyond the inbox's depth, so that the spill path is covered too.
		n := 2 * v.Params.InboxDepth
		weaks := make([]weak.Pointer[payload], 0, n)
		post := func() error {
			p := new(payload)
			if err := l.Post(func() { p.b[0]++ }); err != nil {
				return err
			}
			weaks = append(weaks, weak.Make(p))
			return nil
		}
		for range n {
			if err := post(); err != nil {
				if errors.Is(err, core.ErrQueueFull) && v.Params.Overflow == "reject" {
					break
				}
				t.Fatal(err)
			}
		}
		runUntilIdle(t, l)
		runtime.GC()
		for i, w := range weaks {
			if w.Value() != nil {
				t.Fatalf("posted callback %d of %d has run but its closure is still reachable", i, len(weaks))
			}
		}
	})
}

// An iteration moves at most a batch of posted callbacks to the ready queue
// (the rest wait in the inbox, so a producer that outruns the loop meets a
// full inbox and slows down). What the loop queues in between is therefore
// ahead of the posts left over: that order is how the bound shows. It is
// checked also with an fd registered, where the loop polls and takes posts
// a second time in the iteration, within what is left of the same budget.
func TestAnIterationTakesAtMostABatchOfPostedCallbacks(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		for _, withFd := range []bool{false, true} {
			if withFd && v.Params.Poller == "none" {
				continue
			}
			batch := v.Params.Batch
			if v.Params.Overflow == "reject" && batch+1 > v.Params.InboxDepth {
				t.Skip("the inbox cannot hold a batch and one more")
			}
			if v.Params.Inbox == "mpsc" && batch+1 > v.Params.InboxDepth {
				// The rest spills, and drain takes the spill whole once the ring
				// is empty: in the first iteration, with the batch.
				t.Skip("a batch and one more do not fit the ring")
			}
			l := newLoop(t, v, core.Config{})
			if withFd {
				a, _ := socketpair(t) // never readable: only makes the loop poll
				if err := l.AddReader(a, func() {}); err != nil {
					t.Fatal(err)
				}
			}
			var got []int
			postN(t, l, v, batch+1, &got)
			runOnce(t, l)
			if len(got) != batch {
				t.Fatalf("fd registered %v: the first iteration ran %d posted callbacks, want a batch of %d", withFd, len(got), batch)
			}
			l.CallSoon(func() { got = append(got, -1) })
			runOnce(t, l)
			runOnce(t, l)
			if want := []int{-1, batch}; !slices.Equal(got[batch:], want) {
				t.Fatalf("fd registered %v: after the first batch ran %v, want %v: the last post left the inbox in the first iteration", withFd, got[batch:], want)
			}
		}
	})
}

// An iteration runs at most a batch of ready callbacks: exactly a batch when
// more are queued, not one more.
func TestAnIterationRunsExactlyABatchWhenMoreIsQueued(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		ran := 0
		for range v.Params.Batch + 1 {
			l.CallSoon(func() { ran++ })
		}
		runOnce(t, l)
		if ran != v.Params.Batch || l.Pending() != 1 {
			t.Fatalf("one iteration ran %d of %d queued callbacks, Pending() = %d: want a batch of %d, 1 left",
				ran, v.Params.Batch+1, l.Pending(), v.Params.Batch)
		}
	})
}

// Pending counts posted callbacks still in the inbox, and only those: after
// an iteration that took part of them, the rest.
func TestPendingCountsPostsLeftInTheInbox(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		var got []int
		n := postN(t, l, v, v.Params.Batch+v.Params.InboxDepth+10, &got) // spills where it can
		if p := l.Pending(); p != n {
			t.Fatalf("after %d posts: Pending() = %d", n, p)
		}
		for len(got) < n {
			runOnce(t, l)
			if p := l.Pending(); p != n-len(got) {
				t.Fatalf("%d of %d posts ran: Pending() = %d, want %d", len(got), n, p, n-len(got))
			}
		}
	})
}

// Run consumes the Stop that ended it: the next Run goes on until it is
// stopped again. With the request left set, the second Run returned after
// one iteration and the chain below stopped short.
func TestRunConsumesTheStopThatEndedIt(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		l.CallSoon(l.Stop)
		if err := l.Run(); err != nil {
			t.Fatal(err)
		}
		// Each link runs an iteration after the one before.
		const links = 5
		ran := 0
		var link func()
		link = func() {
			if ran++; ran == links {
				l.Stop()
			} else {
				l.CallSoon(link)
			}
		}
		l.CallSoon(link)
		if err := l.Run(); err != nil {
			t.Fatal(err)
		}
		if ran != links {
			t.Fatalf("the second Run ran %d of %d iterations' callbacks: the first Run's Stop was still pending", ran, links)
		}
	})
}

// A Stop made while the loop is not running makes the next Run return after
// one iteration: not before running it, and not after a second one.
func TestStopBeforeRunLetsExactlyOneIterationRun(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		var ran []string
		l.CallSoon(func() {
			ran = append(ran, "first")
			l.CallSoon(func() { ran = append(ran, "next iteration") })
		})
		l.Stop()
		if err := l.Run(); err != nil {
			t.Fatal(err)
		}
		if want := []string{"first"}; !slices.Equal(ran, want) {
			t.Fatalf("Run after Stop ran %q, want one iteration: %q", ran, want)
		}
	})
}

// What is posted while the loop polls, by an I/O callback of that poll as by
// another goroutine, runs in the same iteration: the loop takes posts again
// after the poll, within what is left of the iteration's budget. A loop that
// took posts only before polling would leave them for the next iteration.
func TestPostFromAnIOCallbackRunsInTheSameIteration(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, b := socketpair(t)
		posted, ran := false, false
		if err := l.AddReader(a, func() {
			l.RemoveReader(a)
			if err := l.Post(func() { ran = true }); err != nil {
				t.Error(err)
			}
			posted = true
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(b, []byte("x")); err != nil {
			t.Fatal(err)
		}
		runOnce(t, l) // the socket is readable before the wait
		if !posted {
			t.Fatal("the reader did not run")
		}
		if !ran {
			t.Fatal("a callback posted by a reader did not run in the reader's iteration")
		}
	})
}

// Close runs what was posted before it ahead of the AtClose functions, as it
// does for what was queued: AtClose's functions release what those
// callbacks may still use.
func TestCloseRunsPostedCallbacksBeforeAtCloseFunctions(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		var order []string
		l.CallSoon(func() { order = append(order, "queued") })
		if err := l.Post(func() { order = append(order, "posted") }); err != nil {
			t.Fatal(err)
		}
		l.AtClose(func() { order = append(order, "atClose") })
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if want := []string{"queued", "posted", "atClose"}; !slices.Equal(order, want) {
			t.Fatalf("Close ran %q, want %q", order, want)
		}
	})
}

// captureStderr runs fn with os.Stderr sent to a temporary file and returns
// what was written there.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stderr
	os.Stderr = f
	func() {
		defer func() { os.Stderr = saved }()
		fn()
	}()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Without a PanicHandler a callback's panic is reported on standard error and
// the loop goes on. Every other panic test sets a handler, so none of them
// would notice a loop that left the default unset and crashed instead.
func TestAPanicWithoutAHandlerIsReportedAndTheLoopGoesOn(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Recover {
			t.Skip("recover: false: a panic ends the program")
		}
		l := newLoop(t, v, core.Config{})
		after := false
		l.CallSoon(func() { panic("no handler here") })
		l.CallSoon(func() { after = true })
		out := captureStderr(t, func() { runUntilIdle(t, l) })
		if !after {
			t.Fatal("the callback after the panicking one did not run")
		}
		if !strings.Contains(out, "no handler here") {
			t.Fatalf("standard error does not report the panic: %q", out)
		}
	})
}

// An error alone, with no writability, runs the fd's writer: the write end of
// a full pipe whose read end closed is not writable, and only its writer's
// next write (EPIPE) tells it so.
func TestAWriterRunsOnAnErrorWithoutWritability(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		var p [2]int
		if err := nonblockingPipe(&p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(p[1]) })
		chunk := make([]byte, 64<<10)
		for {
			if _, err := unix.Write(p[1], chunk); err == unix.EAGAIN {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := unix.Write(p[1], chunk[:1]); err != unix.EAGAIN {
			t.Fatalf("a full pipe took more: %v", err)
		}
		unix.Close(p[0])
		var got error
		if err := l.AddWriter(p[1], func() {
			_, got = unix.Write(p[1], chunk[:1])
			l.RemoveWriter(p[1])
		}); err != nil {
			t.Fatal(err)
		}
		runUntil(t, l, func() bool { return got != nil })
		if got != unix.EPIPE {
			t.Fatalf("the writer's write: %v, want EPIPE", got)
		}
	})
}

// A clock reading a callback took for a deadline is reused by its later
// deadlines only: the next callback reads the clock afresh, whether it is a
// ready callback, a timer or an I/O callback. Here the first callback sets a
// deadline (taking a reading) and then runs long; a timer the second one
// schedules must count from the second one's start. The slow callback of
// TestTimerScheduledAfterASlowCallbackIsNotEarly sets no deadline, so it
// leaves no reading to be reused.
func TestADeadlineReadingIsNotReusedByTheNextCallback(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		for _, kind := range []string{"ready callbacks", "timers", "readers"} {
			t.Run(kind, func(t *testing.T) {
				if kind == "readers" && v.Params.Poller == "none" {
					t.Skip("no poller")
				}
				l, vc := newVirtual(t, v)
				slow, delay := slowAndDelay(v.Params)
				var scheduledAt, firedAt time.Duration = -1, -1
				ran := 0
				callback := func() {
					switch ran++; ran {
					case 1:
						l.CallLater(time.Hour, func() {})
						vc.Advance(slow)
					case 2:
						scheduledAt = vc.Elapsed()
						l.CallLater(delay, func() { firedAt = vc.Elapsed() })
					}
				}
				switch kind {
				case "ready callbacks":
					l.CallSoon(callback)
					l.CallSoon(callback)
				case "timers": // due in the same tick: they fire in one iteration
					l.CallLater(v.Params.Tick, callback)
					l.CallLater(v.Params.Tick, callback)
					vc.Advance(2 * v.Params.Tick)
				case "readers": // readable before the wait: one wait collects both
					for range 2 {
						a, b := socketpair(t)
						if err := l.AddReader(a, func() { l.RemoveReader(a); callback() }); err != nil {
							t.Fatal(err)
						}
						if _, err := unix.Write(b, []byte("x")); err != nil {
							t.Fatal(err)
						}
					}
				}
				runOnce(t, l)
				if kind == "ready callbacks" && v.Params.Batch < 2 {
					// A batch of one runs the second in the next iteration,
					// which must read the clock afresh all the same.
					runOnce(t, l)
				} else if ran != 2 {
					t.Fatalf("%d of the 2 callbacks ran in one iteration", ran)
				}
				if ran != 2 {
					t.Fatalf("%d of the 2 callbacks ran in two iterations", ran)
				}
				for firedAt < 0 && vc.Elapsed() < scheduledAt+delay+3*v.Params.Tick {
					vc.Advance(v.Params.Tick)
					runOnce(t, l)
				}
				if firedAt < scheduledAt+delay {
					t.Fatalf("scheduled at %v for %v, fired at %v", scheduledAt, delay, firedAt)
				}
			})
		}
	})
}

// Callbacks that Close drops (here the one queued in the last of its rounds)
// are let go of, not left in the ready queue's segments, which live as long
// as the Loop does.
func TestCallbacksDroppedByCloseAreNotKeptAlive(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		type payload struct{ b [64]byte }
		var weaks []weak.Pointer[payload]
		var queue func()
		queue = func() {
			p := new(payload)
			weaks = append(weaks, weak.Make(p))
			l.CallSoon(func() { p.b[0]++; queue() })
		}
		queue() // each round runs one and queues the next: the last is dropped
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		for i, w := range weaks {
			if w.Value() != nil {
				t.Fatalf("callback %d of %d, run or dropped by Close, is still reachable from the closed loop", i, len(weaks))
			}
		}
		runtime.KeepAlive(l)
	})
}

// TestCallbacksScheduledOnAClosedLoopAreNotKeptAlive: CallSoon, CallLater,
// CallAt and CallEvery after Close (a misuse: nothing runs them) queued their
// callbacks in the closed loop, which then held them, and Pending counted
// them, for as long as the loop was reachable.
func TestCallbacksScheduledOnAClosedLoopAreNotKeptAlive(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		l.CallLater(time.Hour, func() {}) // a slab, whose chunk a timer after Close must not reuse
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		type payload struct{ b [64]byte }
		var weaks []weak.Pointer[payload]
		hold := func() func() {
			p := new(payload)
			weaks = append(weaks, weak.Make(p))
			return func() { p.b[0]++ }
		}
		l.CallSoon(hold())
		for _, d := range []time.Duration{0, time.Millisecond, time.Hour} {
			if tm := l.CallLater(d, hold()); tm != (core.Timer{}) {
				t.Errorf("CallLater(%v) on a closed loop returned a live handle", d)
			}
		}
		l.CallAt(time.Now().Add(time.Hour), hold())
		l.CallAt(time.Now().Add(-time.Hour), hold())
		if tm := l.CallEvery(time.Second, hold()); tm != (core.Timer{}) {
			t.Error("CallEvery on a closed loop returned a live handle")
		}
		if n := l.Pending(); n != 0 {
			t.Errorf("Pending() = %d on a closed loop, want 0", n)
		}
		runtime.GC()
		for i, w := range weaks {
			if w.Value() != nil {
				t.Errorf("callback %d of %d, scheduled after Close, is still reachable from the closed loop", i, len(weaks))
			}
		}
		runtime.KeepAlive(l)
	})
}

// nonblockingPipe makes a pipe with both ends non-blocking (unix.Pipe2 is
// not on every system the poll and kqueue variants build for).
func nonblockingPipe(p *[2]int) error {
	if err := unix.Pipe(p[:]); err != nil {
		return err
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return err
		}
	}
	return nil
}
