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
	Fd  int32
	Seq uint32
	Ev  Events
}

var (
	// ErrNoPoller is returned by None.Add, None.Modify and None.Delete.
	ErrNoPoller = errors.New("loop: this variant has no poller (poller: none); fd readiness is not available")

	// ErrUnsupported is wrapped by the error a backend's Open returns on a
	// platform whose kernel lacks it, such as "poller: epoll is not available
	// on darwin". Test with errors.Is.
	ErrUnsupported = errors.New("poller: backend not available on this platform")

	// ErrClosed is returned by Add, Modify and Wait on a backend that is not
	// open, and by Wake once it is closed. It is wake.ErrClosed.
	ErrClosed = wake.ErrClosed
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
