package sock_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/loopgen/loop/sock"
)

// packetSink ignores datagrams.
type packetSink struct{}

func (packetSink) OnPacket(*sock.PacketConn, []byte, netip.AddrPort) {}

// Closing a loop closes what sock still has open on it: listeners, the
// connections they accepted, dialed connections and packet sockets. Each
// connection's OnClose runs (with what it could not send), and no
// descriptor is left behind.
func TestClosingTheLoopClosesItsSockets(t *testing.T) {
	before := countFDs(t)
	l := newLoop(t)
	server := &recorder{}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	pl := peerListener(t)
	client := &recorder{}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	accepted, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer accepted.Close()
	if _, err := sock.ListenPacket(l, "udp", "127.0.0.1:0", packetSink{}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "both connections to open", func() bool { return server.opened && client.opened })
	c.Write(make([]byte, 64<<20)) // more than the kernel takes: some is left queued
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !server.closed || !client.closed {
		t.Fatalf("OnClose ran for the accepted connection: %v, the dialed one: %v", server.closed, client.closed)
	}
	if server.closeErr != nil {
		t.Errorf("accepted connection with nothing queued: OnClose(%v), want nil", server.closeErr)
	}
	var ue *sock.UnsentError
	if !errors.As(client.closeErr, &ue) || !errors.Is(client.closeErr, sock.ErrAborted) {
		t.Errorf("dialed connection with bytes queued: OnClose(%v), want an *UnsentError wrapping ErrAborted", client.closeErr)
	}
	peer.Close()
	accepted.Close()
	pl.Close()
	if after := countFDs(t); after != before {
		t.Fatalf("%d descriptors open before, %d after closing the loop and the peers", before, after)
	}
}
