package tests

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// Tests from a review of the loop's lifecycle under concurrency. They found
// no bug (they pass on the code they were written against); they pin
// interleavings no other test drove.

// A post from another goroutine wakes the loop whatever it waits in: the
// callbacks here alternately register and remove an fd and schedule and
// cancel a timer, so that the loop's wait moves between the parker's
// channel (no fd, no timer), the kernel without a timeout (an fd) and the
// kernel with one (a timer). A wake-up lost in a move between them leaves a
// post unanswered.
func TestPostsWakeALoopAsItsWaitMovesBetweenParkAndKernel(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		var p [2]int
		if err := nonblockingPipe(&p); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		ack := make(chan struct{})
		var tm core.Timer
		registered := false
		for i := range 5000 {
			mode := i % 5
			err := l.Post(func() {
				switch mode {
				case 0: // never readable: the loop waits in the kernel
					if v.Params.Poller != "none" {
						if err := l.AddReader(p[0], func() {}); err != nil {
							t.Error(err)
						}
						registered = true
					}
				case 1:
					if registered {
						l.RemoveReader(p[0])
						registered = false
					}
				case 2:
					tm = l.CallLater(time.Hour, func() {})
				case 3:
					l.Cancel(tm)
				}
				ack <- struct{}{}
			})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-ack:
			case <-time.After(10 * time.Second):
				t.Fatalf("post %d (mode %d) not run within 10 s", i, mode)
			}
		}
		l.Stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// Posts from three goroutines race Stop (from one of them), a loop driven
// by Run and RunOnce(true) in turn, and a Close from outside or from a
// posted callback: every post that returned nil has run once Close is over,
// and the goroutine driving the loop ends with ErrClosed.
func TestNoAcceptedPostIsLostAcrossStopsRunOnceAndClose(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		for iter := range 60 {
			l, err := v.New(core.Config{})
			if err != nil {
				t.Fatal(err)
			}
			var accepted, ran atomic.Int64
			driverDone := make(chan struct{})
			go func() {
				defer close(driverDone)
				for i := 0; ; i++ {
					var err error
					if i%3 == 0 {
						err = l.RunOnce(true)
					} else {
						err = l.Run()
					}
					if errors.Is(err, core.ErrClosed) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
			var wg sync.WaitGroup
			for p := range 3 {
				wg.Go(func() {
					for k := range 3000 { // bounded: under -race a post costs ~1 µs
						if p == 0 && k%7 == 0 {
							l.Stop()
						}
						err := l.Post(func() {
							ran.Add(1)
							if k%11 == 0 {
								l.CallSoon(func() {})
							}
						})
						if errors.Is(err, core.ErrClosed) {
							return
						}
						if err == nil {
							accepted.Add(1)
						}
					}
				})
			}
			for range iter % 30 {
				runtime.Gosched()
			}
			if iter%2 == 0 {
				l.Close()
			} else if l.Post(func() { ran.Add(1); l.Close() }) == nil {
				accepted.Add(1)
			} else {
				l.Close()
			}
			wg.Wait()
			select {
			case <-driverDone:
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: the goroutine driving the loop did not end within 10 s of Close", iter)
			}
			if a, r := accepted.Load(), ran.Load(); a != r {
				t.Fatalf("round %d: %d posts accepted, %d ran", iter, a, r)
			}
		}
	})
}

// Close's doc: a Close made during an iteration drops the timers still due
// in it, and the readers the poller reported ready in it still run.
func TestACloseInAnIterationDropsItsDueTimersAndRunsItsReadyReaders(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		fired := 0
		for range 2 {
			l.CallLater(v.Params.Tick, func() { fired++; l.Close() })
		}
		vc.Advance(2 * v.Params.Tick)
		if err := l.RunOnce(false); err != nil && !errors.Is(err, core.ErrClosed) {
			t.Fatal(err)
		}
		if fired != 1 {
			t.Errorf("%d of two timers due in the iteration that closed ran, want 1", fired)
		}

		if v.Params.Poller == "none" {
			return
		}
		l = newLoop(t, v, core.Config{})
		read := 0
		for range 2 {
			var p [2]int
			if err := nonblockingPipe(&p); err != nil {
				t.Fatal(err)
			}
			defer unix.Close(p[0])
			defer unix.Close(p[1])
			if _, err := unix.Write(p[1], []byte{1}); err != nil {
				t.Fatal(err)
			}
			if err := l.AddReader(p[0], func() { read++; l.Close() }); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.RunOnce(false); err != nil && !errors.Is(err, core.ErrClosed) {
			t.Fatal(err)
		}
		if read != 2 || !l.Closed() {
			t.Errorf("%d of two readers ready in the iteration that closed ran (closed: %v), want both", read, l.Closed())
		}
	})
}
