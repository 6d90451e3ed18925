package sock

import (
	"fmt"
	"os"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// Dial starts connecting to addr on network ("tcp", "tcp4", "tcp6" or
// "unix") and returns at once; the connect completes on the loop. When it
// succeeds, h.OnOpen runs; when it fails (ECONNREFUSED, a connect timeout),
// h.OnClose runs with the error and OnOpen never does. Writes made before
// the connection is open are queued and sent once it is. Dial itself
// fails only for a bad network or address, when no socket can be opened,
// on a closed loop (an error wrapping loop.ErrClosed), and on a variant
// without a poller (loop.ErrNoPoller). An empty or
// unspecified host dials the local system, as package net does. A host name
// is looked up by package net (blocking the loop) and Dial connects to one
// of its addresses, the one net.ResolveTCPAddr returns (its first IPv4
// address, if it has one), with no fallback to the others as net.Dial
// makes: dial a literal address where that matters. Loop goroutine only.
func Dial(l *loop.Loop, network, addr string, h Handler, opts ...Option) (*Conn, error) {
	if l == nil {
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, errNilLoop)
	}
	if !isTCP(network) && network != "unix" {
		return nil, fmt.Errorf("sock: Dial: network %q is not tcp, tcp4, tcp6 or unix", network)
	}
	if l.Variant().Poller == "none" {
		// Checked before connecting: a connect that fails at once would
		// otherwise report through OnClose, and one that does not would
		// fail only at AddWriter.
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, loop.ErrNoPoller)
	}
	if h == nil {
		return nil, fmt.Errorf("sock: dial %s %s: nil Handler", network, addr)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, err)
	}
	ep, err := resolve(network, addr, true)
	if err != nil {
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, err)
	}
	cfg.remote = ep.addr
	fd, err := sysSocket(ep.family, unix.SOCK_STREAM)
	if err != nil {
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, os.NewSyscallError("socket", err))
	}
	if ep.family != unix.AF_UNIX && cfg.noDelay {
		// Best effort, as in package net: a socket without it still works.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if err := setBufferSizes(fd, cfg); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, err)
	}
	cfg.l, cfg.ls, cfg.h = l, stateOf(l, cfg.readBufferSize), h
	if cfg.ls.closed {
		// Checked here, not left to AddWriter: a connect that fails at once
		// would queue OnClose on a loop that will not run it.
		unix.Close(fd)
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, loop.ErrClosed)
	}
	cfg.unixStream = ep.family == unix.AF_UNIX
	c := newConn(cfg, fd)
	c.flags |= fConnecting
	c.out = &outbuf{onWrite: c.onWritable}
	cfg.ls.trackDialed(c)

	err = unix.Connect(fd, ep.sa)
	for err == unix.EINTR {
		// The connect goes on in the background; a second call says how.
		err = unix.Connect(fd, ep.sa)
		if err == unix.EALREADY {
			err = unix.EINPROGRESS
		}
	}
	switch err {
	case nil, unix.EINPROGRESS, unix.EISCONN:
		// Writability reports the outcome, also for a connect that already
		// succeeded, so that OnOpen always runs from the loop and never
		// before Dial has returned.
		if err := l.AddWriter(fd, c.out.onWrite); err != nil {
			cfg.ls.forgetDialed(c)
			unix.Close(fd)
			return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, err)
		}
		c.flags |= fWriting
		if cfg.connectTimeout > 0 {
			c.timeouts().connectT = l.CallLater(cfg.connectTimeout, func() { c.fail(errConnectTimeout) })
		}
	default:
		c.fail(os.NewSyscallError("connect", err))
	}
	return c, nil
}

// connected completes a connect once the socket is writable: SO_ERROR says
// whether it worked.
func (c *Conn) connected() {
	fd := int(c.fd)
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr != 0 {
		err = unix.Errno(soerr)
	}
	switch err {
	case nil:
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return // not yet: a spurious wake-up
	default:
		c.fail(os.NewSyscallError("connect", err))
		return
	}
	c.flags &^= fConnecting
	if c.tm != nil {
		c.cfg.l.Cancel(c.tm.connectT)
		// Set while connecting, when the peer had no part in the wait.
		c.rearm(&c.tm.idle)
	}
	if c.flags&fClosing != 0 {
		// Closed while connecting: what arrives is read and discarded from
		// now on, so that a peer blocked on sending to us can read what we
		// flush (linger adds the reader only once the queue is sent).
		if !c.readToDiscard() {
			return
		}
	} else if c.flags&fReadPaused == 0 {
		if err := c.cfg.l.AddReader(fd, c.onRead); err != nil {
			c.fail(err)
			return
		}
		c.flags |= fReading
		if c.tm != nil {
			// Set while connecting, when there was nothing to read yet.
			c.rearm(&c.tm.read)
		}
	}
	c.cfg.h.OnOpen(c)
	if c.flags&fClosed != 0 {
		return
	}
	// What was written while connecting goes out now; this also removes
	// the writer, or completes a Close or CloseWrite made meanwhile.
	if err := c.flush(); err != nil {
		c.fail(err)
		return
	}
	if c.tm != nil && c.Buffered() > 0 {
		// Not started while connecting: the peer can stop reading only now.
		c.rearm(&c.tm.write)
	}
	c.drained()
}
