// Package cputime reads the CPU time of the calling thread, for tests that
// check that a wait sleeps instead of spinning.
package cputime

import "time"

// Thread returns the CPU time (user and system) the calling thread has used.
// Lock the goroutine to its thread (runtime.LockOSThread) around the two
// readings whose difference is wanted. Unlike the process's CPU time, it
// leaves out collections and other goroutines, which a loaded machine under
// -race makes large enough to fail a bound. Where the system has no
// per-thread reading (not Linux), it returns the process's.
func Thread() (time.Duration, error) { return thread() }
