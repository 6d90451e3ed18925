package sock_test

import (
	"bytes"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// WriteTo must refuse an invalid (zero) netip.Addr, as package net's
// WriteToUDPAddrPort does. On an IPv6 socket it used to be sent as "::",
// which the kernel reads as the local host: a datagram meant for an
// address the caller failed to parse went to whatever listened on this
// machine's port.
func TestWriteToAnInvalidAddressFails(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{
		{"udp4", "127.0.0.1:0"},
		{"udp6", "[::1]:0"},
		{"udp", "[::1]:0"},
	} {
		t.Run(tc.network+" "+tc.addr, func(t *testing.T) {
			if tc.addr[0] == '[' && !hasIPv6Loopback() {
				t.Skip("no IPv6 loopback")
			}
			l := newLoop(t)
			pc, got, _ := listenUDP(t, l, tc.network, tc.addr)
			self := pc.LocalAddr().(*net.UDPAddr).AddrPort()
			to := netip.AddrPortFrom(netip.Addr{}, self.Port())
			if n, err := pc.WriteTo([]byte("nowhere"), to); err == nil || n != 0 {
				t.Errorf("WriteTo(%v) = %d, %v; want 0 and an error", to, n, err)
			}
			// A datagram to itself, sent after: had the first gone out, on
			// loopback it would be queued ahead of this one.
			if _, err := pc.WriteTo([]byte("self"), self); err != nil {
				t.Fatal(err)
			}
			runUntil(t, l, "the datagram to itself", func() bool { return len(*got) > 0 })
			if string((*got)[0]) != "self" {
				t.Errorf("received %q first; want only %q", *got, "self")
			}
		})
	}
}

// Package net sets SO_BROADCAST on every UDP socket, so its WriteTo reaches
// a broadcast address; a PacketConn, whose descriptor the caller cannot
// reach to set the option, must too. Without it sendto fails with EACCES.
// Linux routes 127.255.255.255 as loopback's broadcast address, which keeps
// the test on loopback.
func TestWriteToABroadcastAddress(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("127.255.255.255 is a broadcast address on Linux's loopback only")
	}
	l := newLoop(t)
	r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 255, 255, 255)})
	if err != nil {
		t.Skipf("cannot bind loopback's broadcast address: %v", err)
	}
	defer r.Close()
	pc, err := sock.ListenPacket(l, "udp4", "127.0.0.1:0", dropPackets{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	to := r.LocalAddr().(*net.UDPAddr).AddrPort()
	if n, err := pc.WriteTo([]byte("to all"), to); n != 6 || err != nil {
		t.Fatalf("WriteTo(%v) = %d, %v; want 6, nil", to, n, err)
	}
	r.SetReadDeadline(time.Now().Add(waitLimit))
	buf := make([]byte, 16)
	n, _, err := r.ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:n], []byte("to all")) {
		t.Errorf("the broadcast receiver read %q, %v; want %q", buf[:n], err, "to all")
	}
}
