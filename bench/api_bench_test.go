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
// Compare variants with -tags loop_<name>.

func newAPILoop(b *testing.B, opts ...loop.Option) *loop.Loop {
	b.Helper()
	l, err := loop.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func BenchmarkCallSoonAPI(b *testing.B) {
	for _, queued := range []int{1_000, 10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("queued=%d", queued), func(b *testing.B) {
			l := newAPILoop(b)
			fn := func() {}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				l.CallSoon(fn)
				if n++; n == queued {
					for l.Pending() > 0 {
						l.RunOnce(false)
					}
					n = 0
				}
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
	fn := func() {}
	go func() { l.Run(); close(done) }()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := l.Post(fn); err != nil {
			b.Fatal(err) // a rejected post must not count as one
		}
	}
	l.Post(l.Stop)
	<-done
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
		if err := l.Post(fn); err != nil {
			b.Fatal(err)
		}
		<-ran
	}
	b.StopTimer()
	l.Post(l.Stop)
	<-done
}

func BenchmarkCallLaterFireAPI(b *testing.B) {
	vc := loop.NewVirtualClock(time.Unix(0, 0))
	l := newAPILoop(b, loop.WithClock(vc))
	fn := func() {}
	for i := range 100_000 {
		l.CallLater(time.Hour+time.Duration(i)*time.Millisecond/100, fn)
	}
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
	i := 0
	for b.Loop() {
		if i == n {
			b.StopTimer()
			for j := range handles {
				handles[j] = l.CallLater(time.Duration(j+1)*time.Millisecond, fn)
			}
			i = 0
			b.StartTimer()
		}
		l.Cancel(handles[i])
		i++
	}
}
