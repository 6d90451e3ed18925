package sock_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// A mutation round over listener.go, group.go, grouppacket.go, addr.go,
// control.go and keepalive*.go: each test here kills a mutant the
// package's tests let live, and names it.

// TestMut12ClosedFullListenerIsNotWatchedAgain: a listener closed while it
// stood at WithMaxConns's limit stays closed when one of its connections
// ends: the connection's end would resume accepting on a full listener,
// but a closed one is not watched again (its descriptor is gone), and no
// accept error is reported for it. Kills resume without its closed check.
func TestMut12ClosedFullListenerIsNotWatchedAgain(t *testing.T) {
	l := newLoop(t)
	h := &mutOpens{}
	var acceptErrs []error
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", h, sock.WithMaxConns(1),
		sock.WithAcceptErrorHandler(func(err error) { acceptErrs = append(acceptErrs, err) }))
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	// Accepting the one connection fills the listener: the accept loop
	// stops at the limit before it asks for another.
	runUntil(t, l, "the connection's OnOpen", func() bool { return len(h.conns) == 1 })
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	h.conns[0].Abort()
	runUntil(t, l, "the connection's OnClose", func() bool { return ln.Conns() == 0 })
	for range 5 {
		runIteration(t, l)
	}
	if len(acceptErrs) != 0 {
		t.Errorf("accept errors %v after the closed listener's last connection ended; want none", acceptErrs)
	}
	if err := ln.Control(func(uintptr) {}); err != sock.ErrClosed {
		t.Errorf("Control on the closed listener = %v; want ErrClosed", err)
	}
}

// m12Conns keeps every connection it is given, in order, and each one's
// OnClose error.
type m12Conns struct {
	sock.BaseHandler
	conns  []*sock.Conn
	closed map[*sock.Conn]error
	open   func(c *sock.Conn)
}

func (h *m12Conns) OnOpen(c *sock.Conn) {
	h.conns = append(h.conns, c)
	if h.open != nil {
		h.open(c)
	}
}

func (h *m12Conns) OnClose(c *sock.Conn, err error) {
	if h.closed == nil {
		h.closed = map[*sock.Conn]error{}
	}
	h.closed[c] = err
}

// TestMut12LoopCloseReachesAnOlderConnectionAfterTheNewestEnds: the loop's
// Close aborts every connection a listener accepted that is still open,
// also once the newest of them (the head of the listener's list) has
// ended. Kills forget not moving the list's head on.
func TestMut12LoopCloseReachesAnOlderConnectionAfterTheNewestEnds(t *testing.T) {
	l := newLoop(t)
	h := &m12Conns{}
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		peer, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		runUntil(t, l, "the connection's OnOpen", func() bool { return len(h.conns) == i+1 })
	}
	h.conns[1].Abort()
	runUntil(t, l, "the newest connection's OnClose", func() bool { return ln.Conns() == 1 })
	ln.Close()
	l.Close()
	if _, ok := h.closed[h.conns[0]]; !ok {
		t.Fatal("the loop closed and the older connection got no OnClose: it was left open")
	}
}

// TestMut12ListenerClosedInOnOpenAcceptsNoMore: a listener that OnOpen
// closes, with more connections queued, takes none of them in the same
// batch of accepts, and reports no accept error (its descriptor is gone).
// Kills accept's loop not checking, before each accept, that the listener
// is still open.
func TestMut12ListenerClosedInOnOpenAcceptsNoMore(t *testing.T) {
	l := newLoop(t)
	var ln *sock.Listener
	h := &m12Conns{open: func(*sock.Conn) { ln.Close() }}
	var acceptErrs []error
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", h,
		sock.WithAcceptErrorHandler(func(err error) { acceptErrs = append(acceptErrs, err) }))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		peer, err := net.Dial("tcp4", ln.Addr().String()) // queued in the backlog
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
	}
	runUntil(t, l, "the first OnOpen", func() bool { return len(h.conns) == 1 })
	for range 5 {
		runIteration(t, l)
	}
	h.conns[0].Abort()
	runUntil(t, l, "the connection's OnClose", func() bool { return ln.Conns() == 0 })
	if len(h.conns) != 1 || len(acceptErrs) != 0 {
		t.Errorf("%d connections opened and accept errors %v after OnOpen closed the listener; want 1 and none", len(h.conns), acceptErrs)
	}
}

