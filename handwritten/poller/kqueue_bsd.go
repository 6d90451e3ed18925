//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package poller

import (
	"os"

	"github.com/loopgen/loop/handwritten/wake"
	"golang.org/x/sys/unix"
)

// kqueueBatch is the most kevents one Kqueue.Wait collects.
const kqueueBatch = 128

// kqueueMaxTimeout caps a timeout: darwin's kevent fails with EINVAL on
// timeouts much longer than this, as Go's runtime poller notes.
const kqueueMaxTimeout = 1e6 * 1e9

// Kqueue is the darwin and BSD backend: EVFILT_READ and EVFILT_WRITE filters,
// level-triggered (no EV_CLEAR). The kernel reports each filter separately;
// Wait merges the reports for one fd into one Event. udata cannot carry the
// seq portably (its type differs between the BSDs), so regs, indexed by fd,
// holds each registration's seq and interest.
type Kqueue struct {
	kq   int
	wfd  int  // the wake-up's read end
	live bool // kq and wake are open
	n    int  // registered user fds: entries of regs with ev != 0
	gen  uint32
	regs []kqueueReg
	wake wake.FD
	park parker        // Wait(-1) with no user fds blocks here; see parker
	ts   unix.Timespec // kevent's timeout; a field so Wait does not allocate
	ch   [2]unix.Kevent_t
	kev  [kqueueBatch]unix.Kevent_t
	out  [kqueueBatch]Event
}

// kqueueReg is one fd's registration; ev == 0 means none. gen and at merge
// the filters of one fd within one Wait: out[at] is its Event if gen is the
// Wait's.
type kqueueReg struct {
	seq uint32
	ev  Events
	gen uint32
	at  uint32
}

// Open creates the kqueue (close-on-exec) and the wake-up.
func (p *Kqueue) Open() error {
	if p.live {
		return errOpen
	}
	kq, err := unix.Kqueue()
	if err != nil {
		return os.NewSyscallError("kqueue", err)
	}
	unix.CloseOnExec(kq)
	p.park.open()
	if err := p.wake.Open(); err != nil {
		unix.Close(kq)
		return err
	}
	p.kq = kq
	p.wfd = p.wake.Fd()
	unix.SetKevent(&p.ch[0], p.wfd, unix.EVFILT_READ, unix.EV_ADD)
	if err := p.change(p.ch[:1]); err != nil {
		p.wake.Close()
		unix.Close(kq)
		return os.NewSyscallError("kevent", err)
	}
	p.live = true
	p.n = 0
	clear(p.regs)
	return nil
}

// Close releases the kqueue and the wake-up.
func (p *Kqueue) Close() error {
	if !p.live {
		return nil
	}
	p.live = false
	err := p.wake.Close()
	if e := unix.Close(p.kq); e != nil && err == nil {
		err = os.NewSyscallError("close", e)
	}
	p.n = 0
	clear(p.regs)
	return err
}

// Add starts watching fd for ev with tag seq; see the package doc.
func (p *Kqueue) Add(fd int, seq uint32, ev Events) error {
	if !p.live {
		return ErrClosed
	}
	if !validFd(fd) {
		return os.NewSyscallError("kevent", unix.EBADF)
	}
	if fd == p.wfd {
		return errWakeFd
	}
	if fd >= len(p.regs) {
		// Grown only once the kernel has taken fd, so that a bogus number
		// (2^30, say) fails with EBADF instead of sizing regs by it.
		var r kqueueReg
		if err := p.setReg(fd, &r, seq, ev); err != nil {
			return err
		}
		p.regs = append(p.regs, make([]kqueueReg, fd+1-len(p.regs))...)
		p.regs[fd] = r
		return nil
	}
	return p.set(fd, seq, ev)
}

// Modify changes the interest and seq of a registered fd; ENOENT if absent.
func (p *Kqueue) Modify(fd int, seq uint32, ev Events) error {
	if !p.live {
		return ErrClosed
	}
	if fd < 0 || fd >= len(p.regs) || p.regs[fd].ev == 0 {
		return os.NewSyscallError("kevent", unix.ENOENT)
	}
	return p.set(fd, seq, ev)
}

// set makes fd's filters match ev. It adds every wanted filter, even one
// already registered (EV_ADD on an existing filter modifies it): the kernel
// drops an fd's filters when the fd is closed, so regs may claim a filter the
// kernel no longer has. Adds go first so that a failed add changes nothing.
// A change that only removes filters adds none (see setReg).
func (p *Kqueue) set(fd int, seq uint32, ev Events) error {
	return p.setReg(fd, &p.regs[fd], seq, ev)
}

