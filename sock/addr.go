//go:build unix

package sock

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// endpoint is a resolved address, ready for socket and bind or connect.
type endpoint struct {
	family int
	sa     unix.Sockaddr
	v6only bool     // for AF_INET6: tcp6/udp6 (true) or dual-stack tcp/udp (false)
	addr   net.Addr // as the user will see it
}

// isTCP and isUDP name the inet networks the constructors take (Listen
// and Dial also take "unix"; "unixgram" is not supported).
func isTCP(network string) bool {
	return network == "tcp" || network == "tcp4" || network == "tcp6"
}

func isUDP(network string) bool {
	return network == "udp" || network == "udp4" || network == "udp6"
}

// unixNameMax is the longest Unix socket name golang.org/x/sys/unix takes on
// Linux, abstract names ("@...") included: sun_path's 108 bytes less a
// terminating NUL. (The BSDs' sun_path has 104; there a longer name passes
// this check and fails with EINVAL.)
const unixNameMax = 107

// resolve turns network and addr into an endpoint. dial says what an empty
// or unspecified host means: the local system when dialing (as package net
// connects to it: IPv4 loopback unless the address or network is IPv6), the
// wildcard when listening. Host names are looked up by package net, which
// blocks the loop; Dial looks its names up elsewhere (see lookUp) and
// passes only literal addresses here.
func resolve(network, addr string, dial bool) (endpoint, error) {
	switch {
	case network == "unix" || network == "unixgram":
		ua, err := net.ResolveUnixAddr(network, addr)
		if err != nil {
			return endpoint{}, err
		}
		if dial && ua.Name == "" {
			return endpoint{}, errors.New("missing address")
		}
		// Refused here, a long path fails Dial itself, not a connect that
		// OnClose would report as EINVAL.
		if len(ua.Name) > unixNameMax {
			return endpoint{}, fmt.Errorf("path of %d bytes is longer than a Unix socket address holds (%d)", len(ua.Name), unixNameMax)
		}
		return endpoint{family: unix.AF_UNIX, sa: &unix.SockaddrUnix{Name: ua.Name}, addr: ua}, nil
	case isTCP(network):
		if dial && addr == "" {
			// As package net says: there is nothing to connect to (it would
			// otherwise be 127.0.0.1:0, and fail later, in OnClose).
			return endpoint{}, errors.New("missing address")
		}
		ta, err := net.ResolveTCPAddr(network, addr)
		if err != nil {
			return endpoint{}, err
		}
		ep, err := inetEndpoint(network, ta.IP, ta.Zone, ta.Port, dial)
		if err == nil {
			ep.addr = endpointAddr(ep, ta.IP, ta.Zone, ta.Port, dial, unix.SOCK_STREAM)
		}
		return ep, err
	case isUDP(network):
		if dial && addr == "" {
			return endpoint{}, errors.New("missing address") // as for TCP
		}
		ua, err := net.ResolveUDPAddr(network, addr)
		if err != nil {
			return endpoint{}, err
		}
		ep, err := inetEndpoint(network, ua.IP, ua.Zone, ua.Port, dial)
		if err == nil {
			ep.addr = endpointAddr(ep, ua.IP, ua.Zone, ua.Port, dial, unix.SOCK_DGRAM)
		}
		return ep, err
	}
	return endpoint{}, net.UnknownNetworkError(network)
}

// endpointAddr is the net.Addr of a resolved endpoint: for a dial, the
// address connected to (an empty or unspecified host becomes the loopback
// address inetEndpoint picked, as package net reports it); to listen, the
// address as given, whose port the listener fills in once bound.
func endpointAddr(ep endpoint, ip net.IP, zone string, port int, dial bool, sotype int) net.Addr {
	if dial {
		return netAddr(ep.sa, sotype)
	}
	a, _ := netip.AddrFromSlice(ip)
	ap := netip.AddrPortFrom(a.Unmap().WithZone(zone), uint16(port))
	if sotype == unix.SOCK_DGRAM {
		return net.UDPAddrFromAddrPort(ap)
	}
	return net.TCPAddrFromAddrPort(ap)
}

// inetEndpoint picks the family: the address's own; to listen on an empty
// or unspecified host, IPv6 dual-stack under "tcp"/"udp" (IPv4 where IPv6 is
// missing), IPv4 under "…4" and IPv6 under "…6"; to dial one, the loopback
// address of the family package net would use (IPv4 for an empty host under
// "tcp", which reaches a server listening on 127.0.0.1 only). An IPv6
// address's zone becomes the socket address's scope: the interface whose
// link a link-local address is on.
func inetEndpoint(network string, ip net.IP, zone string, port int, dial bool) (endpoint, error) {
	suffix := network[len(network)-1]
	switch {
	case ip != nil && !ip.IsUnspecified():
	case dial && (suffix == '6' || ip != nil && ip.To4() == nil):
		if suffix != '4' { // "[::]" under tcp4 is refused below, as written
			ip = net.IPv6loopback
		}
	case dial:
		ip = net.IPv4(127, 0, 0, 1)
	case suffix == '4' || (suffix != '6' && !hasIPv6()):
		ip = net.IPv4zero
	default:
		ip = net.IPv6unspecified
	}
	if ip4 := ip.To4(); ip4 != nil && suffix != '6' {
		sa := &unix.SockaddrInet4{Port: port}
		copy(sa.Addr[:], ip4)
		return endpoint{family: unix.AF_INET, sa: sa}, nil
	}
	if ip.To4() != nil || suffix == '4' {
		return endpoint{}, fmt.Errorf("sock: address %v does not belong to network %s", ip, network)
	}
	scope, err := zoneIndex(zone)
	if err != nil {
		return endpoint{}, err
	}
	sa := &unix.SockaddrInet6{Port: port, ZoneId: scope}
	copy(sa.Addr[:], ip.To16())
	return endpoint{family: unix.AF_INET6, sa: sa, v6only: suffix == '6'}, nil
}

// hasIPv6 reports whether an IPv6 socket can be opened here. It is asked
// once: the answer does not change, and the probe is a descriptor (opened
// close-on-exec, so that a concurrent exec cannot inherit it).
var hasIPv6 = sync.OnceValue(func() bool {
	fd, err := sysSocket(unix.AF_INET6, unix.SOCK_STREAM)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// addrPortOf returns the IP and port of an inet sockaddr (IPv4-mapped IPv6
// addresses unmapped), and false for any other kind.
func addrPortOf(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(zoned(netip.AddrFrom16(sa.Addr), sa.ZoneId).Unmap(), uint16(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// netAddr converts a sockaddr of a socket of the given type to a net.Addr.
func netAddr(sa unix.Sockaddr, sotype int) net.Addr {
	if ap, ok := addrPortOf(sa); ok {
		if sotype == unix.SOCK_DGRAM {
			return net.UDPAddrFromAddrPort(ap)
		}
		return net.TCPAddrFromAddrPort(ap)
	}
	if su, ok := sa.(*unix.SockaddrUnix); ok {
		network := "unix"
		if sotype == unix.SOCK_DGRAM {
			network = "unixgram"
		}
		return &net.UnixAddr{Name: su.Name, Net: network}
	}
	return nil
}
