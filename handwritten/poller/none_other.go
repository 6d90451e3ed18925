//go:build !unix

package poller

import (
	"sync/atomic"
	"time"
)

// None is the backend of a variant without I/O: it watches no fds, and Wait
// only sleeps until the timeout or a Wake. Where there are no Unix
// descriptors it waits on a channel and a time.Timer (whose wake-ups the
// runtime may round up to a millisecond); Wake is a non-blocking send on a
// channel of capacity one, so it needs no descriptor and never blocks.
type None struct {
	wake  chan struct{} // holds at most one pending Wake
	timer *time.Timer   // stopped between Waits; reused so Wait does not allocate
	live  bool          // owner's view: Open succeeded and Close has not run
	open  atomic.Bool   // Wake's view of live
}

// Open creates the wake channel and the timer.
func (p *None) Open() error {
	if p.live {
		return errOpen
	}
	if p.wake == nil {
		p.wake = make(chan struct{}, 1)
		p.timer = time.NewTimer(time.Hour)
		p.timer.Stop()
	}
	select {
	case <-p.wake: // a Wake from before the last Close
	default:
	}
	p.live = true
	p.open.Store(true)
	return nil
}

// Close stops the timer. It keeps the channel, so a Wake racing with Close
// never sends on a closed or nil channel.
func (p *None) Close() error {
	if !p.live {
		return nil
	}
	p.live = false
	p.open.Store(false)
	p.timer.Stop()
	return nil
}

// Wait sleeps until the timeout or a Wake and never reports an event; see the
// package doc for timeout semantics. Timeouts are exact (time.Timer never
// fires early). Wait(0) consumes a pending Wake, as the other backends drain
// their wake-up.
func (p *None) Wait(timeout int64) ([]Event, error) {
	if !p.live {
		return nil, ErrClosed
	}
	switch {
	case timeout == 0:
		select {
		case <-p.wake:
		default:
		}
	case timeout < 0:
		<-p.wake
	default:
		// Since Go 1.23 Reset and Stop discard a stale expiry, so the timer
		// needs no draining.
		p.timer.Reset(time.Duration(timeout))
		select {
		case <-p.wake:
			p.timer.Stop()
		case <-p.timer.C:
		}
	}
	return nil, nil
}

// Wake makes a blocked Wait return, or the next one; any goroutine.
func (p *None) Wake() error {
	if !p.open.Load() {
		return ErrClosed
	}
	select {
	case p.wake <- struct{}{}:
	default: // a Wake is already pending
	}
	return nil
}

// Forgotten reports whether err, from Modify, says that the poller no longer
// has fd's registration. Here no backend registers anything: every error is.
func Forgotten(err error) bool { return err != nil }
