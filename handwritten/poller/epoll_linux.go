package poller

import (
	"os"
	"unsafe"

	"github.com/loopgen/loop/handwritten/wake"
	"golang.org/x/sys/unix"
)

// epollBatch is the most events one Epoll.Wait collects.
const epollBatch = 128

// Epoll is the Linux backend: one level-triggered epoll instance. Each
// registration's fd and seq ride in the 64-bit epoll data, so Wait needs no
// lookup. Positive timeouts use epoll_pwait2 (nanoseconds); a kernel without
// it (before 5.11, or a seccomp filter that refuses it) falls back for good to
// epoll_wait with the timeout rounded up to whole milliseconds.
type Epoll struct {
	epfd     int
	wfd      int32 // the wake-up's fd, as epoll data reports it
	live     bool  // epfd and wake are open
	noPwait2 bool  // epoll_pwait2 failed with ENOSYS or EPERM; use epoll_wait
	n        int   // registered user fds: bits set in reg
	reg      []uint64
	wake     wake.FD
	park     parker         // Wait(-1) with no user fds blocks here; see parker
	ts       kernelTimespec // epoll_pwait2's timeout; a field so Wait does not allocate
	kev      [epollBatch]unix.EpollEvent
	out      [epollBatch]Event
}

// kernelTimespec is struct __kernel_timespec, which epoll_pwait2 takes on
// every architecture; unix.Timespec has 32-bit fields on 386 and arm.
type kernelTimespec struct {
	sec, nsec int64
}

// Open creates the epoll instance (close-on-exec) and the wake-up.
func (p *Epoll) Open() error {
	if p.live {
		return errOpen
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	p.park.open()
	if err := p.wake.Open(); err != nil {
		unix.Close(epfd)
		return err
	}
	wfd := p.wake.Fd()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		p.wake.Close()
		unix.Close(epfd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	p.epfd, p.wfd, p.live = epfd, int32(wfd), true
	p.n = 0
	clear(p.reg)
	return nil
}

// Close releases the epoll instance and the wake-up.
func (p *Epoll) Close() error {
	if !p.live {
		return nil
	}
	p.live = false
	err := p.wake.Close()
	if e := unix.Close(p.epfd); e != nil && err == nil {
		err = os.NewSyscallError("close", e)
	}
	p.n = 0
	clear(p.reg)
	return err
}

// Add starts watching fd for ev with tag seq; see the package doc.
func (p *Epoll) Add(fd int, seq uint32, ev Events) error {
	if err := p.checkInterest(fd, ev); err != nil {
		return err
	}
	e := unix.EpollEvent{Events: epollEvents(ev), Fd: int32(fd), Pad: int32(seq)}
	err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &e)
	if err == unix.EEXIST {
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &e)
	}
	if err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	w, bit := fd/64, uint64(1)<<(fd%64)
	if w >= len(p.reg) {
		p.reg = append(p.reg, make([]uint64, w+1-len(p.reg))...)
	}
	if p.reg[w]&bit == 0 {
		p.reg[w] |= bit
		p.n++
	}
	return nil
}

// checkInterest refuses, before any system call, what Add and Modify both
// refuse.
func (p *Epoll) checkInterest(fd int, ev Events) error {
	if !p.live {
		return ErrClosed
	}
	if ev&(Readable|Writable) == 0 {
		return errNoInterest
	}
	if !validFd(fd) {
		return os.NewSyscallError("epoll_ctl", unix.EBADF)
	}
	if int32(fd) == p.wfd {
		return errWakeFd
	}
	return nil
}