// m12Told is a ShutdownHandler that counts its OnOpen and OnShutdown
// calls, and Closes the connection in a callback queued after OnShutdown
// returns (as a handler finishing a request would, a little later).
type m12Told struct {
	sock.BaseHandler
	opened, told *atomic.Int32
}

func (h m12Told) OnOpen(*sock.Conn) { h.opened.Add(1) }
func (h m12Told) OnShutdown(c *sock.Conn) {
	h.told.Add(1)
	c.Loop().CallSoon(func() { c.Close() })
}

// TestMut12ShutdownTellsAGroupConnectionOnce: Shutdown calls OnShutdown
// "once for each" connection, also for one of the group's own listeners,
// which is in the loop's list of listeners twice over (the group's, and
// the loop's own, where Shutdown looks for listeners opened with Listen on
// the group's loops). Kills Shutdown adding a loop's listeners to the ones
// it drains without checking that the group has it already.
func TestMut12ShutdownTellsAGroupConnectionOnce(t *testing.T) {
	requirePoller(t, newLoop(t))
	g, err := sock.NewGroup(1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var opened, told atomic.Int32
	gln, err := g.Listen("tcp4", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return m12Told{opened: &opened, told: &told} })
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.Dial("tcp4", gln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	for deadline := time.Now().Add(waitLimit); opened.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for OnOpen")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := told.Load(); n != 1 {
		t.Errorf("OnShutdown called %d times for one connection; want once", n)
	}
}

// TestMut12DialToTheUnspecifiedIPv6HostReachesIPv6Loopback: a dial to
// "[::]" under tcp or tcp6 goes to ::1, as package net connects it (the
// local system, in the address's own family), and RemoteAddr says so.
// Kills inetEndpoint's dial branch looking at the network's suffix alone
// (tcp then went to 127.0.0.1), and its picking :: itself for tcp6.
func TestMut12DialToTheUnspecifiedIPv6HostReachesIPv6Loopback(t *testing.T) {
	l := newLoop(t)
	srv := &m12Conns{}
	ln, err := sock.Listen(l, "tcp6", "[::1]:0", srv)
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, network := range []string{"tcp", "tcp6"} {
		cli := &recorder{}
		c, err := sock.Dial(l, network, "[::]:"+port, cli)
		if err != nil {
			t.Fatalf("Dial %s [::]:%s: %v", network, port, err)
		}
		if got, want := c.RemoteAddr().String(), "[::1]:"+port; got != want {
			t.Errorf("Dial(%s, [::]:%s): RemoteAddr %s, want %s", network, port, got, want)
		}
		n := len(srv.conns)
		runUntil(t, l, "the dial to connect or fail", func() bool { return cli.opened || cli.closed })
		if cli.closed {
			t.Errorf("Dial(%s, [::]:%s) failed: %v", network, port, cli.closeErr)
			continue
		}
		runUntil(t, l, "the server's OnOpen", func() bool { return len(srv.conns) == n+1 })
		c.Abort()
		srv.conns[n].Abort()
		runUntil(t, l, "the closes", func() bool { return cli.closed && ln.Conns() == 0 })
	}
}

// TestMut12ControlReachesAClosingConnection: Control returns ErrClosed once
// the connection is closed, not as soon as Close is called: while Close
// sends what is queued (the peer is slow to read), the socket is there,
// and Control reaches it (to read what the kernel still holds, say).
// Kills Control refusing a connection that is closing.
func TestMut12ControlReachesAClosingConnection(t *testing.T) {
	l := newLoop(t)
	h := &m12Conns{}
	peer := listenAndDialSmall(t, l, h)
	runUntil(t, l, "the connection's OnOpen", func() bool { return len(h.conns) == 1 })
	c := h.conns[0]
	c.Write(make([]byte, 16<<20)) // more than the peer's buffers and ours
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, closed := h.closed[c]; closed {
		t.Fatal("Close with 16 MiB queued closed the connection at once")
	}
	called := false
	if err := c.Control(func(fd uintptr) { called = fd > 0 }); err != nil || !called {
		t.Errorf("Control on a closing connection = %v (fn called with its socket: %v); want nil, and fn called", err, called)
	}
	c.Abort()
	runUntil(t, l, "the connection's OnClose", func() bool { _, ok := h.closed[c]; return ok })
	if err := c.Control(func(uintptr) { t.Error("Control called fn on a closed connection") }); err != sock.ErrClosed {
		t.Errorf("Control on a closed connection = %v; want ErrClosed", err)
	}
	peer.Close()
}

