package tests

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

func TestCallSoonRunsInFIFOOrder(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		var got []int
		const n = 10_000 // more than any variant's batch, and than the smaller rings
		for i := range n {
			l.CallSoon(func() { got = append(got, i) })
		}
		runUntilIdle(t, l)
		if len(got) != n {
			t.Fatalf("ran %d callbacks, want %d", len(got), n)
		}
		for i, x := range got {
			if x != i {
				t.Fatalf("callback %d ran at position %d", x, i)
			}
		}
	})
}

// Pending is computed from the ready queue's segment positions, so it is
// checked where they wrap: queues of several segments (4095 callbacks each),
// filled and drained a batch at a time, with callbacks queuing more as they run.
func TestPendingCountsTheReadyQueueAcrossSegments(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		queued, ran := 0, 0
		var fn func()
		fn = func() {
			ran++
			if ran%3 == 0 { // every third callback queues one more
				queued++
				l.CallSoon(fn)
			}
		}
		for _, burst := range []int{1, 4094, 1, 8190, 12_000, 3} {
			for range burst {
				queued++
				l.CallSoon(fn)
			}
			if got := l.Pending(); got != queued-ran {
				t.Fatalf("after queuing %d: Pending() = %d, want %d", burst, got, queued-ran)
			}
			for range 3 {
				if err := l.RunOnce(false); err != nil {
					t.Fatal(err)
				}
				if got := l.Pending(); got != queued-ran {
					t.Fatalf("after an iteration: Pending() = %d, want %d", got, queued-ran)
				}
			}
		}
		runUntilIdle(t, l)
		if ran != queued || l.Pending() != 0 {
			t.Fatalf("ran %d of %d queued; Pending() = %d", ran, queued, l.Pending())
		}
	})
}

// The ready queue clears its slots a batch at a time, not one by one: a
// callback's closure must still become unreachable once its batch has run,
// including a batch a panic cut short and a segment the queue left behind.
func TestRunCallbacksAreNotKeptAlive(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{PanicHandler: func(any) {}})
		type payload struct{ b [64]byte }
		batch := v.Params.Batch
		queued := 3*batch + 5000 // more than one batch, and across a segment
		weaks := make([]weak.Pointer[payload], queued)
		for i := range queued {
			p := new(payload)
			weaks[i] = weak.Make(p)
			panics := v.Params.Recover && i == batch/2
			l.CallSoon(func() {
				p.b[0]++
				if panics {
					panic("boom")
				}
			})
		}
		// One iteration: with recovery, the first batch stops at the panic.
		if err := l.RunOnce(false); err != nil {
			t.Fatal(err)
		}
		ran := batch
		if v.Params.Recover {
			ran = batch/2 + 1
		}
		runtime.GC()
		for i := range ran {
			if weaks[i].Value() != nil {
				t.Fatalf("callback %d ran in the first iteration but its closure is still reachable", i)
			}
		}
		runUntilIdle(t, l)
		runtime.GC()
		for i := range queued {
			if weaks[i].Value() != nil {
				t.Fatalf("callback %d of %d has run but its closure is still reachable", i, queued)
			}
		}
	})
}

func TestCallbacksQueuedDuringABatchRunNextIteration(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if v.Params.Batch < 2 {
			t.Skip("batch: 1 runs one callback per iteration; the test needs two in one batch")
		}
		l := newLoop(t, v, core.Config{})
		var ran []string
		l.CallSoon(func() {
			ran = append(ran, "first")
			l.CallSoon(func() { ran = append(ran, "queued by first") })
		})
		l.CallSoon(func() { ran = append(ran, "second") })
		runOnce(t, l)
		if want := []string{"first", "second"}; !slices.Equal(ran, want) {
			t.Fatalf("first iteration ran %q, want %q", ran, want)
		}
		runOnce(t, l)
		if len(ran) != 3 || ran[2] != "queued by first" {
			t.Fatalf("second iteration: ran %q", ran)
		}
	})
}

func TestABatchIsBoundedSoTimersAreNotStarved(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		fired := false
		l.CallLater(time.Millisecond, func() { fired = true })
		// A callback that always requeues itself would starve timers if the
		// loop ran the ready queue to empty.
		var spin func()
		spin = func() { l.CallSoon(spin) }
		l.CallSoon(spin)
		vc.Advance(time.Second)
		for range 3 {
			runOnce(t, l)
		}
		if !fired {
			t.Fatal("timer starved by a self-requeueing callback")
		}
	})
}

