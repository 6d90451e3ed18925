package tests

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
	"golang.org/x/sys/unix"
)

// TestAddFromTheLoopGoroutineIsNeverRefused: Waiting must never be true on
// the loop goroutine, or AddReader and AddWriter would refuse a legitimate
// call. Every kind of code the loop runs (posted callbacks that woke it,
// timers, an I/O callback, the panic handler, AtClose), while the loop goes
// in and out of its waits, and the goroutine that owns the loop between
// RunOnce(true) and RunOnce(false) calls and after Run, sees Waiting false
// and has its AddReader and AddWriter taken.
func TestAddFromTheLoopGoroutineIsNeverRefused(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		var l core.Loop
		spare, _ := socketpair(t)
		check := func(where string) {
			if l.Waiting() {
				t.Errorf("%s: Waiting on the loop goroutine", where)
			}
			if err := l.AddReader(spare, func() {}); errors.Is(err, core.ErrWrongGoroutine) {
				t.Errorf("%s: AddReader refused: %v", where, err)
			}
			if err := l.AddWriter(spare, func() {}); errors.Is(err, core.ErrWrongGoroutine) {
				t.Errorf("%s: AddWriter refused: %v", where, err)
			}
			l.RemoveReader(spare)
			l.RemoveWriter(spare)
		}
		l = newLoop(t, v, core.Config{PanicHandler: func(any) { check("panic handler") }})
		a, b := socketpair(t)
		var buf [64]byte
		if err := l.AddReader(b, func() { check("reader"); unix.Read(b, buf[:]) }); err != nil {
			t.Fatal(err)
		}
		l.AtClose(func() { check("AtClose") })
		r := rand.New(rand.NewPCG(1, 2))
		timersOn := true
		var timer func()
		timer = func() {
			check("timer")
			if !timersOn {
				return
			}
			l.CallLater(time.Duration(r.IntN(300))*time.Microsecond, timer)
			if r.IntN(20) == 0 {
				panic("to reach the panic handler")
			}
		}
		l.CallSoon(timer)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rr := rand.New(rand.NewPCG(uint64(g), 7))
				for {
					select {
					case <-stop:
						return
					default:
					}
					if rr.IntN(2) == 0 {
						l.Post(func() { check("post") })
					} else {
						unix.Write(a, []byte{1})
					}
					time.Sleep(time.Duration(rr.IntN(200)) * time.Microsecond)
				}
			}()
		}
		runFor(t, l, func() { time.Sleep(150 * time.Millisecond) })
		close(stop)
		wg.Wait()
		timersOn = false // so that Pending falls to 0 below
		if l.Waiting() {
			t.Error("Waiting after Run returned")
		}
		check("after Run")

		// RunOnce, blocking and not, from this goroutine; posts from another.
		done := make(chan struct{})
		go func() {
			defer l.Post(func() {}) // ends a RunOnce(true) that waits after the last
			defer close(done)
			for i := range 1000 {
				l.Post(func() { check("post to RunOnce") })
				if i%3 == 0 {
					time.Sleep(20 * time.Microsecond)
				}
			}
		}()
		for i := 0; ; i++ {
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			if err := l.RunOnce(i%2 == 0 && !finished); err != nil {
				t.Fatal(err)
			}
			check("between RunOnce calls")
			if finished && l.Pending() == 0 {
				break
			}
		}
		l.Close()
	})
}

// TestWaitingOnAVirtualClock: a loop on a virtual clock, woken by each
// Advance made while it waits, runs its timers with Waiting false, and is
// not left waiting when Run returns.
func TestWaitingOnAVirtualClock(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		// A 1ms timer armed mid-tick is due at the first tick edge at or
		// after its deadline, so up to a tick later: each Advance must
		// cover 1ms and a tick, or the timer waits for a second Advance
		// that never comes (a 2ms step timed out on a 10ms tick).
		step := max(2*time.Millisecond, time.Millisecond+v.Params.Tick)
		l, vc := newVirtual(t, v)
		var ticks atomic.Int64
		var tick func()
		tick = func() {
			ticks.Add(1)
			if l.Waiting() {
				t.Error("Waiting in a timer")
			}
			l.CallLater(time.Millisecond, tick)
		}
		l.CallSoon(tick)
		runFor(t, l, func() {
			for range 200 {
				waitFor(t, "the loop to wait", l.Waiting)
				before := ticks.Load()
				vc.Advance(step)
				waitFor(t, "a timer", func() bool { return ticks.Load() > before })
			}
		})
		if l.Waiting() {
			t.Error("Waiting after Run returned")
		}
	})
}
