package sock_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// TestEchoRoundTrip dials an echo server on the same loop, over each
// stream network, and checks that what comes back is what was sent, in
// order, and that both ends close cleanly.
func TestEchoRoundTrip(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{
		{"tcp", "127.0.0.1:0"},
		{"tcp4", "127.0.0.1:0"},
		{"tcp6", "[::1]:0"},
		{"tcp", ":0"}, // dual-stack wildcard, dialed on loopback
		{"unix", "echo.sock"},
	} {
		t.Run(tc.network+" "+tc.addr, func(t *testing.T) {
			if tc.network == "tcp6" && !hasIPv6Loopback() {
				t.Skip("no IPv6 loopback here")
			}
			l := newLoop(t)
			addr := tc.addr
			if tc.network == "unix" {
				addr = filepath.Join(t.TempDir(), addr)
			}
			srv := &echoServer{}
			ln, err := sock.Listen(l, tc.network, addr, srv)
			if err != nil {
				t.Fatal(err)
			}
			cli := &recorder{}
			c, err := sock.Dial(l, tc.network, ln.Addr().String(), cli)
			if err != nil {
				t.Fatal(err)
			}
			// Written before the connection is open: queued, then sent.
			var want []byte
			for i := range 100 {
				msg := fmt.Appendf(nil, "message %d of 100;", i)
				want = append(want, msg...)
				if n, err := c.Write(msg); n != len(msg) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(msg))
				}
			}
			if n, err := c.Writev([]byte("head|"), nil, []byte("body|"), []byte("tail")); n != 14 || err != nil {
				t.Fatalf("Writev = %d, %v; want 14, nil", n, err)
			}
			want = append(want, "head|body|tail"...)
			runUntil(t, l, "the echo", func() bool { return len(cli.got) >= len(want) })
			if !cli.opened {
				t.Error("OnOpen was not called on the dialing side")
			}
			if !bytes.Equal(cli.got, want) {
				t.Fatalf("echo differs:\n got %q\nwant %q", cli.got, want)
			}
			if tc.network != "unix" {
				if ra, ok := c.RemoteAddr().(*net.TCPAddr); !ok || ra.Port != ln.Addr().(*net.TCPAddr).Port {
					t.Errorf("RemoteAddr = %v; want the listener's port (%v)", c.RemoteAddr(), ln.Addr())
				}
				for sc := range srv.conns {
					if sc.RemoteAddr().String() != c.LocalAddr().String() {
						t.Errorf("server sees %v; the client is at %v", sc.RemoteAddr(), c.LocalAddr())
					}
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			runUntil(t, l, "both ends to close", func() bool { return cli.closed && srv.closed == 1 })
			if cli.closeErr != nil || len(srv.errs) > 0 {
				t.Errorf("a clean close reported errors: client %v, server %v", cli.closeErr, srv.errs)
			}
			ln.Close()
		})
	}
}

// TestUDPEcho sends datagrams to an echo PacketConn and checks each comes
// back whole, from the server's address.
func TestUDPEcho(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{
		{"udp", "127.0.0.1:0"},
		{"udp4", "127.0.0.1:0"},
		{"udp6", "[::1]:0"},
		{"udp", ":0"}, // dual-stack: IPv4 peers through mapped addresses
	} {
		t.Run(tc.network+" "+tc.addr, func(t *testing.T) {
			if (tc.network == "udp6" || tc.addr == ":0") && !hasIPv6Loopback() {
				t.Skip("no IPv6 loopback here")
			}
			l := newLoop(t)
			srv, err := sock.ListenPacket(l, tc.network, tc.addr, packetFunc(func(pc *sock.PacketConn, p []byte, from netip.AddrPort) {
				if _, err := pc.WriteTo(p, from); err != nil {
					t.Errorf("server WriteTo: %v", err)
				}
			}))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var got [][]byte
			var froms []netip.AddrPort
			cli, err := sock.ListenPacket(l, tc.network, tc.addr, packetFunc(func(_ *sock.PacketConn, p []byte, from netip.AddrPort) {
				got = append(got, bytes.Clone(p))
				froms = append(froms, from)
			}))
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
			if tc.addr == ":0" {
				to = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), to.Port())
			}
			for i := range 10 {
				if _, err := cli.WriteTo(fmt.Appendf(nil, "datagram %d", i), to); err != nil {
					t.Fatal(err)
				}
			}
			runUntil(t, l, "10 echoed datagrams", func() bool { return len(got) == 10 })
			for i, p := range got {
				// Loopback does not reorder, so order is checked too.
				if want := fmt.Sprintf("datagram %d", i); string(p) != want {
					t.Errorf("datagram %d = %q; want %q", i, p, want)
				}
				if froms[i].Port() != to.Port() {
					t.Errorf("datagram %d came from %v; want port %d", i, froms[i], to.Port())
				}
			}
			if err := cli.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := cli.WriteTo([]byte("x"), to); !errors.Is(err, sock.ErrClosed) {
				t.Errorf("WriteTo after Close = %v; want ErrClosed", err)
			}
		})
	}
}

