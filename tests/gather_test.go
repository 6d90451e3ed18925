package tests

import (
	"runtime"
	"testing"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// TestGatherWaitsOnlyWhilePostsStreamIn pins when a variant with
// inbox.gather waits for more posts: only when the iteration before took
// posts too, this one took fewer than a batch, nothing else is ready, the
// iteration may block, and GOMAXPROCS is above 1. Stats.Gathers counts the
// waits, so it needs a variant with stats (throughput). No goroutine posts
// during a wait here, so each one ends after a quarter of inbox.gather.
func TestGatherWaitsOnlyWhilePostsStreamIn(t *testing.T) {
	forEachGatheringVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		posted, ran := 0, 0
		post := func(n int) {
			t.Helper()
			postCounting(t, l, n, &ran)
			posted += n
		}

		post(2)
		gatherStep(t, l, true, "the first posts", 0)
		post(2)
		gatherStep(t, l, true, "posts after posts", 1)
		post(2)
		gatherStep(t, l, false, "posts after posts, in an iteration that may not block", 1)
		gatherStep(t, l, false, "an iteration that took no posts", 1)
		post(1)
		gatherStep(t, l, true, "a post after an iteration that took none", 1)
		l.CallSoon(func() {})
		post(1)
		gatherStep(t, l, true, "a post with a callback ready beside it", 1)
		if v.Params.Overflow == "reject" && v.Params.InboxDepth < v.Params.Batch {
			t.Logf("inbox.depth %d < batch %d under overflow: reject: a whole batch of posts does not fit, so that step is left out", v.Params.InboxDepth, v.Params.Batch)
		} else {
			post(v.Params.Batch)
			gatherStep(t, l, true, "a whole batch of posts", 1)
		}

		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			post(2)
			gatherStep(t, l, true, "posts after posts with GOMAXPROCS 1", 1)
		}()
		post(2)
		gatherStep(t, l, true, "posts after posts with GOMAXPROCS back above 1", 2)

		runUntilIdle(t, l)
		if ran != posted {
			t.Errorf("%d of %d posted callbacks ran", ran, posted)
		}
	})
}

// gatherStep runs one RunOnce(block) and fails unless Stats().Gathers is want.
func gatherStep(t *testing.T, l core.Loop, block bool, what string, want uint64) {
	t.Helper()
	if err := l.RunOnce(block); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if got := l.Stats().Gathers; got != want {
		t.Fatalf("%s: Gathers = %d, want %d", what, got, want)
	}
}

// forEachGatheringVariant runs fn on every variant whose waits for posts
// Stats.Gathers counts (stats, inbox.gather, and a batch of at least 4, so
// that two posts are fewer than a batch), when GOMAXPROCS lets them gather.
func forEachGatheringVariant(t *testing.T, fn func(t *testing.T, v all.Variant)) {
	t.Helper()
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("gathering is off with GOMAXPROCS 1")
	}
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Stats || v.Params.Gather == 0 || v.Params.Batch < 4 {
			t.Skip("needs stats, inbox.gather and a batch of at least 4")
		}
		fn(t, v)
	})
}

// postCounting posts n callbacks that count themselves in *ran.
func postCounting(t *testing.T, l core.Loop, n int, ran *int) {
	t.Helper()
	for range n {
		if err := l.Post(func() { *ran++ }); err != nil {
			t.Fatalf("Post: %v", err)
		}
	}
}
