package loop_test

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/loopgen/loop"
)

// Each example runs unchanged under every variant tag (loop_balanced,
// loop_latency, loop_throughput, loop_compute, and any variant added to the
// spec): go test -tags loop_<name> . So none depends on a variant's batch or
// tick: a timer fires on the first tick of the loop's wheel at or after its
// deadline, and ticks are 1ms apart by default but may be anything from 1us
// to 1s. (ExampleWithPanicHandler is left out under recover: false, where a
// panic ends the program; see TestMain.)

// start is where the examples' virtual clocks begin; any fixed time will do.
var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// upToTick returns d rounded up to whole ticks of l's wheel: advanced that
// far, a virtual clock reaches the tick on which a timer due after d fires.
func upToTick(l *loop.Loop, d time.Duration) time.Duration {
	tick := l.Variant().Tick
	return (d + tick - 1) / tick * tick
}

func ExampleNew() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	l.CallSoon(func() { fmt.Println("hello") })
	l.CallSoon(func() {
		fmt.Println("stopping")
		l.Stop() // Run returns after this iteration
	})
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("Run returned")
	// Output:
	// hello
	// stopping
	// Run returned
}

func ExampleLoop_CallSoon() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	iteration, first := 0, 0
	l.CallSoon(func() {
		fmt.Println("1")
		first = iteration
		// Queued while a batch runs: after 2 and 3, and in a later iteration
		// (an iteration runs up to the variant's batch of callbacks).
		l.CallSoon(func() { fmt.Println("4, in a later iteration than 1:", iteration > first) })
	})
	l.CallSoon(func() { fmt.Println("2") })
	l.CallSoon(func() { fmt.Println("3") })

	for l.Pending() > 0 {
		iteration++
		l.RunOnce(false)
	}
	// Output:
	// 1
	// 2
	// 3
	// 4, in a later iteration than 1: true
}

func ExampleLoop_Post() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	go func() {
		// Any goroutine may Post; the callback runs on the loop goroutine.
		err := l.Post(func() {
			fmt.Println("posted from another goroutine")
			l.Stop()
		})
		if err != nil {
			fmt.Println(err)
		}
	}()
	if err := l.Run(); err != nil { // blocks until the post wakes it
		fmt.Println(err)
	}
	// Output: posted from another goroutine
}

func ExampleLoop_CallLater() {
	vc := loop.NewVirtualClock(start)
	l, err := loop.New(loop.WithClock(vc))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	// Timers fire on the ticks of the loop's wheel (1ms apart by default).
	tick := l.Variant().Tick
	t0 := l.Now()
	l.CallLater(50*tick, func() {
		fmt.Println("fired after", int64(l.Now().Sub(t0)/tick), "ticks")
	})

	vc.Advance(49 * tick)
	l.RunOnce(false) // not due yet: never early
	fmt.Println("after 49 ticks nothing fired")

	vc.Advance(tick)
	l.RunOnce(false)
	// Output:
	// after 49 ticks nothing fired
	// fired after 50 ticks
}

func ExampleLoop_CallAt() {
	vc := loop.NewVirtualClock(start)
	l, err := loop.New(loop.WithClock(vc))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	l.CallAt(start.Add(2*time.Second), func() { fmt.Println("second, at", l.Now().Format(time.TimeOnly)) })
	l.CallAt(start.Add(time.Second), func() { fmt.Println("first, at", l.Now().Format(time.TimeOnly)) })
	l.CallAt(start.Add(-time.Second), func() { fmt.Println("already past: runs as CallSoon") })

	l.RunOnce(false)
	for _, at := range []time.Duration{time.Second, 2 * time.Second} {
		vc.AdvanceTo(start.Add(upToTick(l, at))) // the tick at or after it
		l.RunOnce(false)
	}
	// Output:
	// already past: runs as CallSoon
	// first, at 00:00:01
	// second, at 00:00:02
}

