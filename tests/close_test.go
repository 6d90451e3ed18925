package tests

import (
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	return len(entries)
}

func TestCloseReleasesEveryFdAndGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t)
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		before := openFDs(t)
		for range 3 {
			l, err := v.New(core.Config{})
			if err != nil {
				t.Fatal(err)
			}
			l.CallLater(time.Hour, func() {})
			runFor(t, l, func() { l.Post(func() {}) })
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if after := openFDs(t); after != before {
			t.Fatalf("%d fds open before, %d after New+Run+Close", before, after)
		}
	})
}

func TestCloseWhileRunningStopsRunAndReleases(t *testing.T) {
	defer goleak.VerifyNone(t)
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		before := openFDs(t)
		l, err := v.New(core.Config{})
		if err != nil {
			t.Fatal(err)
		}
		// Close must find Run running: a Close before Run started makes Run
		// return ErrClosed, rightly. Under -race on a loaded machine the
		// goroutine took over 5 ms to get there (7 failures in 400 runs).
		started := make(chan struct{})
		if err := l.Post(func() { close(started) }); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		select {
		case <-started: // a posted callback runs only inside Run
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not start within 10 s")
		}
		time.Sleep(5 * time.Millisecond) // let Run block in its wait; Close stops it either way
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after Close")
		}
		if after := openFDs(t); after != before {
			t.Fatalf("%d fds open before, %d after", before, after)
		}
		if err := l.Run(); !errors.Is(err, core.ErrClosed) {
			t.Fatalf("Run after Close: %v, want ErrClosed", err)
		}
	})
}

func TestCloseFromACallback(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		l.CallSoon(func() { l.Close() })
		if err := l.Run(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if err := l.Post(func() {}); !errors.Is(err, core.ErrClosed) {
			t.Fatalf("Post after Close: %v", err)
		}
	})
}

func TestPostAfterCloseReturnsErrClosed(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.Post(func() {}); !errors.Is(err, core.ErrClosed) {
			t.Fatalf("Post after Close: %v, want ErrClosed", err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// TestNothingPostedSuccessfullyIsLostToClose races producers against Close:
// every Post that returned nil must have run by the time Close has finished.
func TestNothingPostedSuccessfullyIsLostToClose(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		for range 20 {
			l, err := v.New(core.Config{})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			accepted, ran := 0, 0
			done := make(chan error, 1)
			go func() { done <- l.Run() }()
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						err := l.Post(func() { mu.Lock(); ran++; mu.Unlock() })
						if errors.Is(err, core.ErrClosed) {
							return
						}
						if err == nil {
							mu.Lock()
							accepted++
							mu.Unlock()
						}
					}
				}()
			}
			time.Sleep(time.Millisecond)
			l.Close()
			wg.Wait()
			// Run may not have started before Close: then it reports ErrClosed,
			// and Close itself ran what had been posted.
			if err := <-done; err != nil && !errors.Is(err, core.ErrClosed) {
				t.Fatal(err)
			}
			mu.Lock()
			if ran != accepted {
				t.Fatalf("%d posts accepted, %d ran", accepted, ran)
			}
			mu.Unlock()
		}
	})
}

// AtClose's functions run once when the loop closes, after the callbacks
// queued before Close, and what they queue runs too; on a closed loop a
// function given to AtClose runs at once.
func TestAtCloseRunsAtCloseAfterWhatWasQueued(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		var order []string
		l.CallSoon(func() { order = append(order, "queued") })
		l.AtClose(func() {
			order = append(order, "atClose")
			l.CallSoon(func() { order = append(order, "queued by atClose") })
		})
		if len(order) != 0 {
			t.Fatalf("ran before Close: %v", order)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if want := []string{"queued", "atClose", "queued by atClose"}; !slices.Equal(order, want) {
			t.Fatalf("ran %v, want %v", order, want)
		}
		late := false
		l.AtClose(func() { late = true })
		if !late {
			t.Fatal("AtClose on a closed loop did not run its function")
		}
		if err := l.Close(); err != nil || len(order) != 3 {
			t.Fatalf("a second Close: %v, ran %v", err, order)
		}
	})
}

