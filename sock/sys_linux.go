package sock

import (
	"bytes"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every socket sock makes is non-blocking, so no read, send, recvfrom or
// accept4 here can block: they go through syscall.RawSyscall, which skips
// the scheduler's bookkeeping around a call that might (entersyscall and
// exitsyscall, and the P handed to another thread when the call lasts). In
// the echo benchmark on a 16-core machine, with the server on two cores,
// that cut the server's context switches per request about fourfold and
// its CPU per request by 3-7%. The exception is sysSendv: one sendmsg may
// copy up to maxVec chunks, long enough to hold up a garbage collection
// that waits for this goroutine, so it goes through syscall.Syscall.

// sysVec is the scratch of a gathered send, kept in the loop's state so that
// sending allocates nothing.
type sysVec struct {
	iov    [maxVec]unix.Iovec
	msg    unix.Msghdr
	rsa    unix.RawSockaddrAny // a datagram's address, read or written
	rsaLen uint32
}

// acceptInheritsTCPOptions says that a connection accepted here starts with
// its listening socket's TCP_NODELAY, SO_KEEPALIVE and keep-alive times
// (Linux copies the listener's socket when it makes the connection's), so
// Listen sets them once on the listening socket instead of one system call
// each on every accepted connection. TestNoDelayFollowsTheOption and
// TestKeepAliveOnAcceptedConnections read them back on accepted ones.
const acceptInheritsTCPOptions = true

// sysSocket opens a non-blocking, close-on-exec socket in one call.
func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// sysAccept accepts one connection, non-blocking and close-on-exec, and
// returns the peer's address (the zero AddrPort for a Unix socket). A raw
// accept4 into the loop's scratch, because unix.Accept4 allocates a
// Sockaddr for every connection: garbage that a server accepting tens of
// thousands of connections carries in its heap until the next collection.
func sysAccept(s *sysVec, fd int) (int, netip.AddrPort, error) {
	s.rsaLen = unix.SizeofSockaddrAny
	nfd, _, e := syscall.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&s.rsa)), uintptr(unsafe.Pointer(&s.rsaLen)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.AddrPort{}, e
	}
	return int(nfd), rawAddrPort(&s.rsa), nil
}

// sysAcceptedUnixName is the name the peer of the connection sysAccept just
// took had bound, read from the address accept4 wrote ("" for an unnamed
// peer, "@..." for an abstract name, as package net writes them).
func sysAcceptedUnixName(s *sysVec) string {
	if s.rsa.Addr.Family != unix.AF_UNIX {
		return ""
	}
	sa := (*unix.RawSockaddrUnix)(unsafe.Pointer(&s.rsa))
	n := int(s.rsaLen) - int(unsafe.Offsetof(sa.Path))
	if n <= 0 {
		return ""
	}
	path := unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), min(n, len(sa.Path)))
	if path[0] == 0 {
		return "@" + string(path[1:])
	}
	if i := bytes.IndexByte(path, 0); i >= 0 {
		path = path[:i]
	}
	return string(path)
}

// rawAddrPort reads an IP address and port out of a raw sockaddr; the zero
// AddrPort for any other family.
func rawAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), ntohs(sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(zoned(netip.AddrFrom16(sa.Addr), sa.Scope_id).Unmap(), ntohs(sa.Port))
	}
	return netip.AddrPort{}
}

// sysRead reads into p: unix.Read, without the scheduler's bookkeeping.
func sysRead(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// sysSend writes p with MSG_NOSIGNAL, so that a peer that is gone makes it
// fail with EPIPE and no signal is raised at all. A raw sendto, because
// unix.Sendto does not report how much it sent.
func sysSend(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
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

// sysRecvfrom reads one datagram into p and returns its sender and its
// length, which is more than len(p) for a datagram cut short (the rest is
// lost). A raw recvfrom, because unix.Recvfrom allocates a Sockaddr for
// every datagram.
func sysRecvfrom(s *sysVec, fd int, p []byte) (n, size int, from netip.AddrPort, err error) {
	s.rsaLen = unix.SizeofSockaddrAny
	// With MSG_TRUNC, Linux returns a datagram's real length even when p
	// holds only its start.
	r, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), unix.MSG_TRUNC,
		uintptr(unsafe.Pointer(&s.rsa)), uintptr(unsafe.Pointer(&s.rsaLen)))
	if e != 0 {
		return 0, 0, netip.AddrPort{}, e
	}
	size = int(r)
	return min(size, len(p)), size, rawAddrPort(&s.rsa), nil
}

// sysSendto sends p as one datagram to to, on a socket of the given
// family (an IPv4 peer of an AF_INET6 socket is reached through its mapped
// address), with scope as the IPv6 address's zone. A raw sendto, because
// unix.Sendto allocates the address.
func sysSendto(s *sysVec, fd, family int, p []byte, to netip.AddrPort, scope uint32) error {
	var salen uintptr
	switch family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&s.rsa))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: htons(to.Port()), Addr: to.Addr().Unmap().As4()}
		salen = unix.SizeofSockaddrInet4
	default:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&s.rsa))
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: htons(to.Port()), Addr: to.Addr().As16(), Scope_id: scope}
		salen = unix.SizeofSockaddrInet6
	}
	_, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0,
		uintptr(unsafe.Pointer(&s.rsa)), salen)
	if e != 0 {
		return e
	}
	return nil
}

// ntohs and htons convert a port between network byte order, as the raw
// sockaddr holds it, and the host's.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func htons(p uint16) uint16 {
	var n uint16
	b := (*[2]byte)(unsafe.Pointer(&n))
	b[0], b[1] = byte(p>>8), byte(p)
	return n
}

// unackedBytes returns how many bytes sent on fd the peer has not
// acknowledged yet (SIOCOUTQ), and whether that could be told.
func unackedBytes(fd int) (int, bool) {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	return n, err == nil
}

// pendingNetworkError reports whether err, from accept4, is a network error
// already pending on the connection it took from the queue, which accept(2)
// says to treat like EAGAIN (retry): the listener itself is fine.
func pendingNetworkError(err error) bool {
	switch err {
	case unix.ENETDOWN, unix.EPROTO, unix.ENOPROTOOPT, unix.EHOSTDOWN, unix.ENONET,
		unix.EHOSTUNREACH, unix.EOPNOTSUPP, unix.ENETUNREACH:
		return true
	}
	return false
}