type packetFunc func(pc *sock.PacketConn, p []byte, from netip.AddrPort)

func (f packetFunc) OnPacket(pc *sock.PacketConn, p []byte, from netip.AddrPort) { f(pc, p, from) }

// TestUDPEchoAllocatesNothing: on Linux, where datagrams are read and sent
// with raw system calls, a UDP echo round trip allocates nothing.
func TestUDPEchoAllocatesNothing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("elsewhere unix.Recvfrom and unix.Sendto allocate an address per datagram")
	}
	l := newLoop(t)
	roundTrip := udpEchoRoundTrip(t, l, "udp", "127.0.0.1:0", []byte("ping ping ping ping"))
	for range 100 {
		roundTrip()
	}
	if allocs := testing.AllocsPerRun(1000, roundTrip); allocs != 0 {
		t.Errorf("a UDP echo round trip allocates %v times; want 0", allocs)
	}
}

// udpEchoRoundTrip opens a UDP echo server and a client on l, on network
// and addr, and returns one round trip of msg between them: WriteTo, then
// the loop run until the echo is back. Both sockets close when tb ends.
func udpEchoRoundTrip(tb testing.TB, l *loop.Loop, network, addr string, msg []byte) func() {
	tb.Helper()
	srv, err := sock.ListenPacket(l, network, addr, packetFunc(func(pc *sock.PacketConn, p []byte, from netip.AddrPort) {
		pc.WriteTo(p, from)
	}))
	if err != nil {
		tb.Skipf("ListenPacket %s %s: %v", network, addr, err)
	}
	tb.Cleanup(func() { srv.Close() })
	got := 0
	cli, err := sock.ListenPacket(l, network, addr, packetFunc(func(_ *sock.PacketConn, p []byte, _ netip.AddrPort) {
		got += len(p)
	}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cli.Close() })
	to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	return func() {
		want := got + len(msg)
		if _, err := cli.WriteTo(msg, to); err != nil {
			tb.Fatal(err)
		}
		for got < want {
			if err := l.RunOnce(true); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// BenchmarkUDPEchoRoundTrip measures one UDP echo round trip of 64 bytes
// over loopback, client and server on one loop: each way a sendto and a
// recvfrom, and the sender's address read back.
func BenchmarkUDPEchoRoundTrip(b *testing.B) {
	for _, tc := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		b.Run(tc.network, func(b *testing.B) {
			l := newLoop(b)
			roundTrip := udpEchoRoundTrip(b, l, tc.network, tc.addr, make([]byte, 64))
			b.ReportAllocs()
			for b.Loop() {
				roundTrip()
			}
		})
	}
}

// TestEchoSteadyStateAllocatesNothing pins the zero-allocation promise: a
// round trip through an echo server (client Write, server OnData and
// Write, client OnData) allocates nothing once the connection is up.
func TestEchoSteadyStateAllocatesNothing(t *testing.T) {
	l := newLoop(t)
	c, cli := dialEchoServer(t, l)
	msg := []byte("ping ping ping ping ping ping ping ping")
	roundTrip := func() {
		want := cli.got + len(msg)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		for cli.got < want {
			if err := l.RunOnce(true); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 100 { // warm up: the loop's tables and buffers reach their size
		roundTrip()
	}
	if allocs := testing.AllocsPerRun(1000, roundTrip); allocs != 0 {
		t.Errorf("an echo round trip allocates %v times; want 0", allocs)
	}
}

// countingClient counts what it receives without keeping it.
type countingClient struct {
	sock.BaseHandler
	opened, closed bool
	got            int
}

func (h *countingClient) OnOpen(*sock.Conn)             { h.opened = true }
func (h *countingClient) OnData(_ *sock.Conn, p []byte) { h.got += len(p) }
func (h *countingClient) OnClose(*sock.Conn, error)     { h.closed = true }

// dialEchoServer starts an echo server on l and connects a counting client
// to it over loopback TCP, both on l; they are closed when tb ends.
func dialEchoServer(tb testing.TB, l *loop.Loop) (*sock.Conn, *countingClient) {
	tb.Helper()
	srv := &echoServer{}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", srv)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.closeAll(tb, l, ln) })
	cli := &countingClient{}
	c, err := sock.Dial(l, "tcp", ln.Addr().String(), cli)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.Abort()
		runUntil(tb, l, "the client to close", func() bool { return cli.closed })
	})
	runUntil(tb, l, "the connection", func() bool { return srv.opened == 1 && cli.opened })
	return c, cli
}

// BenchmarkEchoRoundTrip measures one echo round trip over loopback TCP,
// client and server on one loop.
func BenchmarkEchoRoundTrip(b *testing.B) {
	l := newLoop(b)
	c, cli := dialEchoServer(b, l)
	msg := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		want := cli.got + len(msg)
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		for cli.got < want {
			if cli.closed {
				b.Fatalf("the connection closed with %d of %d bytes back", cli.got, want)
			}
			if err := l.RunOnce(true); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestWriteAfterCloseIsErrClosed checks every writing method after Close.
func TestWriteAfterCloseIsErrClosed(t *testing.T) {
	l := newLoop(t)
	srv := &echoServer{}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.closeAll(t, l, ln)
	cli := &recorder{}
	c, err := sock.Dial(l, "tcp", ln.Addr().String(), cli)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the connection", func() bool { return cli.opened })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Write after Close = %v; want ErrClosed", err)
	}
	if _, err := c.Writev([]byte("late")); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Writev after Close = %v; want ErrClosed", err)
	}
	if err := c.CloseWrite(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("CloseWrite after Close = %v; want ErrClosed", err)
	}
	if err := c.PauseReading(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("PauseReading after Close = %v; want ErrClosed (a closing connection reads to the end)", err)
	}
	if err := c.Close(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("second Close = %v; want ErrClosed", err)
	}
	runUntil(t, l, "OnClose", func() bool { return cli.closed })
	if err := c.SetIdleTimeout(1); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("SetIdleTimeout after close = %v; want ErrClosed", err)
	}
	if cli.closeErr != nil {
		t.Errorf("OnClose(%v); want nil", cli.closeErr)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("second Listener.Close = %v; want ErrClosed", err)
	}
}