// Close runs what was posted before it in rounds; a panicking callback used to
// end its round, so 16 of them used up every round, and what was posted
// behind them, and the AtClose functions, never ran although Post had said
// they would.
func TestCloseRunsWhatWasPostedBehindPanickingCallbacks(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Recover {
			t.Skip("recover: false: a panic ends the program")
		}
		panics := 0
		l := newLoop(t, v, core.Config{PanicHandler: func(any) { panics++ }})
		// Under overflow: reject the inbox takes at most its depth.
		panicking := 40
		if v.Params.Overflow == "reject" {
			panicking = min(panicking, v.Params.InboxDepth-1)
		}
		for range panicking {
			if err := l.Post(func() { panic("boom") }); err != nil {
				t.Fatal(err)
			}
		}
		ran := false
		if err := l.Post(func() { ran = true }); err != nil {
			t.Fatal(err)
		}
		atClose := false
		l.AtClose(func() { atClose = true })
		l.Close()
		if !ran || !atClose || panics != panicking {
			t.Fatalf("posted callback ran: %v, AtClose ran: %v, panics handled: %d of %d", ran, atClose, panics, panicking)
		}
	})
}

// A panic handler that panics itself unwinds out of Close (the program asked
// for that), but the loop's descriptors and its clock subscription are
// released all the same, and a second Close does nothing. Close used to
// leave them open for good.
func TestClosePanickingHandlerStillReleases(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Recover {
			t.Skip("recover: false: a panic ends the program")
		}
		before := openFDs(t)
		vc := clock.NewVirtual(epoch)
		subsBefore := vc.Subscribers()
		l, err := v.New(core.Config{Clock: vc, PanicHandler: func(r any) { panic(r) }})
		if err != nil {
			t.Fatal(err)
		}
		if n := vc.Subscribers(); n != subsBefore+1 {
			// Without this the check below could pass for a loop that never subscribed.
			t.Fatalf("%d clock subscribers after New, want %d: the loop no longer subscribes", n, subsBefore+1)
		}
		woken := 0
		l.AtClose(func() { woken++ }) // dropped: it is queued behind the panic
		l.CallSoon(func() { panic("boom") })
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("Close: recovered %v, want the handler's panic boom", r)
				}
			}()
			l.Close()
		}()
		if err := l.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if after := openFDs(t); after != before {
			t.Errorf("%d fds open before New, %d after Close unwound", before, after)
		}
		if n := vc.Subscribers(); n != subsBefore {
			t.Errorf("%d clock subscribers before New, %d after Close unwound: the loop kept its subscription", subsBefore, n)
		}
		subscribed := 0
		vc.Subscribe(func() { subscribed++ })
		vc.Advance(time.Second) // the AtClose dropped by the panic stays dropped; a new subscriber still runs
		if subscribed != 1 || woken != 0 {
			t.Errorf("after Advance: new subscriber ran %d times, the dropped AtClose %d", subscribed, woken)
		}
	})
}

// Closed is false until Close is called, and true from then on, also in
// the callbacks queued before Close that Close still runs, where Post
// already fails.
func TestClosedSaysCloseHasBegun(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		if l.Closed() {
			t.Fatal("Closed before Close")
		}
		var inCallback bool
		var postErr error
		l.CallSoon(func() {
			inCallback = l.Closed()
			postErr = l.Post(func() {})
		})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if !inCallback || !errors.Is(postErr, core.ErrClosed) {
			t.Errorf("in a callback Close ran: Closed %v, Post %v; want true and ErrClosed", inCallback, postErr)
		}
		if !l.Closed() {
			t.Error("Closed false after Close")
		}
	})
}