func TestPostFromEightGoroutinesRunsEveryCallbackOnceInEachProducersOrder(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		const producers, each = 8, 100_000
		counts := make([]int32, producers*each)
		var last [producers]int // loop goroutine only: per-producer order
		var orderErr atomic.Value
		var total atomic.Int64
		runFor(t, l, func() {
			var wg sync.WaitGroup
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						id := p*each + i
						fn := func() {
							counts[id]++
							if i < last[p] && orderErr.Load() == nil {
								orderErr.Store(true)
							}
							last[p] = i
							total.Add(1)
						}
						err := l.Post(fn)
						// Under overflow: reject a full inbox refuses the post;
						// the producer tries again, and its order must hold.
						for errors.Is(err, core.ErrQueueFull) {
							runtime.Gosched()
							err = l.Post(fn)
						}
						if err != nil {
							t.Errorf("Post: %v", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			deadline := time.Now().Add(30 * time.Second)
			for total.Load() < producers*each && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		})
		for id, c := range counts {
			if c != 1 {
				t.Fatalf("callback %d ran %d times", id, c)
			}
		}
		if orderErr.Load() != nil {
			t.Fatal("a producer's posts ran out of the order it made them")
		}
	})
}

func TestPostsBeforeRunAreKept(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		ran := 0
		for range 3 * v.Params.InboxDepth { // beyond the inbox: spills or, with reject, is refused
			if err := l.Post(func() { ran++ }); err != nil {
				if errors.Is(err, core.ErrQueueFull) && v.Params.Overflow == "reject" {
					break
				}
				t.Fatalf("Post: %v", err)
			}
		}
		want := 3 * v.Params.InboxDepth
		if v.Params.Overflow == "reject" {
			want = v.Params.InboxDepth
		}
		runUntilIdle(t, l)
		if ran != want {
			t.Fatalf("ran %d posted callbacks, want %d", ran, want)
		}
	})
}

func TestStopLetsRunReturnAndRunAgainResumes(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		ran := 0
		l.CallSoon(func() {
			ran++
			l.Stop()
			l.CallSoon(func() { ran++ })
		})
		if err := l.Run(); err != nil {
			t.Fatal(err)
		}
		if ran != 1 {
			t.Fatalf("after the first Run, %d callbacks ran, want 1", ran)
		}
		l.CallSoon(l.Stop)
		if err := l.Run(); err != nil {
			t.Fatal(err)
		}
		if ran != 2 {
			t.Fatalf("the second Run did not run what was still queued (ran %d)", ran)
		}
	})
}

func TestStopFromAnotherGoroutineWakesABlockedLoop(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		runFor(t, l, func() { time.Sleep(20 * time.Millisecond) }) // Run blocks; runFor's Stop must wake it
	})
}

func TestRunTwiceAtOnceReturnsErrRunning(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		errc := make(chan error, 1)
		l.CallSoon(func() {
			errc <- l.Run()
			errc <- l.RunOnce(false)
		})
		runFor(t, l, func() {
			if err := <-errc; !errors.Is(err, core.ErrRunning) {
				t.Errorf("Run inside Run: %v, want ErrRunning", err)
			}
			if err := <-errc; !errors.Is(err, core.ErrRunning) {
				t.Errorf("RunOnce inside Run: %v, want ErrRunning", err)
			}
		})
	})
}

func TestPanickingCallbackReachesHandlerAndLoopGoesOn(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Recover {
			t.Skip("variant generated with recover: false")
		}
		var got []any
		vc := clock.NewVirtual(epoch)
		l := newLoop(t, v, core.Config{Clock: vc, PanicHandler: func(r any) { got = append(got, r) }})
		var ran []string
		l.CallSoon(func() { ran = append(ran, "before") })
		l.CallSoon(func() { panic("callback") })
		l.CallSoon(func() { ran = append(ran, "after") })
		l.CallLater(time.Second, func() { panic("timer") })
		l.CallLater(time.Second, func() { ran = append(ran, "timer after") })
		runUntilIdle(t, l)
		vc.Advance(2 * time.Second)
		runUntilIdle(t, l)
		if len(got) != 2 || got[0] != "callback" || got[1] != "timer" {
			t.Fatalf("handler got %v", got)
		}
		if !slices.Equal(ran, []string{"before", "after", "timer after"}) {
			t.Fatalf("callbacks around the panics: %q", ran)
		}
	})
}

func TestNilCallbackAndBadPeriodAreRejected(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		if err := l.Post(nil); err == nil {
			t.Error("Post(nil) returned nil")
		}
		for name, call := range map[string]func(){
			"CallSoon":  func() { l.CallSoon(nil) },
			"CallLater": func() { l.CallLater(time.Second, nil) },
			"CallAt":    func() { l.CallAt(time.Now().Add(time.Second), nil) },
			"AddReader": func() { l.AddReader(0, nil) },
			"AddWriter": func() { l.AddWriter(1, nil) },
			"CallEvery": func() { l.CallEvery(time.Second, nil) },
			"CallEvery with d=0": func() {
				l.CallEvery(0, func() {})
			},
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s did not panic", name)
					}
				}()
				call()
			}()
		}
	})
}