// TestListenAddressInUse binds a port twice.
func TestListenAddressInUse(t *testing.T) {
	l := newLoop(t)
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", &echoServer{})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = sock.Listen(l, "tcp", ln.Addr().String(), &echoServer{})
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second Listen on %v = %v; want EADDRINUSE", ln.Addr(), err)
	}
	// A Unix socket path that exists is in use too.
	path := filepath.Join(t.TempDir(), "s")
	uln, err := sock.Listen(l, "unix", path, &echoServer{})
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	if _, err := sock.Listen(l, "unix", path, &echoServer{}); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second Listen on %s = %v; want EADDRINUSE", path, err)
	}
}

// TestBadNetworks checks the constructors refuse what they do not serve.
func TestBadNetworks(t *testing.T) {
	l := newLoop(t)
	if _, err := sock.Listen(l, "udp", "127.0.0.1:0", &echoServer{}); err == nil {
		t.Error("Listen accepted udp")
	}
	if _, err := sock.Dial(l, "ip", "127.0.0.1:1", &recorder{}); err == nil {
		t.Error("Dial accepted ip")
	}
	if _, err := sock.ListenPacket(l, "tcp", "127.0.0.1:0", packetFunc(nil)); err == nil {
		t.Error("ListenPacket accepted tcp")
	}
	if _, err := sock.Listen(l, "tcp4", "[::1]:0", &echoServer{}); err == nil {
		t.Error("Listen accepted an IPv6 address on tcp4")
	}
	// A zone that names no interface is refused with a clear error, not
	// dropped on the way (package net drops it, and the kernel then says
	// only EINVAL).
	for _, try := range []func() error{
		func() error { _, err := sock.Listen(l, "tcp6", "[fe80::1%nosuchif0]:0", &echoServer{}); return err },
		func() error { _, err := sock.Dial(l, "tcp6", "[fe80::1%nosuchif0]:80", &recorder{}); return err },
		func() error {
			_, err := sock.ListenPacket(l, "udp6", "[fe80::1%nosuchif0]:0", packetFunc(nil))
			return err
		},
		func() error {
			_, err := sock.DialPacket(l, "udp6", "[fe80::1%nosuchif0]:80", packetFunc(nil))
			return err
		},
	} {
		if err := try(); err == nil || !strings.Contains(err.Error(), `IPv6 zone "nosuchif0"`) {
			t.Errorf("an address with an unknown IPv6 zone: %v, want the zone refused", err)
		}
	}
}

