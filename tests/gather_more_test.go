package tests

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/generated/generic"
	"github.com/loopgen/loop/handwritten/core"
)

// TestGatherStreamAcrossIterations pins two edges of "posts stream in" that
// TestGatherWaitsOnlyWhilePostsStreamIn leaves open: an iteration after a
// gather still counts as streaming (gather adds what it drained to what the
// iteration took, even when that is nothing), and an iteration that took no
// posts does not gather, even right after one that did. No goroutine posts
// during a wait, so each one ends after a quarter of inbox.gather.
func TestGatherStreamAcrossIterations(t *testing.T) {
	forEachGatheringVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		ran := 0
		postCounting(t, l, 2, &ran)
		gatherStep(t, l, true, "the first posts", 0)
		postCounting(t, l, 2, &ran)
		gatherStep(t, l, true, "posts after posts", 1)
		postCounting(t, l, 2, &ran)
		gatherStep(t, l, true, "posts after a gather that found nothing more", 2)
		postCounting(t, l, 2, &ran)
		gatherStep(t, l, true, "posts after that", 3)

		// Nothing posted: the iteration takes no posts and must not gather. Stop
		// first, so that the blocking iteration does not wait.
		l.Stop()
		gatherStep(t, l, true, "an iteration that took no posts after one that gathered", 3)
		postCounting(t, l, 2, &ran)
		gatherStep(t, l, true, "posts after an iteration that took none", 3)
		if ran != 10 {
			t.Errorf("%d of 10 posted callbacks ran", ran)
		}
	})
}

// TestGatherAsksGOMAXPROCSOncePerRun pins that a Run reads GOMAXPROCS for
// gathering once, when posts first stream in, and not again in later
// iterations of the same Run: a callback that lowers it to 1 mid-Run does not
// stop that Run from gathering (the next Run reads it again, which
// TestGatherWaitsOnlyWhilePostsStreamIn pins).
func TestGatherAsksGOMAXPROCSOncePerRun(t *testing.T) {
	forEachGatheringVariant(t, func(t *testing.T, v all.Variant) {
		procs := runtime.GOMAXPROCS(0)
		defer runtime.GOMAXPROCS(procs)
		l := newLoop(t, v, core.Config{})
		post := func(fn func()) {
			if err := l.Post(fn); err != nil {
				t.Errorf("Post: %v", err)
			}
		}
		// Each pair of posts is taken by one iteration: the second of a pair
		// posts the next pair, so from the second iteration on posts stream in.
		var gathers []uint64
		post(func() {})
		post(func() {
			post(func() {})
			post(func() {
				gathers = append(gathers, l.Stats().Gathers)
				runtime.GOMAXPROCS(1)
				post(func() {})
				post(func() {
					gathers = append(gathers, l.Stats().Gathers)
					l.Stop()
				})
			})
		})
		if err := l.Run(); err != nil {
			t.Fatal(err)
		}
		if len(gathers) != 2 || gathers[0] != 1 || gathers[1] != 2 {
			t.Errorf("Gathers after the second and third iterations: %v, want [1 2] (GOMAXPROCS fell to 1 between them, within one Run)", gathers)
		}
	})
}

// TestFirstWaitOfARunYields pins that Run yields (runtime.Gosched) before its
// first wait: with GOMAXPROCS 1, a goroutine that a callback has just started
// runs then, and its post is found before the loop sleeps, so Run polls
// nothing. The loop's clock is virtual and stands still, so only the yield
// that each Run starts with can happen. The scheduler may, rarely, pick the
// loop again at a Gosched, so the test asks for one Run in 20 without a poll
// (without the yield, every Run polls once).
func TestFirstWaitOfARunYields(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Stats {
			t.Skip("needs stats (Stats.Polls)")
		}
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		l, _ := newVirtual(t, v)
		if runsWithoutAPoll(t, l, 0) == 0 {
			t.Errorf("every Run polled before the goroutine its callback started had run: Run did not yield before its first wait")
		}
	})
}

// runsWithoutAPoll runs l 20 times, each time on a chain of posted callbacks
// links+1 long: each starts a goroutine that posts the next, and the goroutine
// the last one starts posts Stop. It returns how many Runs waited in the
// poller not once (Stats.Polls).
func runsWithoutAPoll(t *testing.T, l core.Loop, links int) int {
	t.Helper()
	var chain func(left int) func()
	chain = func(left int) func() {
		return func() {
			next := l.Stop
			if left > 0 {
				next = chain(left - 1)
			}
			go func() {
				if err := l.Post(next); err != nil {
					t.Errorf("Post: %v", err)
				}
			}()
		}
	}
	withoutPoll := 0
	for range 20 {
		before := l.Stats().Polls
		if err := l.Post(chain(links)); err != nil {
			t.Fatal(err)
		}
		if err := l.Run(); err != nil {
			t.Fatal(err)
		}
		if l.Stats().Polls == before {
			withoutPoll++
		}
	}
	return withoutPoll
}

