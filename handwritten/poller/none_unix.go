//go:build unix

package poller

// None is the backend of a variant without I/O: it watches no fds, and Wait
// only sleeps until the timeout or a Wake. It is Poll with no user fds: an
// untimed Wait parks on a channel (see parker), and a timed one waits in
// the kernel on the wake-up alone, with ppoll's nanosecond timeout on Linux.
// It used to wait on a time.Timer, which the runtime fires up to a
// millisecond late (the netpoller's timeout is in whole milliseconds): on a
// 2-core VM a timed Wait overshot by 545 µs (median) and up to 1.08 ms,
// against 81 µs and 117 µs in the kernel, and the compute variant's timers
// came up to two ticks late. It holds one descriptor, the wake-up's.
type None struct{ p Poll }

// Open creates the wake-up.
func (n *None) Open() error { return n.p.Open() }

// Close releases the wake-up.
func (n *None) Close() error { return n.p.Close() }

// Add returns ErrNoPoller: None watches no fds.
func (n *None) Add(fd int, seq uint32, ev Events) error { return ErrNoPoller }

// Modify returns ErrNoPoller: None watches no fds.
func (n *None) Modify(fd int, seq uint32, ev Events) error { return ErrNoPoller }

// Delete returns ErrNoPoller: None watches no fds.
func (n *None) Delete(fd int) error { return ErrNoPoller }

// Wait sleeps until the timeout or a Wake and never reports an event; see the
// package doc for timeout semantics. Wait(0) consumes a pending Wake, as the
// other backends do.
func (n *None) Wait(timeout int64) ([]Event, error) {
	_, err := n.p.Wait(timeout)
	return nil, err
}

// Wake makes a blocked Wait return, or the next one; any goroutine.
func (n *None) Wake() error { return n.p.Wake() }

// Registered returns 0: None watches no fds.
func (n *None) Registered() int { return 0 }
