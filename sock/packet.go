//go:build unix

package sock

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// packetBatch bounds the datagrams read per readiness event, for fairness
// with the loop's other sockets.
const packetBatch = 16

// PacketHandler receives a PacketConn's datagrams, on the loop goroutine.
type PacketHandler interface {
	// OnPacket is called for each datagram. p is the loop's shared read
	// buffer, valid only during the call. from is the sender (a link-local
	// IPv6 sender with its zone, the interface it came by, so that a reply
	// goes back on that link); an IPv4 sender on a
	// dual-stack socket comes as an IPv4 address, not IPv4-mapped IPv6
	// (as net.UDPConn.ReadFrom's *net.UDPAddr prints it, where its
	// ReadFromUDPAddrPort gives ::ffff:a.b.c.d), so that a map keyed by sender
	// sees one key per peer, and WriteTo takes it as it is. A datagram
	// longer than the buffer (see WithReadBufferSize) is cut short to fit,
	// as package net's ReadFrom does, unless the handler is also a
	// TruncatedHandler.
	OnPacket(pc *PacketConn, p []byte, from netip.AddrPort)
}

// TruncatedHandler is implemented by a PacketHandler that needs to tell a
// datagram that was cut short from one that arrived whole. With the
// default read buffer (64 KiB) no UDP datagram is cut; a smaller
// WithReadBufferSize can cut them.
type TruncatedHandler interface {
	// OnTruncated is called instead of OnPacket for a datagram longer than
	// the loop's read buffer: p holds its first len(p) bytes, and the rest
	// is lost. size is the datagram's length, as Linux reports it, for a
	// handler that logs it or sizes the buffer; on darwin and the BSDs,
	// which do not say, it is -1. (size came on 2026-11-30: a method
	// without it no longer makes a TruncatedHandler, and its datagrams go
	// to OnPacket; var _ sock.TruncatedHandler = (*T)(nil) catches that.)
	OnTruncated(pc *PacketConn, p []byte, size int, from netip.AddrPort)
}

// PacketConn is a UDP socket on a loop, made by ListenPacket (bound to an
// address, for any peer), DialPacket (connected to one) or FilePacketConn
// (a socket opened elsewhere, connected or not). A readiness
// event reads up to 16
// datagrams, for fairness with the loop's other sockets; more that wait are
// read on the loop's next iterations, with no new traffic needed. All its
// methods belong to the loop goroutine. It has no deadlines (a datagram
// socket has no peer to wait for: use the loop's timers) and no close
// event: the loop's Close closes it without calling the handler.
type PacketConn struct {
	// Context is the handler's state; sock never touches it.
	Context any

	l      *loop.Loop
	ls     *loopState
	h      PacketHandler
	th     TruncatedHandler   // h, if it is one
	eh     PacketErrorHandler // h, if it is one
	fd     int
	family int
	addr   net.Addr
	remote net.Addr // DialPacket's peer; nil for ListenPacket
	closed bool

	fromFile bool // made by FilePacketConn: see keepNonblocking
}

// PacketErrorHandler may be implemented by a PacketHandler that wants the
// errors a read reports, instead of their being dropped: on a socket made
// by DialPacket, ECONNREFUSED once the peer's host has answered that
// nothing listens on its port (an ICMP port unreachable). The socket stays
// open: a peer that starts listening later is reached by the next Write.
// (A ListenPacket socket hears of no such error on Linux.)
type PacketErrorHandler interface {
	OnPacketError(pc *PacketConn, err error)
}

// ListenPacket opens a UDP socket on network ("udp", "udp4" or "udp6") and
// addr and reads its datagrams on l. Port 0 picks a free port: LocalAddr
// tells which. SO_BROADCAST is set, as package net sets it, so WriteTo
// reaches a broadcast address. WithReusePort, WithExclusiveAddress,
// WithReadBufferSize, WithSendBufferSize and WithRecvBufferSize apply; the
// other options are refused. A host name in addr is
// looked up before ListenPacket returns, by package net. Loop goroutine
// only.
func ListenPacket(l *loop.Loop, network, addr string, h PacketHandler, opts ...Option) (*PacketConn, error) {
	if !isUDP(network) {
		return nil, fmt.Errorf("sock: ListenPacket: network %q is not udp, udp4 or udp6", network)
	}
	if h == nil {
		return nil, fmt.Errorf("sock: listen %s %s: nil PacketHandler", network, addr)
	}
	cfg, ep, fd, err := bindListening(l, network, addr, unix.SOCK_DGRAM, opts)
	if err != nil {
		return nil, err
	}
	pc := &PacketConn{l: l, ls: stateOf(l, cfg.readBufferSize), h: h, fd: fd, family: ep.family, addr: ep.addr}
	if err := pc.start(); err != nil {
		return nil, fmt.Errorf("sock: listen %s %s: %w", network, addr, err)
	}
	return pc, nil
}

