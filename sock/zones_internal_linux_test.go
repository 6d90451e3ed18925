package sock

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loopbackIndex is the loopback interface's index and name.
func loopbackIndex(t *testing.T) (uint32, string) {
	t.Helper()
	ifi, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no interface lo: %v", err)
	}
	return uint32(ifi.Index), ifi.Name
}

// A zone goes into the socket address as its interface's index, named or
// numbered, and an index comes back as the interface's name, or as the
// number where no interface has it (package net's rule).
func TestZonesTranslateBothWays(t *testing.T) {
	index, name := loopbackIndex(t)
	for zone, want := range map[string]uint32{"": 0, name: index, "7": 7} {
		if got, err := zoneIndex(zone); err != nil || got != want {
			t.Errorf("zoneIndex(%q) = %d, %v; want %d", zone, got, err, want)
		}
	}
	if _, err := zoneIndex("nosuchif0"); err == nil || !strings.Contains(err.Error(), `IPv6 zone "nosuchif0"`) {
		t.Errorf("zoneIndex of no interface: %v; want an error naming the zone", err)
	}
	if got := zoneName(index); got != name {
		t.Errorf("zoneName(%d) = %q; want %q", index, got, name)
	}
	if got := zoneName(0); got != "" {
		t.Errorf("zoneName(0) = %q; want none", got)
	}
	if got := zoneName(1 << 30); got != "1073741824" {
		t.Errorf("zoneName of no interface = %q; want the number", got)
	}
}

// What zones read is kept for a minute at most: an index can pass to
// another interface.
func TestZonesForgetAfterAMinute(t *testing.T) {
	index, name := loopbackIndex(t)
	zones.Lock()
	byName, byIndex := zoneTable()
	byName["lo-renamed"], byIndex[index] = 999, "lo-renamed"
	zones.Unlock()
	if got := zoneName(index); got != "lo-renamed" {
		t.Fatalf("zoneName(%d) = %q; want what the table holds", index, got)
	}
	zones.Lock()
	zones.since = time.Now().Add(-zoneLife - time.Second)
	zones.Unlock()
	if got := zoneName(index); got != name {
		t.Errorf("zoneName(%d) after a minute = %q; want %q, read again", index, got, name)
	}
	if _, err := zoneIndex("lo-renamed"); err == nil {
		t.Errorf("zoneIndex still knows an entry older than a minute")
	}
}

// A sender's scope comes out of a raw socket address as its zone; an
// IPv4 sender, mapped, has none.
func TestARawSockaddrsScopeIsItsZone(t *testing.T) {
	index, name := loopbackIndex(t)
	var rsa unix.RawSockaddrAny
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: htons(53), Addr: netip.MustParseAddr("fe80::1").As16(), Scope_id: index}
	if got, want := rawAddrPort(&rsa), netip.MustParseAddrPort("[fe80::1%"+name+"]:53"); got != want {
		t.Errorf("rawAddrPort = %v; want %v", got, want)
	}
	sa.Addr = netip.MustParseAddr("::ffff:127.0.0.1").As16()
	if got, want := rawAddrPort(&rsa), netip.MustParseAddrPort("127.0.0.1:53"); got != want {
		t.Errorf("rawAddrPort of a mapped IPv4 sender = %v; want %v", got, want)
	}
	ap, _ := addrPortOf(&unix.SockaddrInet6{Port: 53, Addr: netip.MustParseAddr("fe80::1").As16(), ZoneId: index})
	if want := netip.MustParseAddrPort("[fe80::1%" + name + "]:53"); ap != want {
		t.Errorf("addrPortOf = %v; want %v", ap, want)
	}
}
