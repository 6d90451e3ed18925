//go:build unix

package sock

import "errors"

// errNoSocket is Conn.Control's error for a dialed connection whose socket
// is not made yet.
var errNoSocket = errors.New("sock: Control: the connection has no socket yet (its host name is being looked up)")

// Control calls fn with the connection's socket descriptor, for what sock
// has no option for (IP_TOS, SO_MARK, TCP_CONGESTION; reading
// TCP_INFO or the buffer sizes the kernel settled on), as
// syscall.RawConn's Control does. fn must not close the descriptor, make it
// blocking, or read or write it: the loop owns it. A dialed connection
// gets a socket once its address is known, and a new one for each address
// it tries: set options in OnOpen. It returns ErrClosed once the
// connection is closed. Loop goroutine only.
func (c *Conn) Control(fn func(fd uintptr)) error {
	switch {
	case c.flags&fClosed != 0:
		return ErrClosed
	case c.fd < 0:
		return errNoSocket
	}
	fn(uintptr(c.fd))
	return nil
}

// Control calls fn with the listening socket's descriptor, as Conn.Control
// does (the accepted connections' own options are theirs: set them in
// OnOpen). It returns ErrClosed once the listener is closed. Loop goroutine
// only.
func (ln *Listener) Control(fn func(fd uintptr)) error {
	if ln.closed {
		return ErrClosed
	}
	fn(uintptr(ln.fd))
	return nil
}

// Control calls fn with the socket's descriptor, as Conn.Control does: for
// IP_TOS or IPV6_TCLASS on what WriteTo sends, or the receive buffer size
// the kernel settled on. It returns ErrClosed once the socket is closed.
// Loop goroutine only.
func (pc *PacketConn) Control(fn func(fd uintptr)) error {
	if pc.closed {
		return ErrClosed
	}
	fn(uintptr(pc.fd))
	return nil
}
