//go:build unix

package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// Dial starts connecting to addr on network ("tcp", "tcp4", "tcp6" or
// "unix") and returns at once; the connect completes on the loop. When it
// succeeds, h.OnOpen runs; when it fails (ECONNREFUSED, a connect timeout,
// a host name that cannot be looked up, a peer that reset the connection
// before the loop saw it open, EAGAIN from a Unix listener whose backlog is
// full), h.OnClose runs with the error, a *net.OpError naming the network
// and the address tried (or the name, during its lookup), and OnOpen never
// does. A dial to a
// local port nobody listens on never connects the socket to itself (a TCP
// simultaneous open, when the kernel picks that port as the socket's own):
// it fails with ECONNREFUSED. Writes made before the connection is open are
// queued and sent once it is; a Close made meanwhile waits for them, so with
// writes queued OnOpen still runs (and a Write there returns ErrClosed),
// and with none, OnClose(nil) follows without OnOpen; so does an Abort or
// the loop's Close before the connection opened, with nothing written (a
// handler that must tell a dial that never connected from a closed
// connection notes its OnOpen). Dial itself fails only for a bad network
// or address (a Unix path longer than 107 bytes included; the BSDs hold
// 103, and there a longer one fails in OnClose with EINVAL), when no socket
// can be opened for a literal address (a *net.OpError around the system's
// error, as OnClose gets it for a name's address), on a loop whose Close
// has been called (an error wrapping loop.ErrClosed), and on a
// variant without a poller (loop.ErrNoPoller). An empty or unspecified host
// dials the local system, as package net does.
//
// A host name is looked up on a goroutine of its own (with the resolver
// WithResolver gives, net.DefaultResolver by default), so the loop never
// waits for it; the connect timeout counts the lookup too. Dial then tries
// the name's addresses one after the other, in the order the resolver gave
// them, until one connects, as asyncio's create_connection does (package
// net races two at a time instead). If none does, OnClose receives the
// first address's error, or the connect timeout's, naming the address
// being tried, when that ends the dial.
// The connect timeout bounds the whole dial, and, as in package net, an
// address with others after it gets only its share of the time left (the
// time left divided by the addresses left, but at least 2 s, or all of
// it if less is left), so that one that never answers does not keep the
// others from being tried. A service name as the port is looked up at
// once, from the system's services file. Loop goroutine only.
func Dial(l *loop.Loop, network, addr string, h Handler, opts ...Option) (*Conn, error) {
	if l == nil {
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, errNilLoop)
	}
	if !isTCP(network) && network != "unix" {
		return nil, fmt.Errorf("sock: Dial: network %q is not tcp, tcp4, tcp6 or unix", network)
	}
	if err := loopUsable(l); err != nil {
		// Checked before connecting: a connect that fails at once would
		// otherwise report through OnClose, and one that does not would
		// fail only at AddWriter (a host name's, after its lookup).
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, err)
	}
	if h == nil {
		return nil, fmt.Errorf("sock: dial %s %s: nil Handler", network, addr)
	}
	cfg, err := newConfig(forDial, opts)
	if err == nil {
		err = cfg.forHandler(h)
	}
	if err != nil {
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, err)
	}
	host, port, err := hostToLookUp(network, addr)
	if err != nil {
		return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, err)
	}
	var ep endpoint
	fd := -1 // a host name's socket opens once it has an address (tryNext)
	if host == "" {
		if ep, err = resolve(network, addr, true); err != nil {
			return nil, fmt.Errorf("sock: dial %s %s: %w", network, addr, err)
		}
		if fd, err = openStream(ep.family, cfg); err != nil {
			// As OnClose gets the system's refusal of a name's dial.
			return nil, &net.OpError{Op: "dial", Net: network, Addr: netAddr(ep.sa, unix.SOCK_STREAM), Err: err}
		}
		if testHookDialSocket != nil {
			testHookDialSocket(fd)
		}
		cfg.unixStream = ep.family == unix.AF_UNIX
	}
	cfg.l, cfg.ls, cfg.h = l, stateOf(l, cfg.readBufferSize), h
	cfg.network = network
	c := newConn(cfg, fd)
	c.flags |= fConnecting
	c.out = &outbuf{onWrite: c.onWritable}
	if d := cfg.idleTimeout; d > 0 {
		c.SetIdleTimeout(d) // from the open on, as set while connecting
	}
	cfg.ls.trackDialed(c)
	if d := cfg.connectTimeout; d > 0 {
		// From the clock, not CallLater's reading of it at the callback's
		// first timer: a callback that dials a thousand targets would give
		// the last ones less than d.
		c.extra().connectT = timerAfter(l, d, func() {
			if c.flags&fConnecting != 0 { // not opened meanwhile (see timerAfter)
				c.fail(ErrConnectTimeout)
			}
		})
	}
	if host != "" {
		c.lookUp(network, addr, host, port)
		if d := cfg.connectTimeout; d > 0 {
			c.cfg.dial.deadline = l.Now().Add(d)
		}
	} else {
		c.connect(fd, ep)
	}
	return c, nil
}