// TestMut12GroupListenRefusesANonTCPNetworkOnOneLoop: Group.Listen takes
// tcp, tcp4, tcp6 and unix only (udp is ListenPacket's), also on a group of
// one loop. Kills Group.Listen's check of the network.
func TestMut12GroupListenRefusesANonTCPNetworkOnOneLoop(t *testing.T) {
	requirePoller(t, newLoop(t))
	g, err := sock.NewGroup(1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, tc := range []struct{ network, addr string }{{"udp", "127.0.0.1:0"}, {"unixgram", t.TempDir() + "/g"}} {
		gln, err := g.Listen(tc.network, tc.addr, func(*loop.Loop) sock.Handler { return &recorder{} })
		if err == nil {
			t.Errorf("Group.Listen(%s, %s) was taken", tc.network, tc.addr)
			gln.Close()
			continue
		}
		if !strings.Contains(err.Error(), "is not tcp, tcp4, tcp6 or unix") {
			t.Errorf("Group.Listen(%s, %s): %v; want the network refused", tc.network, tc.addr, err)
		}
	}
}

// TestMut12GroupListenRefusesANilNewHandler: a nil newHandler fails
// Group.Listen and Group.ListenPacket at once, with an error that says so,
// before any loop is asked (calling it there would panic on the loop).
// Kills Group.Listen's nil check.
func TestMut12GroupListenRefusesANilNewHandler(t *testing.T) {
	requirePoller(t, newLoop(t))
	var panics atomic.Int32
	g, err := sock.NewGroup(1, loop.WithPanicHandler(func(any) { panics.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if gln, err := g.Listen("tcp", "127.0.0.1:0", nil); err == nil {
		t.Error("Group.Listen with a nil newHandler was taken")
		gln.Close()
	} else if !strings.Contains(err.Error(), "nil newHandler") {
		t.Errorf("Group.Listen with a nil newHandler: %v; want it named", err)
	}
	if gpc, err := g.ListenPacket("udp", "127.0.0.1:0", nil); err == nil {
		t.Error("Group.ListenPacket with a nil newHandler was taken")
		gpc.Close()
	} else if !strings.Contains(err.Error(), "nil newHandler") {
		t.Errorf("Group.ListenPacket with a nil newHandler: %v; want it named", err)
	}
	if n := panics.Load(); n != 0 {
		t.Errorf("%d panics on the group's loop; want none", n)
	}
}

// TestMut12ControlOfADialClosedDuringItsLookupIsErrClosed: a dial
// aborted while its host name is looked up never had a socket, but it is
// closed: Control says ErrClosed, as it does for every closed connection,
// not that the socket is still to come. Kills Control asking about the
// socket before asking whether the connection is closed.
func TestMut12ControlOfADialClosedDuringItsLookupIsErrClosed(t *testing.T) {
	l := newLoop(t)
	cli := &recorder{}
	c, err := sock.Dial(l, "tcp", "localhost:1", cli)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Control(func(uintptr) {}); err == nil || err == sock.ErrClosed {
		// The look-up is made on another goroutine: the connection has no
		// socket until the loop hears back.
		t.Fatalf("Control during the look-up = %v; want the no-socket error", err)
	}
	c.Abort()
	if err := c.Control(func(uintptr) { t.Error("Control called fn on a closed connection") }); err != sock.ErrClosed {
		t.Errorf("Control after Abort, with no socket made yet = %v; want ErrClosed", err)
	}
	runUntil(t, l, "the connection's OnClose", func() bool { return cli.closed })
}
