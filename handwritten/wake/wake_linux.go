package wake

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// token is the eventfd increment, a native-endian uint64 1. Shared and never
// written, so concurrent Signals may all pass it to write(2).
var token = func() (b [8]byte) {
	binary.NativeEndian.PutUint64(b[:], 1)
	return
}()

func (w *FD) openFDs() error {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	w.r, w.w = fd, fd
	return nil
}

func (w *FD) signal() error { return w.write(token[:]) }

// Drain empties the eventfd, so it is not readable until the next Signal.
// Owner only. One read suffices: without EFD_SEMAPHORE a read returns the
// whole counter and resets it to zero; a second read would only see EAGAIN.
// On an FD that is not open (zero, or closed) it reads nothing: its old
// descriptor number may belong to someone else by now.
func (w *FD) Drain() {
	if !w.open {
		return
	}
	for {
		if _, err := unix.Read(w.r, w.buf[:8]); err != unix.EINTR {
			return
		}
	}
}
