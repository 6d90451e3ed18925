package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/loopgen/loop"
)

// The Benchmark*API benchmarks drive the public API of package loop, which
// forwards to the variant selected by build tags (the default without one)
// with direct, inlinable calls: the figures a user of package loop gets.
// Compare variants with -tags loop_<name>. Their bodies repeat those of
// the per-variant benchmarks on purpose: a helper shared with those, over an
// interface or a type parameter (every pointer type shares one shape), would
// call the loop's methods indirectly, which is what these measure without.

func newAPILoop(b *testing.B, opts ...loop.Option) *loop.Loop {
	b.Helper()
	l, err := loop.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// BenchmarkCallSoonAPI queues `queued` callbacks and runs them all: ns/op is
// the cost of one callback (push, pop, call). The last, partial batch runs
// inside the timing too, and every callback must have run.
func BenchmarkCallSoonAPI(b *testing.B) {
	for _, queued := range []int{1_000, 10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("queued=%d", queued), func(b *testing.B) {
			l := newAPILoop(b)
			ran := 0
			fn := func() { ran++ }
			drain := func() {
				for l.Pending() > 0 {
					if err := l.RunOnce(false); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				l.CallSoon(fn)
				if (i+1)%queued == 0 {
					drain()
				}
			}
			drain()
			b.StopTimer()
			if ran != b.N {
				b.Fatalf("ran %d of %d callbacks", ran, b.N)
			}
		})
	}
}

// BenchmarkPostAPI posts from one goroutine to a running loop; the time
// includes running every callback (the loop drains its backlog before the
// clock stops), so a producer that outruns the loop gains nothing.
func BenchmarkPostAPI(b *testing.B) {
	l := newAPILoop(b)
	done := make(chan struct{})
	ran := 0
	fn := func() { ran++ }
	go func() { l.Run(); close(done) }()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		postRetrying(b, l, fn)
	}
	postRetrying(b, l, l.Stop)
	<-done
	if ran != b.N {
		b.Fatalf("ran %d of %d posts", ran, b.N)
	}
}

// BenchmarkPostRoundTripAPI posts one callback at a time and waits until it
// has run, so the loop goes to sleep between posts: the cost of a post that
// has to wake the loop (the announcement of its sleep, the wake-up system
// call, the thread wake-up) and of the answer, on a channel, back to the
// poster. It is what a goroutine that hands the loop a request and waits for
// its reply sees.
func BenchmarkPostRoundTripAPI(b *testing.B) {
	l := newAPILoop(b)
	done := make(chan struct{})
	go func() { l.Run(); close(done) }()
	ran := make(chan struct{}, 1)
	fn := func() { ran <- struct{}{} }
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		postRetrying(b, l, fn)
		<-ran
	}
	b.StopTimer()
	postRetrying(b, l, l.Stop)
	<-done
}

// BenchmarkCallLaterFireAPI schedules one timer per op a few ticks ahead
// with 100,000 others pending, and fires them as the virtual clock passes:
// ns/op is one schedule plus its fire.
func BenchmarkCallLaterFireAPI(b *testing.B) {
	b.Run("pending=100000", func(b *testing.B) {
		vc := loop.NewVirtualClock(time.Unix(0, 0))
		l := newAPILoop(b, loop.WithClock(vc))
		idle := func() {}
		for i := range 100_000 {
			l.CallLater(time.Hour+time.Duration(i)*time.Millisecond/100, idle)
		}
		fired := 0
		fn := func() { fired++ }
		tick := l.Variant().Tick
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.CallLater(time.Duration(1+i%8)*tick, fn)
			if i++; i%64 == 0 {
				vc.Advance(tick)
				l.RunOnce(false)
			}
		}
		// The last few are not due yet: fire them untimed, and count.
		for range 10 {
			vc.Advance(tick)
			l.RunOnce(false)
		}
		if fired != i {
			b.Fatalf("%d of %d timers fired", fired, i)
		}
	})
}

// BenchmarkCancelAPI cancels one timer per op with 100,000 others pending;
// scheduling the cancelled ones again happens with the clock stopped.
func BenchmarkCancelAPI(b *testing.B) {
	vc := loop.NewVirtualClock(time.Unix(0, 0))
	l := newAPILoop(b, loop.WithClock(vc))
	fn := func() {}
	for i := range 100_000 {
		l.CallLater(time.Hour+time.Duration(i)*time.Millisecond/100, fn)
	}
	const n = 1 << 16
	handles := make([]loop.Timer, n)
	for i := range handles {
		handles[i] = l.CallLater(time.Duration(i+1)*time.Millisecond, fn)
	}
	b.ReportAllocs()
	i, missed, total := 0, 0, 0
	for b.Loop() {
		if i == n {
			b.StopTimer()
			for j := range handles {
				handles[j] = l.CallLater(time.Duration(j+1)*time.Millisecond, fn)
			}
			i = 0
			b.StartTimer()
		}
		if !l.Cancel(handles[i]) {
			missed++
		}
		i++
		total++
	}
	if missed > 0 {
		b.Fatalf("%d of %d cancels found no pending timer", missed, total)
	}
}

// BenchmarkRearmAPI re-arms one of 1,024 idle deadlines (a minute ahead, as
// a connection's idle timeout is on each read) per op, with 100,000 other
// timers pending and the virtual clock moving a tick every 64 ops: with
// Reschedule, and with the Cancel and CallLater it replaces. ns/op is one
// re-arm; the deadlines must all be pending once at the end, none fired.
func BenchmarkRearmAPI(b *testing.B) {
	for _, how := range []string{"reschedule", "cancel+calllater"} {
		b.Run("how="+how, func(b *testing.B) {
			vc := loop.NewVirtualClock(time.Unix(0, 0))
			l := newAPILoop(b, loop.WithClock(vc))
			fn := func() {}
			for i := range 100_000 {
				// A day out: a long run moves the clock hours, never that far.
				l.CallLater(24*time.Hour+time.Duration(i)*time.Millisecond/100, fn)
			}
			fired := 0
			expire := func() { fired++ }
			deadlines := make([]loop.Timer, 1024)
			for i := range deadlines {
				deadlines[i] = l.CallLater(time.Minute, expire)
			}
			tick := l.Variant().Tick
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				h := &deadlines[i%len(deadlines)]
				if how == "reschedule" {
					if !l.Reschedule(*h, time.Minute) {
						b.Fatal("Reschedule found an idle deadline not pending")
					}
				} else {
					l.Cancel(*h)
					*h = l.CallLater(time.Minute, expire)
				}
				if i++; i%64 == 0 {
					vc.Advance(tick)
					l.RunOnce(false)
				}
			}
			if fired != 0 || l.Pending() != 100_000+len(deadlines) {
				b.Fatalf("%d deadlines fired, %d timers pending; want 0 and %d", fired, l.Pending(), 100_000+len(deadlines))
			}
		})
	}
}
