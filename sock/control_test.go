package sock_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// Control hands fn the socket itself: an option set through it is the
// socket's, one read through it is what the kernel holds; once the socket
// is closed it returns ErrClosed without calling fn.
func TestControlReachesTheSocket(t *testing.T) {
	l := newLoop(t)

	pc, err := sock.ListenPacket(l, "udp4", "127.0.0.1:0", dropPackets{})
	if err != nil {
		t.Fatal(err)
	}
	tos, serr := -1, error(nil)
	if err := pc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, 0x10); serr == nil {
			tos, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS)
		}
	}); err != nil || serr != nil || tos != 0x10 {
		t.Errorf("PacketConn.Control: %v; IP_TOS set and read back: %d, %v; want 16", err, tos, serr)
	}

	var opened *sock.Conn
	ln, peer := listenAndDial(t, l, &funcHandler{
		open:  func(c *sock.Conn) { opened = c },
		close: func(*sock.Conn, error) {},
	})
	runUntil(t, l, "the accept", func() bool { return opened != nil })
	soType := -1
	if err := ln.Control(func(fd uintptr) { soType, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE) }); err != nil || serr != nil || soType != unix.SOCK_STREAM {
		t.Errorf("Listener.Control: %v; SO_TYPE %d, %v; want a stream socket", err, soType, serr)
	}
	var local unix.Sockaddr
	if err := opened.Control(func(fd uintptr) { local, serr = unix.Getsockname(int(fd)) }); err != nil || serr != nil {
		t.Fatalf("Conn.Control: %v, %v", err, serr)
	}
	if in4, ok := local.(*unix.SockaddrInet4); !ok || in4.Port != peer.RemoteAddr().(*net.TCPAddr).Port {
		t.Errorf("Conn.Control's socket is bound to %v; want the port the peer dialed", local)
	}

	called := false
	opened.Abort()
	ln.Close()
	pc.Close()
	for what, err := range map[string]error{
		"Conn":       opened.Control(func(uintptr) { called = true }),
		"Listener":   ln.Control(func(uintptr) { called = true }),
		"PacketConn": pc.Control(func(uintptr) { called = true }),
	} {
		if !errors.Is(err, sock.ErrClosed) {
			t.Errorf("%s.Control after Close: %v; want ErrClosed", what, err)
		}
	}
	if called {
		t.Error("Control called fn on a closed socket")
	}
}

// A dialed connection whose host name is still being looked up has no
// socket yet: Control says so, without calling fn.
func TestControlBeforeADialHasASocket(t *testing.T) {
	l := newLoop(t)
	r := newFakeResolver()
	c, err := sock.Dial(l, "tcp", "example.invalid:80", sock.BaseHandler{}, sock.WithResolver(r))
	if err != nil {
		t.Fatal(err)
	}
	r.next(t) // the lookup is under way, and waits
	called := false
	if err := c.Control(func(uintptr) { called = true }); err == nil || called || !strings.Contains(err.Error(), "no socket yet") {
		t.Errorf("Control during the lookup: %v (fn called: %v); want an error saying there is no socket yet", err, called)
	}
	c.Abort()
}
