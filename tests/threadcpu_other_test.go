//go:build unix && !linux

package tests

import (
	"syscall"
	"testing"
	"time"
)

// threadCPU is, where there is no RUSAGE_THREAD, the process's CPU time.
func threadCPU(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
