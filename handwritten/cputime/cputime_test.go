//go:build unix

package cputime

import (
	"runtime"
	"testing"
	"time"
)

// A thread that spins 100 ms reads about 100 ms more; one that sleeps reads
// almost nothing more. The bounds are loose: the machine may be loaded.
func TestThreadCountsSpinningNotSleeping(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	read := func() time.Duration {
		d, err := Thread()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	c0 := read()
	for t0 := time.Now(); time.Since(t0) < 100*time.Millisecond; {
	}
	c1 := read()
	time.Sleep(100 * time.Millisecond)
	c2 := read()
	if spun := c1 - c0; spun < 20*time.Millisecond {
		t.Errorf("spinning 100 ms read %v of CPU", spun)
	}
	if slept := c2 - c1; runtime.GOOS == "linux" && slept > 50*time.Millisecond {
		t.Errorf("sleeping 100 ms read %v of this thread's CPU", slept)
	}
}