func TestStatsCountWhatRan(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		for range 10 {
			l.CallSoon(func() {})
		}
		l.CallLater(time.Millisecond, func() {})
		vc.Advance(time.Second)
		runUntilIdle(t, l)
		s := l.Stats()
		if !v.Params.Stats {
			if s != (core.Stats{}) {
				t.Fatalf("variant without stats reports %+v", s)
			}
			return
		}
		// The virtual clock's wake-up is a posted callback too.
		if s.Callbacks < 10 || s.Timers != 1 || s.Iterations == 0 {
			t.Fatalf("stats %+v after 10 callbacks and 1 timer", s)
		}
		if v.Params.Poller == "none" {
			return
		}
		a, b := socketpair(t)
		unix.Write(b, []byte("x"))
		read := false
		l.AddReader(a, func() { read = true; l.RemoveReader(a) })
		runUntilIdle(t, l)
		if s := l.Stats(); !read || s.Events == 0 || s.Polls == 0 {
			t.Fatalf("stats %+v after one readiness event (reader ran: %v)", s, read)
		}
	})
}

// TestStatsCountCallbacksThatPanic: Stats.Callbacks and Stats.Timers count
// callbacks run, and one that panicked ran; they were counted after the
// call, which a panic skipped.
func TestStatsCountCallbacksThatPanic(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Stats || !v.Params.Recover {
			t.Skip("needs stats and recover")
		}
		l := newLoop(t, v, core.Config{PanicHandler: func(any) {}})
		for range 5 {
			l.CallSoon(func() {})
		}
		l.CallSoon(func() { panic("callback") })
		runUntilIdle(t, l)
		if s := l.Stats(); s.Callbacks != 6 {
			t.Errorf("Stats.Callbacks %d after 6 callbacks, one of which panicked", s.Callbacks)
		}
		vc := clock.NewVirtual(epoch)
		lv := newLoop(t, v, core.Config{Clock: vc, PanicHandler: func(any) {}})
		lv.CallLater(time.Millisecond, func() {})
		lv.CallLater(time.Millisecond, func() { panic("timer") })
		vc.Advance(time.Second)
		runUntilIdle(t, lv)
		if s := lv.Stats(); s.Timers != 2 {
			t.Errorf("Stats.Timers %d after 2 timers, one of which panicked", s.Timers)
		}
	})
}

// TestPostWakesASleepingLoopEveryTime posts one callback at a time and waits
// for it, so the loop goes back to sleep between posts: a lost wake-up shows
// up as a round that never completes.
func TestPostWakesASleepingLoopEveryTime(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		ran := make(chan int, 1)
		runFor(t, l, func() {
			for i := range 2000 {
				if err := l.Post(func() { ran <- i }); err != nil {
					t.Fatalf("Post: %v", err)
				}
				select {
				case got := <-ran:
					if got != i {
						t.Fatalf("round %d ran callback %d", i, got)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("round %d: the posted callback did not run within 10 s (lost wake-up)", i)
				}
			}
		})
	})
}

// TestPostsFromSeveralGoroutinesEachWakeASleepingLoop has four goroutines
// post one callback at a time each and wait for it, so that posts land while
// the loop decides to sleep, some claimed and not yet published. The loop
// must never sleep through one: it sleeps only when no post has claimed a
// slot, since a post's publish may become visible after the post looked at
// the loop's sleeping flag. With one P a post preempted between claiming and
// publishing must still finish.
func TestPostsFromSeveralGoroutinesEachWakeASleepingLoop(t *testing.T) {
	for _, procs := range []int{1, 2} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			forEachVariant(t, func(t *testing.T, v all.Variant) {
				l := newLoop(t, v, core.Config{})
				runFor(t, l, func() {
					var wg sync.WaitGroup
					for p := range 4 {
						wg.Go(func() {
							ran := make(chan int, 1)
							for i := range 300 {
								if err := l.Post(func() { ran <- i }); err != nil {
									t.Errorf("producer %d: Post: %v", p, err)
									return
								}
								select {
								case got := <-ran:
									if got != i {
										t.Errorf("producer %d, round %d: callback %d ran", p, i, got)
										return
									}
								case <-time.After(10 * time.Second):
									t.Errorf("producer %d, round %d: the posted callback did not run within 10 s (lost wake-up)", p, i)
									return
								}
							}
						})
					}
					wg.Wait()
				})
			})
		})
	}
}

