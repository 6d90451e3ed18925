package sock_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"testing"
	"weak"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop"
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

// What sock keeps per loop must not keep the loop alive: a loop dropped
// without Close, with a listener still open on it, is collected. (Its
// descriptors are closed here by hand: nothing else could.)
func TestAnAbandonedLoopIsCollected(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc")
	}
	before := openFDs(t)
	var wl weak.Pointer[loop.Loop]
	func() {
		l, err := loop.New()
		if err != nil {
			t.Fatal(err)
		}
		requirePoller(t, l)
		if _, err := sock.Listen(l, "tcp", "127.0.0.1:0", &echoServer{}); err != nil {
			t.Fatal(err)
		}
		wl = weak.Make(l)
	}()
	for i := 0; i < 20 && wl.Value() != nil; i++ {
		runtime.GC()
	}
	collected := wl.Value() == nil
	for fd := range openFDs(t) {
		if !before[fd] {
			unix.Close(fd)
		}
	}
	if !collected {
		t.Fatal("an abandoned loop with an open listener was never collected")
	}
}

// openFDs returns the descriptors open now.
func openFDs(t *testing.T) map[int]bool {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	fds := map[int]bool{}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			fds[fd] = true
		}
	}
	return fds
}
