//go:build unix

package poller

import (
	"errors"
	"math"
	"syscall"
)

// errNoInterest is returned by Add and Modify when ev names neither Readable
// nor Writable.
var errNoInterest = errors.New("poller: interest must include Readable or Writable")

// errWakeFd is returned by Add and Modify for the poller's own wake-up
// descriptor. The number can reach them only by mistake (a double close, and
// the number reused), and taking it would break every wake-up: epoll would
// overwrite the wake-up's registration and a later Delete would remove it, so
// that Post and Stop no longer wake the loop.
var errWakeFd = errors.New("poller: fd is the poller's own wake-up descriptor")

// msTimeout converts a positive timeout in nanoseconds to whole milliseconds,
// rounded up so a wait never ends early, and clamped to an int32.
func msTimeout(ns int64) int {
	ms := ns / 1e6
	if ns%1e6 != 0 {
		ms++
	}
	return int(min(ms, math.MaxInt32))
}

// validFd reports whether fd can name a descriptor: the kernel takes it as
// a C int, so a larger number would be cut to its low 32 bits and name
// another descriptor.
func validFd(fd int) bool { return fd >= 0 && fd <= math.MaxInt32 }

// Forgotten reports whether err, from Modify, says that the poller no longer
// has fd's registration: epoll drops a file's registration when the file is
// closed, so a number closed and reused without a Delete is unknown to it
// (ENOENT), names nothing (EBADF), or names a file that epoll cannot watch at
// all (EPERM: a regular file), which it cannot have a registration for. Any
// other error is a refusal of the change itself (such as FreeBSD's EPIPE
// for a write filter on a pipe whose reader has gone), after which the
// registration stands as it was.
func Forgotten(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EBADF) || errors.Is(err, syscall.EPERM)
}
