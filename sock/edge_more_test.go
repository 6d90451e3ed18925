package sock_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
	"weak"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// listenUDP opens a PacketConn on l that records what it receives, closed
// when the test ends.
func listenUDP(t *testing.T, l *loop.Loop, network, addr string, opts ...sock.Option) (*sock.PacketConn, *[][]byte, *[]netip.AddrPort) {
	t.Helper()
	var got [][]byte
	var froms []netip.AddrPort
	pc, err := sock.ListenPacket(l, network, addr, packetFunc(func(_ *sock.PacketConn, p []byte, from netip.AddrPort) {
		got = append(got, bytes.Clone(p))
		froms = append(froms, from)
	}), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc, &got, &froms
}

// A caller that counts what it sent (or a wrapper implementing
// net.PacketConn) relies on the count being the datagram's whole length.
func TestWriteToReportsTheWholeDatagram(t *testing.T) {
	l := newLoop(t)
	srv, got, _ := listenUDP(t, l, "udp4", "127.0.0.1:0")
	cli, _, _ := listenUDP(t, l, "udp4", "127.0.0.1:0")
	to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, size := range []int{0, 1, 1000} {
		if n, err := cli.WriteTo(bytes.Repeat([]byte("d"), size), to); n != size || err != nil {
			t.Errorf("WriteTo of %d bytes = %d, %v; want %d, nil", size, n, err, size)
		}
	}
	runUntil(t, l, "3 datagrams", func() bool { return len(*got) == 3 })
}

// A datagram the kernel refuses was not sent, so the count must say 0, as
// package net's WriteTo says.
func TestWriteToThatFailsReportsNothingSent(t *testing.T) {
	l := newLoop(t)
	srv, _, _ := listenUDP(t, l, "udp4", "127.0.0.1:0")
	cli, _, _ := listenUDP(t, l, "udp4", "127.0.0.1:0")
	// Longer than any UDP datagram can be: EMSGSIZE everywhere.
	n, err := cli.WriteTo(make([]byte, 70000), srv.LocalAddr().(*net.UDPAddr).AddrPort())
	if err == nil || n != 0 {
		t.Fatalf("WriteTo of a 70000-byte datagram = %d, %v; want 0 and an error", n, err)
	}
	if runtime.GOOS == "linux" && !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("WriteTo of a 70000-byte datagram: %v; want EMSGSIZE", err)
	}
}

// An IPv4 socket has no way to reach an IPv6 peer; WriteTo must say so
// with an error, not turn the address into garbage or panic.
func TestWriteToAnIPv6PeerFromAnIPv4SocketFails(t *testing.T) {
	l := newLoop(t)
	cli, _, _ := listenUDP(t, l, "udp4", "127.0.0.1:0")
	to := netip.MustParseAddrPort("[::1]:9")
	if n, err := cli.WriteTo([]byte("x"), to); err == nil || n != 0 {
		t.Fatalf("WriteTo(%v) from an IPv4 socket = %d, %v; want 0 and an error", to, n, err)
	}
	// An IPv4-mapped address is an IPv4 peer and goes through.
	srv, got, _ := listenUDP(t, l, "udp4", "127.0.0.1:0")
	mapped := netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16()), srv.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	if _, err := cli.WriteTo([]byte("m"), mapped); err != nil {
		t.Fatalf("WriteTo(%v) from an IPv4 socket: %v", mapped, err)
	}
	runUntil(t, l, "the datagram sent to a mapped address", func() bool { return len(*got) == 1 })
}