// TestALoopThatTookPostsYieldsBeforeItWaits pins that a loop whose last
// iteration took posts yields (runtime.Gosched) before it waits, not only
// before a Run's first wait. With GOMAXPROCS 1 a producer that the loop has
// just made runnable, or that yielded on a full ring, is then run before the
// loop blocks; without the yield a loop that sleeps in the kernel holds the
// only P, and the producer waits for the runtime to take the P back (20 µs
// to 10 ms). (This loop has no fds and no timers, so it parks instead and
// gives the P up; Stats.Polls still counts that wait, and the test catches a
// missing yield.) Each posted callback here starts a goroutine that posts the
// next, three times over, within one Run whose first-wait yield is spent on
// the first; the virtual clock stands still, so the 5 ms yield cannot
// happen. The scheduler may, rarely, pick the loop again at a Gosched, so the
// test asks for one Run in 20 without a poll (without the yield, every Run
// polls at least twice).
func TestALoopThatTookPostsYieldsBeforeItWaits(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Stats {
			t.Skip("needs stats (Stats.Polls)")
		}
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		l, _ := newVirtual(t, v)
		if runsWithoutAPoll(t, l, 3) == 0 {
			t.Errorf("every Run polled while a goroutine that a posted callback had started was runnable: the loop did not yield before waiting after it took posts")
		}
	})
}

// TestGenericGatherBounds pins the generic build's rule for Params.Gather:
// it gathers (the default variant does), so Gather must be in (0, 1ms].
func TestGenericGatherBounds(t *testing.T) {
	if generic.Params.Gather == 0 {
		t.Skip("the default variant does not gather")
	}
	for _, tc := range []struct {
		gather time.Duration
		ok     bool
	}{
		{-time.Microsecond, false},
		{0, false},
		{1, true},
		{time.Millisecond, true},
		{time.Millisecond + 1, false},
		{2 * time.Millisecond, false},
	} {
		p := generic.Params
		p.Gather = tc.gather
		l, err := generic.NewWithParams(p, core.Config{})
		switch {
		case tc.ok && err != nil:
			t.Errorf("Gather %v: %v", tc.gather, err)
		case !tc.ok && err == nil:
			t.Errorf("Gather %v accepted", tc.gather)
		case !tc.ok && !strings.Contains(err.Error(), "generic: inbox.gather:"):
			t.Errorf("Gather %v: %v, want an inbox.gather error", tc.gather, err)
		}
		if l != nil {
			l.Close()
		}
	}
}

// gatherSink keeps busy's work from being optimized away.
var gatherSink uint64

// busy does n steps of arithmetic on x: CPU work between posts, not a sleep.
func busy(x uint64, n int) uint64 {
	for range n {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// TestGatherCatchesPostsThatLandWhileItWaits runs the generic build with the
// longest gather (1ms) and a goroutine that a callback starts: it posts a
// short stream of callbacks, spread by some busy work, while the next
// iteration, which took the callback's own follow-up post, gathers. Each
// round checks two things:
//
//   - the iteration ends, although the stream ends well short of a batch:
//     a gather that sees posts land, but not the rest of the batch, still
//     ends after inbox.gather (the bound here is 10 s, after which a watchdog
//     fills the batch so that the test fails instead of hanging);
//   - in some round the gather catches the whole stream, so that iteration
//     runs it: a loop that did not wait would find none of it. A round can
//     miss (the producer may start late on a loaded machine), so the test
//     tries up to 500 rounds for one that catches it (on this 2-core VM with
//     three CPU hogs beside it, at most 37 were needed in 40 runs).
func TestGatherCatchesPostsThatLandWhileItWaits(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("gathering is off with GOMAXPROCS 1")
	}
	if generic.Params.Gather == 0 {
		t.Skip("the default variant does not gather")
	}
	p := generic.Params
	p.Gather = time.Millisecond
	l, err := generic.NewWithParams(p, core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	const stream = 16 // far short of a batch
	if p.Batch < 4*stream {
		t.Skipf("batch %d is too small", p.Batch)
	}
	ran := 0 // loop goroutine; read after RunOnce returns
	count := func() { ran++ }
	caught := 0
	for round := 0; round < 20 || caught == 0 && round < 500; round++ {
		var producer sync.WaitGroup
		var second atomic.Bool // the iteration that gathers is about to start
		if err := l.Post(func() {
			// The next iteration takes this post, and gathers.
			if err := l.Post(count); err != nil {
				t.Errorf("Post: %v", err)
			}
			producer.Go(func() {
				for !second.Load() {
					runtime.Gosched()
				}
				x := busy(uint64(round), 10000)
				for range stream {
					x = busy(x, 2000)
					if err := l.Post(count); err != nil {
						t.Errorf("Post: %v", err)
					}
				}
				gatherSink = x
			})
		}); err != nil {
			t.Fatal(err)
		}
		// Two iterations back to back on this goroutine: the second takes the
		// follow-up post and gathers while the producer posts. The producer
		// starts posting only once the second is about to start, and then after
		// some busy work, so its posts land after that iteration's first drain.
		// Should the wait not end by itself, a watchdog fills the batch after
		// 10 s, so that the test fails instead of hanging.
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
		}
		before := ran
		watchdog := time.AfterFunc(10*time.Second, func() {
			for range p.Batch {
				_ = l.Post(func() {})
			}
		})
		second.Store(true)
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
		}
		if !watchdog.Stop() {
			t.Fatalf("round %d: an iteration that gathered did not end within 10 s: a stream that stops short of a batch must end the wait after inbox.gather", round)
		}
		if ran-before == 1+stream {
			caught++
		}
		producer.Wait()
		runUntilIdle(t, l)
		if ran != (round+1)*(1+stream) {
			t.Fatalf("round %d: %d callbacks ran, want %d", round, ran, (round+1)*(1+stream))
		}
	}
	if caught == 0 {
		t.Errorf("in no round did the iteration that gathered run the whole stream of %d posts that landed while it waited", stream)
	}
}
