package wake

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the CPU time the calling thread has used: lock the goroutine
// to its thread (runtime.LockOSThread) around the two readings. Unlike the
// process's, it leaves out collections and other goroutines, which a loaded
// machine under -race makes large enough to fail a bound.
func threadCPU(t testing.TB) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
