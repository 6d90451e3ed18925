//go:build unix

package poller

import (
	"os"

	"github.com/loopgen/loop/handwritten/wake"
	"golang.org/x/sys/unix"
)

// Poll is the portable backend over poll(2) (ppoll(2) on Linux, for
// nanosecond timeouts; elsewhere milliseconds rounded up). Each Wait passes
// every registered fd to the kernel, so it costs O(registered): the right
// choice for few fds, or where nothing better exists.
//
// fds[0] is the wake-up; user fds follow in no order. index maps an fd to its
// place in fds, and Delete moves the last entry into the hole, so Add, Modify
// and Delete are O(1). index is a map, not a slice indexed by fd: fd numbers
// are the process's, and with several loops a slice grew in each to the
// process's highest fd; the map holds only this poller's fds, and Wait never
// looks in it.
type Poll struct {
	live  bool
	fds   []unix.PollFd
	seqs  []uint32        // seqs[i] is the seq of fds[i]
	index map[int32]int32 // fd → its place in fds
	out   []Event         // Wait's result; capacity kept >= len(fds)
	wake  wake.FD
	park  parker  // Wait(-1) with no user fds blocks here; see parker
	sys   pollSys // the platform's poll call
}

// Open creates the wake-up and puts it at fds[0].
func (p *Poll) Open() error {
	if p.live {
		return errOpen
	}
	p.park.open()
	if err := p.wake.Open(); err != nil {
		return err
	}
	p.fds = append(p.fds[:0], unix.PollFd{Fd: int32(p.wake.Fd()), Events: unix.POLLIN})
	p.seqs = append(p.seqs[:0], 0)
	p.live = true
	return nil
}

// Close releases the wake-up and forgets every registration.
func (p *Poll) Close() error {
	if !p.live {
		return nil
	}
	p.live = false
	p.fds, p.seqs = p.fds[:0], p.seqs[:0]
	clear(p.index)
	return p.wake.Close()
}

// Add starts watching fd for ev with tag seq; see the package doc.
func (p *Poll) Add(fd int, seq uint32, ev Events) error {
	if !p.live {
		return ErrClosed
	}
	if ev&(Readable|Writable) == 0 {
		return errNoInterest
	}
	if !validFd(fd) {
		return os.NewSyscallError("poll", unix.EBADF)
	}
	if int32(fd) == p.fds[0].Fd {
		return errWakeFd
	}
	// poll(2) learns of an fd only when it waits, and then reports a bad one
	// as POLLNVAL; check here so that Add fails with EBADF as epoll_ctl and
	// kevent do.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	if i, ok := p.index[int32(fd)]; ok {
		setInterest(&p.fds[i], ev)
		p.seqs[i] = seq
		return nil
	}
	if p.index == nil {
		p.index = map[int32]int32{}
	}
	p.index[int32(fd)] = int32(len(p.fds))
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd)})
	setInterest(&p.fds[len(p.fds)-1], ev)
	p.seqs = append(p.seqs, seq)
	if cap(p.out) < len(p.fds) {
		p.out = make([]Event, 0, cap(p.fds))
	}
	return nil
}

// Modify changes the interest and seq of a registered fd; ENOENT if absent.
func (p *Poll) Modify(fd int, seq uint32, ev Events) error {
	if !p.live {
		return ErrClosed
	}
	if ev&(Readable|Writable) == 0 {
		return errNoInterest
	}
	i, ok := p.index[int32(fd)]
	if !validFd(fd) || !ok {
		return os.NewSyscallError("poll", unix.ENOENT)
	}
	// A closed fd fails as in Add, and as epoll_ctl fails it, when interest is
	// added: poll(2) would report POLLNVAL on every wait instead. Taking
	// interest away needs no check (nor its system call).
	old := p.fds[i].Events
	setInterest(&p.fds[i], ev)
	if p.fds[i].Events&^old != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			p.fds[i].Events = old
			return os.NewSyscallError("fcntl", err)
		}
	}
	p.seqs[i] = seq
	return nil
}

// Delete stops watching fd; an fd that is not registered is not an error.
func (p *Poll) Delete(fd int) error {
	if !p.live || !validFd(fd) {
		return nil
	}
	i, ok := p.index[int32(fd)]
	if !ok {
		return nil
	}
	last := len(p.fds) - 1
	if int(i) != last {
		p.fds[i], p.seqs[i] = p.fds[last], p.seqs[last]
		p.index[p.fds[i].Fd] = i
	}
	p.fds, p.seqs = p.fds[:last], p.seqs[:last]
	delete(p.index, int32(fd))
	return nil
}

// Wait reports readiness; see the package doc for timeout and ownership.
func (p *Poll) Wait(timeout int64) ([]Event, error) {
	if !p.live {
		return nil, ErrClosed
	}
	if timeout < 0 && p.Registered() == 0 {
		if p.park.park() {
			p.wake.Drain()
		}
		return nil, nil
	}
	n, err := p.sys.wait(p.fds, timeout)
	if err != nil {
		if err == unix.EINTR {
			return nil, nil
		}
		return nil, os.NewSyscallError("poll", err)
	}
	p.out = p.out[:0]
	if n > 0 && p.fds[0].Revents != 0 {
		p.wake.Drain()
		p.park.drop()
		n--
	}
	for i := 1; n > 0 && i < len(p.fds); i++ {
		pfd := &p.fds[i]
		if pfd.Revents == 0 {
			continue
		}
		n--
		p.out = append(p.out, Event{Fd: pfd.Fd, Seq: p.seqs[i], Ev: fromPoll(pfd)})
	}
	return p.out, nil
}

// Wake makes a blocked Wait return, or the next one; any goroutine.
func (p *Poll) Wake() error {
	if !p.park.signal() {
		return nil
	}
	return p.wake.Signal()
}

// Registered is how many user fds are registered.
func (p *Poll) Registered() int { return max(len(p.fds)-1, 0) }

// setInterest sets pfd's requested events from ev. It writes the field
// rather than returning a value because the field's type differs (int16, or
// uint16 on aix).
func setInterest(pfd *unix.PollFd, ev Events) {
	pfd.Events = 0
	if ev&Readable != 0 {
		pfd.Events |= unix.POLLIN
	}
	if ev&Writable != 0 {
		pfd.Events |= unix.POLLOUT
	}
}

// fromPoll maps poll's report. POLLERR, POLLHUP and POLLNVAL (an fd closed
// without Delete) are reported whatever the interest; a hang-up also reads as
// Readable so a reader sees end of file.
func fromPoll(pfd *unix.PollFd) Events {
	re := pfd.Revents
	var ev Events
	if re&unix.POLLIN != 0 {
		ev |= Readable
	}
	if re&unix.POLLOUT != 0 {
		ev |= Writable
	}
	if re&(unix.POLLERR|unix.POLLNVAL) != 0 {
		ev |= Errored
	}
	if re&unix.POLLHUP != 0 {
		ev |= Errored | Readable
	}
	return ev
}

// Fd returns ErrNoFd: poll(2) has no descriptor that stands for its list.
func (p *Poll) Fd() (int, error) { return -1, ErrNoFd }
