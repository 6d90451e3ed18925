package sock_test

import (
	"errors"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// Tests from the night's mutation round over WithKeepAlive and
// WithExclusiveAddress, on Linux: each pins behaviour that a mutant
// changed without any test noticing.

// TestKeepAliveLeavesUnixStreamsAlone: a Unix stream, dialed or accepted,
// does not get SO_KEEPALIVE from WithKeepAlive, as its doc says.
func TestKeepAliveLeavesUnixStreamsAlone(t *testing.T) {
	l := newLoop(t)
	path := filepath.Join(t.TempDir(), "s")
	var srvGot, cliGot keepAliveOpts
	var srvOK, cliOK bool
	on := sock.WithKeepAlive(net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second})
	ln, err := sock.Listen(l, "unix", path, unixKeepAliveProbe{got: &srvGot, ok: &srvOK}, on)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := sock.Dial(l, "unix", path, unixKeepAliveProbe{got: &cliGot, ok: &cliOK}, on)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	runUntil(t, l, "both OnOpens", func() bool { return srvOK && cliOK })
	if srvGot[0] != 0 || cliGot[0] != 0 {
		t.Errorf("SO_KEEPALIVE on the accepted and dialed Unix streams = %d, %d; want 0, 0", srvGot[0], cliGot[0])
	}
}

// unixKeepAliveProbe reads SO_KEEPALIVE alone at OnOpen (a Unix socket has
// no TCP options).
type unixKeepAliveProbe struct {
	sock.BaseHandler
	got *keepAliveOpts
	ok  *bool
}

func (h unixKeepAliveProbe) OnOpen(c *sock.Conn) {
	v, err := unix.GetsockoptInt(sock.ConnFD(c), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	if err != nil {
		v = -1
	}
	h.got[0], *h.ok = v, true
}

// TestExclusiveAddressOnAUnixListener: WithReusePort and
// WithExclusiveAddress on a Unix listener are taken, and it serves:
// SO_REUSEPORT is for inet sockets alone (Linux refuses it on others).
func TestExclusiveAddressOnAUnixListener(t *testing.T) {
	l := newLoop(t)
	path := filepath.Join(t.TempDir(), "s")
	srv := &recorder{}
	ln, err := sock.Listen(l, "unix", path, srv, sock.WithReusePort(), sock.WithExclusiveAddress())
	if err != nil {
		t.Fatalf("Listen unix with WithReusePort and WithExclusiveAddress = %v", err)
	}
	defer ln.Close()
	peer, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "OnOpen", func() bool { return srv.opened })
}

// TestExclusiveAddressWithoutReusePortStaysExclusive: WithExclusiveAddress
// alone does not set SO_REUSEPORT once bound, so a later listener with
// WithReusePort cannot join the address ("without SO_REUSEPORT, Listen is
// exclusive anyway").
func TestExclusiveAddressWithoutReusePortStaysExclusive(t *testing.T) {
	l := newLoop(t)
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", sock.BaseHandler{}, sock.WithExclusiveAddress())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if other, err := sock.Listen(l, "tcp4", ln.Addr().String(), sock.BaseHandler{}, sock.WithReusePort()); !errors.Is(err, syscall.EADDRINUSE) {
		if err == nil {
			other.Close()
		}
		t.Errorf("a WithReusePort Listen beside an exclusive one = %v; want EADDRINUSE", err)
	}
}
