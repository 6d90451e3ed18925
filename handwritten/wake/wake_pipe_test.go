//go:build unix && !linux

package wake

import (
	"testing"

	"golang.org/x/sys/unix"
)

// fill writes into the pipe until it is full.
func fill(t *testing.T, w *FD) {
	t.Helper()
	var b [4096]byte
	for {
		_, err := unix.Write(w.w, b[:])
		if err == unix.EAGAIN {
			break
		}
		if err != nil && err != unix.EINTR {
			t.Fatalf("filling the pipe: %v", err)
		}
	}
	if _, err := unix.Write(w.w, token[:]); err != unix.EAGAIN {
		t.Fatalf("write to a full pipe: %v, want EAGAIN", err)
	}
}
