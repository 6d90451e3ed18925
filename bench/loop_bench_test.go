package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

// The benchmarks in this file drive each generated variant, and the generic
// build, through the core.Loop interface. Their names put the variant in a
// key (BenchmarkPost/variant=balanced), so that `benchstat -col /variant`
// sets the variants side by side. Each checks that the work it times was
// done: a variant that dropped it must fail, not report a fast time.

// benchVariants are every generated variant and the generic build.
func benchVariants() []all.Variant {
	return append(slices.Clip(all.Variants), all.Generic)
}

func newLoop(b *testing.B, v all.Variant, cfg core.Config) core.Loop {
	b.Helper()
	l, err := v.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// drain runs non-blocking iterations until nothing is pending.
func drain(b *testing.B, l core.Loop) {
	for l.Pending() > 0 {
		if err := l.RunOnce(false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallSoon queues `queued` callbacks and runs them all: ns/op is the
// cost of one callback (push, pop, call), which should not depend on how many
// are queued. The last, partial batch runs inside the timing too.
func BenchmarkCallSoon(b *testing.B) {
	for _, v := range benchVariants() {
		for _, queued := range []int{1_000, 1_000_000} {
			b.Run(fmt.Sprintf("variant=%s/queued=%d", v.Name, queued), func(b *testing.B) {
				l := newLoop(b, v, core.Config{})
				ran := 0
				fn := func() { ran++ }
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					l.CallSoon(fn)
					if (i+1)%queued == 0 {
						drain(b, l)
					}
				}
				drain(b, l)
				b.StopTimer()
				if ran != b.N {
					b.Fatalf("ran %d of %d callbacks", ran, b.N)
				}
			})
		}
	}
}

// postRetrying posts fn, waiting out a full inbox (a variant with overflow:
// reject refuses a post while its inbox is full; the loop drains it); any
// other error fails the benchmark. l is a core.Loop or a *loop.Loop.
func postRetrying(b *testing.B, l interface{ Post(func()) error }, fn func()) {
	for {
		err := l.Post(fn)
		if err == nil {
			return
		}
		if !errors.Is(err, core.ErrQueueFull) {
			b.Fatal(err)
		}
	}
}

// BenchmarkPost has one producer goroutine post to a running loop: ns/op is
// the throughput cost of one cross-goroutine callback, including running it
// (the clock stops only once the loop has drained).
func BenchmarkPost(b *testing.B) {
	for _, v := range benchVariants() {
		b.Run("variant="+v.Name, func(b *testing.B) {
			l := newLoop(b, v, core.Config{})
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
				b.Fatalf("ran %d of %d", ran, b.N)
			}
		})
	}
}

// BenchmarkCallLaterFire schedules one timer per op a few ticks ahead with
// `pending` others outstanding, and fires them as the virtual clock passes:
// ns/op is the cost of one schedule plus its fire.
func BenchmarkCallLaterFire(b *testing.B) {
	for _, v := range benchVariants() {
		b.Run(fmt.Sprintf("variant=%s/pending=100000", v.Name), func(b *testing.B) {
			vc := clock.NewVirtual(time.Unix(0, 0))
			l := newLoop(b, v, core.Config{Clock: vc})
			idle := func() {}
			for i := range 100_000 { // outstanding timers, 1 h to 2 h out
				l.CallLater(time.Hour+time.Duration(i)*time.Millisecond/100, idle)
			}
			fired := 0
			fn := func() { fired++ }
			tick := v.Params.Tick
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
}

// BenchmarkCancelAndReschedule re-arms a deadline with 100,000 other timers
// pending: ns/op is one Cancel plus one CallLater (BenchmarkCancelAPI times
// Cancel alone).
func BenchmarkCancelAndReschedule(b *testing.B) {
	for _, v := range benchVariants() {
		b.Run("variant="+v.Name, func(b *testing.B) {
			vc := clock.NewVirtual(time.Unix(0, 0))
			l := newLoop(b, v, core.Config{Clock: vc})
			fn := func() {}
			for i := range 100_000 {
				l.CallLater(time.Hour+time.Duration(i)*time.Millisecond/100, fn)
			}
			handles := make([]core.Timer, 1024)
			for i := range handles {
				handles[i] = l.CallLater(time.Duration(i+1)*time.Second, fn)
			}
			b.ReportAllocs()
			i, missed := 0, 0
			for b.Loop() {
				j := i % len(handles)
				if !l.Cancel(handles[j]) {
					missed++
				}
				handles[j] = l.CallLater(time.Duration(j+1)*time.Second, fn)
				i++
			}
			if missed > 0 {
				b.Fatalf("%d of %d cancels found no pending timer", missed, i)
			}
		})
	}
}

// BenchmarkIdleTick runs a loop that has nothing to do but a 1 ms CallEvery:
// ns/op is wall time per tick (about 1 ms), cpu-ns/op the process's CPU time
// per tick, which is what an idle loop with a periodic timer costs: mostly
// the wake-up. Measured on the real clock; the default -benchtime gives
// about 1,000 ticks.
func BenchmarkIdleTick(b *testing.B) {
	for _, v := range benchVariants() {
		b.Run("variant="+v.Name, func(b *testing.B) {
			l := newLoop(b, v, core.Config{})
			ticks := 0
			l.CallEvery(time.Millisecond, func() {
				if ticks++; ticks == b.N {
					l.Stop()
				}
			})
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			if err := l.Run(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if ticks != b.N {
				b.Fatalf("%d of %d ticks", ticks, b.N)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkReadyFds has a loop watch 128 pipes that stay readable (their
// readers never drain them) and runs one non-blocking iteration per op, in
// which every backend reports all 128 (epoll takes up to 128 events a wait;
// poll takes all): ns/event is the cost of one readiness event, from the
// poller's wait through finding the fd's registration to calling its reader.
func BenchmarkReadyFds(b *testing.B) {
	const fds = 128
	for _, v := range benchVariants() {
		b.Run("variant="+v.Name, func(b *testing.B) {
			if v.Params.Poller == "none" {
				b.Skip("no poller: the variant watches no fds")
			}
			l := newLoop(b, v, core.Config{})
			calls := 0
			read := func() { calls++ }
			for range fds {
				r, w, err := os.Pipe()
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { r.Close(); w.Close() })
				if _, err := w.Write([]byte{1}); err != nil {
					b.Fatal(err)
				}
				if err := l.AddReader(int(r.Fd()), read); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			iterations := 0
			for b.Loop() {
				if err := l.RunOnce(false); err != nil {
					b.Fatal(err)
				}
				iterations++
			}
			if calls != fds*iterations {
				b.Fatalf("%d reads in %d iterations of %d ready fds, want %d", calls, iterations, fds, fds*iterations)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/event")
		})
	}
}
