package clock

import (
	"math"
	"sync"
	"testing"
	"time"
)

var start = time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)

// AdvanceTo from several goroutines at once moves the clock to the target,
// never past it: each call used to add the whole distance it had measured.
// (The race is narrow: the old code overshot in about 2 of 20,000 rounds of
// four goroutines, so the test runs rounds for up to a second.)
func TestConcurrentAdvanceToStopsAtTheTarget(t *testing.T) {
	deadline := time.Now().Add(time.Second)
	for round := 0; round < 20_000 && time.Now().Before(deadline); round++ {
		c := NewVirtual(start)
		var ready, done sync.WaitGroup
		gate := make(chan struct{})
		for range 4 {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-gate
				c.AdvanceTo(start.Add(time.Second))
			}()
		}
		ready.Wait()
		close(gate)
		done.Wait()
		if got := c.Elapsed(); got != time.Second {
			t.Fatalf("round %d: four AdvanceTo(+1s) left the clock at +%v", round, got)
		}
	}
}

func TestAdvanceToIsMonotonic(t *testing.T) {
	c := NewVirtual(start)
	c.AdvanceTo(start.Add(time.Minute))
	c.AdvanceTo(start.Add(time.Second)) // behind: nothing
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("Now %v after AdvanceTo +1m then +1s, want +1m", got)
	}
	if !c.Start().Equal(start) || !c.Now().Equal(c.Start().Add(c.Elapsed())) {
		t.Errorf("Start %v, Now %v, Elapsed %v: Now must be Start+Elapsed", c.Start(), c.Now(), c.Elapsed())
	}
}

func TestAdvancePastTheLargestDurationPanics(t *testing.T) {
	c := NewVirtual(start)
	c.Advance(math.MaxInt64 - 1)
	defer func() {
		if recover() == nil {
			t.Error("Advance wrapped the clock around instead of panicking")
		}
		if c.Elapsed() != math.MaxInt64-1 {
			t.Errorf("the refused Advance moved the clock to %v", c.Elapsed())
		}
	}()
	c.Advance(2)
}

func TestAdvanceNotifiesEachSubscriber(t *testing.T) {
	c := NewVirtual(start)
	calls := 0
	stop := c.Subscribe(func() { calls++ })
	c.Advance(time.Millisecond)
	c.AdvanceTo(start) // behind: no notification
	c.AdvanceTo(start.Add(time.Second))
	stop()
	c.Advance(time.Millisecond)
	if calls != 2 {
		t.Errorf("subscriber called %d times, want 2", calls)
	}
}

// Subscribers counts each Subscribe until its unsubscribe runs; running an
// unsubscribe twice removes nothing more, and an unsubscribe run from inside
// a notification takes effect at once.
func TestSubscribersCountsTheLiveSubscriptions(t *testing.T) {
	c := NewVirtual(start)
	if n := c.Subscribers(); n != 0 {
		t.Fatalf("a new clock has %d subscribers, want 0", n)
	}
	stopA := c.Subscribe(func() {})
	var stopB func()
	stopB = c.Subscribe(func() { stopB() })
	if n := c.Subscribers(); n != 2 {
		t.Fatalf("%d subscribers after two Subscribes, want 2", n)
	}
	c.Advance(time.Millisecond) // B unsubscribes itself
	if n := c.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers after one unsubscribed in its callback, want 1", n)
	}
	stopB()
	if n := c.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers after an unsubscribe ran twice, want 1", n)
	}
	stopA()
	if n := c.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after every unsubscribe ran, want 0", n)
	}
}
