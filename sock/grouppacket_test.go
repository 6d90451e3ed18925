package sock_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// newPacketGroup makes a group of n loops, closed when the test ends, on a
// variant with a poller (the test is skipped on one without).
func newPacketGroup(t *testing.T, n int, opts ...loop.Option) *sock.Group {
	t.Helper()
	requirePoller(t, newLoop(t))
	g, err := sock.NewGroup(n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// loopEcho answers each datagram with the index of the loop that read it
// and the datagram, and counts the datagrams each sender sent it.
type loopEcho struct {
	i    int
	mu   *sync.Mutex
	seen map[netip.AddrPort]map[int]int // sender -> loop -> datagrams (shared by the loops, so locked)
}

func (h loopEcho) OnPacket(pc *sock.PacketConn, p []byte, from netip.AddrPort) {
	h.mu.Lock()
	if h.seen[from] == nil {
		h.seen[from] = map[int]int{}
	}
	h.seen[from][h.i]++
	h.mu.Unlock()
	pc.WriteTo(fmt.Appendf(nil, "%d:%s", h.i, p), from)
}

// Every loop reads on the same port, the one port 0 picked; a sender's
// datagrams all go to one loop and are answered from there; Close closes
// every socket, after which the port is free again.
func TestGroupListenPacketSpreadsSendersOverTheLoops(t *testing.T) {
	g := newPacketGroup(t, 2)
	var mu sync.Mutex
	seen := map[netip.AddrPort]map[int]int{}
	gpc, err := g.ListenPacket("udp4", "127.0.0.1:0", func(l *loop.Loop) sock.PacketHandler {
		return loopEcho{i: g.Index(l), mu: &mu, seen: seen}
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := gpc.LocalAddr().(*net.UDPAddr).AddrPort()
	if addr.Port() == 0 {
		t.Fatalf("LocalAddr %v: no port", addr)
	}
	ports := make([]int, 2)
	if err := g.Each(func(i int, l *loop.Loop) error {
		ports[i] = gpc.PacketConns()[i].LocalAddr().(*net.UDPAddr).Port
		if gpc.PacketConns()[i].Loop() != l {
			return errors.New("the socket is not the loop's")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ports[0] != int(addr.Port()) || ports[1] != int(addr.Port()) {
		t.Fatalf("the loops' sockets are on ports %v; want both on %d", ports, addr.Port())
	}

	const senders, each = 16, 5
	for s := range senders {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitLimit))
		loopOf := -1
		for k := range each {
			msg := fmt.Sprintf("s%d m%d", s, k)
			if _, err := c.WriteToUDPAddrPort([]byte(msg), addr); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("sender %d: no answer to %q: %v", s, msg, err)
			}
			var i int
			var back string
			if _, err := fmt.Sscanf(string(buf[:n]), "%d:", &i); err != nil {
				t.Fatalf("answer %q", buf[:n])
			}
			back = string(buf[:n])[strings.Index(string(buf[:n]), ":")+1:]
			if back != msg {
				t.Fatalf("sender %d got %q back for %q", s, back, msg)
			}
			if loopOf >= 0 && i != loopOf {
				t.Errorf("sender %d: answered by loop %d, then by loop %d", s, loopOf, i)
			}
			loopOf = i
		}
	}
	mu.Lock()
	for from, loops := range seen {
		if len(loops) != 1 {
			t.Errorf("%v's datagrams went to loops %v; want one loop", from, loops)
		}
	}
	mu.Unlock()

	if err := gpc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := gpc.Close(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("a second Close: %v; want an error wrapping ErrClosed", err)
	}
	free, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatalf("the port is still held after Close: %v", err)
	}
	free.Close()
}

// The calls it refuses, each before any loop is asked: a network that is
// not UDP, a nil newHandler, an option that is not ListenPacket's; and
// every call once the group is closed.
func TestGroupListenPacketRefusals(t *testing.T) {
	g := newPacketGroup(t, 2)
	asked := 0
	newHandler := func(*loop.Loop) sock.PacketHandler { asked++; return dropPackets{} }
	for _, tc := range []struct {
		network string
		nh      func(*loop.Loop) sock.PacketHandler
		opts    []sock.Option
		want    string
	}{
		{"tcp", newHandler, nil, `network "tcp" is not udp, udp4 or udp6`},
		{"unixgram", newHandler, nil, `network "unixgram" is not udp, udp4 or udp6`},
		{"udp4", nil, nil, "nil newHandler"},
		{"udp4", newHandler, []sock.Option{sock.WithIdleTimeout(time.Second)}, "WithIdleTimeout applies to Listen, Group.Listen, FileListener and Dial only"},
		{"udp4", newHandler, []sock.Option{sock.WithRecvBufferSize(-1)}, "WithRecvBufferSize(-1)"},
	} {
		_, err := g.ListenPacket(tc.network, "127.0.0.1:0", tc.nh, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ListenPacket(%q, opts %d): %v; want an error saying %s", tc.network, len(tc.opts), err, tc.want)
		}
	}
	if asked != 0 {
		t.Errorf("newHandler was called %d times for calls refused", asked)
	}
	g.Close()
	if _, err := g.ListenPacket("udp4", "127.0.0.1:0", newHandler); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("ListenPacket on a closed group: %v; want an error wrapping ErrClosed", err)
	}
}

// With WithExclusiveAddress a second set of sockets on the address fails
// with EADDRINUSE, though the first set shares it among its loops.
func TestGroupListenPacketExclusive(t *testing.T) {
	g := newPacketGroup(t, 2)
	gpc, err := g.ListenPacket("udp4", "127.0.0.1:0", func(*loop.Loop) sock.PacketHandler { return dropPackets{} }, sock.WithExclusiveAddress())
	if err != nil {
		t.Fatal(err)
	}
	defer gpc.Close()
	_, err = g.ListenPacket("udp4", gpc.LocalAddr().String(), func(*loop.Loop) sock.PacketHandler { return dropPackets{} }, sock.WithExclusiveAddress())
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a second exclusive ListenPacket on %v: %v; want EADDRINUSE", gpc.LocalAddr(), err)
	}
}

// When a loop fails to open its socket (here its newHandler panics), none
// listens: the sockets opened on the loops before it are closed, and the
// port is free.
func TestGroupListenPacketFailsWhole(t *testing.T) {
	g := newPacketGroup(t, 2, loop.WithPanicHandler(func(any) {}))
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.LocalAddr().String()
	probe.Close()
	_, err = g.ListenPacket("udp4", addr, func(l *loop.Loop) sock.PacketHandler {
		if g.Index(l) == 1 {
			panic("no handler for this loop")
		}
		return dropPackets{}
	})
	if err == nil {
		t.Fatal("ListenPacket succeeded with a newHandler that panicked")
	}
	free, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatalf("%s is still held after the failed ListenPacket: %v", addr, err)
	}
	free.Close()
}

// Shutdown closes the group's datagram sockets with its loops, at its end:
// the port is free once it returns.
func TestGroupListenPacketShutdownClosesTheSockets(t *testing.T) {
	g := newPacketGroup(t, 2)
	gpc, err := g.ListenPacket("udp4", "127.0.0.1:0", func(*loop.Loop) sock.PacketHandler { return dropPackets{} })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	free, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(gpc.LocalAddr().(*net.UDPAddr).AddrPort()))
	if err != nil {
		t.Fatalf("the port is still held after Shutdown: %v", err)
	}
	free.Close()
	if err := gpc.Close(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Close after Shutdown: %v; want an error wrapping ErrClosed", err)
	}
}
