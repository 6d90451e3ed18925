//go:build unix

package poller

import (
	"os"
	"sync/atomic"

	"github.com/loopgen/loop/handwritten/wake"
	"golang.org/x/sys/unix"
)

// None is the backend of a variant without I/O: it watches no fds, and Wait
// only sleeps until the timeout or a Wake.
//
// An untimed Wait blocks on a channel, and every Wake sends a token on it (at
// most one is held), so that a Wake costs the poster no system call. A timed
// Wait waits in the kernel, on its wake-up descriptor alone, with ppoll's
// nanosecond timeout on Linux (poll's milliseconds, rounded up, elsewhere).
// It used to wait on a time.Timer, which the runtime fires up to a
// millisecond late (its netpoller sleeps in whole milliseconds): on a 2-core
// VM a timed Wait overshot by 545 µs at the median and up to 1.08 ms, against
// about 80 µs in the kernel, and the compute variant's timers came up to two
// ticks late. A Wake writes the kernel wake-up only while a timed Wait is
// under way: Wait sets timed, then looks for a token before it enters the
// kernel, and Wake sends its token before it reads timed, so a Wake that
// skips the kernel always leaves a token that Wait finds.
type None struct {
	live  bool          // owner's view: Open succeeded and Close has not run
	open  atomic.Bool   // Wake's view of live
	timed atomic.Bool   // a timed Wait is in, or about to enter, the kernel
	token chan struct{} // holds at most one pending Wake
	wake  wake.FD
	fds   [1]unix.PollFd // the wake-up, for the kernel's wait
	sys   pollSys
}

// Open creates the channel on first use and the wake-up descriptor.
func (n *None) Open() error {
	if n.live {
		return errOpen
	}
	if n.token == nil {
		n.token = make(chan struct{}, 1)
	}
	n.dropToken() // a Wake from before the last Close
	if err := n.wake.Open(); err != nil {
		return err
	}
	n.fds[0] = unix.PollFd{Fd: int32(n.wake.Fd()), Events: unix.POLLIN}
	n.live = true
	n.open.Store(true)
	return nil
}

// Close releases the wake-up descriptor. It keeps the channel, so a Wake
// racing with Close never sends on a closed or nil channel.
func (n *None) Close() error {
	if !n.live {
		return nil
	}
	n.live = false
	n.open.Store(false)
	return n.wake.Close()
}

// Wait sleeps until the timeout or a Wake and never reports an event; see the
// package doc for timeout semantics. Wait(0) consumes a pending Wake, as the
// other backends drain their wake-up.
func (n *None) Wait(timeout int64) ([]Event, error) {
	if !n.live {
		return nil, ErrClosed
	}
	switch {
	case timeout == 0:
		n.dropToken()
	case timeout < 0:
		<-n.token
	default:
		n.timed.Store(true)
		select {
		case <-n.token:
			n.timed.Store(false)
			return nil, nil
		default:
		}
		_, err := n.sys.wait(n.fds[:], timeout)
		n.timed.Store(false)
		if n.fds[0].Revents != 0 {
			n.wake.Drain()
		}
		// A Wake that wrote the kernel wake-up left a token too; the next
		// Wait must not end at once for it. (A kernel wake-up written after
		// the wait ended is drained by a later one, as any early Wake is.)
		n.dropToken()
		if err != nil && err != unix.EINTR {
			return nil, os.NewSyscallError("poll", err)
		}
	}
	return nil, nil
}

// Wake makes a blocked Wait return, or the next one; any goroutine.
func (n *None) Wake() error {
	if !n.open.Load() {
		return ErrClosed
	}
	select {
	case n.token <- struct{}{}:
	default: // a Wake is already pending
	}
	if n.timed.Load() {
		return n.wake.Signal()
	}
	return nil
}

// dropToken discards a pending Wake's token (loop goroutine).
func (n *None) dropToken() {
	select {
	case <-n.token:
	default:
	}
}