// TestDialRefused dials a port nobody listens on.
func TestDialRefused(t *testing.T) {
	l := newLoop(t)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close() // now nothing listens there
	cli := &recorder{}
	c, err := sock.Dial(l, "tcp", addr, cli)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("queued before the refusal"))
	runUntil(t, l, "OnClose", func() bool { return cli.closed })
	if cli.opened {
		t.Error("OnOpen was called for a refused connection")
	}
	if !errors.Is(cli.closeErr, syscall.ECONNREFUSED) {
		t.Errorf("OnClose(%v); want ECONNREFUSED", cli.closeErr)
	}
	var ue *sock.UnsentError
	if !errors.As(cli.closeErr, &ue) || ue.Unsent != len("queued before the refusal") {
		t.Errorf("OnClose(%v); want an UnsentError for the %d queued bytes", cli.closeErr, len("queued before the refusal"))
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Write after a failed Dial = %v; want ErrClosed", err)
	}

	// A Unix socket path nobody listens on fails the same way, at once.
	ucli := &recorder{}
	if _, err := sock.Dial(l, "unix", filepath.Join(t.TempDir(), "none"), ucli); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnClose", func() bool { return ucli.closed })
	if ucli.opened || !errors.Is(ucli.closeErr, syscall.ENOENT) {
		t.Errorf("unix dial to nothing: opened %v, OnClose(%v); want no open and ENOENT", ucli.opened, ucli.closeErr)
	}
}

// ensure the loop package's error is what a closed loop gives Listen.
func TestListenOnClosedLoop(t *testing.T) {
	l := newLoop(t)
	l.Close()
	if _, err := sock.Listen(l, "tcp", "127.0.0.1:0", &echoServer{}); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("Listen on a closed loop = %v; want loop.ErrClosed", err)
	}
}

// TestWithoutPollerEveryConstructorSaysSo runs on a variant without a
// poller (loop_compute): there, Listen, Dial and ListenPacket fail with an
// error that wraps loop.ErrNoPoller, and leave no descriptor open.
func TestWithoutPollerEveryConstructorSaysSo(t *testing.T) {
	checkFDs(t)
	l, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	probe := peerListener(t) // something to dial
	ln, lerr := sock.Listen(l, "tcp", "127.0.0.1:0", &echoServer{})
	if lerr == nil {
		ln.Close()
		t.Skip("this variant has a poller; the other tests cover it")
	}
	if !errors.Is(lerr, loop.ErrNoPoller) {
		t.Errorf("Listen = %v; want an error wrapping loop.ErrNoPoller", lerr)
	}
	if _, err := sock.Dial(l, "tcp", probe.Addr().String(), &recorder{}); !errors.Is(err, loop.ErrNoPoller) {
		t.Errorf("Dial = %v; want an error wrapping loop.ErrNoPoller", err)
	}
	// A connect that fails at once (no such socket file) went to OnClose,
	// and Dial returned a Conn and nil.
	nowhere := filepath.Join(t.TempDir(), "nobody-listens")
	if _, err := sock.Dial(l, "unix", nowhere, &recorder{}); !errors.Is(err, loop.ErrNoPoller) {
		t.Errorf("Dial(unix, a path nobody listens on) = %v; want an error wrapping loop.ErrNoPoller", err)
	}
	if _, err := sock.ListenPacket(l, "udp", "127.0.0.1:0", packetFunc(nil)); !errors.Is(err, loop.ErrNoPoller) {
		t.Errorf("ListenPacket = %v; want an error wrapping loop.ErrNoPoller", err)
	}
}
