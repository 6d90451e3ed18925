//go:build unix && !linux

package sock

import (
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysVec holds only the last accepted Unix peer's name here:
// unix.SendmsgBuffers brings its own scratch.
type sysVec struct {
	unixPeer string // see sysAcceptedUnixName
}

// acceptInheritsTCPOptions is false where it was not checked that accepted
// connections start with their listener's TCP_NODELAY and keep-alive times:
// open sets them on each.
const acceptInheritsTCPOptions = false

// sysSocket opens a non-blocking, close-on-exec socket. Where socket(2)
// takes no such flags, ForkLock keeps a concurrent fork from inheriting the
// descriptor before it is marked close-on-exec, as package net does.
func sysSocket(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// sysAccept accepts one connection, makes it non-blocking and
// close-on-exec (accept4 is missing on darwin), and returns the peer's
// address (the zero AddrPort for a Unix socket).
func sysAccept(s *sysVec, fd int) (int, netip.AddrPort, error) {
	s.unixPeer = ""
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, netip.AddrPort{}, err
	}
	if su, ok := sa.(*unix.SockaddrUnix); ok && su.Name != "@" {
		s.unixPeer = su.Name // x/sys/unix reads an unnamed peer as "@"
	}
	peer, _ := addrPortOf(sa)
	return nfd, peer, nil
}

// sysRead reads into p.
func sysRead(fd int, p []byte) (int, error) { return unix.Read(fd, p) }

// sysSend writes p. There is no MSG_NOSIGNAL on every platform here; the Go
// runtime ignores SIGPIPE for descriptors other than 1 and 2, so a peer that
// is gone makes the write fail with EPIPE.
func sysSend(fd int, p []byte) (int, error) { return unix.Write(fd, p) }

// sysSendv writes up to maxVec of bufs in one sendmsg: more than IOV_MAX
// (1024 on darwin and the BSDs) would fail with EMSGSIZE, and the caller
// queues what was not sent.
func sysSendv(_ *sysVec, fd int, bufs [][]byte) (int, error) {
	if len(bufs) > maxVec {
		bufs = bufs[:maxVec]
	}
	return unix.SendmsgBuffers(fd, bufs, nil, nil, 0)
}

// sysRecvfrom reads one datagram into p and returns its sender and its
// length, or for a datagram cut short (the rest is lost), which these
// systems flag without saying its length, -1.
func sysRecvfrom(_ *sysVec, fd int, p []byte) (n, size int, from netip.AddrPort, err error) {
	n, _, flags, sa, err := unix.Recvmsg(fd, p, nil, 0)
	if err != nil {
		return 0, 0, netip.AddrPort{}, err
	}
	from, _ = addrPortOf(sa)
	if flags&unix.MSG_TRUNC != 0 {
		return n, -1, from, nil
	}
	return n, n, from, nil
}

// sysSendto sends p as one datagram to to, on a socket of the given
// family (an IPv4 peer of an AF_INET6 socket is reached through its mapped
// address), with scope as the IPv6 address's zone.
func sysSendto(_ *sysVec, fd, family int, p []byte, to netip.AddrPort, scope uint32) error {
	if family == unix.AF_INET {
		return unix.Sendto(fd, p, 0, &unix.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().Unmap().As4()})
	}
	return unix.Sendto(fd, p, 0, &unix.SockaddrInet6{Port: int(to.Port()), Addr: to.Addr().As16(), ZoneId: scope})
}

// unackedBytes cannot tell here how many sent bytes the peer has not
// acknowledged, so a linger timeout is always reported.
func unackedBytes(int) (int, bool) { return 0, false }

// sysAcceptedUnixName is the name the peer of the connection sysAccept just
// took had bound ("" for an unnamed peer).
func sysAcceptedUnixName(s *sysVec) string { return s.unixPeer }

// pendingNetworkError: the BSDs report a connection that failed in the
// queue as ECONNABORTED, which accept handles itself.
func pendingNetworkError(error) bool { return false }
