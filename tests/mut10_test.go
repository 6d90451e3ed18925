package tests

import (
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

// A mutation round over PrepareWait, BackendFd and hostWaited (the host
// wait): each test here kills mutants of the generated PrepareWait (and of
// the generator's emitHostWait and clearHostWait) that the host-wait tests
// let live. Each is deterministic: it sets up the state PrepareWait looks
// at, then asks it once.

// requireHostWait skips a variant without a poller, whose PrepareWait is
// NextWake and announces nothing.
func requireHostWait(t *testing.T, v all.Variant) {
	t.Helper()
	if v.Params.Poller == "none" {
		t.Skip("no poller: PrepareWait is NextWake")
	}
}

// A Stop made before PrepareWait is work now: PrepareWait says not to wait
// (0, true), leaves no wait announced, and the RunOnce after it leaves the
// loop not waiting. Kills the mutants that drop stopReq from PrepareWait's
// second look (it said "no limit", and the host waited for good: the Stop's
// wake-up had found no wait announced), that return NextWake's answer from
// that look, and that leave sleeping set when the look finds work (Waiting
// stayed true after RunOnce, so AddReader refused as from another
// goroutine).
func TestMut10PrepareWaitWithAStopPendingSaysDoNotWait(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		requireHostWait(t, v)
		l := newLoop(t, v, core.Config{})
		l.Stop()
		if d, ok := l.PrepareWait(); d != 0 || !ok || l.Waiting() {
			t.Errorf("PrepareWait with a Stop pending = %v, %v (Waiting %v); want 0, true and no wait announced", d, ok, l.Waiting())
		}
		runOnce(t, l)
		if l.Waiting() {
			t.Error("Waiting true after the RunOnce that took the Stop")
		}
	})
}

// A virtual clock's advance that no RunOnce has taken yet is work now, as
// it is for iterate before it blocks: PrepareWait says 0, true, and
// announces nothing. Kills the mutant that drops clockMoved from
// PrepareWait's second look (it answered the time to the wheel's next work, seconds).
func TestMut10PrepareWaitAfterAnAdvanceSaysDoNotWait(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		requireHostWait(t, v)
		l, vc := newVirtual(t, v)
		l.CallLater(10*time.Second, func() {})
		if d, ok := l.PrepareWait(); !ok || d < 2*time.Second {
			t.Fatalf("PrepareWait with a timer 10 s away = %v, %v", d, ok)
		}
		runOnce(t, l) // takes the wait PrepareWait announced
		vc.Advance(time.Second)
		if d, ok := l.PrepareWait(); d != 0 || !ok || l.Waiting() {
			t.Errorf("PrepareWait after an advance no RunOnce took = %v, %v (Waiting %v); want 0, true and no wait announced", d, ok, l.Waiting())
		}
		runOnce(t, l)
	})
}

// requireMPSC skips a variant whose inbox has no claimed-but-unpublished
// state to set up.
func requireMPSC(t *testing.T, v all.Variant) {
	t.Helper()
	requireHostWait(t, v)
	if v.Params.Inbox != "mpsc" {
		t.Skip("no mpsc inbox")
	}
}

// While the only post is claimed and not yet published, PrepareWait allows
// a short wait with a limit (ok true), also when no timer is scheduled and
// when the next one is far off. Kills the mutant that leaves ok as NextWake
// said (false: the host waited without limit, for a wake-up the producer
// may have skipped, having read the flag before it was set) and the one
// that drops the cap on a longer NextWake (it allowed the 10 s to the
// timer).
func TestMut10PrepareWaitOnAnUnpublishedPostIsShortAndLimited(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		requireMPSC(t, v)
		for _, timer := range []bool{false, true} {
			l := newLoop(t, v, core.Config{})
			if timer {
				l.CallLater(10*time.Second, func() {})
			}
			publish := claimWithoutPublishing(t, l)
			d, ok := l.PrepareWait()
			if !ok || d <= 0 || d > time.Millisecond {
				t.Errorf("timer %v: PrepareWait with a post claimed and unpublished = %v, %v; want a short wait (0 < d <= 1 ms) with ok true", timer, d, ok)
			}
			ran := false
			publish(func() { ran = true })
			for range 10 {
				if ran {
					break
				}
				runOnce(t, l)
			}
			if !ran {
				t.Fatalf("timer %v: the post did not run once published", timer)
			}
		}
	})
}

// With posts spilled behind a post claimed and not yet published, NextWake
// says 0 (work now), yet drain can take none of them until that post is
// published: PrepareWait allows a short wait instead (the stalled case),
// or the host spins. Kills the mutants that drop the stalled test (0,
// true: the host went round without waiting) and that keep d at 0 there.
func TestMut10PrepareWaitOnASpillBehindAnUnpublishedPost(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		requireMPSC(t, v)
		if v.Params.Overflow != "grow" {
			t.Skip("no spill: a full inbox refuses")
		}
		l := newLoop(t, v, core.Config{})
		publish := claimWithoutPublishing(t, l)
		runs := 0
		for range v.Params.InboxDepth + 1 { // the ring's other slots, then one spilled
			if err := l.Post(func() { runs++ }); err != nil {
				t.Fatal(err)
			}
		}
		if d, ok := l.NextWake(); d != 0 || !ok {
			t.Fatalf("NextWake with a spill = %v, %v; want 0, true (the spill is work)", d, ok)
		}
		d, ok := l.PrepareWait()
		if !ok || d <= 0 || d > time.Millisecond {
			t.Errorf("PrepareWait with a spill behind an unpublished post = %v, %v; want a short wait (0 < d <= 1 ms): RunOnce can take nothing yet", d, ok)
		}
		runOnce(t, l)
		publish(func() { runs++ })
		for i := 0; runs < v.Params.InboxDepth+2 && i < 1000; i++ {
			runOnce(t, l)
		}
		if runs != v.Params.InboxDepth+2 {
			t.Fatalf("%d of %d posts ran", runs, v.Params.InboxDepth+2)
		}
	})
}