// hostToLookUp returns the host name and port of a TCP addr whose host is
// a name, not an IP address (nor empty), and "" for any other addr.
func hostToLookUp(network, addr string) (host string, port int, err error) {
	if !isTCP(network) {
		return "", 0, nil
	}
	host, service, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", 0, nil // resolve reports the error, or dials the local system
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "", 0, nil
	}
	port, err = net.LookupPort(network, service)
	return host, port, err
}

// openStream opens a stream socket of the family with cfg's options.
func openStream(family int, cfg *config) (int, error) {
	fd, err := sysSocket(family, unix.SOCK_STREAM)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if family != unix.AF_UNIX {
		setTCPOptions(fd, cfg)
	}
	if err := setBufferSizes(fd, cfg); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// connect starts connecting fd, c's new socket, to ep. Writability reports
// the outcome (connected), also for a connect that succeeded at once, so
// that OnOpen always runs from the loop and never before Dial has returned.
func (c *Conn) connect(fd int, ep endpoint) {
	c.fd = int32(fd)
	c.cfg.remote = ep.addr
	err := unix.Connect(fd, ep.sa)
	for err == unix.EINTR {
		// The connect goes on in the background; a second call says how.
		err = unix.Connect(fd, ep.sa)
		if err == unix.EALREADY {
			err = unix.EINPROGRESS
		}
	}
	switch err {
	case nil, unix.EINPROGRESS, unix.EISCONN:
		if err := c.cfg.l.AddWriter(fd, c.out.onWrite); err != nil {
			if errors.Is(err, loop.ErrClosed) {
				// A name's lookup answered just before the loop's Close, or
				// the address before failed in its last iteration: end as
				// Close ends every dial not yet open, not with its error.
				c.Abort()
				return
			}
			c.fail(err)
			return
		}
		c.flags |= fWriting
	default:
		c.connectFailed(os.NewSyscallError("connect", err))
	}
}

// connectFailed moves on to the next address of a name, if there is one
// left, or fails the connection with err (with the first address's error,
// when a name's addresses all failed).
func (c *Conn) connectFailed(err error) {
	d := c.cfg.dial
	if d == nil {
		c.fail(err)
		return
	}
	c.cfg.l.Cancel(d.attemptT)
	if d.firstErr == nil {
		d.firstErr = c.dialError(err) // naming this address: the next replaces remote
	}
	if len(d.addrs) == 0 {
		c.fail(d.firstErr)
		return
	}
	if c.fd >= 0 {
		if c.flags&fWriting != 0 {
			c.cfg.l.RemoveWriter(int(c.fd))
			c.flags &^= fWriting
		}
		unix.Close(int(c.fd))
		c.fd = -1
	}
	c.tryNext()
}

// dialing is what a Dial to a host name needs until it has connected.
type dialing struct {
	network  string
	addr     string // as given to Dial, for its error
	port     int
	addrs    []netip.Addr // the name's addresses not tried yet
	firstErr error        // what the first address tried failed with
	cancel   context.CancelFunc
	deadline time.Time  // the connect timeout's end, on the loop's clock; zero without one
	attemptT loop.Timer // ends the attempt under way when others are left to try
}

// minAttempt is the least time an address gets before the next is tried,
// unless the dial's connect timeout leaves less: package net's figure.
const minAttempt = 2 * time.Second

// attemptTimeout is how long the address about to be tried gets when
// others are left after it: an equal share of the time left, but at least
// minAttempt, or all of it if less is left.
func attemptTimeout(left time.Duration, addrsLeft int) time.Duration {
	share := left / time.Duration(addrsLeft)
	if share < minAttempt {
		share = min(minAttempt, left)
	}
	return share
}

// lookUp looks host up on a goroutine of its own and hands the addresses
// to the loop (resolved). Closing the connection first cancels the lookup.
func (c *Conn) lookUp(network, addr, host string, port int) {
	ctx, cancel := context.WithCancel(context.Background())
	c.cfg.dial = &dialing{network: network, addr: addr, port: port, cancel: cancel}
	ipNetwork := "ip" + network[len("tcp"):]
	r, l := c.cfg.resolver, c.cfg.l
	go func() {
		ips, panicked, err := lookUpGuarded(ctx, r, ipNetwork, host)
		if panicked != nil {
			// The panic goes to the loop, whose callbacks' panics the
			// program handles (WithPanicHandler), after it failed the
			// dial; it would otherwise end the program from a goroutine
			// the program never made.
			if post(l, func() { c.resolved(host, nil, err); panic(panicked) }) != nil {
				panic(panicked) // the loop is closed: nothing else can take it
			}
			return
		}
		// post waits out a full inbox (overflow: reject), which would leave
		// the connection connecting for good. A closed loop refuses the post:
		// closeAll has aborted c already.
		_ = post(l, func() { c.resolved(host, ips, err) })
	}()
}

// lookUpGuarded is r.LookupNetIP, and what it panicked with, if it did,
// with an error that says so.
func lookUpGuarded(ctx context.Context, r Resolver, network, host string) (ips []netip.Addr, panicked any, err error) {
	defer func() {
		if v := recover(); v != nil {
			ips, panicked, err = nil, v, fmt.Errorf("lookup %s: the resolver panicked: %v", host, v)
		}
	}()
	ips, err = r.LookupNetIP(ctx, network, host)
	return ips, nil, err
}

// resolved starts connecting to the first of host's addresses, unless the
// connection was closed during the lookup.
func (c *Conn) resolved(host string, ips []netip.Addr, err error) {
	if c.flags&fClosed != 0 {
		return
	}
	d := c.cfg.dial
	d.cancel() // the lookup is over; this frees its context
	if err != nil {
		c.fail(err)
		return
	}
	for _, ip := range ips {
		ip = ip.Unmap()
		if !ip.IsValid() {
			continue // a resolver's zero Addr: dialled, it would mean the local system
		}
		if d.network == "tcp4" && !ip.Is4() || d.network == "tcp6" && !ip.Is6() {
			continue // not of the network asked for
		}
		d.addrs = append(d.addrs, ip)
	}
	if len(d.addrs) == 0 {
		c.fail(&net.AddrError{Err: "no suitable address found", Addr: host})
		return
	}
	c.tryNext()
}

// tryNext starts connecting to the next address of a host name.
func (c *Conn) tryNext() {
	d := c.cfg.dial
	ip := d.addrs[0]
	d.addrs = d.addrs[1:]
	ep, err := inetEndpoint(d.network, net.IP(ip.WithZone("").AsSlice()), ip.Zone(), d.port, true)
	fd := -1
	if err == nil {
		ep.addr = netAddr(ep.sa, unix.SOCK_STREAM)
		fd, err = openStream(ep.family, c.cfg)
	}
	if err != nil {
		c.fd = -1
		c.connectFailed(err)
		return
	}
	if !d.deadline.IsZero() && len(d.addrs) > 0 {
		// With no time left, the dial's own timer, due within a tick, ends
		// it: a CallLater of 0 would be a CallSoon that no Cancel can stop,
		// and would fail a connection that had opened meanwhile.
		l := c.cfg.l
		if timeout := attemptTimeout(d.deadline.Sub(l.Now()), len(d.addrs)+1); timeout > 0 {
			// connectFailed names the address in the error it keeps.
			d.attemptT = timerAfter(l, timeout, func() { c.connectFailed(ErrConnectTimeout) })
		}
	}
	c.connect(fd, ep)
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
		c.connectFailed(os.NewSyscallError("connect", err))
		return
	}
	if c.connectedToItself(fd) {
		// Nothing listened on the port, or the connect would have reached it.
		c.connectFailed(os.NewSyscallError("connect", unix.ECONNREFUSED))
		return
	}
	c.flags &^= fConnecting
	if d := c.cfg.dial; d != nil {
		c.cfg.l.Cancel(d.attemptT)
	}
	c.cfg.dial = nil // a host name's other addresses are not needed now
	if c.ext != nil {
		c.cfg.l.Cancel(c.ext.connectT)
		// Set while connecting, when the peer had no part in the wait.
		c.rearm(&c.ext.idle)
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
		if c.ext != nil {
			// Set while connecting, when there was nothing to read yet.
			c.rearm(&c.ext.read)
		}
	}
	c.cfg.h.OnOpen(c)
	if c.flags&fClosed != 0 {
		return
	}
	if c.flags&fCorked != 0 && c.out.n <= c.corkLimit() {
		// Corked (a Close or CloseWrite would have uncorked it): what was
		// written while connecting waits for Uncork, and the writer is not
		// needed until then.
		if c.flags&fWriting != 0 {
			c.cfg.l.RemoveWriter(fd)
			c.flags &^= fWriting
		}
		return
	}
	// What was written while connecting goes out now; this also removes
	// the writer, or completes a Close or CloseWrite made meanwhile.
	if err := c.flush(); err != nil {
		c.fail(err)
		return
	}
	if c.ext != nil && c.Buffered() > 0 {
		// Not started while connecting: the peer can stop reading only now
		// (after OnOpen, which may have worked a while).
		c.restart(&c.ext.write)
	}
	c.drained()
}