func TestRunOnceConsumesAStop(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		fired := false
		d := wholeTicks(v.Params, time.Minute) // a minute, on a tick's edge
		l.CallLater(d, func() { fired = true })
		l.Stop()
		runOnce(t, l)
		// The Stop is spent: a blocking RunOnce waits for the timer again.
		returned := make(chan error, 1)
		go func() { returned <- l.RunOnce(true) }()
		select {
		case <-returned:
			t.Fatal("RunOnce(true) returned at once: the earlier Stop was not consumed")
		case <-time.After(50 * time.Millisecond):
		}
		vc.Advance(d)
		select {
		case err := <-returned:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("RunOnce(true) did not return after the clock passed its timer")
		}
		runUntilIdle(t, l)
		if !fired {
			t.Fatal("the timer did not fire")
		}
	})
}

// A post made while RunOnce(true) is about to wait (here during the yield
// before its first wait) runs in that RunOnce: the loop saw it, which is
// why it did not wait, so it has something to do. On compute (mutex inbox)
// and latency (a spin that ends for a post, no fds) the loop used to see the
// post, skip the wait and return with nothing run, 98-100% of the time.
func TestRunOnceBlockRunsAPostThatLandsBeforeItWaits(t *testing.T) {
	for _, procs := range []int{1, 2} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			forEachVariant(t, func(t *testing.T, v all.Variant) {
				l := newLoop(t, v, core.Config{})
				const rounds = 300
				missed, extra := 0, uint64(0)
				for range rounds {
					iterations := l.Stats().Iterations
					ran := false
					posted := make(chan struct{})
					go func() { // runs when RunOnce yields before its first wait
						defer close(posted)
						if err := l.Post(func() { ran = true }); err != nil {
							t.Error(err)
						}
					}()
					if err := l.RunOnce(true); err != nil {
						t.Fatal(err)
					}
					<-posted
					if ran {
						extra += l.Stats().Iterations - iterations - 1
					}
					if !ran {
						missed++
						for !ran {
							runOnce(t, l)
						}
					}
				}
				// A wake-up left over from an earlier round (a Wake that raced
				// with the loop's look after announcing its sleep) ends one wait
				// early; RunOnce(true) then waits again instead of returning.
				if missed > 0 {
					t.Errorf("%d of %d RunOnce(true) returned without running the post made before they waited", missed, rounds)
				}
				// Where the variant counts iterations, the fix itself shows:
				// without the drain on the way out of a cancelled sleep, the
				// post ran one iteration late, which RunOnce(true) now hides.
				// A leftover wake-up may still cost one now and then.
				if v.Params.Stats && extra > rounds/10 {
					t.Errorf("%d RunOnce(true) calls of %d took an iteration that ran nothing", extra, rounds)
				}
			})
		})
	}
}

// RunOnce(true) with a timer in the wheel's first level and nothing else to
// do waits for it and runs it. A variant that spins before it blocks
// (latency) ended its spin at the timer's deadline and went on without
// reading the clock again, with the time from before the spin, so the timer
// was not yet due: 91 of 200 calls returned having run nothing. RunOnce(true)
// now waits again after such an iteration, so the calls cannot show it;
// where a variant counts iterations, the count does (no shipped spin
// variant does: the golden file spin.txtar pins that code).
func TestRunOnceBlockRunsTheTimerItWaitedFor(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		// Each round waits about a tick of real time: 200 of them, or as many
		// as fit in 2 s on a coarse wheel (at least 10).
		rounds := min(200, max(10, int(2*time.Second/v.Params.Tick)))
		empty, iterations := 0, l.Stats().Iterations
		for range rounds {
			fired := false
			l.CallLater(max(v.Params.Tick/4, time.Microsecond), func() { fired = true })
			for calls := 1; !fired; calls++ {
				if err := l.RunOnce(true); err != nil {
					t.Fatal(err)
				}
				if !fired {
					empty++
				}
				if calls > 100 {
					t.Fatal("the timer did not fire in 100 RunOnce(true) calls")
				}
			}
		}
		// A signal may end one wait early (EINTR); RunOnce(true) then
		// waits again instead of returning.
		if empty > 0 {
			t.Errorf("%d of %d RunOnce(true) calls returned with the timer they waited for not run", empty, rounds)
		}
		if extra := l.Stats().Iterations - iterations - uint64(rounds); v.Params.Stats && extra > uint64(rounds/10) {
			t.Errorf("%d iterations of %d ran nothing", extra, rounds)
		}
	})
}
