package tests

import (
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
)

// WithClock's doc gives a test that advances a virtual clock under a loop
// running on its own goroutine a way to know the timers the Advance made due
// have run: post a callback that queues the check with CallSoon. The queued
// step runs in a later iteration, which reads the clock afresh and runs due
// timers before ready callbacks. An fd stays registered, as a server's
// listener is.
func TestAPostThatQueuesItsCheckSeesTheTimersAnAdvanceMadeDue(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, vc := newVirtual(t, v)
		if v.Params.Poller != "none" {
			a, _ := socketpair(t)
			if err := l.AddReader(a, func() {}); err != nil {
				t.Fatal(err)
			}
		}
		// The loop is kept busy, as a server's is by its traffic: an idle
		// loop runs the timers as soon as the Advance wakes it, before any
		// post lands, which would hide the order tested here.
		busy := true
		var spin func()
		spin = func() {
			if busy {
				l.CallSoon(spin)
			}
		}
		l.CallSoon(spin)
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		call := func(fn func()) {
			ran := make(chan struct{})
			if err := l.Post(func() { fn(); close(ran) }); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ran:
			case <-time.After(10 * time.Second):
				t.Fatal("a posted callback did not run in 10 s")
			}
		}
		tick := v.Params.Tick
		for round := range 200 {
			fired := false
			call(func() { l.CallLater(tick, func() { fired = true }) })
			vc.Advance(tick)
			seen := make(chan bool, 1)
			call(func() { l.CallSoon(func() { seen <- fired }) })
			select {
			case ok := <-seen:
				if !ok {
					t.Fatalf("round %d: the step queued after the Advance ran before the timer it made due", round)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the queued step did not run in 10 s")
			}
		}
		call(func() { busy = false })
		l.Stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