// dialError is what a dial that failed reports: err with the operation,
// network and address, as package net's Dial reports it ("dial tcp
// 127.0.0.1:9: connect: connection refused"). err stays in the chain, so
// errors.Is(err, syscall.ECONNREFUSED) and errors.Is(err, ErrTimeout) hold.
// The address is the one being tried, or, during a host name's lookup, the
// name as given to Dial.
func (c *Conn) dialError(err error) error {
	addr := c.cfg.remote
	if d := c.cfg.dial; d != nil && addr == nil {
		addr = dialedName{d.network, d.addr}
	}
	return &net.OpError{Op: "dial", Net: c.cfg.network, Addr: addr, Err: err}
}

// dialedName is a host name and port being looked up, as a net.Addr.
type dialedName struct{ network, addr string }

func (a dialedName) Network() string { return a.network }
func (a dialedName) String() string  { return a.addr }

// connectedToItself reports whether a TCP connect met its own socket: dialing
// a local port that nobody listens on, in the ephemeral range, the kernel may
// pick that very port as the socket's own, and the SYN then makes a
// simultaneous open with itself. The connection would read back what it
// writes (package net's Dial guards against it too). One getsockname per
// connect.
func (c *Conn) connectedToItself(fd int) bool {
	remote, ok := c.cfg.remote.(*net.TCPAddr)
	if !ok {
		return false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	local, ok := addrPortOf(sa)
	r := remote.AddrPort()
	// Without zones: the kernel's scope reads back as the interface's name,
	// where the address dialed may have given its number.
	return ok && local.Port() == r.Port() && local.Addr().WithZone("") == r.Addr().Unmap().WithZone("")
}

// testHookDialSocket, when set (by tests), sees a literal address's socket
// before Dial connects it.
var testHookDialSocket func(fd int)