// With a callback queued, PrepareWait says 0, true and announces nothing,
// even while a post is claimed and not yet published. Kills the mutant
// that drops ready.len() == 0 from the stalled test (it announced a wait
// and allowed 50 µs with a callback to run).
func TestMut10PrepareWaitWithACallbackBesideAnUnpublishedPost(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		requireMPSC(t, v)
		l := newLoop(t, v, core.Config{})
		ran := 0
		l.CallSoon(func() { ran++ })
		publish := claimWithoutPublishing(t, l)
		if d, ok := l.PrepareWait(); d != 0 || !ok || l.Waiting() {
			t.Errorf("PrepareWait with a callback queued and a post unpublished = %v, %v (Waiting %v); want 0, true and no wait announced", d, ok, l.Waiting())
		}
		runOnce(t, l)
		publish(func() { ran++ })
		for i := 0; ran < 2 && i < 10; i++ {
			runOnce(t, l)
		}
		if ran != 2 {
			t.Fatalf("%d of 2 callbacks ran", ran)
		}
	})
}

// A timer whose time has come, which the wheel has not yet moved to its
// due list, is work now: PrepareWait says 0, true and announces nothing.
// Kills the mutant that drops inbox.unpublished() from the stalled test (it
// went on, announced a wait, and returned 0 with Waiting true). The real
// clock: a virtual clock's advance would be work of its own (clockMoved).
func TestMut10PrepareWaitWithATimerComeDueAnnouncesNothing(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		requireHostWait(t, v)
		l := newLoop(t, v, core.Config{})
		fired := false
		l.CallLater(time.Millisecond, func() { fired = true })
		time.Sleep(20*time.Millisecond + 2*v.Params.Tick)
		for range 4 { // the wheel may take an iteration or two to reach it
			if d, ok := l.PrepareWait(); d != 0 || !ok || l.Waiting() {
				t.Fatalf("PrepareWait with a timer past its time = %v, %v (Waiting %v); want 0, true and no wait announced", d, ok, l.Waiting())
			}
			if runOnce(t, l); fired {
				return
			}
		}
		t.Fatal("the timer did not fire")
	})
}

// The RunOnce after a host's wait asks the poller once, to drain the
// wake-up: the ones after it, on a loop that watches no descriptor, do not
// (the flag is cleared by that wait). Kills the mutant of clearHostWait
// (the generator's, and wait's reset in a variant) that leaves hostWaited
// set, after which every RunOnce(false) made a system call. Seen in
// Stats().Polls, on a variant that keeps it.
func TestMut10HostWaitedIsClearedByTheWait(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		requireHostWait(t, v)
		if !v.Params.Stats {
			t.Skip("no stats")
		}
		l := newLoop(t, v, core.Config{})
		if _, ok := l.PrepareWait(); ok {
			t.Fatal("PrepareWait with nothing scheduled set a limit")
		}
		p0 := l.Stats().Polls
		runOnce(t, l)
		p1 := l.Stats().Polls
		if p1 != p0+1 {
			t.Errorf("the RunOnce after PrepareWait polled %d times; want once", p1-p0)
		}
		for range 3 {
			runOnce(t, l)
		}
		if p2 := l.Stats().Polls; p2 != p1 {
			t.Errorf("3 RunOnce(false) after it, with no fd watched, polled %d times; want none", p2-p1)
		}
	})
}

// A timer left on the due list by a panic is work now, also beside a post
// claimed and not yet published: PrepareWait says 0, true and announces
// nothing. Kills the mutant that drops !timers.hasDue() from the stalled
// test (it announced a wait and allowed 50 µs with a timer to run).
func TestMut10PrepareWaitWithATimerLeftDueBesideAnUnpublishedPost(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		requireMPSC(t, v)
		vc := clock.NewVirtual(epoch)
		l := newLoop(t, v, core.Config{Clock: vc, PanicHandler: func(any) {}})
		ran := false
		l.CallLater(v.Params.Tick, func() { panic("boom") })
		l.CallLater(v.Params.Tick, func() { ran = true })
		vc.Advance(2 * v.Params.Tick)
		runOnce(t, l)
		if ran {
			t.Skip("the timer after the one that panicked ran in the same iteration; the test needs it left due")
		}
		publish := claimWithoutPublishing(t, l)
		if d, ok := l.PrepareWait(); d != 0 || !ok || l.Waiting() {
			t.Errorf("PrepareWait with a timer left due and a post unpublished = %v, %v (Waiting %v); want 0, true and no wait announced", d, ok, l.Waiting())
		}
		runOnce(t, l)
		if !ran {
			t.Error("the timer left due did not run in the RunOnce after")
		}
		publish(func() {})
		runOnce(t, l)
	})
}