func ExampleLoop_CallEvery() {
	vc := loop.NewVirtualClock(start)
	l, err := loop.New(loop.WithClock(vc))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	var t loop.Timer
	n := 0
	t = l.CallEvery(time.Second, func() {
		n++
		fmt.Println("tick", n)
		if n == 3 {
			l.Cancel(t) // a periodic timer may cancel itself
		}
	})
	for range 5 {
		vc.Advance(upToTick(l, time.Second))
		l.RunOnce(false)
	}
	// Output:
	// tick 1
	// tick 2
	// tick 3
}

func ExampleLoop_Cancel() {
	vc := loop.NewVirtualClock(start)
	l, err := loop.New(loop.WithClock(vc))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	old := l.CallLater(time.Second, func() { fmt.Println("never runs") })
	fmt.Println("cancelled:", l.Cancel(old))
	fmt.Println("cancelled again:", l.Cancel(old))
	fmt.Println("zero Timer:", l.Cancel(loop.Timer{}))

	// A new timer may reuse the old one's slot; the stale handle cannot touch it.
	l.CallLater(time.Second, func() { fmt.Println("new timer fired") })
	fmt.Println("stale handle:", l.Cancel(old))
	vc.Advance(upToTick(l, time.Second))
	l.RunOnce(false)
	// Output:
	// cancelled: true
	// cancelled again: false
	// zero Timer: false
	// stale handle: false
	// new timer fired
}

// An idle timeout re-armed on every bit of activity: the timer moves,
// its handle stays the same.
func ExampleLoop_Reschedule() {
	vc := loop.NewVirtualClock(start)
	l, err := loop.New(loop.WithClock(vc))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	idle := l.CallLater(time.Minute, func() {
		fmt.Println("idle for a minute at", vc.Elapsed().Round(time.Second))
	})
	for range 3 { // activity every 40 s keeps it from firing
		vc.Advance(40 * time.Second)
		l.RunOnce(false)
		l.Reschedule(idle, time.Minute)
	}
	vc.Advance(upToTick(l, time.Minute))
	l.RunOnce(false)
	fmt.Println("moved after it fired:", l.Reschedule(idle, time.Minute))
	// Output:
	// idle for a minute at 3m0s
	// moved after it fired: false
}

func ExampleLoop_AddReader() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	defer w.Close()

	got := func(b byte) {
		fmt.Printf("read %q\n", b)
		l.Stop()
	}
	fd := int(r.Fd())
	err = l.AddReader(fd, func() {
		var buf [1]byte
		n, _ := r.Read(buf[:])
		l.RemoveReader(fd) // remove before the fd is closed
		if n == 1 {
			got(buf[0])
		}
	})
	switch {
	case errors.Is(err, loop.ErrNoPoller):
		// A variant generated with poller: none (loop_compute) watches no
		// descriptors: read on a goroutine and hand the data in with Post.
		go func() {
			var buf [1]byte
			if n, _ := r.Read(buf[:]); n == 1 {
				l.Post(func() { got(buf[0]) })
			}
		}()
	case err != nil:
		fmt.Println(err)
		return
	}

	w.Write([]byte("x"))
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	// Output: read 'x'
}

// An application that owns its own main loop (a game frame, a GUI toolkit, a
// VM's scheduler) drives the event loop one iteration at a time.
func ExampleLoop_RunOnce() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	l.CallSoon(func() {
		fmt.Println("  callback A")
		l.CallSoon(func() { fmt.Println("  callback B, queued by A") })
	})
	for frame := 1; frame <= 3; frame++ {
		fmt.Println("frame", frame)
		// false: do not wait when there is nothing to do.
		if err := l.RunOnce(false); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// frame 1
	//   callback A
	// frame 2
	//   callback B, queued by A
	// frame 3
}

