package wake

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// fill brings the eventfd counter to its maximum, 2^64-2, where a write of 1
// fails with EAGAIN.
func fill(t *testing.T, w *FD) {
	t.Helper()
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1<<64-2)
	if _, err := unix.Write(w.w, b[:]); err != nil {
		t.Fatalf("filling the eventfd: %v", err)
	}
	if _, err := unix.Write(w.w, token[:]); err != unix.EAGAIN {
		t.Fatalf("write to a full eventfd: %v, want EAGAIN", err)
	}
}
