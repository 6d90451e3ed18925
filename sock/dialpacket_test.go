package sock_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// udpClient records what a DialPacket socket receives, and its errors.
type udpClient struct {
	got    [][]byte
	froms  []netip.AddrPort
	errors []error
}

func (h *udpClient) OnPacket(_ *sock.PacketConn, p []byte, from netip.AddrPort) {
	h.got = append(h.got, bytes.Clone(p))
	h.froms = append(h.froms, from)
}

func (h *udpClient) OnPacketError(_ *sock.PacketConn, err error) { h.errors = append(h.errors, err) }

// A DialPacket socket sends to its peer with Write and gets its answers;
// a datagram from anyone else is not delivered to it.
func TestDialPacketTalksToItsPeer(t *testing.T) {
	l := newLoop(t)
	srv, err := sock.ListenPacket(l, "udp4", "127.0.0.1:0", packetFunc(func(pc *sock.PacketConn, p []byte, from netip.AddrPort) {
		pc.WriteTo(append([]byte("re: "), p...), from)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := &udpClient{}
	pc, err := sock.DialPacket(l, "udp4", srv.LocalAddr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if pc.RemoteAddr().String() != srv.LocalAddr().String() {
		t.Errorf("RemoteAddr %v, want %v", pc.RemoteAddr(), srv.LocalAddr())
	}
	local := pc.LocalAddr().(*net.UDPAddr)
	if local.Port == 0 {
		t.Errorf("LocalAddr %v: no port", local)
	}
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	stranger.WriteTo([]byte("not from the peer"), local)
	if n, err := pc.Write([]byte("ping")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	runUntil(t, l, "the answer", func() bool { return len(h.got) > 0 })
	runIteration(t, l)
	if len(h.got) != 1 || string(h.got[0]) != "re: ping" || h.froms[0].String() != srv.LocalAddr().String() {
		t.Errorf("got %q from %v; want the one answer, from %v", h.got, h.froms, srv.LocalAddr())
	}
}

// A DialPacket socket whose peer does not listen hears of it: the ICMP
// port unreachable comes back as ECONNREFUSED to OnPacketError, and the
// socket stays open.
func TestDialPacketHearsThatNothingListens(t *testing.T) {
	l := newLoop(t)
	gone, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := gone.LocalAddr().String()
	gone.Close()
	h := &udpClient{}
	pc, err := sock.DialPacket(l, "udp4", addr, h)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	deadline := time.Now().Add(waitLimit)
	for len(h.errors) == 0 && time.Now().Before(deadline) {
		if _, err := pc.Write([]byte("anyone?")); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Write: %v", err)
		}
		runIteration(t, l)
		time.Sleep(time.Millisecond)
	}
	if len(h.errors) == 0 || !errors.Is(h.errors[0], syscall.ECONNREFUSED) {
		t.Fatalf("OnPacketError got %v; want ECONNREFUSED", h.errors)
	}
	if n, err := pc.Write([]byte("still open")); n == 0 && err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Write after the refusal: %d, %v; want the socket still open", n, err)
	}
}

// What DialPacket refuses, and Write on a socket without a peer.
func TestDialPacketRefusals(t *testing.T) {
	l := newLoop(t)
	for _, tc := range []struct {
		network, addr string
		h             sock.PacketHandler
		opts          []sock.Option
		want          string
	}{
		{"tcp", "127.0.0.1:9", &udpClient{}, nil, `network "tcp" is not udp, udp4 or udp6`},
		{"udp4", "127.0.0.1:9", nil, nil, "nil PacketHandler"},
		{"udp4", "", &udpClient{}, nil, "missing address"},
		{"udp4", "127.0.0.1:9", &udpClient{}, []sock.Option{sock.WithReusePort()}, "WithReusePort applies to Listen, Group.Listen, ListenPacket and Group.ListenPacket only"},
		{"udp4", "127.0.0.1:9", &udpClient{}, []sock.Option{sock.WithIdleTimeout(time.Second)}, "WithIdleTimeout applies to Listen, Group.Listen, FileListener and Dial only"},
	} {
		pc, err := sock.DialPacket(l, tc.network, tc.addr, tc.h, tc.opts...)
		if err == nil {
			pc.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DialPacket(%q, %q): %v; want an error saying %s", tc.network, tc.addr, err, tc.want)
		}
	}
	pc, err := sock.DialPacket(l, "udp4", "127.0.0.1:9", &udpClient{}, sock.WithRecvBufferSize(64<<10))
	if err != nil {
		t.Fatalf("DialPacket with WithRecvBufferSize: %v", err)
	}
	pc.Close()
	if _, err := pc.Write([]byte("x")); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Write after Close: %v; want ErrClosed", err)
	}
	lp, err := sock.ListenPacket(l, "udp4", "127.0.0.1:0", dropPackets{})
	if err != nil {
		t.Fatal(err)
	}
	defer lp.Close()
	if _, err := lp.Write([]byte("x")); err == nil || !strings.Contains(err.Error(), "no peer") {
		t.Errorf("Write on a ListenPacket socket: %v; want an error saying it has no peer", err)
	}
	if lp.RemoteAddr() != nil {
		t.Errorf("RemoteAddr of a ListenPacket socket: %v; want nil", lp.RemoteAddr())
	}
}