// Datagrams sent on loopback are queued by the time sendto returns, so
// the first readiness finds all of them: it must read more than one (or a
// burst costs one loop iteration per datagram) and not all (or a flood
// starves the loop's other sockets).
func TestOneReadinessReadsABoundedBatchOfDatagrams(t *testing.T) {
	const sent = 100
	l := newLoop(t)
	pc, got, _ := listenUDP(t, l, "udp4", "127.0.0.1:0")
	c, err := net.DialUDP("udp4", nil, pc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range sent {
		if _, err := c.Write(fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.RunOnce(true); err != nil {
		t.Fatal(err)
	}
	if n := len(*got); n <= 1 || n >= sent {
		t.Fatalf("one readiness delivered %d of %d queued datagrams; want a batch, more than 1 and fewer than all", n, sent)
	}
	runUntil(t, l, "every datagram", func() bool { return len(*got) == sent })
}

// Listen documents SO_REUSEADDR so that a restarted server binds at once:
// the connection the old server closed first sits in TIME_WAIT on the
// listening port, which without the option makes bind fail.
func TestListenAgainWhileAConnectionIsInTimeWait(t *testing.T) {
	l := newLoop(t)
	var sc *sock.Conn
	closed := false
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", &funcHandler{
		open:  func(c *sock.Conn) { sc = c },
		close: func(*sock.Conn, error) { closed = true },
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	peer, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "the accept", func() bool { return sc != nil })
	ln.Close()
	sc.Close() // the server's is the active close, the one that ends in TIME_WAIT
	runUntil(t, l, "the server's FIN", func() bool {
		peer.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := peer.Read(make([]byte, 1))
		return err == io.EOF
	})
	peer.Close()
	runUntil(t, l, "the server's OnClose", func() bool { return closed })
	again, err := sock.Listen(l, "tcp4", addr, &echoServer{})
	if err != nil {
		t.Fatalf("Listen on %s again, with the old listener's connection in TIME_WAIT: %v", addr, err)
	}
	again.Close()
}

// Package net's ListenPacket refuses a UDP port in use; so must this one.
// (SO_REUSEADDR, which TCP listeners get, would let two UDP sockets share
// the port and split its datagrams.)
func TestListenPacketOnAPortInUseFails(t *testing.T) {
	l := newLoop(t)
	pc, _, _ := listenUDP(t, l, "udp4", "127.0.0.1:0")
	other, err := sock.ListenPacket(l, "udp4", pc.LocalAddr().String(), packetFunc(nil))
	if err == nil {
		other.Close()
		t.Fatalf("a second ListenPacket on %v succeeded", pc.LocalAddr())
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a second ListenPacket on %v: %v; want EADDRINUSE", pc.LocalAddr(), err)
	}
}

// A Unix socket file left behind makes the next Listen on the path fail
// with EADDRINUSE, so Close must remove it, also while a connection it
// accepted is still open.
func TestUnixListenerCloseRemovesItsFile(t *testing.T) {
	l := newLoop(t)
	path := filepath.Join(t.TempDir(), "s")
	srv := &echoServer{}
	ln, err := sock.Listen(l, "unix", path, srv)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "the accept", func() bool { return srv.opened == 1 })
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, stat %s: %v; want it gone", path, err)
	}
	again, err := sock.Listen(l, "unix", path, &echoServer{})
	if err != nil {
		t.Fatalf("Listen on %s after Close: %v", path, err)
	}
	again.Close()
	srv.closeAll(t, l, nil)
}

// sharedHandler counts, for a Group, the connections each loop opened.
type sharedHandler struct {
	sock.BaseHandler
	mu     *sync.Mutex
	opened *int
	open   chan struct{} // receives once per OnOpen, if not nil
}

func (h *sharedHandler) OnOpen(*sock.Conn) {
	h.mu.Lock()
	*h.opened++
	h.mu.Unlock()
	if h.open != nil {
		h.open <- struct{}{}
	}
}

