package tests

import (
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
)

// processCPU is the CPU time this process has used so far.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// An idle loop under a virtual clock sleeps, even on a variant that spins
// before blocking: virtual time stands still while it spins, so a spin would
// never end by itself and would burn a core until the next post.
func TestIdleLoopUnderAVirtualClockDoesNotSpin(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		l, _ := newVirtual(t, v)
		l.CallLater(time.Hour, func() {})
		done := make(chan error, 1)
		cpu0 := processCPU(t)
		go func() { done <- l.Run() }()
		time.Sleep(300 * time.Millisecond)
		used := processCPU(t) - cpu0
		if err := l.Post(l.Stop); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// A spinning loop uses about the whole 300 ms; a sleeping one a few ms.
		if used > 150*time.Millisecond {
			t.Fatalf("idle for 300ms, the process used %v of CPU", used)
		}
	})
}
