package sock_test

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/loopgen/loop/sock"
)

// A datagram the kernel refuses fails WriteTo with an error that names the
// destination, as WriteTo's own refusals do (it said only "sendto: network
// is unreachable"), and wraps the system's error. On Linux an IPv6-only
// socket cannot send to an IPv4-mapped address.
func TestWriteToErrorsNameTheDestination(t *testing.T) {
	l := newLoop(t)
	pc, err := sock.ListenPacket(l, "udp6", "[::1]:0", dropPackets{})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer pc.Close()
	to := netip.MustParseAddrPort("[::ffff:127.0.0.1]:9")
	n, err := pc.WriteTo([]byte("x"), to)
	var errno syscall.Errno
	if n != 0 || err == nil || !strings.Contains(err.Error(), to.String()) || !errors.As(err, &errno) {
		t.Errorf("WriteTo(%v) from an IPv6-only socket = %d, %v; want an error naming %v and wrapping the system's", to, n, err, to)
	}
}

// WriteTo's refusal of a zone that names no interface says "sock: " once
// (its refusal of every zone, before zones were carried, said it twice).
func TestWriteToZoneErrorSaysSockOnce(t *testing.T) {
	l := newLoop(t)
	pc, err := sock.ListenPacket(l, "udp6", "[::1]:0", dropPackets{})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer pc.Close()
	_, err = pc.WriteTo([]byte("x"), netip.MustParseAddrPort("[fe80::1%nosuchif0]:9"))
	if err == nil || strings.Count(err.Error(), "sock: ") != 1 || !strings.Contains(err.Error(), `IPv6 zone "nosuchif0"`) {
		t.Errorf("WriteTo to an unknown zone: %v; want one error naming the zone, and sock once", err)
	}
}
