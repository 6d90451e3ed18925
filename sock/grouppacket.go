//go:build unix

package sock

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/loopgen/loop"
)

// GroupPacketConn is what a Group's ListenPacket opened: a UDP socket on
// each of the group's loops, all bound to one address. LocalAddr and
// PacketConns are safe from any goroutine; Close waits for every loop, so
// it is not for the group's loop goroutines (call it with go from there),
// as the Group's own methods are not.
type GroupPacketConn struct {
	g       *Group
	network string
	addr    net.Addr
	pcs     []*PacketConn // pcs[i] reads on g.loops[i]; each is touched on its loop only
	closed  atomic.Bool   // Close was called
	done    chan struct{} // closed when the first Close has returned
}

// ListenPacket opens a UDP socket on network ("udp", "udp4" or "udp6") and
// addr on every loop of the group, each with SO_REUSEPORT, so that the
// kernel spreads the datagrams among them by their sender's address and
// port: a sender's datagrams all go to one loop while the set of sockets
// stays the same, so per-peer state kept on that loop needs no lock (a
// socket closed or added moves some senders to another). newHandler is
// called on each loop's goroutine and returns that loop's PacketHandler.
// Port 0 picks a free port, the same on every loop: LocalAddr tells which.
// opts are ListenPacket's (WithReusePort is implied); WithExclusiveAddress
// makes it fail with EADDRINUSE where another socket holds the address,
// also one with SO_REUSEPORT (another copy of the server, which would
// otherwise get a share of the datagrams). If any loop fails to listen,
// none listens. Shutdown does not wait for datagram sockets: they close
// with the loops when it ends (Close them first to stop reading sooner).
// Once Shutdown or Close was called, it returns an error wrapping
// ErrClosed that says which.
func (g *Group) ListenPacket(network, addr string, newHandler func(*loop.Loop) PacketHandler, opts ...Option) (*GroupPacketConn, error) {
	if !isUDP(network) {
		return nil, fmt.Errorf("sock: Group.ListenPacket: network %q is not udp, udp4 or udp6", network)
	}
	if newHandler == nil {
		return nil, fmt.Errorf("sock: Group.ListenPacket %s %s: nil newHandler", network, addr)
	}
	// Checked here too, so that a refused option fails before any loop is asked.
	if _, err := newConfig(forPacket, opts); err != nil {
		return nil, fmt.Errorf("sock: Group.ListenPacket %s %s: %w", network, addr, err)
	}
	opts = append(opts[:len(opts):len(opts)], WithReusePort())
	op := "Group.ListenPacket " + network + " " + addr
	gpc := &GroupPacketConn{g: g, network: network, done: make(chan struct{})}
	for i, gl := range g.loops {
		// The first socket picks the port; the others bind that one, beside
		// it (WithExclusiveAddress is for the first only).
		at, lopts := addr, opts
		if gpc.addr != nil {
			at, lopts = gpc.addr.String(), append(opts[:len(opts):len(opts)], joinExisting)
		}
		var pc *PacketConn
		err := g.on(gl, op, func() error {
			var err error
			pc, err = ListenPacket(gl.l, network, at, newHandler(gl.l), lopts...)
			return err
		})
		if err != nil {
			for j, opened := range gpc.pcs {
				g.on(g.loops[j], op, opened.Close)
			}
			return nil, g.loopErr(op, i, err)
		}
		gpc.pcs = append(gpc.pcs, pc)
		if gpc.addr == nil {
			gpc.addr = pc.LocalAddr()
		}
	}
	return gpc, nil
}

// LocalAddr returns the address the group's sockets share, with the port
// the kernel picked when port 0 was asked for.
func (gpc *GroupPacketConn) LocalAddr() net.Addr { return gpc.addr }

// PacketConns returns the group's sockets, in the order of Loops: each
// belongs to its loop's goroutine, and is used there (for a WriteTo from a
// timer made with Each, say), as its handler's OnPacket is given it.
func (gpc *GroupPacketConn) PacketConns() []*PacketConn {
	return append([]*PacketConn(nil), gpc.pcs...)
}

// Close closes the sockets, each on its loop, and waits until they are:
// datagrams the kernel holds that were not read yet are discarded. A second
// Close waits for the first and returns an error wrapping ErrClosed; so
// does a Close after the group's Shutdown or Close began, which close the
// sockets themselves.
func (gpc *GroupPacketConn) Close() error {
	op := "GroupPacketConn.Close " + gpc.network + " " + gpc.addr.String()
	if !gpc.closed.CompareAndSwap(false, true) {
		<-gpc.done
		return &closedError{op: op, what: "the sockets are closed already"}
	}
	defer close(gpc.done)
	var errs []error
	for i, gl := range gpc.g.loops {
		err := gpc.g.on(gl, op, func() error {
			if err := gpc.pcs[i].Close(); err != nil && !errors.Is(err, ErrClosed) {
				return err
			}
			return nil
		})
		switch {
		case errors.Is(err, loop.ErrClosed):
			// The loop's goroutine ended (a callback called runtime.Goexit)
			// and closed the loop, and the socket with it.
		case err != nil:
			var closed *closedError
			if errors.As(err, &closed) {
				// The group is shut down or closed, and closes the rest.
				return err
			}
			errs = append(errs, fmt.Errorf("loop %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}
