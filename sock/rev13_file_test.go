package sock_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// dialN connects n clients to addr and returns them, closed at the end of
// the test.
func dialN(t *testing.T, network, addr string, n int) []net.Conn {
	t.Helper()
	var cs []net.Conn
	for range n {
		c, err := net.DialTimeout(network, addr, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs = append(cs, c)
	}
	return cs
}

// Connections queued in the backlog before FileListener are accepted on the
// loop's first iterations, without a new one to wake it.
func TestRev13FileListenerAcceptsTheBacklogAtOnce(t *testing.T) {
	l := newLoop(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	dialN(t, "tcp", nl.Addr().String(), 3)
	srv := &echoServer{}
	ln, err := sock.FileListener(l, fileOf(t, nl.(*net.TCPListener)), srv)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the queued connections", func() bool { return srv.opened == 3 })
	srv.closeAll(t, l, ln)
}

// An IPv6 listener bound to every address takes IPv4 clients as package
// net's does: the peer's address is the IPv4 one, not its mapped form.
func TestRev13FileListenerDualStack(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 here")
	}
	l := newLoop(t)
	nl, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skipf("cannot listen on [::]: %v", err)
	}
	defer nl.Close()
	port := nl.Addr().(*net.TCPAddr).Port
	var peers []string
	srv := &echoServer{}
	h := &openHook{echoServer: srv, fn: func(c *sock.Conn) { peers = append(peers, c.RemoteAddr().String()) }}
	ln, err := sock.FileListener(l, fileOf(t, nl.(*net.TCPListener)), h)
	if err != nil {
		t.Fatal(err)
	}
	nl.Close()
	c4 := dialN(t, "tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String(), 1)[0]
	c6 := dialN(t, "tcp6", netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port)).String(), 1)[0]
	runUntil(t, l, "both connections", func() bool { return srv.opened == 2 })
	want := []string{c4.LocalAddr().String(), c6.LocalAddr().String()}
	if len(peers) != 2 || !(peers[0] == want[0] && peers[1] == want[1] || peers[0] == want[1] && peers[1] == want[0]) {
		t.Errorf("peers %v; want %v", peers, want)
	}
	srv.closeAll(t, l, ln)
}

type openHook struct {
	*echoServer
	fn func(*sock.Conn)
}

func (h *openHook) OnOpen(c *sock.Conn) { h.echoServer.OnOpen(c); h.fn(c) }

