package sock

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysVec is the scratch of a gathered send, kept in the loop's state so that
// sending allocates nothing.
type sysVec struct {
	iov [maxVec]unix.Iovec
	msg unix.Msghdr
}

// sysSocket opens a non-blocking, close-on-exec socket in one call.
func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// sysAccept accepts one connection, non-blocking and close-on-exec.
func sysAccept(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}

// sysSend writes p with MSG_NOSIGNAL, so that a peer that is gone makes it
// fail with EPIPE and no signal is raised at all. A raw sendto, because
// unix.Sendto does not report how much it sent.
func sysSend(fd int, p []byte) (int, error) {
	n, _, e := syscall.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// sysSendv writes up to maxVec of bufs in one sendmsg with MSG_NOSIGNAL.
func sysSendv(s *sysVec, fd int, bufs [][]byte) (int, error) {
	k := 0
	for _, b := range bufs {
		if k == maxVec {
			break
		}
		if len(b) == 0 {
			continue
		}
		s.iov[k].Base = &b[0]
		s.iov[k].SetLen(len(b))
		k++
	}
	if k == 0 {
		return 0, nil
	}
	s.msg.Iov = &s.iov[0]
	s.msg.SetIovlen(k)
	n, _, e := syscall.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&s.msg)), unix.MSG_NOSIGNAL)
	// Drop the references, so that the loop's scratch does not keep the
	// caller's buffers alive.
	clear(s.iov[:k])
	s.msg.Iov = nil
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
