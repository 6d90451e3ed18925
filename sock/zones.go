//go:build unix

package sock

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// zones translates IPv6 zones (the %eth0 of a link-local address, which
// names the link it is on) to the interface indexes a socket address holds,
// and back. Reading the system's interface table costs a system call or a
// netlink dump, and a UDP server may meet a zone on every datagram, so the
// answers are kept; as package net does, for a minute at most, since
// interfaces come and go and an index can be given to another interface.
var zones struct {
	sync.Mutex
	byName  map[string]uint32
	byIndex map[uint32]string
	since   time.Time
}

// zoneLife is how long zones keeps what it read.
const zoneLife = time.Minute

// zoneTable returns zones' maps, emptied if they are older than zoneLife;
// zones must be locked.
func zoneTable() (map[string]uint32, map[uint32]string) {
	if zones.byName == nil || time.Since(zones.since) > zoneLife {
		zones.byName, zones.byIndex, zones.since = map[string]uint32{}, map[uint32]string{}, time.Now()
	}
	return zones.byName, zones.byIndex
}

// zoneIndex returns the interface index of an IPv6 zone: 0 for none, the
// number itself for a numeric zone ("%2", as package net takes it), else
// the index of the interface of that name. An unknown name is an error:
// package net sends it as no zone, and a link-local address then fails
// with a bare EINVAL that does not say why.
func zoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil // inlined: WriteTo asks for every datagram
	}
	return zoneIndexOf(zone)
}

// zoneIndexOf is zoneIndex for a zone that is not empty.
func zoneIndexOf(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	zones.Lock()
	defer zones.Unlock()
	byName, byIndex := zoneTable()
	if i, ok := byName[zone]; ok {
		return i, nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("IPv6 zone %q: %w", zone, err)
	}
	i := uint32(ifi.Index)
	byName[zone], byIndex[i] = i, zone
	return i, nil
}

// zoneName returns the zone for an interface index: "" for 0, the
// interface's name, or the number itself when no interface has it (it may
// have gone since the datagram or connection came), as package net does.
func zoneName(index uint32) string {
	if index == 0 {
		return ""
	}
	zones.Lock()
	defer zones.Unlock()
	byName, byIndex := zoneTable()
	if name, ok := byIndex[index]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(index), 10)
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		name = ifi.Name
		byName[name] = index
	}
	byIndex[index] = name
	return name
}

// zoned returns a, an address read from a socket address, with the zone of
// its scope: set by the kernel for a link-local peer only, so that the
// common path costs one comparison.
func zoned(a netip.Addr, scope uint32) netip.Addr {
	if scope == 0 {
		return a // inlined: every datagram's sender is read through here
	}
	return withScope(a, scope)
}

// withScope is zoned for a scope that is not 0.
func withScope(a netip.Addr, scope uint32) netip.Addr {
	if !a.Is6() || a.Is4In6() {
		return a
	}
	return a.WithZone(zoneName(scope))
}
