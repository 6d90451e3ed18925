package sock_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// socketFD finds the descriptor of the inet socket bound to addr.
func socketFD(t *testing.T, addr netip.AddrPort) int {
	t.Helper()
	for fd := range openFDs(t) {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		if s4, ok := sa.(*unix.SockaddrInet4); ok && netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(s4.Port)) == addr {
			return fd
		}
	}
	t.Fatalf("no descriptor is bound to %v", addr)
	return -1
}

// A handler that closes its PacketConn in OnPacket and then opens a socket
// gets the closed one's descriptor number back (the lowest free). Reading
// must stop with Close: a batch that went on reading that number would
// hand the new socket's datagrams to the closed PacketConn's handler.
func TestCloseInOnPacketStopsReadingItsDescriptor(t *testing.T) {
	l := newLoop(t)
	var pcFD, newFD = -1, -1
	defer func() {
		if newFD >= 0 {
			unix.Close(newFD)
		}
	}()
	calls := 0
	pc, err := sock.ListenPacket(l, "udp4", "127.0.0.1:0", packetFunc(func(pc *sock.PacketConn, _ []byte, _ netip.AddrPort) {
		if calls++; calls > 1 {
			return
		}
		pc.Close()
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		newFD = fd
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
		self, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		// On loopback the datagram is queued by the time sendto returns.
		if err := unix.Sendto(fd, []byte("for the new socket"), 0, self); err != nil {
			t.Fatal(err)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	local := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pcFD = socketFD(t, local)
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(local))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("close")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the datagram", func() bool { return calls > 0 })
	if newFD != pcFD {
		t.Skipf("the new socket got descriptor %d, not the closed PacketConn's %d: the case this test needs did not arise", newFD, pcFD)
	}
	if calls != 1 {
		t.Errorf("OnPacket ran %d times; want once: after Close it was given the new socket's datagram", calls)
	}
	buf := make([]byte, 64)
	if n, _, err := unix.Recvfrom(newFD, buf, 0); err != nil || string(buf[:n]) != "for the new socket" {
		t.Errorf("the new socket's own read: %q, %v; want its datagram", buf[:max(n, 0)], err)
	}
}

// A name starting with "@" is in Linux's abstract namespace: binding makes
// no file, so Close must not remove the file of that name in the working
// directory.
func TestAbstractUnixListenerCloseLeavesFilesAlone(t *testing.T) {
	l := newLoop(t)
	t.Chdir(t.TempDir())
	name := "@loopgen-sock-test-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(name, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := sock.Listen(l, "unix", name, &echoServer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); err != nil {
		t.Errorf("closing the abstract listener %q removed the file of that name: %v", name, err)
	}
}

// fdWithPeer finds the descriptor of the inet socket connected to peer.
func fdWithPeer(t *testing.T, peer netip.AddrPort) int {
	t.Helper()
	for fd := range openFDs(t) {
		sa, err := unix.Getpeername(fd)
		if err != nil {
			continue
		}
		if s4, ok := sa.(*unix.SockaddrInet4); ok && netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(s4.Port)) == peer {
			return fd
		}
	}
	t.Fatalf("no descriptor is connected to %v", peer)
	return -1
}

// TCP_NODELAY is on by default (as in package net) and off with
// WithNoDelay(false), on both ends sock makes. Nagle's algorithm only
// delays, so no exchange on loopback tells; the option itself is read.
func TestNoDelayFollowsTheOption(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			l := newLoop(t)
			var opts []sock.Option
			if !on {
				opts = append(opts, sock.WithNoDelay(false))
			}
			srv := &echoServer{}
			ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv, opts...)
			if err != nil {
				t.Fatal(err)
			}
			cli := &recorder{}
			c, err := sock.Dial(l, "tcp4", ln.Addr().String(), cli, opts...)
			if err != nil {
				t.Fatal(err)
			}
			runUntil(t, l, "both ends open", func() bool { return cli.opened && srv.opened == 1 })
			local := c.LocalAddr().(*net.TCPAddr).AddrPort()
			for _, end := range []struct {
				name string
				fd   int
			}{
				{"dialed", fdWithPeer(t, ln.Addr().(*net.TCPAddr).AddrPort())},
				{"accepted", fdWithPeer(t, local)},
			} {
				v, err := unix.GetsockoptInt(end.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
				if err != nil {
					t.Fatal(err)
				}
				if (v != 0) != on {
					t.Errorf("%s connection: TCP_NODELAY = %d; want it %v", end.name, v, on)
				}
			}
			c.Abort()
			runUntil(t, l, "the client's OnClose", func() bool { return cli.closed })
			srv.closeAll(t, l, ln)
		})
	}
}
