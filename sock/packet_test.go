package sock_test

import (
	"bytes"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/loopgen/loop/sock"
)

// packetLog records what a PacketConn's handler was called with.
type packetLog struct {
	whole, cut [][]byte
}

func (h *packetLog) OnPacket(_ *sock.PacketConn, p []byte, _ netip.AddrPort) {
	h.whole = append(h.whole, bytes.Clone(p))
}

// truncLog is a packetLog that is also a TruncatedHandler.
type truncLog struct {
	packetLog
	sizes []int // each cut datagram's length, as OnTruncated was told it
}

func (h *truncLog) OnTruncated(_ *sock.PacketConn, p []byte, size int, _ netip.AddrPort) {
	h.cut = append(h.cut, bytes.Clone(p))
	h.sizes = append(h.sizes, size)
}

// sendDatagrams sends each of msgs as one datagram to pc from a socket of
// package net (so that nothing else on pc's loop enlarges its read buffer),
// and runs the loop until log holds as many datagrams.
func sendDatagrams(t *testing.T, pc *sock.PacketConn, log *packetLog, msgs ...[]byte) {
	t.Helper()
	c, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range msgs {
		if _, err := c.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	for len(log.whole)+len(log.cut) < len(msgs) {
		if err := pc.Loop().RunOnce(true); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDatagramLongerThanReadBufferIsReported: a datagram that does not fit
// the loop's read buffer reaches a TruncatedHandler's OnTruncated with its
// first bytes; one that fits exactly, or is shorter, reaches OnPacket.
func TestDatagramLongerThanReadBufferIsReported(t *testing.T) {
	const size = 64
	long, short, exact := bytes.Repeat([]byte("L"), 100), []byte("short"), bytes.Repeat([]byte("E"), size)
	h := &truncLog{}
	pc, err := sock.ListenPacket(newLoop(t), "udp", "127.0.0.1:0", h, sock.WithReadBufferSize(size))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sendDatagrams(t, pc, &h.packetLog, long, short, exact)
	if len(h.cut) != 1 || !bytes.Equal(h.cut[0], long[:size]) {
		t.Errorf("OnTruncated got %q; want the first %d bytes of the 100-byte datagram", h.cut, size)
	}
	wantSize := len(long) // Linux says how long the datagram was
	if runtime.GOOS != "linux" {
		wantSize = -1
	}
	if len(h.sizes) != 1 || h.sizes[0] != wantSize {
		t.Errorf("OnTruncated was told the sizes %v; want [%d]", h.sizes, wantSize)
	}
	if len(h.whole) != 2 || !bytes.Equal(h.whole[0], short) || !bytes.Equal(h.whole[1], exact) {
		t.Errorf("OnPacket got %q; want %q and the %d-byte datagram", h.whole, short, size)
	}
}

// TestDatagramLongerThanReadBufferIsCutForPlainHandler: a handler that is
// not a TruncatedHandler gets the datagram's first bytes, as package net's
// ReadFrom gives them.
func TestDatagramLongerThanReadBufferIsCutForPlainHandler(t *testing.T) {
	const size = 64
	long := bytes.Repeat([]byte("L"), 100)
	h := &packetLog{}
	pc, err := sock.ListenPacket(newLoop(t), "udp", "127.0.0.1:0", h, sock.WithReadBufferSize(size))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sendDatagrams(t, pc, h, long)
	if len(h.whole) != 1 || !bytes.Equal(h.whole[0], long[:size]) {
		t.Errorf("OnPacket got %q; want the first %d bytes of the 100-byte datagram", h.whole, size)
	}
}

// WriteTo takes an address with an IPv6 zone and sends on that interface
// (it used to refuse every zone); one that names no interface is refused,
// not sent without it, which would leave the link to routing.
func TestWriteToTakesAZone(t *testing.T) {
	l := newLoop(t)
	var got []netip.AddrPort
	pc, err := sock.ListenPacket(l, "udp6", "[::1]:0", packetFunc(func(_ *sock.PacketConn, _ []byte, from netip.AddrPort) {
		got = append(got, from)
	}))
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer pc.Close()
	self := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	zoned := netip.AddrPortFrom(self.Addr().WithZone("lo"), self.Port())
	if n, err := pc.WriteTo([]byte("zoned"), zoned); err != nil || n != 5 {
		t.Fatalf("WriteTo(%v) = %d, %v", zoned, n, err)
	}
	runUntil(t, l, "the datagram", func() bool { return len(got) == 1 })
	if got[0] != self {
		t.Errorf("OnPacket's sender %v; want %v (the kernel gives ::1 no scope)", got[0], self)
	}
	unknown := netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone("nosuchif0"), self.Port())
	if n, err := pc.WriteTo([]byte("unknown"), unknown); err == nil || n != 0 || !strings.Contains(err.Error(), `IPv6 zone "nosuchif0"`) {
		t.Errorf("WriteTo(%v) = %d, %v; want an error naming the zone", unknown, n, err)
	}
}