// Group.Listen with port 0 must bind every loop to the port the first one
// picked: a loop on a port of its own would never see a connection. The
// kernel spreads connections over the SO_REUSEPORT group by a hash of
// their addresses, so each of two loops getting none of 64 connections
// from distinct ports has a chance of 2^-63.
func TestGroupListenOnPortZeroServesOnEveryLoop(t *testing.T) {
	const dials = 64
	g, _, _ := newGroup(t, 2)
	var mu sync.Mutex
	counts := make([]int, 0, 2)
	opened := make(chan struct{}, dials)
	gln, err := g.Listen("tcp4", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		mu.Lock()
		defer mu.Unlock()
		counts = append(counts, 0)
		return &sharedHandler{mu: &mu, opened: &counts[len(counts)-1], open: opened}
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	for range dials {
		c, err := net.Dial("tcp4", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case <-opened:
		case <-time.After(waitLimit):
			t.Fatal("a connection was never opened")
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	for i, n := range counts {
		if n == 0 {
			t.Errorf("loop %d opened none of %d connections (per loop: %v)", i, dials, counts)
		}
	}
}

// A loop reports its drain once: with two listeners on a loop (two
// Group.Listen calls) a second report would count for another loop, and
// Shutdown would return, aborting that loop's connection, before it was
// done. The connection here queues more than its peer, which never reads,
// can take, so an honest Shutdown waits for its ctx.
func TestGroupShutdownCountsEachLoopOnce(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	open := make(chan struct{}, 1)
	newHandler := func(*loop.Loop) sock.Handler {
		return &funcHandler{
			open: func(c *sock.Conn) {
				c.Write(make([]byte, 4<<20))
				open <- struct{}{}
			},
			close: func(*sock.Conn, error) {},
		}
	}
	gln, err := g.Listen("tcp4", "127.0.0.1:0", newHandler, sock.WithSendBufferSize(16<<10))
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	if _, err := g.Listen("tcp4", "127.0.0.1:0", newHandler); err != nil {
		t.Fatal(err)
	}
	peer, err := net.Dial("tcp4", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	select {
	case <-open:
	case <-time.After(waitLimit):
		t.Fatal("the connection was never opened")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a connection its peer holds open = %v; want DeadlineExceeded", err)
	}
}

// Shutdown and Close are each the group's end: whichever comes second
// must say ErrClosed, not stop the loops again and report success.
func TestGroupCloseAfterShutdownIsErrClosed(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Close after Shutdown = %v; want ErrClosed", err)
	}
	if err := g.Shutdown(context.Background()); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Shutdown after Shutdown = %v; want ErrClosed", err)
	}
	g2, _, _ := newGroup(t, 1)
	if err := g2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g2.Shutdown(context.Background()); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Shutdown after Close = %v; want ErrClosed", err)
	}
}

// "tcp" and "udp" on an empty host listen dual-stack: IPv6 peers and IPv4
// peers both reach them.
func TestWildcardListenersServeBothFamilies(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback here")
	}
	l := newLoop(t)
	srv := &echoServer{}
	ln, err := sock.Listen(l, "tcp", ":0", srv)
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	for _, host := range []string{"127.0.0.1", "::1"} {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(host, fmt.Sprint(port)), waitLimit)
		if err != nil {
			t.Fatalf("dial %s on a tcp wildcard listener: %v", host, err)
		}
		defer c.Close()
	}
	runUntil(t, l, "both accepts", func() bool { return srv.opened == 2 })
	srv.closeAll(t, l, ln)

	pc, got, _ := listenUDP(t, l, "udp", ":0")
	upPort := pc.LocalAddr().(*net.UDPAddr).Port
	for _, host := range []string{"127.0.0.1", "::1"} {
		c, err := net.Dial("udp", net.JoinHostPort(host, fmt.Sprint(upPort)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(host)); err != nil {
			t.Fatalf("send from %s to a udp wildcard socket: %v", host, err)
		}
	}
	runUntil(t, l, "a datagram from each family", func() bool { return len(*got) == 2 })
}

