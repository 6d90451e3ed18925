//go:build !unix

package wake

import (
	"errors"
	"runtime"
)

// FD is a self-signalling file descriptor. This platform has no Unix file
// descriptors, so Open fails and the rest does nothing.
type FD struct{}

var errUnsupported = errors.New("wake: no self-signalling descriptor on " + runtime.GOOS)

// Open reports that this platform has no self-signalling descriptor.
func (w *FD) Open() error { return errUnsupported }

// Fd returns -1: there is no descriptor.
func (w *FD) Fd() int { return -1 }

// Signal returns ErrClosed: an FD here is never open.
func (w *FD) Signal() error { return ErrClosed }

// Drain does nothing.
func (w *FD) Drain() {}

// Close does nothing and returns nil.
func (w *FD) Close() error { return nil }
