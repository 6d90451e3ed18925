package poller

import "sync/atomic"

// parker lets a backend's Wait(-1) with no user fds registered block on a
// channel instead of in the kernel. Such a loop waits only for a Wake (a post,
// a Stop, a virtual clock's advance), and a Wake that readies a parked
// goroutine costs the poster a channel send, not a system call, and hands the
// loop to the scheduler, which can run it on the poster's P at once. A Post
// answered by the loop through a channel, one at a time, took 25-27 µs on a
// 2-core VM when the loop slept in epoll_wait: the poster's eventfd write woke
// the loop's thread, and the answer woke the poster's. Timed waits stay in
// the kernel, whose timeouts are exact to the nanosecond (epoll_pwait2), where
// the runtime's timers round a sub-millisecond sleep up to a millisecond.
//
// Every Wake sends a token on the channel (at most one is held) and writes the
// kernel wake-up only when the loop is not parked. The token is sent before
// parked is read, and Wait sets parked before it receives, so a Wait that
// parks always finds the token of a Wake that skipped the kernel; a kernel
// wake-up written while the loop was about to park is drained by a later
// kernel Wait, as any early Wake is. Waits in the kernel drop the token with
// theirs, so that the next park does not return at once for a Wake already
// consumed; and a park that a Wake ended after it had also written the kernel
// wake-up drains that, so that the next kernel wait does not return early.
//
// A Wake that lands between a park's receive and its clearing of parked
// leaves only a token: the Wait it could have ended was ending anyway, and a
// kernel Wait that follows does not see it (the contract allows that: a Wake
// ends a blocked Wait or the next one). The loop re-checks its inbox, stop
// and clock flags after every Wait, so it never depends on such a Wake.
//
// With nothing else in the program able to run, a parked loop is a deadlock
// that the runtime reports ("all goroutines are asleep"), as it does for a
// select {} with nothing else running: no goroutine is left that could Post
// or Stop, and a loop with no fds and no timers has nothing else to wait for.
type parker struct {
	ch     atomic.Pointer[chan struct{}] // made by the first open; Wake may race with it
	parked atomic.Bool
	kernel atomic.Bool // a Wake wrote the kernel wake-up that no Wait has drained
}

// open makes the channel on first use and drops a token left from before.
func (p *parker) open() {
	if p.ch.Load() == nil {
		ch := make(chan struct{}, 1)
		p.ch.Store(&ch)
	}
	p.drop()
}

// park blocks until a token arrives, and reports whether the kernel wake-up
// was written too, for the caller to drain (loop goroutine, after open).
func (p *parker) park() (drainKernel bool) {
	p.parked.Store(true)
	<-*p.ch.Load()
	p.parked.Store(false)
	return p.kernel.Swap(false)
}

// signal leaves a token and reports whether the kernel wake-up must be written
// too: the loop is not parked, so it may be in, or about to enter, a kernel
// wait. Any goroutine.
func (p *parker) signal() (kernel bool) {
	if ch := p.ch.Load(); ch != nil {
		select {
		case *ch <- struct{}{}:
		default:
		}
	}
	if p.parked.Load() {
		return false
	}
	p.kernel.Store(true)
	return true
}

// drop discards a pending token, once a kernel wait has drained the kernel
// wake-up (loop goroutine).
func (p *parker) drop() {
	p.kernel.Store(false)
	select {
	case <-*p.ch.Load():
	default:
	}
}
