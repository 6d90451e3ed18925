//go:build unix

package sock

import (
	"errors"
	"fmt"
	"os"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// FileListener accepts on l from a listening stream socket (TCP or Unix)
// that was opened elsewhere, as net.FileListener does: one a parent
// process passed down (systemd's socket activation, a server's graceful
// restart), or one package net made (net.TCPListener's File). It works on a
// duplicate of f's descriptor, so f stays the caller's to close, and
// closing either leaves the other open; the duplicate is made
// non-blocking, which, as with net.FileListener, holds for f too (the two
// share the open file). A Unix socket's file is left in place by Close:
// the listener did not make it.
//
// The socket must stay non-blocking, for all who hold it: the listener
// accepts until EAGAIN, and on a blocking socket the last accept would
// block the loop until the next connection came. os.File's Fd makes it
// blocking on a file that package net or os made non-blocking itself (f,
// if it came from net.TCPListener's File; exec.Cmd calls Fd on its
// ExtraFiles), so the listener makes it non-blocking again at each
// readiness event, before it accepts (one fcntl each); a change made
// between that look and the accept, by another process, can still block
// the loop once. To hand the socket to another process, pass a descriptor
// Go did not make non-blocking, whose Fd leaves it as it is: Listener.Control
// with unix.Dup and os.NewFile, or syscall.ForkExec's Files with the
// number from SyscallConn's Control.
//
// On a Group, Group.FileListener takes the file on every loop: the loops
// then accept from the one socket, each new connection waking them all and
// going to whichever accepts it first (SO_REUSEPORT listeners, Group.Listen's
// for TCP, spread connections without that); Group.Shutdown drains them as
// it drains the group's own.
//
// The options that shape a socket before it listens (WithReusePort,
// WithExclusiveAddress, WithBacklog) are refused; the rest apply as they do
// for Listen. The buffer sizes, TCP_NODELAY and keep-alive (on with
// WithNoDelay's default, off without WithKeepAlive, as for Listen, whatever
// the socket had) are set on the listening socket, for the connections it
// accepts: those its other holders accept get them too. It fails, saying why, when f is not a
// socket, not a stream socket, not listening, or of a family other than
// IPv4, IPv6 and Unix. If another holder shuts the socket down, accept
// fails with EINVAL, retried on the backoff (at most once a second;
// WithAcceptErrorHandler sees each) until Close. Loop goroutine only.
func FileListener(l *loop.Loop, f *os.File, h Handler, opts ...Option) (*Listener, error) {
	if f == nil {
		return nil, errors.New("sock: FileListener: nil *os.File")
	}
	fail := func(err error) (*Listener, error) {
		return nil, fmt.Errorf("sock: file listener %s: %w", f.Name(), err)
	}
	cfg, err := callConfig(l, h == nil, "Handler", forFileListener, opts)
	if err != nil {
		return fail(err)
	}
	if err := cfg.forHandler(h); err != nil {
		return fail(err)
	}
	fd, err := dupSocket(f, unix.SOCK_STREAM)
	if err != nil {
		return fail(err)
	}
	if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || on == 0 {
		unix.Close(fd)
		if err != nil {
			return fail(os.NewSyscallError("getsockopt SO_ACCEPTCONN", err))
		}
		return fail(errors.New("the socket is not listening (a connection's socket, or one listen was not called on)"))
	}
	ln, err := listenerOn(l, fd, cfg, h)
	if err != nil {
		return fail(err)
	}
	ln.fromFile = true
	return ln, nil
}

// listenerOn accepts on l from fd, a listening stream socket the caller
// made or duplicated, with cfg (checked for h already) and h; on failure it
// closes fd. FileListener's sockets, and the Unix socket that the loops of
// a Group after the first take from the first's Listen, come this way.
func listenerOn(l *loop.Loop, fd int, cfg *config, h Handler) (*Listener, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	network := "tcp"
	switch sa.(type) {
	case *unix.SockaddrInet4, *unix.SockaddrInet6:
	case *unix.SockaddrUnix:
		network = "unix"
	default:
		unix.Close(fd)
		return nil, errors.New("the socket is neither IPv4, IPv6 nor Unix")
	}
	if err := setBufferSizes(fd, cfg); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if network == "tcp" {
		resetTCPOptions(fd, cfg)
	}
	cfg.l, cfg.ls, cfg.h = l, stateOf(l, cfg.readBufferSize), h
	cfg.unixStream, cfg.network = network == "unix", network
	ln := &Listener{l: l, ls: cfg.ls, h: h, cfg: cfg, fd: fd, addr: netAddr(sa, unix.SOCK_STREAM)}
	if err := ln.start(); err != nil {
		return nil, err
	}
	return ln, nil
}

// dupSocket duplicates f's descriptor, close-on-exec and non-blocking,
// after checking that it is a socket of type sotype. It goes through
// f.SyscallConn, not f.Fd, which would make f blocking.
func dupSocket(f *os.File, sotype int) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, dupErr := -1, error(nil)
	err = rc.Control(func(orig uintptr) {
		fd, dupErr = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", dupErr)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	switch {
	case errors.Is(err, unix.ENOTSOCK):
		err = errors.New("not a socket")
	case err != nil:
		err = os.NewSyscallError("getsockopt SO_TYPE", err)
	case typ != sotype && sotype == unix.SOCK_STREAM && typ == unix.SOCK_DGRAM:
		err = errors.New("not a stream socket (for a UDP socket, use FilePacketConn)")
	case typ != sotype && sotype == unix.SOCK_STREAM:
		err = errors.New("not a stream socket")
	case typ != sotype:
		err = errors.New("not a datagram socket")
	default:
		err = unix.SetNonblock(fd, true)
		if err != nil {
			err = os.NewSyscallError("fcntl O_NONBLOCK", err)
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// FilePacketConn reads on l the datagrams of a UDP socket that was opened
// elsewhere, as net.FilePacketConn does: one a parent process passed down
// (systemd's socket activation), or one package net made (net.UDPConn's
// File). As with FileListener, it works on a duplicate of f's descriptor,
// made non-blocking (for f too). A socket connected to a peer (as
// DialPacket's are) keeps it: RemoteAddr gives it, and Write sends to it.
// It reads until EAGAIN (at most 16 datagrams an event), so the socket
// must stay non-blocking, and it is made so again at each readiness event,
// as FileListener's is (see there). Unlike ListenPacket it does not set
// SO_BROADCAST: the socket keeps what it had (systemd's Broadcast=).
// WithReadBufferSize, WithSendBufferSize and WithRecvBufferSize apply; the
// other options are refused. It fails, saying why, when f is not a
// datagram socket of IPv4 or IPv6. Loop goroutine only.
func FilePacketConn(l *loop.Loop, f *os.File, h PacketHandler, opts ...Option) (*PacketConn, error) {
	if f == nil {
		return nil, errors.New("sock: FilePacketConn: nil *os.File")
	}
	fail := func(err error) (*PacketConn, error) {
		return nil, fmt.Errorf("sock: file packet conn %s: %w", f.Name(), err)
	}
	cfg, err := callConfig(l, h == nil, "PacketHandler", forFilePacket, opts)
	if err != nil {
		return fail(err)
	}
	fd, err := dupSocket(f, unix.SOCK_DGRAM)
	if err != nil {
		return fail(err)
	}
	sa, err := unix.Getsockname(fd)
	family := unix.AF_INET
	switch sa.(type) {
	case *unix.SockaddrInet4:
	case *unix.SockaddrInet6:
		family = unix.AF_INET6
	default:
		if err == nil {
			err = errors.New("the socket is neither IPv4 nor IPv6")
		} else {
			err = os.NewSyscallError("getsockname", err)
		}
	}
	if err == nil {
		err = setBufferSizes(fd, cfg)
	}
	if err != nil {
		unix.Close(fd)
		return fail(err)
	}
	pc := &PacketConn{l: l, ls: stateOf(l, cfg.readBufferSize), h: h, fd: fd, family: family, fromFile: true}
	if peer, err := unix.Getpeername(fd); err == nil {
		pc.remote = netAddr(peer, unix.SOCK_DGRAM)
	}
	if err := pc.start(); err != nil {
		return fail(err)
	}
	return pc, nil
}

// resetTCPOptions sets TCP_NODELAY and keep-alive on a listening socket
// opened elsewhere to what cfg asks, off included, where setTCPOptions
// only turns them on: the socket may have them on already (a sock.Listen
// listener has TCP_NODELAY), and the connections it accepts inherit them
// (Linux's do; elsewhere open sets them on each as well). Best effort, as
// setTCPOptions.
func resetTCPOptions(fd int, cfg *config) {
	noDelay := 0
	if cfg.noDelay {
		noDelay = 1
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, noDelay)
	if cfg.keepAlive == nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0)
	} else {
		_ = setKeepAlive(fd, cfg.keepAlive)
	}
}

// keepNonblocking makes a socket opened elsewhere non-blocking again if
// one of its other descriptors made it blocking since (the flag belongs to
// the open file, which they share: os.File's Fd clears it on a file that
// package net or os made non-blocking itself), before the reads or accepts
// that go on until EAGAIN: on a blocking socket the last of them would
// block the loop until the next connection or datagram came. One fcntl per
// readiness event, for FileListener's and FilePacketConn's sockets only. A
// descriptor made blocking between this look and the read can still block
// it once: a socket shared with another process is safe only when nothing
// makes it blocking.
func keepNonblocking(fd int) {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil && flags&unix.O_NONBLOCK == 0 {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_NONBLOCK)
	}
}
