//go:build unix && !linux

package wake

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// token is the byte one Signal writes into the pipe; shared and never written.
var token = [1]byte{1}

func (w *FD) openFDs() error {
	var p [2]int
	// pipe2 is missing on darwin; holding ForkLock while close-on-exec is not
	// yet set keeps a concurrent fork+exec from inheriting the pipe, as os.Pipe
	// does.
	syscall.ForkLock.RLock()
	err := unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return os.NewSyscallError("pipe", err)
	}
	for _, fd := range p {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return os.NewSyscallError("fcntl", err)
		}
	}
	w.r, w.w = p[0], p[1]
	return nil
}

func (w *FD) signal() error { return w.write(token[:]) }

// Drain reads the pipe until it is empty, so it is not readable until the
// next Signal. Owner only. A short read means the pipe was emptied; a Signal
// after it makes the pipe readable again, so stopping there loses nothing and
// saves the read that would return EAGAIN. On an FD that is not open (zero,
// or closed) it reads nothing: its old descriptor number may belong to
// someone else by now.
func (w *FD) Drain() {
	if !w.open {
		return
	}
	for {
		n, err := unix.Read(w.r, w.buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < len(w.buf) {
			return
		}
	}
}
