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
// A socket shared with another process must stay non-blocking: os.File's
// Fd, which exec.Cmd calls on its ExtraFiles, makes it blocking, for every
// descriptor of it, and an accept on a blocking socket whose connection
// another process took first would stall the loop until the next one
// comes. Hand a listening socket over with syscall.ForkExec's Files, or
// set it non-blocking again (Listener.Control and unix.SetNonblock) before
// both accept.
//
// On a Group, each loop can take the same file (Group.Each calling
// FileListener): the loops then accept from the one socket, each new
// connection waking them all and going to whichever accepts it first
// (SO_REUSEPORT listeners, Group.Listen's, spread connections without
// that); Group.Shutdown drains them as it drains the group's own.
//
// The options that shape a socket before it listens (WithReusePort,
// WithExclusiveAddress, WithBacklog) are refused; the rest apply as they do
// for Listen, the buffer sizes and TCP options set on the listening socket
// for the connections it accepts. It fails, saying why, when f is not a
// socket, not a stream socket, not listening, or of a family other than
// IPv4, IPv6 and Unix. Loop goroutine only.
func FileListener(l *loop.Loop, f *os.File, h Handler, opts ...Option) (*Listener, error) {
	if f == nil {
		return nil, errors.New("sock: FileListener: nil *os.File")
	}
	fail := func(err error) (*Listener, error) {
		return nil, fmt.Errorf("sock: file listener %s: %w", f.Name(), err)
	}
	switch {
	case l == nil:
		return fail(errNilLoop)
	case h == nil:
		return fail(errors.New("nil Handler"))
	}
	if err := loopUsable(l); err != nil {
		return fail(err)
	}
	cfg, err := newConfig(forFileListener, opts)
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
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return fail(os.NewSyscallError("getsockname", err))
	}
	network := "tcp"
	switch sa.(type) {
	case *unix.SockaddrInet4, *unix.SockaddrInet6:
	case *unix.SockaddrUnix:
		network = "unix"
	default:
		unix.Close(fd)
		return fail(errors.New("the socket is neither IPv4, IPv6 nor Unix"))
	}
	if err := setBufferSizes(fd, cfg); err != nil {
		unix.Close(fd)
		return fail(err)
	}
	if network == "tcp" && acceptInheritsTCPOptions {
		setTCPOptions(fd, cfg) // as bindSocket does for Listen
	}
	cfg.l, cfg.ls, cfg.h = l, stateOf(l, cfg.readBufferSize), h
	cfg.unixStream, cfg.network = network == "unix", network
	ln := &Listener{l: l, ls: cfg.ls, h: h, cfg: cfg, fd: fd, addr: netAddr(sa, unix.SOCK_STREAM)}
	if err := ln.start(); err != nil {
		return fail(err)
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
	case typ != sotype && sotype == unix.SOCK_STREAM:
		err = errors.New("not a stream socket (for a UDP socket, use FilePacketConn)")
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
	switch {
	case l == nil:
		return fail(errNilLoop)
	case h == nil:
		return fail(errors.New("nil PacketHandler"))
	}
	if err := loopUsable(l); err != nil {
		return fail(err)
	}
	cfg, err := newConfig(forFilePacket, opts)
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
	pc := &PacketConn{l: l, ls: stateOf(l, cfg.readBufferSize), h: h, fd: fd, family: family}
	if peer, err := unix.Getpeername(fd); err == nil {
		pc.remote = netAddr(peer, unix.SOCK_DGRAM)
	}
	if err := pc.start(); err != nil {
		return fail(err)
	}
	return pc, nil
}
