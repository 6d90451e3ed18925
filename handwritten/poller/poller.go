package poller

import (
	"errors"
	"runtime"

	"github.com/loopgen/loop/handwritten/wake"
)

// Events is a set of readiness conditions.
type Events uint32

const (
	// Readable: a read will not block (data, end of file, or an error to read).
	Readable Events = 1 << iota
	// Writable: a write will not block.
	Writable
	// Errored: error or hang-up: the loop runs both the reader and the writer
	// so they see it.
	Errored
)

// Event is one readiness report: the fd, the sequence number it was
// registered with, what is ready.
type Event struct {
	Fd  int32  // the descriptor
	Seq uint32 // the seq given to Add or Modify for it
	Ev  Events // what is ready: Readable, Writable, Errored
}

var (
	// ErrNoPoller is returned by None.Add, None.Modify and None.Delete.
	ErrNoPoller = errors.New("loop: this variant has no poller (poller: none); fd readiness is not available")

	// ErrUnsupported is wrapped by the error a backend's Open returns on a
	// platform whose kernel lacks it, such as "poller: epoll is not available
	// on darwin". Test with errors.Is.
	ErrUnsupported = errors.New("poller: backend not available on this platform")

	// ErrClosed is returned by Add, Modify, Wait and Fd on a backend that is
	// not open, and by Wake once it is closed. It is wake.ErrClosed.
	ErrClosed = wake.ErrClosed

	// ErrNoFd is returned by Poll's Fd: poll(2) is handed its list of
	// descriptors at each call, and no one descriptor stands for them.
	ErrNoFd = errors.New("loop: this variant's poller (poll) has no descriptor to wait on; embed a variant with epoll or kqueue")
)

// errOpen is returned by Open on a backend that is already open.
var errOpen = errors.New("poller: Open on a backend that is already open")

// unsupported is the error of a backend that this platform lacks; the value is
// the backend's name.
type unsupported string

func (u unsupported) Error() string {
	return "poller: " + string(u) + " is not available on " + runtime.GOOS
}

func (u unsupported) Unwrap() error { return ErrUnsupported }

// Backend is the method set every backend has (the contract in the package
// doc), as an interface. Variants do not use it: each embeds one concrete
// backend and calls it directly, with no interface call on the hot path. The
// generic build (generated/generic) does, so that it can choose its backend at
// run time, by name, as the measure of what that specialization buys.
type Backend interface {
	Open() error
	Close() error
	Add(fd int, seq uint32, ev Events) error
	Modify(fd int, seq uint32, ev Events) error
	Delete(fd int) error
	Wait(timeout int64) ([]Event, error)
	Wake() error
	Registered() int
	Fd() (int, error)
}

// Every backend, on every platform, is a Backend: a compile error here means
// one of them drifted from the contract.
var (
	_ Backend = (*Epoll)(nil)
	_ Backend = (*Poll)(nil)
	_ Backend = (*Kqueue)(nil)
	_ Backend = (*None)(nil)
	_ Backend = (*Auto)(nil)
)