// setReg is set with fd's registration at r, which may lie outside regs.
func (p *Kqueue) setReg(fd int, r *kqueueReg, seq uint32, ev Events) error {
	ev &= Readable | Writable
	if ev == 0 {
		return errNoInterest
	}
	if r.ev != 0 && ev != r.ev && ev&^r.ev == 0 {
		// Only a removal (RemoveReader with a writer kept, say): the kept filter
		// is not added again. Were it, FreeBSD would refuse a write filter on a
		// pipe whose reader has gone (EPIPE), and the change would fail with the
		// read filter still in the kernel, reported under the old seq, which
		// the loop drops: every Wait would return at once. (A kept filter the
		// kernel dropped when the fd was closed stays dropped: it belonged to
		// the closed file.)
		p.remove(fd, r.ev&^ev)
		r.seq, r.ev = seq, ev
		return nil
	}
	k := 0
	if ev&Readable != 0 {
		unix.SetKevent(&p.ch[k], fd, unix.EVFILT_READ, unix.EV_ADD)
		k++
	}
	if ev&Writable != 0 {
		unix.SetKevent(&p.ch[k], fd, unix.EVFILT_WRITE, unix.EV_ADD)
		k++
	}
	if err := p.change(p.ch[:k]); err != nil {
		// kevent stops at the failing change: a new read filter may have gone in
		// before the write filter failed (FreeBSD refuses one on a pipe whose
		// reader has gone, with EPIPE). Take back what this call added, so the
		// kernel holds what regs says.
		if added := ev &^ r.ev; added != 0 {
			p.remove(fd, added)
		}
		return os.NewSyscallError("kevent", err)
	}
	if gone := r.ev &^ ev; gone != 0 {
		p.remove(fd, gone)
	}
	if r.ev == 0 {
		p.n++
	}
	r.seq, r.ev = seq, ev
	return nil
}

// Delete stops watching fd; an fd already closed by the user is not an error.
func (p *Kqueue) Delete(fd int) error {
	if !p.live || fd < 0 || fd >= len(p.regs) || p.regs[fd].ev == 0 {
		return nil
	}
	r := &p.regs[fd]
	err := p.remove(fd, r.ev)
	r.ev = 0
	p.n--
	if err != nil {
		return os.NewSyscallError("kevent", err)
	}
	return nil
}

// remove deletes fd's filters in ev, ignoring EBADF and ENOENT (the fd, and
// with it its filters, is gone). kevent stops at the first failing change,
// so after an ENOENT on the read filter the write filter is deleted alone.
func (p *Kqueue) remove(fd int, ev Events) error {
	k := 0
	if ev&Readable != 0 {
		unix.SetKevent(&p.ch[k], fd, unix.EVFILT_READ, unix.EV_DELETE)
		k++
	}
	if ev&Writable != 0 {
		unix.SetKevent(&p.ch[k], fd, unix.EVFILT_WRITE, unix.EV_DELETE)
		k++
	}
	err := p.change(p.ch[:k])
	if err == unix.ENOENT && k == 2 {
		err = p.change(p.ch[1:2])
	}
	if err == unix.EBADF || err == unix.ENOENT {
		return nil
	}
	return err
}

// change applies changes without collecting events, retrying on EINTR.
func (p *Kqueue) change(changes []unix.Kevent_t) error {
	for {
		_, err := unix.Kevent(p.kq, changes, nil, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

// Wait reports readiness; see the package doc for timeout and ownership.
func (p *Kqueue) Wait(timeout int64) ([]Event, error) {
	if !p.live {
		return nil, ErrClosed
	}
	if timeout < 0 && p.n == 0 {
		if p.park.park() {
			p.wake.Drain()
		}
		return nil, nil
	}
	var ts *unix.Timespec
	if timeout >= 0 {
		p.ts = unix.NsecToTimespec(min(timeout, kqueueMaxTimeout))
		ts = &p.ts
	}
	n, err := unix.Kevent(p.kq, nil, p.kev[:], ts)
	if err != nil {
		if err == unix.EINTR {
			return nil, nil
		}
		return nil, os.NewSyscallError("kevent", err)
	}
	p.gen++
	k := 0
	for i := range n {
		e := &p.kev[i]
		fd := int(e.Ident)
		if fd == p.wfd {
			p.wake.Drain()
			p.park.drop()
			continue
		}
		if fd >= len(p.regs) {
			continue // not registered by us: cannot happen, but never index past regs
		}
		r := &p.regs[fd]
		var ev, filter Events
		switch e.Filter {
		case unix.EVFILT_READ:
			ev, filter = Readable, Readable
			if e.Flags&unix.EV_EOF != 0 && e.Fflags != 0 {
				ev |= Errored // end of file with a pending socket error
			}
		case unix.EVFILT_WRITE:
			ev, filter = Writable, Writable
			if e.Flags&unix.EV_EOF != 0 {
				ev |= Errored | Readable // the reader is gone: a hang-up
			}
		}
		if r.ev&filter == 0 {
			// A filter regs does not want, left in the kernel by a change that
			// failed halfway: reported, level-triggered, it would end every Wait
			// at once. Deleted, as regs is what the loop asked for.
			p.remove(fd, filter)
			continue
		}
		if e.Flags&unix.EV_ERROR != 0 {
			ev |= Errored
		}
		if r.gen == p.gen && int(r.at) < k && p.out[r.at].Fd == int32(fd) {
			p.out[r.at].Ev |= ev // the fd's other filter; checked, as gen wraps
			continue
		}
		r.gen, r.at = p.gen, uint32(k)
		p.out[k] = Event{Fd: int32(fd), Seq: r.seq, Ev: ev}
		k++
	}
	return p.out[:k], nil
}

// Wake makes a blocked Wait return, or the next one; any goroutine.
func (p *Kqueue) Wake() error {
	if !p.park.signal() {
		return nil
	}
	return p.wake.Signal()
}

// Registered is how many user fds are registered.
func (p *Kqueue) Registered() int { return p.n }

// Fd returns the kqueue, readable whenever a Wait would return events or a
// Wake is pending (the wake-up is in its set), for a host that waits on it
// in its own loop.
func (p *Kqueue) Fd() (int, error) {
	if !p.live {
		return -1, ErrClosed
	}
	return p.kq, nil
}
