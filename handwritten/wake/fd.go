//go:build unix

package wake

import (
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// FD is a self-signalling file descriptor used to break a poller out of a
// blocking wait. The zero value is closed; Open makes it usable.
//
// Signal may run on any goroutine, at any time, concurrently with every other
// method. Open, Fd, Drain and Close belong to the owner (the loop goroutine)
// and must not run concurrently with each other.
type FD struct {
	r, w int  // read and write ends; the same descriptor for an eventfd
	open bool // r and w are open; owner only

	// gate is usable while Signal may write to w, plus the number of Signals
	// that passed the gate and have not returned. Close clears usable and waits
	// for the count to reach zero before it closes w, so no Signal ever writes
	// to a descriptor number that Close has released.
	gate atomic.Uint64

	buf [64]byte // Drain's scratch; owner only
}

const usable = 1 << 63

// closeYields is how many times Close yields for a Signal in flight before
// it sleeps closeSleep between looks instead.
const closeYields = 16

// closeSleep is Close's sleep between looks: a millisecond, about what the
// runtime makes of any shorter sleep.
const closeSleep = time.Millisecond

var errOpen = errors.New("wake: Open on an FD that is already open")

// Open creates the descriptors: an eventfd on Linux, a pipe elsewhere; both
// non-blocking and close-on-exec. On failure nothing stays open.
func (w *FD) Open() error {
	if w.open {
		return errOpen
	}
	if err := w.openFDs(); err != nil {
		return err
	}
	w.open = true
	// Or, not Store: a Signal rejected by an earlier Close may still hold a
	// count it is about to give back.
	w.gate.Or(usable)
	return nil
}

// Fd returns the descriptor to register for readability, or -1 if w is not
// open.
func (w *FD) Fd() int {
	if !w.open {
		return -1
	}
	return w.r
}

// Signal makes Fd readable. A full eventfd or pipe is already readable, so
// EAGAIN counts as success. Safe on any goroutine; ErrClosed if w is not open.
func (w *FD) Signal() error {
	// The Load keeps Signals after Close off the count, so Close waits only
	// for those that raced with it.
	if w.gate.Load()&usable == 0 {
		return ErrClosed
	}
	if w.gate.Add(1)&usable == 0 {
		w.gate.Add(^uint64(0))
		return ErrClosed
	}
	err := w.signal()
	w.gate.Add(^uint64(0))
	return err
}

// Close closes every descriptor Open created. It is idempotent, and waits for
// Signals already in flight to return; later Signals return ErrClosed.
func (w *FD) Close() error {
	if !w.open {
		return nil
	}
	w.gate.And(^uint64(usable))
	// A Signal in flight is one non-blocking write: a few yields let one
	// preempted on this P finish. One whose thread is not running at all
	// finishes only when it runs again, so Close then sleeps between looks
	// instead of keeping a CPU busy.
	for tries := 0; w.gate.Load() != 0; tries++ {
		if tries < closeYields {
			runtime.Gosched()
		} else {
			time.Sleep(closeSleep)
		}
	}
	w.open = false
	err := unix.Close(w.r)
	if w.w != w.r {
		if e := unix.Close(w.w); err == nil {
			err = e
		}
	}
	w.r, w.w = -1, -1
	if err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// write puts token into the write end, retrying on EINTR; EAGAIN means the
// descriptor is full, hence already readable, and counts as success.
func (w *FD) write(token []byte) error {
	for {
		_, err := unix.Write(w.w, token)
		switch err {
		case nil, unix.EAGAIN:
			return nil
		case unix.EINTR:
			continue
		}
		return os.NewSyscallError("write", err)
	}
}