// WithMaxConns holds a FileListener's accepts at the limit, and the next
// queued connection is taken when one closes.
func TestRev13FileListenerMaxConns(t *testing.T) {
	l := newLoop(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	srv := &echoServer{}
	ln, err := sock.FileListener(l, fileOf(t, nl.(*net.TCPListener)), srv, sock.WithMaxConns(2))
	if err != nil {
		t.Fatal(err)
	}
	dialN(t, "tcp", ln.Addr().String(), 3)
	runUntil(t, l, "two connections", func() bool { return srv.opened == 2 })
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) {
		if err := l.RunOnce(false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if srv.opened != 2 || ln.Conns() != 2 {
		t.Fatalf("opened %d, Conns() %d past WithMaxConns(2)", srv.opened, ln.Conns())
	}
	for c := range srv.conns {
		c.Close()
		break
	}
	runUntil(t, l, "the third connection", func() bool { return srv.opened == 3 })
	srv.closeAll(t, l, ln)
}

// Closing the FileListener leaves the socket it came from accepting, and
// closing the file first leaves the listener accepting; the same holds for
// FilePacketConn.
func TestRev13FileCloseLeavesTheOtherOpen(t *testing.T) {
	l := newLoop(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	srv := &echoServer{}
	ln, err := sock.FileListener(l, fileOf(t, nl.(*net.TCPListener)), srv)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := ln.Close(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("a second Close: %v; want ErrClosed", err)
	}
	dialN(t, "tcp", nl.Addr().String(), 1)
	nl.(*net.TCPListener).SetDeadline(time.Now().Add(waitLimit))
	c, err := nl.Accept()
	if err != nil {
		t.Fatalf("the net listener after FileListener's Close: %v", err)
	}
	c.Close()
	settle(t, l)
	if srv.opened != 0 {
		t.Errorf("the closed listener accepted %d", srv.opened)
	}

	nu, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nu.Close()
	pc, err := sock.FilePacketConn(l, fileOf(t, nu.(*net.UDPConn)), packetFunc(func(*sock.PacketConn, []byte, netip.AddrPort) {}))
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	if _, err := nu.WriteTo([]byte("x"), nu.LocalAddr()); err != nil {
		t.Fatalf("the net socket after FilePacketConn's Close: %v", err)
	}
	nu.SetReadDeadline(time.Now().Add(waitLimit))
	if _, _, err := nu.ReadFrom(make([]byte, 8)); err != nil {
		t.Fatalf("the net socket after FilePacketConn's Close: %v", err)
	}
}

// A listening socket that was shut down for reading no longer listens, and
// FileListener says so.
func TestRev13FileListenerRefusesAShutDownSocket(t *testing.T) {
	l := newLoop(t)
	_, f := tcpListenerFile(t)
	rc, _ := f.SyscallConn()
	rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RD) })
	ln, err := sock.FileListener(l, f, &echoServer{})
	if err == nil {
		ln.Close()
		t.Skip("this system still reports a shut down socket as listening")
	}
	if !strings.Contains(err.Error(), "not listening") {
		t.Errorf("FileListener on a shut down socket: %v; want it to say it is not listening", err)
	}
}

// The file's descriptor is the caller's: FileListener and FilePacketConn
// neither close it nor leave it blocking, and a descriptor that was
// blocking is made non-blocking, as the doc says.
func TestRev13FileNonBlocking(t *testing.T) {
	l := newLoop(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	nu, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nu.Close()
	for _, x := range []interface{ File() (*os.File, error) }{nl.(*net.TCPListener), nu.(*net.UDPConn)} {
		f := fileOf(t, x)
		fd := int(f.Fd()) // blocking now
		var closeIt func() error
		if _, ok := x.(*net.TCPListener); ok {
			ln, err := sock.FileListener(l, f, &echoServer{})
			if err != nil {
				t.Fatal(err)
			}
			closeIt = ln.Close
		} else {
			pc, err := sock.FilePacketConn(l, f, packetFunc(func(*sock.PacketConn, []byte, netip.AddrPort) {}))
			if err != nil {
				t.Fatal(err)
			}
			closeIt = pc.Close
		}
		closeIt()
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			t.Fatalf("the file's descriptor after Close: %v", err)
		}
		if fl&unix.O_NONBLOCK == 0 {
			t.Errorf("%T: the file's descriptor is blocking after FileListener or FilePacketConn", x)
		}
	}
}