// start reads pc's socket on its loop, with the address it is bound to; on
// failure it closes the socket.
func (pc *PacketConn) start() error {
	pc.th, _ = pc.h.(TruncatedHandler)
	pc.eh, _ = pc.h.(PacketErrorHandler)
	if sa, err := unix.Getsockname(pc.fd); err == nil {
		pc.addr = netAddr(sa, unix.SOCK_DGRAM)
	}
	if err := pc.l.AddReader(pc.fd, pc.onReadable); err != nil {
		unix.Close(pc.fd)
		return err
	}
	pc.ls.packets[pc] = struct{}{}
	return nil
}

// DialPacket opens a UDP socket on network ("udp", "udp4" or "udp6")
// connected to addr, as a client's: the kernel picks its local address and
// port, takes datagrams from addr alone, and Write sends to it. When addr's
// host answers that nothing listens there (an ICMP port unreachable), the
// next read reports ECONNREFUSED, to OnPacketError if h is a
// PacketErrorHandler, and a Write may too: so a client learns that its
// server is down, which an unconnected socket is not told. Send with
// Write: a WriteTo elsewhere goes out, but no answer from there arrives,
// and a refusal the peer's host sent may fail it instead. A host name in
// addr is looked up before DialPacket returns, by package net, and the loop
// waits for it (up to the resolver's timeouts: seconds, when a DNS server
// does not answer): on a loop that serves others, look the name up on a
// goroutine of its own (net.DefaultResolver.LookupNetIP) and Post the
// DialPacket with the address, as Dial does by itself.
// WithReadBufferSize, WithSendBufferSize and WithRecvBufferSize apply; the
// other options are refused. Loop goroutine only.
func DialPacket(l *loop.Loop, network, addr string, h PacketHandler, opts ...Option) (*PacketConn, error) {
	if !isUDP(network) {
		return nil, fmt.Errorf("sock: DialPacket: network %q is not udp, udp4 or udp6", network)
	}
	fail := func(err error) (*PacketConn, error) {
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, err)
	}
	cfg, err := callConfig(l, h == nil, "PacketHandler", forDialPacket, opts)
	if err != nil {
		return fail(err)
	}
	ep, err := resolve(network, addr, true)
	if err != nil {
		return fail(err)
	}
	fd, err := sysSocket(ep.family, unix.SOCK_DGRAM)
	if err != nil {
		return fail(os.NewSyscallError("socket", err))
	}
	// As package net sets it on every UDP socket: a broadcast peer needs it.
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
	if err != nil {
		err = os.NewSyscallError("setsockopt SO_BROADCAST", err)
	}
	if err == nil {
		err = setBufferSizes(fd, cfg)
	}
	if err == nil {
		if e := unix.Connect(fd, ep.sa); e != nil {
			err = os.NewSyscallError("connect", e)
		}
	}
	if err != nil {
		unix.Close(fd)
		return fail(err)
	}
	pc := &PacketConn{l: l, ls: stateOf(l, cfg.readBufferSize), h: h, fd: fd, family: ep.family, remote: ep.addr}
	if err := pc.start(); err != nil {
		return fail(err)
	}
	return pc, nil
}

// RemoteAddr returns the peer of a connected socket (DialPacket's, or a
// connected one FilePacketConn took), or nil.
func (pc *PacketConn) RemoteAddr() net.Addr { return pc.remote }

// Write sends p as one datagram to the peer of a connected socket
// (DialPacket's, or FilePacketConn's when it was connected), without
// blocking, as WriteTo does (a datagram the send buffer cannot take is
// dropped, with an error wrapping EAGAIN). An error wrapping ECONNREFUSED
// says that the peer's host answered an earlier datagram: nothing listens
// there. On a socket without a peer it fails.
func (pc *PacketConn) Write(p []byte) (int, error) {
	switch {
	case pc.closed:
		return 0, ErrClosed
	case pc.remote == nil:
		return 0, errNoPeer
	}
	for {
		_, err := sysSend(pc.fd, p)
		switch err {
		case unix.EINTR:
			continue
		case nil:
			return len(p), nil
		case unix.EAGAIN:
			return 0, errSendAgain
		}
		return 0, fmt.Errorf("sock: Write to %v: %w", pc.remote, os.NewSyscallError("send", err))
	}
}

