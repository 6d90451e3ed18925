//go:build unix

package sock

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// Accept pacing.
const (
	// acceptBatch bounds the accepts of one readiness event, so that a
	// flood of connections cannot starve the connections already open.
	acceptBatch = 64
	// minBackoff and maxBackoff bound the pause after an accept error such
	// as EMFILE: it doubles from the first to the second while the error
	// persists, so an exhausted process retries, and never spins.
	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
)

// Listener accepts stream connections on a loop and hands each to its
// Handler. All its methods belong to the loop goroutine.
type Listener struct {
	l        *loop.Loop
	ls       *loopState
	h        Handler
	cfg      *config
	fd       int
	addr     net.Addr
	unixPath string // the socket file to remove on Close; "" when none
	closed   bool

	onAccept func() // ln.accept, made once
	onRetry  func() // ln.resume, made once
	backoff  time.Duration
	retry    loop.Timer

	conns  *Conn        // the open connections it accepted, a list through prev/next
	nconns int          //
	full   bool         // accepting stopped at WithMaxConns's limit, until a connection closes
	shared atomic.Int64 // nconns, for GroupListener.Conns to read from any goroutine
	onGone func()       // Group's hook: runs after each connection's OnClose

	// fromFile marks a socket opened elsewhere (FileListener), whose other
	// descriptors may make it blocking: see keepNonblocking.
	fromFile bool
}

// Listen opens a listening socket on network ("tcp", "tcp4", "tcp6" or
// "unix") and addr, and accepts on l, giving every connection h. An addr
// with port 0 picks a free port: Addr tells which. SO_REUSEADDR is always
// set on TCP listeners, so a restarted server can bind at once. An address
// already in use makes Listen fail with an error for which errors.Is(err,
// syscall.EADDRINUSE) holds. A host name in addr is looked up before Listen
// returns, by package net (a server listens once, at its start). Loop
// goroutine only.
func Listen(l *loop.Loop, network, addr string, h Handler, opts ...Option) (*Listener, error) {
	if !isTCP(network) && network != "unix" {
		return nil, fmt.Errorf("sock: Listen: network %q is not tcp, tcp4, tcp6 or unix", network)
	}
	if h == nil {
		return nil, fmt.Errorf("sock: listen %s %s: nil Handler", network, addr)
	}
	cfg, ep, fd, err := bindListening(l, network, addr, unix.SOCK_STREAM, opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.forHandler(h); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sock: listen %s %s: %w", network, addr, err)
	}
	cfg.l, cfg.ls, cfg.h = l, stateOf(l, cfg.readBufferSize), h
	cfg.unixStream, cfg.network = ep.family == unix.AF_UNIX, network
	ln := &Listener{l: l, ls: cfg.ls, h: h, cfg: cfg, fd: fd, addr: ep.addr}
	if su, ok := ep.sa.(*unix.SockaddrUnix); ok && su.Name != "" && su.Name[0] != '@' {
		ln.unixPath = su.Name // bind made the file: Close removes it
	}
	if err := unix.Listen(fd, cfg.backlog); err != nil {
		ln.release()
		return nil, fmt.Errorf("sock: listen %s %s: %w", network, addr, os.NewSyscallError("listen", err))
	}
	if sa, err := unix.Getsockname(fd); err == nil {
		ln.addr = netAddr(sa, unix.SOCK_STREAM)
	}
	if err := ln.start(); err != nil {
		return nil, fmt.Errorf("sock: listen %s %s: %w", network, addr, err)
	}
	return ln, nil
}

// start begins accepting on the listening socket; if the loop cannot watch
// it, it closes the socket and returns why.
func (ln *Listener) start() error {
	ln.onAccept, ln.onRetry = ln.accept, ln.resume
	if err := ln.l.AddReader(ln.fd, ln.onAccept); err != nil {
		ln.release()
		return err
	}
	ln.ls.listeners[ln] = struct{}{}
	return nil
}

// bindListening makes the checks Listen and ListenPacket share, reads opts,
// and opens and binds the socket, of type sotype, that they listen on.
// Errors say "sock: listen" with the network and address.
func bindListening(l *loop.Loop, network, addr string, sotype int, opts []Option) (*config, endpoint, int, error) {
	fail := func(err error) (*config, endpoint, int, error) {
		return nil, endpoint{}, -1, fmt.Errorf("sock: listen %s %s: %w", network, addr, err)
	}
	if l == nil {
		return fail(errNilLoop)
	}
	if err := loopUsable(l); err != nil {
		return fail(err)
	}
	kind := forListen
	if sotype == unix.SOCK_DGRAM {
		kind = forPacket
	}
	cfg, err := newConfig(kind, opts)
	if err != nil {
		return fail(err)
	}
	ep, err := resolve(network, addr, false)
	if err != nil {
		return fail(err)
	}
	fd, err := bindSocket(ep, sotype, cfg)
	if err != nil {
		return fail(err)
	}
	return cfg, ep, fd, nil
}

