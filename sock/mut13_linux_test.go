package sock_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// socketFDs returns the process's socket descriptors, each with its
// socket's inode (readlink's "socket:[N]").
func socketFDs(t *testing.T) map[int]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	fds := map[int]string{}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && strings.HasPrefix(target, "socket:") {
			fds[fd] = target
		}
	}
	return fds
}

// groupListenFDs has a group of 3 loops Listen on network and addr, and
// returns the socket descriptors that appeared, with their sockets, after
// checking that each is close-on-exec; they must be gone after Close.
func groupListenFDs(t *testing.T, network, addr string) map[int]string {
	t.Helper()
	g, _, _ := newGroup(t, 3)
	before := socketFDs(t)
	gln, err := g.Listen(network, addr, func(*loop.Loop) sock.Handler { return plainEcho{} })
	if err != nil {
		t.Fatal(err)
	}
	added := map[int]string{}
	for fd, s := range socketFDs(t) {
		if _, ok := before[fd]; ok {
			continue
		}
		added[fd] = s
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s listener descriptor %d: F_GETFD %#x, %v; want close-on-exec", network, fd, flags, err)
		}
	}
	if err := gln.Close(); err != nil {
		t.Fatal(err)
	}
	after := socketFDs(t)
	for fd, s := range added {
		if after[fd] == s {
			t.Errorf("%s listener descriptor %d (%s) still open after Close", network, fd, s)
		}
	}
	return added
}

// Group.Listen on unix gives each loop a descriptor of its own (a
// duplicate of the first loop's: one socket), close-on-exec like the
// first, and Close closes each: loops sharing one descriptor would close
// it twice, the second time perhaps another file's that took the number.
func TestMut13GroupListenUnixDescriptorPerLoop(t *testing.T) {
	added := groupListenFDs(t, "unix", filepath.Join(t.TempDir(), "s"))
	sockets := map[string]bool{}
	for _, s := range added {
		sockets[s] = true
	}
	if len(added) != 3 || len(sockets) != 1 {
		t.Errorf("Group.Listen unix on 3 loops opened %v; want 3 descriptors of one socket", added)
	}
}

// Group.Listen on tcp4 still opens a socket per loop (SO_REUSEPORT spreads
// the connections among them): only unix shares the first loop's socket.
func TestMut13GroupListenTCPSocketPerLoop(t *testing.T) {
	added := groupListenFDs(t, "tcp4", "127.0.0.1:0")
	sockets := map[string]bool{}
	for _, s := range added {
		sockets[s] = true
	}
	if len(added) != 3 || len(sockets) != 3 {
		t.Errorf("Group.Listen tcp4 on 3 loops opened %v; want 3 sockets", added)
	}
}

// FileListener on a listening stream socket of another family (vsock)
// fails, saying so, and closes the duplicate it made.
func TestMut13FileListenerOtherFamilyClosesItsDuplicate(t *testing.T) {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no vsock: %v", err)
	}
	f := os.NewFile(uintptr(fd), "vsock")
	defer f.Close()
	if err := unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: unix.VMADDR_PORT_ANY}); err != nil {
		t.Skipf("vsock bind: %v", err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		t.Skipf("vsock listen: %v", err)
	}
	l := newLoop(t)
	before := countFDs(t)
	ln, err := sock.FileListener(l, f, plainEcho{})
	if err == nil {
		ln.Close()
		t.Fatal("FileListener accepted a vsock socket")
	}
	if !strings.Contains(err.Error(), "neither IPv4, IPv6 nor Unix") {
		t.Errorf("FileListener on vsock: %v; want it to name the families", err)
	}
	if n := countFDs(t); n != before {
		t.Errorf("descriptors: %d after the failed FileListener, %d before; want its duplicate closed", n, before)
	}
}

// FileListener's WithKeepAlive sets the probe times asked for on the
// listening socket, which the connections it accepts inherit, not just
// SO_KEEPALIVE.
func TestMut13FileListenerKeepAliveTimesReachTheConnections(t *testing.T) {
	nl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	l := newLoop(t)
	h := &corkConn{}
	ka := net.KeepAliveConfig{Enable: true, Idle: 37 * time.Second, Interval: 11 * time.Second, Count: 5}
	ln, err := sock.FileListener(l, fileOf(t, nl.(*net.TCPListener)), h, sock.WithKeepAlive(ka))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp4", nl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	fd := sock.ConnFD(h.c)
	for _, o := range []struct {
		name     string
		lvl, opt int
		want     int
	}{
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 37},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 11},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 5},
	} {
		if v, err := unix.GetsockoptInt(fd, o.lvl, o.opt); err != nil || v != o.want {
			t.Errorf("accepted connection's %s = %d, %v; want %d", o.name, v, err, o.want)
		}
	}
	h.c.Close()
}

// FileListener on a socket that is not a stream socket says so, pointing
// to FilePacketConn for a UDP socket only (a Unix seqpacket socket is no
// datagram socket either).
func TestMut13FileListenerNotAStreamSocketMessages(t *testing.T) {
	l := newLoop(t)
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	_, err = sock.FileListener(l, fileOf(t, udp.(*net.UDPConn)), plainEcho{})
	if err == nil || !strings.Contains(err.Error(), "not a stream socket (for a UDP socket, use FilePacketConn)") {
		t.Errorf("FileListener on UDP: %v; want it to point to FilePacketConn", err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "seqpacket")
	defer f.Close()
	_, err = sock.FileListener(l, f, plainEcho{})
	if err == nil || !strings.HasSuffix(err.Error(), ": not a stream socket") {
		t.Errorf("FileListener on a seqpacket socket: %v; want \"not a stream socket\" alone", err)
	}
}