// sockoptOf reads an integer socket option of a connection, listener or
// packet socket through its Control.
func sockoptOf(t *testing.T, x interface{ Control(func(uintptr)) error }, level, opt int) int {
	t.Helper()
	v, gerr := -1, error(nil)
	if err := x.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// acceptedOption returns the value of a socket option on a connection
// accepted by the listener open makes, and the listener's address network.
func acceptedOption(t *testing.T, l *loop.Loop, open func(h sock.Handler) *sock.Listener, network string, level, opt int) int {
	t.Helper()
	v := -1
	srv := &echoServer{}
	got := false
	ln := open(&openHook{echoServer: srv, fn: func(c *sock.Conn) { v = sockoptOf(t, c, level, opt); got = true }})
	dialN(t, network, ln.Addr().String(), 1)
	runUntil(t, l, "the connection", func() bool { return got })
	srv.closeAll(t, l, ln)
	return v
}

// The buffer sizes and TCP_NODELAY a FileListener is given reach the
// connections it accepts, TCP and Unix, as they do Listen's: compared with
// Listen's own, given the same options.
func TestRev13FileListenerOptionsReachTheConnections(t *testing.T) {
	l := newLoop(t)
	for _, network := range []string{"tcp", "unix"} {
		for _, o := range []struct {
			name       string
			level, opt int
			opts       []sock.Option
		}{
			{"SO_RCVBUF", unix.SOL_SOCKET, unix.SO_RCVBUF, []sock.Option{sock.WithRecvBufferSize(24 << 10)}},
			{"SO_SNDBUF", unix.SOL_SOCKET, unix.SO_SNDBUF, []sock.Option{sock.WithSendBufferSize(24 << 10)}},
			{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, nil},
		} {
			if network == "unix" && o.level == unix.IPPROTO_TCP {
				continue
			}
			addr := func() string {
				if network == "unix" {
					return t.TempDir() + "/s"
				}
				return "127.0.0.1:0"
			}
			want := acceptedOption(t, l, func(h sock.Handler) *sock.Listener {
				ln, err := sock.Listen(l, network, addr(), h, o.opts...)
				if err != nil {
					t.Fatal(err)
				}
				return ln
			}, network, o.level, o.opt)
			got := acceptedOption(t, l, func(h sock.Handler) *sock.Listener {
				nl, err := net.Listen(network, addr())
				if err != nil {
					t.Fatal(err)
				}
				if ul, ok := nl.(*net.UnixListener); ok {
					ul.SetUnlinkOnClose(false) // the socket file stays for FileListener's listener
				}
				defer nl.Close()
				ln, err := sock.FileListener(l, fileOf(t, nl.(interface{ File() (*os.File, error) })), h, o.opts...)
				if err != nil {
					t.Fatal(err)
				}
				return ln
			}, network, o.level, o.opt)
			if got != want || (o.opt == unix.TCP_NODELAY && got == 0) {
				t.Errorf("%s: a connection FileListener accepted has %s = %d; Listen's has %d", network, o.name, got, want)
			}
		}
	}
}

// FileListener's and FilePacketConn's descriptors are close-on-exec: a
// process the server starts does not inherit them.
func TestRev13FileDescriptorsCloseOnExec(t *testing.T) {
	l := newLoop(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	nu, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nu.Close()
	ln, err := sock.FileListener(l, fileOf(t, nl.(*net.TCPListener)), &echoServer{})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := sock.FilePacketConn(l, fileOf(t, nu.(*net.UDPConn)), packetFunc(func(*sock.PacketConn, []byte, netip.AddrPort) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for name, x := range map[string]interface{ Control(func(uintptr)) error }{"FileListener": ln, "FilePacketConn": pc} {
		x.Control(func(fd uintptr) {
			if fl, err := unix.FcntlInt(fd, unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
				t.Errorf("%s's descriptor: flags %#x, %v; want FD_CLOEXEC", name, fl, err)
			}
		})
	}
}

// An IPv6 UDP socket handed to FilePacketConn sends to IPv6 addresses, and
// its receive buffer is the size asked for, as ListenPacket's is.
func TestRev13FilePacketConnIPv6AndBuffers(t *testing.T) {
	l := newLoop(t)
	h := packetFunc(func(pc *sock.PacketConn, p []byte, from netip.AddrPort) { pc.WriteTo(p, from) })
	opts := []sock.Option{sock.WithRecvBufferSize(24 << 10), sock.WithSendBufferSize(24 << 10)}
	ref, err := sock.ListenPacket(l, "udp", "127.0.0.1:0", h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	nu, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nu.Close()
	pc, err := sock.FilePacketConn(l, fileOf(t, nu.(*net.UDPConn)), h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, opt := range []int{unix.SO_RCVBUF, unix.SO_SNDBUF} {
		if got, want := sockoptOf(t, pc, unix.SOL_SOCKET, opt), sockoptOf(t, ref, unix.SOL_SOCKET, opt); got != want {
			t.Errorf("FilePacketConn's socket option %d = %d; ListenPacket's %d", opt, got, want)
		}
	}
	if !hasIPv6Loopback() {
		return
	}
	n6, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer n6.Close()
	var got []byte
	srv, err := sock.FilePacketConn(l, fileOf(t, n6.(*net.UDPConn)), h)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := sock.ListenPacket(l, "udp6", "[::1]:0", packetFunc(func(_ *sock.PacketConn, p []byte, _ netip.AddrPort) { got = append(got, p...) }))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.WriteTo([]byte("six"), netip.MustParseAddrPort(srv.LocalAddr().String())); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the IPv6 echo", func() bool { return len(got) > 0 })
	if string(got) != "six" {
		t.Errorf("echoed %q", got)
	}
}

// WithNoDelay(false) given to FileListener holds for the connections it
// accepts even when the socket it is handed has TCP_NODELAY set already,
// as an old server's sock.Listen socket has it (the default) at a graceful
// restart: Listen's connections have it off with the option. So does
// keep-alive's default, off, on a socket that has SO_KEEPALIVE on. (Both
// were left on: setTCPOptions only turns options on.)
func TestRev13FileListenerNoDelayOffOnAnInheritedSocket(t *testing.T) {
	l := newLoop(t)
	_, f := tcpListenerFile(t)
	rc, _ := f.SyscallConn()
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	})
	open := func(h sock.Handler) *sock.Listener {
		ln, err := sock.FileListener(l, f, h, sock.WithNoDelay(false))
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	if got := acceptedOption(t, l, open, "tcp", unix.IPPROTO_TCP, unix.TCP_NODELAY); got != 0 {
		t.Errorf("WithNoDelay(false): the accepted connection has TCP_NODELAY = %d", got)
	}
	if got := acceptedOption(t, l, open, "tcp", unix.SOL_SOCKET, unix.SO_KEEPALIVE); got != 0 {
		t.Errorf("without WithKeepAlive: the accepted connection has SO_KEEPALIVE = %d; want it off, as Listen's", got)
	}
}

// FileListener and FilePacketConn called from another goroutine while the
// loop waits for work are refused as Listen is, before they touch the
// loop's state or the socket: its buffer size stays what it was.
func TestRev13FileFromAnotherGoroutineIsRefused(t *testing.T) {
	_, l := waitingGroupLoop(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	nu, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nu.Close()
	tf, uf := fileOf(t, nl.(*net.TCPListener)), fileOf(t, nu.(*net.UDPConn))
	rcvbuf := func(f *os.File) int {
		rc, err := f.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		v := -1
		rc.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
		return v
	}
	tbuf, ubuf := rcvbuf(tf), rcvbuf(uf)
	opt := sock.WithRecvBufferSize(4 << 10)
	if ln, err := sock.FileListener(l, tf, &echoServer{}, opt); !errors.Is(err, loop.ErrWrongGoroutine) {
		if err == nil {
			l.Post(func() { ln.Close() })
		}
		t.Errorf("FileListener from another goroutine: %v; want loop.ErrWrongGoroutine", err)
	}
	if pc, err := sock.FilePacketConn(l, uf, packetFunc(func(*sock.PacketConn, []byte, netip.AddrPort) {}), opt); !errors.Is(err, loop.ErrWrongGoroutine) {
		if err == nil {
			l.Post(func() { pc.Close() })
		}
		t.Errorf("FilePacketConn from another goroutine: %v; want loop.ErrWrongGoroutine", err)
	}
	if got := rcvbuf(tf); got != tbuf {
		t.Errorf("the refused FileListener changed the socket's SO_RCVBUF from %d to %d", tbuf, got)
	}
	if got := rcvbuf(uf); got != ubuf {
		t.Errorf("the refused FilePacketConn changed the socket's SO_RCVBUF from %d to %d", ubuf, got)
	}
}
