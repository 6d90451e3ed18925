package clock

import (
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

// The overflow guard refuses only what would wrap: the last representable
// nanosecond is still a valid reading.
func TestAdvanceMayReachTheLargestDuration(t *testing.T) {
	c := NewVirtual(start)
	c.Advance(math.MaxInt64 - 1)
	c.Advance(1)
	if got := c.Elapsed(); got != math.MaxInt64 {
		t.Errorf("Elapsed %v after advancing to the largest Duration, want %v", got, time.Duration(math.MaxInt64))
	}
}

// A loop woken by the clock re-reads its timers; AdvanceTo(Now()) moves
// nothing, so it must not cost the subscribers a wake-up.
func TestAdvanceToTheCurrentTimeNotifiesNoOne(t *testing.T) {
	c := NewVirtual(start)
	c.Advance(time.Millisecond)
	calls := 0
	defer c.Subscribe(func() { calls++ })()
	c.AdvanceTo(c.Now())
	if calls != 0 || c.Elapsed() != time.Millisecond {
		t.Errorf("AdvanceTo(Now()): %d notifications, Elapsed %v; want 0 and 1ms", calls, c.Elapsed())
	}
}

// Loops sharing a clock each subscribe; one closing must not silence the rest.
func TestUnsubscribingOneSubscriberKeepsTheOthers(t *testing.T) {
	c := NewVirtual(start)
	var first, second int
	stopFirst := c.Subscribe(func() { first++ })
	stopSecond := c.Subscribe(func() { second++ })
	defer stopSecond()
	stopFirst()
	c.Advance(time.Millisecond)
	if first != 0 || second != 1 {
		t.Errorf("after the first unsubscribed: first called %d times, second %d; want 0 and 1", first, second)
	}
}

// When AdvanceTo returns, the clock reads at least its target, even if a
// concurrent AdvanceTo to an earlier time won the race to move it. Two
// goroutines leapfrog (even and odd targets), so a lost compare-and-swap
// that gives up instead of retrying leaves the clock behind its caller.
// Needs two Ps running at once; the race is not deterministic.
func TestAdvanceToReturnsOnlyOnceTheClockReachesItsTarget(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS >= 2 for AdvanceTo calls to overlap")
	}
	const steps = 200_000
	deadline := time.Now().Add(time.Second)
	for round := 0; round < 50 && time.Now().Before(deadline); round++ {
		c := NewVirtual(start)
		var wg sync.WaitGroup
		behind := make(chan time.Duration, 2)
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range steps {
					target := time.Duration(2*i + g + 1)
					c.AdvanceTo(start.Add(target))
					if c.Elapsed() < target {
						behind <- target
						return
					}
				}
			}()
		}
		wg.Wait()
		close(behind)
		for target := range behind {
			t.Fatalf("round %d: AdvanceTo(+%v) returned with the clock at less", round, target)
		}
	}
}
