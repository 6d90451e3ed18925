package sock_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/loopgen/loop/sock"
)

// A link-local address's zone reaches the kernel: bound without one,
// fe80::1 fails with EINVAL (no link named); with lo's, by name or number,
// the kernel looks for it on lo, and has it or says it is not there.
func TestAZoneReachesTheKernel(t *testing.T) {
	l := newLoop(t)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no interface lo: %v", err)
	}
	if _, err := sock.Listen(l, "tcp6", "[::1]:0", &echoServer{}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	if _, err := sock.Listen(l, "tcp6", "[fe80::1]:0", &echoServer{}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Listen on fe80::1 without a zone: %v; want EINVAL (the premise)", err)
	}
	for _, zone := range []string{"lo", lo.Name, "1"} {
		if zone == "1" && lo.Index != 1 {
			continue
		}
		ln, err := sock.Listen(l, "tcp6", "[fe80::1%"+zone+"]:0", &echoServer{})
		switch {
		case err == nil:
			if a := ln.Addr().(*net.TCPAddr); a.Zone != lo.Name {
				t.Errorf("Listen on fe80::1%%%s: Addr %v; want the zone %s, as the kernel reports it", zone, a, lo.Name)
			}
			ln.Close()
		case !errors.Is(err, syscall.EADDRNOTAVAIL):
			t.Errorf("Listen on fe80::1%%%s: %v; want EADDRNOTAVAIL, the address looked for on lo", zone, err)
		}
		pc, err := sock.ListenPacket(l, "udp6", "[fe80::1%"+zone+"]:0", dropPackets{})
		switch {
		case err == nil:
			pc.Close()
		case !errors.Is(err, syscall.EADDRNOTAVAIL):
			t.Errorf("ListenPacket on fe80::1%%%s: %v; want EADDRNOTAVAIL", zone, err)
		}
	}
}

// A Dial with a zone connects, and its RemoteAddr and errors carry the zone
// it was given.
func TestADialKeepsItsZone(t *testing.T) {
	l := newLoop(t)
	srv := &echoServer{}
	ln, err := sock.Listen(l, "tcp6", "[::1]:0", srv)
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	h := &addrRecorder{}
	if _, err := sock.Dial(l, "tcp6", net.JoinHostPort("::1%lo", itoa(port)), h); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnOpen", func() bool { return h.conn != nil || h.closed })
	if h.conn == nil {
		t.Fatalf("the dial failed: %v", h.closeErr)
	}
	if want := netip.AddrPortFrom(netip.MustParseAddr("::1").WithZone("lo"), uint16(port)).String(); h.remote != want {
		t.Errorf("RemoteAddr %s; want %s", h.remote, want)
	}
	h.conn.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })

	if loHas(t, "fe80::1") {
		return
	}
	d := &addrRecorder{}
	if _, err := sock.Dial(l, "tcp6", "[fe80::1%lo]:9", d); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnClose", func() bool { return d.closed })
	if !errors.Is(d.closeErr, syscall.ENETUNREACH) || !strings.Contains(d.closeErr.Error(), "[fe80::1%lo]:9") {
		t.Errorf("a Dial to fe80::1%%lo: OnClose(%v); want lo's ENETUNREACH, naming the address with its zone", d.closeErr)
	}
}

// WriteTo sends on the interface its zone names. lo has no route to
// fe80::1, so the kernel refuses the datagram there (ENETUNREACH), where
// without the zone it would refuse it as naming no link (EINVAL) or route it
// out of another interface that has a link-local route: so this test sends
// nothing off the host, unless WriteTo drops the zone.
func TestWriteToSendsOnTheZonesInterface(t *testing.T) {
	l := newLoop(t)
	pc, err := sock.ListenPacket(l, "udp6", "[::1]:0", dropPackets{})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer pc.Close()
	if loHas(t, "fe80::1") {
		t.Skip("lo has fe80::1 here: the datagram would be delivered")
	}
	zoned := netip.MustParseAddrPort("[fe80::1%lo]:9")
	if _, err := pc.WriteTo([]byte("x"), zoned); !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("WriteTo(%v): %v; want ENETUNREACH, lo's answer", zoned, err)
	}
}

// loHas reports whether the loopback interface has the address ip.
func loHas(t *testing.T, ip string) bool {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no interface lo: %v", err)
	}
	addrs, err := lo.Addrs()
	if err != nil {
		t.Skipf("lo's addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(net.ParseIP(ip)) {
			return true
		}
	}
	return false
}