// bindSocket opens a socket of type sotype for ep, sets the listener
// options, and binds it.
func bindSocket(ep endpoint, sotype int, cfg *config) (int, error) {
	fd, err := sysSocket(ep.family, sotype)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	set := func(level, opt, v int, name string) error {
		if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
			return os.NewSyscallError("setsockopt "+name, err)
		}
		return nil
	}
	if ep.family != unix.AF_UNIX {
		if sotype == unix.SOCK_STREAM {
			err = set(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR")
		} else {
			// As package net sets it on every UDP socket: without it
			// WriteTo to a broadcast address fails with EACCES, and a
			// PacketConn's caller cannot reach the descriptor to set it.
			err = set(unix.SOL_SOCKET, unix.SO_BROADCAST, 1, "SO_BROADCAST")
		}
		if err == nil && cfg.reusePort && !cfg.exclusive {
			err = set(unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT")
		}
		if err == nil && ep.family == unix.AF_INET6 {
			v6only := 0
			if ep.v6only {
				v6only = 1
			}
			err = set(unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only, "IPV6_V6ONLY")
		}
	}
	if err == nil {
		// Accepted TCP connections inherit these from the listening
		// socket; accepted Unix ones do not (Linux makes them afresh), and
		// open sets them on each.
		err = setBufferSizes(fd, cfg)
	}
	if err == nil && sotype == unix.SOCK_STREAM && ep.family != unix.AF_UNIX && acceptInheritsTCPOptions {
		// Set once here instead of on every accepted connection: a system
		// call less per accept (five with keep-alive).
		setTCPOptions(fd, cfg)
	}
	if err == nil {
		if e := unix.Bind(fd, ep.sa); e != nil {
			err = os.NewSyscallError("bind", e)
		}
	}
	if err == nil && cfg.reusePort && cfg.exclusive && ep.family != unix.AF_UNIX {
		// Bound without it, the socket found the address free of every other
		// socket; set now, before listen, it lets the sockets of the same
		// group bind beside it.
		err = set(unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT")
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// setTCPOptions sets TCP_NODELAY and keep-alive on the TCP socket fd as cfg
// asks. Best effort, as in package net: a socket without them still works
// (keep-alive's values were checked when the option was given).
func setTCPOptions(fd int, cfg *config) {
	if cfg.noDelay {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if cfg.keepAlive != nil {
		_ = setKeepAlive(fd, cfg.keepAlive)
	}
}

// setBufferSizes sets SO_SNDBUF and SO_RCVBUF where cfg asks for them.
func setBufferSizes(fd int, cfg *config) error {
	if cfg.sendBuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.sendBuf); err != nil {
			return os.NewSyscallError("setsockopt SO_SNDBUF", err)
		}
	}
	if cfg.recvBuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.recvBuf); err != nil {
			return os.NewSyscallError("setsockopt SO_RCVBUF", err)
		}
	}
	return nil
}

// Addr returns the address the listener is bound to, with the port the
// kernel picked when port 0 was asked for.
func (ln *Listener) Addr() net.Addr { return ln.addr }

// Conns returns how many of the connections the listener accepted are open:
// their OnClose has not been called yet.
func (ln *Listener) Conns() int { return ln.nconns }

// Loop returns the loop the listener accepts on.
func (ln *Listener) Loop() *loop.Loop { return ln.l }

// Close stops accepting and closes the listening socket (and removes the
// Unix socket's file that Listen made; a FileListener's is left in place).
// Connections already accepted stay open. It returns
// ErrClosed if already called.
func (ln *Listener) Close() error {
	if ln.closed {
		return ErrClosed
	}
	ln.release()
	if ln.nconns == 0 {
		delete(ln.ls.listeners, ln)
		if ln.onGone != nil {
			ln.onGone()
		}
	}
	return nil
}

func (ln *Listener) release() {
	ln.closed = true
	ln.l.Cancel(ln.retry)
	ln.l.RemoveReader(ln.fd)
	unix.Close(ln.fd)
	if ln.unixPath != "" {
		os.Remove(ln.unixPath)
	}
}

// accept is the loop's reader for the listening socket: it accepts until
// the kernel has no more connections or acceptBatch is reached.
func (ln *Listener) accept() {
	if ln.fromFile {
		keepNonblocking(ln.fd)
	}
	for range acceptBatch {
		if ln.closed {
			return
		}
		if limit := ln.cfg.maxConns; limit > 0 && ln.nconns >= limit {
			// forget accepts again when one of them closes.
			ln.l.RemoveReader(ln.fd)
			ln.full = true
			return
		}
		fd, peer, err := sysAccept(&ln.ls.sysVec, ln.fd)
		switch err {
		case nil:
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue // this one connection is gone, or we were interrupted
		default:
			if pendingNetworkError(err) {
				continue // as ECONNABORTED: the error belongs to the one connection accepted
			}
			// EMFILE, ENFILE, ENOBUFS, ENOMEM and anything unexpected:
			// readiness is level-triggered, so retrying now would spin.
			ln.pause(os.NewSyscallError("accept", err))
			return
		}
		if !ln.open(fd, peer, sysAcceptedUnixName(&ln.ls.sysVec)) {
			return // paused: accepting more would fail the same way
		}
	}
}

// pause stops accepting and retries after a backoff.
func (ln *Listener) pause(err error) {
	ln.l.RemoveReader(ln.fd)
	ln.backoff = min(max(2*ln.backoff, minBackoff), maxBackoff)
	ln.l.Cancel(ln.retry) // one retry at a time, and the one Close cancels
	ln.retry = ln.l.CallLater(ln.backoff, ln.onRetry)
	if ln.cfg.acceptError != nil {
		ln.cfg.acceptError(err)
	}
}

// resume watches the listening socket again after a pause; connections
// that queued meanwhile make it readable at once.
func (ln *Listener) resume() {
	if ln.closed {
		return
	}
	if err := ln.l.AddReader(ln.fd, ln.onAccept); err != nil {
		ln.pause(err)
	}
}

// open wraps an accepted descriptor in a Conn and calls OnOpen; unixPeer
// is the name a Unix peer bound, if any. When the loop cannot watch the
// descriptor, it closes it, pauses the listener and returns false.
func (ln *Listener) open(fd int, peer netip.AddrPort, unixPeer string) bool {
	c := newConn(ln.cfg, fd)
	if peer.IsValid() {
		c.peer = peer
		// Where accepted connections inherit them, bindSocket set them on
		// the listening socket.
		if !acceptInheritsTCPOptions {
			setTCPOptions(fd, ln.cfg)
		}
	}
	if ln.cfg.unixStream {
		// Best effort too, as TCP_NODELAY: the connection works without.
		_ = setBufferSizes(fd, ln.cfg)
		// A peer that bound a name (rare: clients are usually unnamed)
		// gets its own config to carry it, so that RemoteAddr reports it
		// after Close too, as accept reported it; the others share the
		// listener's and cost nothing more.
		if unixPeer != "" {
			cfg := *ln.cfg
			cfg.remote = &net.UnixAddr{Name: unixPeer, Net: "unix"}
			c.cfg = &cfg
		}
	}
	if err := ln.l.AddReader(fd, c.onRead); err != nil {
		unix.Close(fd)
		ln.pause(err)
		return false
	}
	ln.backoff = 0
	c.flags |= fReading
	c.ln = ln
	c.next = ln.conns
	if ln.conns != nil {
		ln.conns.prev = c
	}
	ln.conns = c
	ln.nconns++
	ln.shared.Store(int64(ln.nconns))
	if d := ln.cfg.idleTimeout; d > 0 {
		c.SetIdleTimeout(d)
	}
	ln.h.OnOpen(c)
	return true
}

// forget unlinks a closed connection, after its OnClose.
func (ln *Listener) forget(c *Conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		ln.conns = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next, c.ln = nil, nil, nil
	ln.nconns--
	ln.shared.Store(int64(ln.nconns))
	if ln.closed && ln.nconns == 0 {
		delete(ln.ls.listeners, ln)
	}
	if ln.full && ln.nconns < ln.cfg.maxConns {
		ln.full = false
		ln.resume()
	}
	if ln.onGone != nil {
		ln.onGone()
	}
}

// eachConn calls fn for every connection the listener accepted that has not
// had its OnClose yet; fn may close them.
func (ln *Listener) eachConn(fn func(*Conn)) {
	for c := ln.conns; c != nil; {
		next := c.next
		fn(c)
		c = next
	}
}
