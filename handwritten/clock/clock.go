// Package clock provides the virtual clock that loops accept in place of the
// monotonic clock, so timer logic can be tested without sleeping.
package clock

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Virtual is a clock that moves only when told to. Several loops may share
// one; each is woken when it moves. Safe for concurrent use.
type Virtual struct {
	start   time.Time
	elapsed atomic.Int64 // nanoseconds since start; only ever grows

	mu     sync.Mutex // guards nextID and subs
	nextID int
	subs   []subscriber

	notifyMu sync.Mutex // serializes notify, which owns scratch
	scratch  []func()
}

type subscriber struct {
	id int
	fn func()
}

// NewVirtual returns a clock that reads start until advanced.
func NewVirtual(start time.Time) *Virtual {
	return &Virtual{start: start}
}

// Now returns the clock's current time.
func (c *Virtual) Now() time.Time { return c.start.Add(c.Elapsed()) }

// Start returns the time the clock read before it was first advanced: Now
// is always Start().Add(Elapsed()), and a caller that needs both from one
// reading takes Elapsed once and adds it to Start.
func (c *Virtual) Start() time.Time { return c.start }

// Elapsed returns how far the clock has been advanced in all.
func (c *Virtual) Elapsed() time.Duration { return time.Duration(c.elapsed.Load()) }

// Advance moves the clock forward by d and wakes every subscriber. d < 0
// panics: a monotonic clock never goes back.
// Past the largest Duration since start, Advance panics rather than let the
// clock wrap around and go back.
func (c *Virtual) Advance(d time.Duration) {
	if d < 0 {
		panic("clock: Advance with a negative duration")
	}
	for {
		e := c.elapsed.Load()
		if e > math.MaxInt64-int64(d) {
			panic("clock: Advance past the largest time.Duration since the clock's start")
		}
		if c.elapsed.CompareAndSwap(e, e+int64(d)) {
			break
		}
	}
	c.notify()
}

// AdvanceTo moves the clock forward to t; a t not after Now does nothing.
// Concurrent calls move it to the latest of their times, not past it. A t
// past the largest Duration since the start stops there (Advance panics).
func (c *Virtual) AdvanceTo(t time.Time) {
	target := int64(t.Sub(c.start))
	for {
		e := c.elapsed.Load()
		if target <= e {
			return
		}
		if c.elapsed.CompareAndSwap(e, target) {
			c.notify()
			return
		}
	}
}

// Subscribe registers fn to be called, on the advancing goroutine, after each
// Advance. The returned function removes it; an Advance already notifying
// may still call fn once after it returns. fn runs under the lock that
// orders notifications: it must not Advance the clock itself (that would
// wait for good), and should return quickly.
func (c *Virtual) Subscribe(fn func()) (unsubscribe func()) {
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.subs = append(c.subs, subscriber{id, fn})
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.subs = slices.DeleteFunc(c.subs, func(s subscriber) bool { return s.id == id })
		c.mu.Unlock()
	}
}

// Subscribers returns how many functions are subscribed now: each Subscribe
// adds one until its unsubscribe runs. For tests and diagnostics, such as
// checking that a closed loop let go of its clock.
func (c *Virtual) Subscribers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs)
}

// notify calls the subscribers outside mu, so one may unsubscribe from inside
// its callback; it allocates nothing once scratch has grown.
func (c *Virtual) notify() {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	c.mu.Lock()
	c.scratch = c.scratch[:0]
	for _, s := range c.subs {
		c.scratch = append(c.scratch, s.fn)
	}
	c.mu.Unlock()
	for i, fn := range c.scratch {
		fn()
		c.scratch[i] = nil
	}
}
