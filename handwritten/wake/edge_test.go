//go:build unix

package wake

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/loopgen/loop/handwritten/cputime"
)

// A Signal that loaded the gate before Close but added its count after it
// gives that count back only after seeing the gate shut; an Open in between
// must keep the count. The test plays that Signal's two steps on the gate
// directly, since the window is a few instructions wide.
func TestOpenKeepsTheCountOfASignalRejectedByClose(t *testing.T) {
	var w FD
	if err := w.Open(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.gate.Add(1) // the late Signal's Add: the gate is shut, so it will undo it
	if err := w.Open(); err != nil {
		t.Fatal(err)
	}
	w.gate.Add(^uint64(0)) // the late Signal gives its count back
	err := w.Signal()
	if g := w.gate.Load(); g != usable {
		// Close would wait forever for a count that no Signal holds.
		w.gate.Store(usable)
		t.Errorf("gate = %#x after the rejected Signal returned, want %#x", g, uint64(usable))
	}
	if err != nil {
		t.Errorf("Signal after a reopen that raced with a rejected Signal: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// Close must not release the descriptor while a Signal is between the gate
// and its write: the number could be reused and the write land in another
// file. The test holds a count on the gate as such a Signal would.
func TestCloseWaitsForASignalInFlight(t *testing.T) {
	var w FD
	if err := w.Open(); err != nil {
		t.Fatal(err)
	}
	w.gate.Add(1) // a Signal that passed the gate and has not written yet
	done := make(chan error, 1)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		w.gate.Add(^uint64(0))
		t.Fatalf("Close returned (%v) while a Signal was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	w.gate.Add(^uint64(0)) // the Signal returns
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waiting 10 s after the Signal in flight returned")
	}
	if err := w.Signal(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Signal after Close: %v, want ErrClosed", err)
	}
}

// Close waits for a Signal in flight without keeping a CPU busy: one whose
// thread has stopped mid-write (played here by holding its count on the gate
// for 300 ms) cost Close 300 ms of CPU when it only yielded.
func TestCloseAwaitsAStalledSignalWithoutSpinning(t *testing.T) {
	var w FD
	if err := w.Open(); err != nil {
		t.Fatal(err)
	}
	w.gate.Add(1) // a Signal past the gate, not yet returned
	const stall = 300 * time.Millisecond
	go func() {
		time.Sleep(stall)
		w.gate.Add(^uint64(0))
	}()
	// This thread's CPU, not the process's: collections and other
	// goroutines on a loaded machine would count against the bound.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, err := cputime.Thread()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	cpu1, err := cputime.Thread()
	if err != nil {
		t.Fatal(err)
	}
	cpu := cpu1 - cpu0
	if wall < stall/2 {
		t.Errorf("Close returned after %v, with a Signal still in flight", wall)
	}
	// Spinning costs about as much CPU as wall time; sleeping, about 1% here.
	// Yielding alone, with no sleep, cost 37-44% on a 2-core VM (the locked
	// thread hands its P off and back on each yield), which a bound of half
	// the wall time let pass in most runs; a tenth separates both.
	if cpu > wall/10 {
		t.Errorf("%v of CPU while Close waited %v for a Signal: the wait spins", cpu, wall)
	}
}