// On a dual-stack socket the kernel gives an IPv4 peer's address mapped
// into IPv6; sock reports it as the IPv4 address it is, as package net
// does, so that it compares equal to what the peer sees and can be
// answered from an IPv4 socket.
func TestIPv4PeerOfADualStackSocketIsReportedAsIPv4(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback here")
	}
	l := newLoop(t)
	pc, got, froms := listenUDP(t, l, "udp", ":0")
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", pc.LocalAddr().(*net.UDPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("v4")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the datagram", func() bool { return len(*got) == 1 })
	if want := c.LocalAddr().(*net.UDPAddr).AddrPort(); (*froms)[0] != want {
		t.Errorf("datagram from %v; the sender is %v", (*froms)[0], want)
	}

	var sc *sock.Conn
	ln, err := sock.Listen(l, "tcp", ":0", &funcHandler{
		open:  func(c *sock.Conn) { sc = c },
		close: func(*sock.Conn, error) { sc = nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "the accept", func() bool { return sc != nil })
	// Compared as AddrPorts: a mapped address prints as IPv4 in a
	// net.TCPAddr's String, but is not equal to the IPv4 address.
	if got, want := sc.RemoteAddr().(*net.TCPAddr).AddrPort(), peer.LocalAddr().(*net.TCPAddr).AddrPort(); got != want {
		t.Errorf("accepted connection's RemoteAddr = %v; the peer is at %v", got, want)
	}
	if got, want := sc.LocalAddr().(*net.TCPAddr).AddrPort(), peer.RemoteAddr().(*net.TCPAddr).AddrPort(); got != want {
		t.Errorf("accepted connection's LocalAddr = %v; the peer dialed %v", got, want)
	}
	sc.Abort()
	runUntil(t, l, "the OnClose", func() bool { return sc == nil })
}

// collected reports whether what wp points to is collected within a few
// collections.
func collected[T any](wp weak.Pointer[T]) bool {
	for i := 0; i < 20 && wp.Value() != nil; i++ {
		runtime.GC()
	}
	return wp.Value() == nil
}

// A closed PacketConn, and a closed Listener once its last connection has
// closed, are unreachable for the user's code; the loop must not keep
// them (and their handlers) until it closes, or a server that opens and
// closes sockets on a long-lived loop grows for ever.
func TestClosedSocketsAreNotKeptByTheLoop(t *testing.T) {
	l := newLoop(t)
	var wpc weak.Pointer[sock.PacketConn]
	func() {
		pc, err := sock.ListenPacket(l, "udp4", "127.0.0.1:0", packetFunc(nil))
		if err != nil {
			t.Fatal(err)
		}
		pc.Close()
		wpc = weak.Make(pc)
	}()
	if !collected(wpc) {
		t.Error("a closed PacketConn was kept")
	}

	var wln weak.Pointer[sock.Listener]
	srv := &echoServer{}
	func() {
		ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv)
		if err != nil {
			t.Fatal(err)
		}
		wln = weak.Make(ln)
		peer, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		runUntil(t, l, "the accept", func() bool { return srv.opened == 1 })
		ln.Close() // with a connection still open: the listener goes with it
		srv.closeAll(t, l, nil)
	}()
	if !collected(wln) {
		t.Error("a closed Listener was kept after its last connection closed")
	}
}

// ListenPacket on a closed loop must fail as Listen does, and close the
// socket it opened before finding out (newLoop counts descriptors).
func TestListenPacketOnAClosedLoopFails(t *testing.T) {
	l := newLoop(t)
	l.Close()
	if pc, err := sock.ListenPacket(l, "udp4", "127.0.0.1:0", packetFunc(nil)); !errors.Is(err, loop.ErrClosed) {
		if err == nil {
			pc.Close()
		}
		t.Errorf("ListenPacket on a closed loop = %v; want loop.ErrClosed", err)
	}
}

// A ctx that has ended already cuts nothing short when nothing is open:
// Shutdown says nil. It used to race the loops' drain reports against
// ctx.Done() and return context.Canceled 18 times in 20.
func TestShutdownWithNothingToDrainIsNilEvenWithADoneCtx(t *testing.T) {
	for i := range 10 {
		g, _, mk := newGroup(t, 2)
		if _, err := g.Listen("tcp", "127.0.0.1:0", mk); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Fatalf("round %d: Shutdown of a group with nothing open, ctx done = %v; want nil", i, err)
		}
	}
}

// On a variant without a poller, Listen, Dial and ListenPacket say so
// before anything else, a bad option included.
func TestNoPollerIsReportedBeforeABadOption(t *testing.T) {
	l, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Variant().Poller != "none" {
		t.Skip("only on a variant without a poller (-tags loop_compute)")
	}
	bad := sock.WithHighWater(-1)
	_, errDial := sock.Dial(l, "tcp", "127.0.0.1:1", &recorder{}, bad)
	_, errListen := sock.Listen(l, "tcp", "127.0.0.1:0", &recorder{}, bad)
	_, errPacket := sock.ListenPacket(l, "udp", "127.0.0.1:0", &packetLog{}, bad)
	for name, err := range map[string]error{"Dial": errDial, "Listen": errListen, "ListenPacket": errPacket} {
		if !errors.Is(err, loop.ErrNoPoller) {
			t.Errorf("%s with a bad option on a variant without a poller: %v, want loop.ErrNoPoller", name, err)
		}
	}
}
