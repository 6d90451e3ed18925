package sock_test

// Tests from the mutation round over Splitter and the listener's TCP
// options, on Linux: each pins behaviour that a one-line change let through
// the rest of the suite.

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// TestListeningSocketCarriesNoDelayAndKeepAlive: on Linux, where accepted
// connections inherit them, Listen sets TCP_NODELAY and the keep-alive
// options once on the listening socket (acceptInheritsTCPOptions), not one
// system call each on every accepted connection; WithNoDelay(false) leaves
// the listening socket's TCP_NODELAY off.
func TestListeningSocketCarriesNoDelayAndKeepAlive(t *testing.T) {
	ka := sock.WithKeepAlive(net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 4})
	for _, tc := range []struct {
		name    string
		opts    []sock.Option
		noDelay int
		keep    keepAliveOpts
	}{
		{"keep-alive", []sock.Option{ka}, 1, keepAliveOpts{1, 30, 5, 4}},
		{"no delay off", []sock.Option{sock.WithNoDelay(false)}, 0, systemKeepAlive(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			// No connection is made, so that the listening socket is
			// the only one bound to its address.
			ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", &echoServer{}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			fd := socketFD(t, ln.Addr().(*net.TCPAddr).AddrPort())
			v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
			if err != nil {
				t.Fatal(err)
			}
			if v != tc.noDelay {
				t.Errorf("the listening socket's TCP_NODELAY = %d, want %d", v, tc.noDelay)
			}
			if got := keepAliveOf(t, fd); got != tc.keep {
				t.Errorf("the listening socket's SO_KEEPALIVE, idle, interval, count = %v, want %v", got, tc.keep)
			}
		})
	}
}

// TestKeepAliveLeavesUnixListeningSocketsAlone: WithKeepAlive's doc says
// Unix sockets ignore it: a Unix listener's own socket does not get
// SO_KEEPALIVE either (accepted Unix streams are
// TestKeepAliveLeavesUnixStreamsAlone's; ListenPacket refuses the option).
func TestKeepAliveLeavesUnixListeningSocketsAlone(t *testing.T) {
	l := newLoop(t)
	on := sock.WithKeepAlive(net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second})
	path := filepath.Join(t.TempDir(), "s")
	ln, err := sock.Listen(l, "unix", path, &echoServer{}, on)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	unixFD := -1
	for fd := range openFDs(t) {
		if sa, err := unix.Getsockname(fd); err == nil {
			if su, ok := sa.(*unix.SockaddrUnix); ok && su.Name == path {
				unixFD = fd
			}
		}
	}
	if unixFD < 0 {
		t.Fatalf("no descriptor is bound to %s", path)
	}
	v, err := unix.GetsockoptInt(unixFD, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	if err != nil {
		t.Fatal(err)
	}
	if v != 0 {
		t.Errorf("the Unix listening socket's SO_KEEPALIVE = %d, want 0", v)
	}
}