// Modify changes the interest and seq of a registered fd.
func (p *Epoll) Modify(fd int, seq uint32, ev Events) error {
	if err := p.checkInterest(fd, ev); err != nil {
		return err
	}
	e := unix.EpollEvent{Events: epollEvents(ev), Fd: int32(fd), Pad: int32(seq)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &e); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Delete stops watching fd; an fd already closed by the user is not an error.
func (p *Epoll) Delete(fd int) error {
	if !p.live || !validFd(fd) || int32(fd) == p.wfd {
		return nil
	}
	// The bookkeeping follows the caller, not the kernel: closing an fd drops
	// its registration in the kernel silently, so the count is only right if
	// Delete forgets the fd whatever epoll_ctl says.
	if w, bit := fd/64, uint64(1)<<(fd%64); w < len(p.reg) && p.reg[w]&bit != 0 {
		p.reg[w] &^= bit
		p.n--
	}
	err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	if err != nil && err != unix.EBADF && err != unix.ENOENT {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Wait reports readiness; see the package doc for timeout and ownership.
func (p *Epoll) Wait(timeout int64) ([]Event, error) {
	if !p.live {
		return nil, ErrClosed
	}
	if timeout < 0 && p.n == 0 {
		if p.park.park() {
			p.wake.Drain()
		}
		return nil, nil
	}
	var n int
	var err error
	switch {
	case timeout > 0 && !p.noPwait2:
		p.ts = kernelTimespec{sec: timeout / 1e9, nsec: timeout % 1e9}
		r, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(p.epfd),
			uintptr(unsafe.Pointer(&p.kev[0])), uintptr(len(p.kev)),
			uintptr(unsafe.Pointer(&p.ts)), 0, 0)
		if errno == unix.ENOSYS || errno == unix.EPERM {
			p.noPwait2 = true
			return p.Wait(timeout)
		}
		n = int(r)
		if errno != 0 {
			err = errno
		}
	case timeout > 0:
		n, err = unix.EpollWait(p.epfd, p.kev[:], msTimeout(timeout))
	case timeout == 0:
		// A poll that cannot block needs none of the scheduler's
		// bookkeeping around a call that might: a raw epoll_wait.
		r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
			uintptr(unsafe.Pointer(&p.kev[0])), uintptr(len(p.kev)), 0, 0, 0)
		n = int(r)
		if errno != 0 {
			err = errno
		}
	default:
		n, err = unix.EpollWait(p.epfd, p.kev[:], -1)
	}
	if err != nil {
		if err == unix.EINTR {
			return nil, nil
		}
		return nil, os.NewSyscallError("epoll_wait", err)
	}
	k := 0
	for i := range n {
		e := &p.kev[i]
		if e.Fd == p.wfd {
			p.wake.Drain()
			p.park.drop()
			continue
		}
		p.out[k] = Event{Fd: e.Fd, Seq: uint32(e.Pad), Ev: fromEpoll(e.Events)}
		k++
	}
	return p.out[:k], nil
}

// Wake makes a blocked Wait return, or the next one; any goroutine.
func (p *Epoll) Wake() error {
	if !p.park.signal() {
		return nil
	}
	return p.wake.Signal()
}

// Registered is how many user fds are registered.
func (p *Epoll) Registered() int { return p.n }

func epollEvents(ev Events) uint32 {
	var e uint32
	if ev&Readable != 0 {
		e |= unix.EPOLLIN
	}
	if ev&Writable != 0 {
		e |= unix.EPOLLOUT
	}
	return e
}

// fromEpoll maps epoll's report. EPOLLERR and EPOLLHUP are reported whatever
// the interest; a hang-up also reads as Readable so a reader sees end of file.
func fromEpoll(e uint32) Events {
	var ev Events
	if e&unix.EPOLLIN != 0 {
		ev |= Readable
	}
	if e&unix.EPOLLOUT != 0 {
		ev |= Writable
	}
	if e&unix.EPOLLERR != 0 {
		ev |= Errored
	}
	if e&unix.EPOLLHUP != 0 {
		ev |= Errored | Readable
	}
	return ev
}

// Fd returns the epoll instance, readable whenever a Wait would return
// events or a Wake is pending (the wake-up is in its set), for a host that
// waits on it in its own loop.
func (p *Epoll) Fd() (int, error) {
	if !p.live {
		return -1, ErrClosed
	}
	return p.epfd, nil
}