// A host that waits on events of its own (a GUI toolkit's, a game's)
// embeds the loop with RunOnce(false) and waits no longer than NextWake
// says; with no timer scheduled, it waits for its own events alone.
func ExampleLoop_NextWake() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	hostEvents := make(chan string, 1)
	hostEvents <- "click"
	done := false
	l.CallLater(20*time.Millisecond, func() {
		fmt.Println("the timer ran, on the host's goroutine")
		done = true
	})
	for {
		if err := l.RunOnce(false); err != nil {
			fmt.Println(err)
			return
		}
		if done {
			break
		}
		wait := time.Minute // the host's own longest wait
		if d, ok := l.NextWake(); ok {
			wait = d
		}
		select {
		case ev := <-hostEvents:
			fmt.Println("host event:", ev)
		case <-time.After(wait):
		}
	}
	// Output:
	// host event: click
	// the timer ran, on the host's goroutine
}

func ExampleWithPanicHandler() {
	l, err := loop.New(loop.WithPanicHandler(func(recovered any) {
		fmt.Println("recovered:", recovered)
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	l.CallSoon(func() { panic("boom") })
	l.CallSoon(func() {
		fmt.Println("the loop goes on")
		l.Stop()
	})
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// recovered: boom
	// the loop goes on
}

func ExampleLoop_Variant() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	p := l.Variant()
	// p.Name is "balanced" in a default build and "latency" under
	// -tags loop_latency; fmt.Println(p) prints every spec value on one line.
	fmt.Println("variant named:", p.Name != "")
	// Output: variant named: true
}

func ExampleLoop_Close() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}

	l.CallSoon(func() { fmt.Println("queued before Close: still runs") })
	if err := l.Close(); err != nil {
		fmt.Println(err)
	}

	err = l.Post(func() { fmt.Println("never runs") })
	fmt.Println("Post after Close:", err, errors.Is(err, loop.ErrClosed))
	fmt.Println("Run after Close:", errors.Is(l.Run(), loop.ErrClosed))
	fmt.Println("Close again:", l.Close())
	// Output:
	// queued before Close: still runs
	// Post after Close: loop: closed true
	// Run after Close: true
	// Close again: <nil>
}

// A virtual clock makes timer logic testable without sleeping: an hour of a
// once-a-minute job runs in no time, and the times it sees are exact (to the
// wheel's tick, 1ms by default: rounded down to the minute here, so that
// the output holds for a tick that does not divide a minute).
func ExampleWithClock() {
	vc := loop.NewVirtualClock(start)
	l, err := loop.New(loop.WithClock(vc))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	runs := 0
	l.CallEvery(time.Minute, func() { runs++ })
	for range 60 {
		vc.Advance(upToTick(l, time.Minute))
		l.RunOnce(false)
	}
	fmt.Println(runs, "runs by", l.Now().Sub(start).Truncate(time.Minute))
	// Output:
	// 60 runs by 1h0m0s
}

// RunFor steps a virtual clock through the timers of a stretch of time, each
// at its deadline, with no goroutine and no sleep: here a retry with backoff.
func ExampleLoop_RunFor() {
	vc := loop.NewVirtualClock(start)
	l, err := loop.New(loop.WithClock(vc))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	backoff := 100 * time.Millisecond
	var try func()
	try = func() {
		fmt.Println("try at", l.Now().Sub(start))
		backoff *= 2
		l.CallLater(backoff, try)
	}
	l.CallSoon(try)
	l.RunFor(time.Second)
	fmt.Println("stopped at", l.Now().Sub(start))
	// Output:
	// try at 0s
	// try at 200ms
	// try at 600ms
	// stopped at 1s
}

// AtClose lets a package that opens things on a loop release them when the
// loop closes, whoever closes it.
func ExampleLoop_AtClose() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	l.AtClose(func() { fmt.Println("releasing what was opened on the loop") })
	l.CallSoon(func() { fmt.Println("queued before Close: runs first") })
	l.Close()
	// Output:
	// queued before Close: runs first
	// releasing what was opened on the loop
}