// errNoPeer is Write's error on a socket made by ListenPacket.
var errNoPeer = errors.New("sock: Write on a PacketConn from ListenPacket, which has no peer: use WriteTo")

// LocalAddr returns the address the socket is bound to.
func (pc *PacketConn) LocalAddr() net.Addr { return pc.addr }

// Loop returns the loop the socket belongs to.
func (pc *PacketConn) Loop() *loop.Loop { return pc.l }

// WriteTo sends p as one datagram to to, without blocking. A datagram the
// kernel cannot take at once (the socket's send buffer is full: see
// WithSendBufferSize) is dropped, as the network may drop it: the error
// then wraps EAGAIN. A nil error says only that the kernel took the
// datagram: it may still drop it on the way out without a word (Linux
// does when an interface's queue is full, where darwin and the BSDs
// return ENOBUFS), and nothing reports a peer that is not listening. An
// IPv6 zone names the interface to send on (a name, or its index); one
// that names no interface is refused, and so is an invalid address (the
// zero netip.Addr), as package net refuses it.
func (pc *PacketConn) WriteTo(p []byte, to netip.AddrPort) (int, error) {
	if pc.closed {
		return 0, ErrClosed
	}
	if !to.Addr().IsValid() {
		// Sent as it stood, an IPv6 socket would send it to "::", which
		// the kernel reads as the local host.
		return 0, fmt.Errorf("sock: WriteTo %v: invalid address", to)
	}
	if pc.family == unix.AF_INET && !to.Addr().Unmap().Is4() {
		return 0, fmt.Errorf("sock: WriteTo %v from an IPv4 socket", to)
	}
	scope, err := zoneIndex(to.Addr().Zone())
	if err != nil {
		return 0, fmt.Errorf("sock: WriteTo %v: %w", to, err)
	}
	for {
		err := sysSendto(&pc.ls.sysVec, pc.fd, pc.family, p, to, scope)
		if err == unix.EINTR {
			continue
		}
		switch err {
		case nil:
			return len(p), nil
		case unix.EAGAIN:
			// A drop, perhaps one of many in a burst: made once.
			return 0, errSendtoAgain
		}
		return 0, fmt.Errorf("sock: WriteTo %v: %w", to, os.NewSyscallError("sendto", err))
	}
}

// errSendtoAgain and errSendAgain are WriteTo's and Write's errors for a
// datagram the send buffer could not take: made once, as it may come for
// every datagram of a burst.
var (
	errSendtoAgain = os.NewSyscallError("sendto", unix.EAGAIN)
	errSendAgain   = os.NewSyscallError("send", unix.EAGAIN)
)

// Close stops reading and closes the socket; datagrams the kernel holds
// that were not read yet are discarded. It returns ErrClosed if already
// called.
func (pc *PacketConn) Close() error {
	if pc.closed {
		return ErrClosed
	}
	pc.closed = true
	delete(pc.ls.packets, pc)
	pc.l.RemoveReader(pc.fd)
	if err := unix.Close(pc.fd); err != nil {
		return os.NewSyscallError("close", err) // as the package's other system errors
	}
	return nil
}

// onReadable reads up to packetBatch datagrams. Errors end the batch and
// are otherwise left alone: on a datagram socket they are per packet (an
// ICMP report, say), reading clears them, and the socket goes on working.
func (pc *PacketConn) onReadable() {
	if pc.fromFile {
		keepNonblocking(pc.fd)
	}
	for range packetBatch {
		if pc.closed {
			return
		}
		n, size, from, err := sysRecvfrom(&pc.ls.sysVec, pc.fd, pc.ls.rbuf)
		if err != nil {
			// EAGAIN; or an error that reading cleared, so no spin: a
			// PacketErrorHandler hears of it.
			if err != unix.EAGAIN && err != unix.EINTR && pc.eh != nil {
				pc.eh.OnPacketError(pc, os.NewSyscallError("recvfrom", err))
			}
			return
		}
		if size != n && pc.th != nil {
			pc.th.OnTruncated(pc, pc.ls.rbuf[:n], size, from)
			continue
		}
		pc.h.OnPacket(pc, pc.ls.rbuf[:n], from)
	}
}
