package tests

import (
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// Review of BackendFd and PrepareWait (a host that embeds the loop and
// waits on its descriptor). Each test here failed on the commit that added
// them; see the commit message.

// A host that follows the documented turn (PrepareWait, wait, RunOnce) on a
// loop that a posted callback closes: RunOnce returns nil with Closed true,
// as documented, and the host goes round again. PrepareWait must then not
// tell it to wait without limit on a descriptor that was released (a host
// that watches it with an epoll or kqueue of its own never sees it again,
// and the number may already name another file): it should say "do not
// wait" (0, true), so that the next RunOnce reports ErrClosed, and it should
// announce no wait on a loop that will never run again.
func TestReviewPrepareWaitAfterAPostedCloseSaysDoNotWait(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		fd := backendFd(t, v, l)
		l.PrepareWait()
		go func() {
			time.Sleep(5 * time.Millisecond)
			l.Post(func() { l.Close() })
		}()
		if woke, took := hostWait(t, fd, 10*time.Second); !woke {
			t.Fatalf("the posted Close did not end the host's wait (%v)", took)
		}
		if err := l.RunOnce(false); err != nil || !l.Closed() {
			t.Fatalf("RunOnce that ran the posted Close = %v, Closed %v; want nil and true", err, l.Closed())
		}
		d, ok := l.PrepareWait()
		if !ok || d != 0 || l.Waiting() {
			t.Errorf("PrepareWait on the closed loop = %v, %v, Waiting %v; want 0, true (no wait: the descriptor is gone) and no wait announced", d, ok, l.Waiting())
		}
		if err := l.RunOnce(false); !errors.Is(err, core.ErrClosed) {
			t.Errorf("RunOnce after it = %v; want ErrClosed", err)
		}
	})
}

// claimWithoutPublishing makes l's mpsc inbox look as it does while a
// producer is between its two steps (its slot claimed, its callback not yet
// published: preempted, descheduled by the kernel, or stopped for a stack
// scan), which no public call can hold still. It returns publish, which
// finishes that post as push would, with fn. White-box: it reaches the
// generated inbox by reflection (tail, head, slots[i].seq and .fn).
func claimWithoutPublishing(t *testing.T, l core.Loop) (publish func(fn func())) {
	t.Helper()
	in := reflect.ValueOf(l).Elem().FieldByName("inbox")
	if !in.IsValid() || !in.FieldByName("tail").IsValid() || !in.FieldByName("slots").IsValid() {
		t.Skip("no mpsc inbox to reach")
	}
	at := func(f reflect.Value) unsafe.Pointer { return unsafe.Pointer(f.UnsafeAddr()) }
	tail := (*atomic.Uint64)(at(in.FieldByName("tail")))
	head := *(*uint64)(at(in.FieldByName("head")))
	pos := tail.Load()
	if pos != head || !tail.CompareAndSwap(pos, pos+1) {
		t.Fatalf("inbox not empty and idle: tail %#x, head %d", pos, head)
	}
	slots := in.FieldByName("slots")
	slot := slots.Index(int(pos % uint64(slots.Len())))
	return func(fn func()) {
		*(*func())(at(slot.FieldByName("fn"))) = fn
		(*atomic.Uint64)(at(slot.FieldByName("seq"))).Store(pos + 1)
	}
}

// While a post is claimed and not yet published, PrepareWait answers 0
// ("work now: no wait") and the RunOnce(false) after it can run nothing
// (drain takes only published posts, and RunOnce(false) never waits for
// one): a host that follows the documented turn busy-loops, at full CPU,
// until the producer publishes, and with one P, where the producer is
// preempted on the host's own P, until the runtime preempts the host (10
// ms). Run waits out the same state in the poller (awaitPublish: a few
// yields, then timed waits announced as a sleep); the host's turn has
// neither a yield nor a wait. Here the producer publishes after 300 ms;
// the host may go round a few times, not thousands.
func TestReviewHostDoesNotSpinOnAnUnpublishedPost(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if v.Params.Poller == "none" || v.Params.Inbox != "mpsc" {
			t.Skip("PrepareWait announces nothing without a poller")
		}
		l := newLoop(t, v, core.Config{})
		publish := claimWithoutPublishing(t, l)
		var ran atomic.Bool
		go func() {
			time.Sleep(300 * time.Millisecond)
			publish(func() { ran.Store(true) })
			l.Post(func() {}) // the producer's wake-up, as push's caller makes it
		}()
		fd, fdErr := l.BackendFd()
		busy, start := 0, time.Now()
		for !ran.Load() {
			if time.Since(start) > 10*time.Second {
				t.Fatal("the post did not run within 10 s of host turns")
			}
			d, ok := l.PrepareWait()
			if ok && d == 0 {
				busy++ // told not to wait
			} else if fdErr == nil {
				hostWait(t, fd, min(d, time.Second))
			} else {
				time.Sleep(min(d, time.Millisecond)) // the poll(2) variant: no descriptor
			}
			runOnce(t, l)
		}
		if busy > 100 {
			t.Errorf("in %v, while a post was claimed and unpublished, PrepareWait told the host %d times not to wait, and RunOnce(false) had nothing to run: the host spins", time.Since(start).Round(time.Millisecond), busy)
		}
	})
}
