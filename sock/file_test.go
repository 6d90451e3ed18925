package sock_test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// fileOf returns a duplicate of a net listener's or connection's socket as
// a file, closed at the end of the test.
func fileOf(t *testing.T, x interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := x.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// tcpListenerFile returns a loopback TCP listener of package net's and a
// file of its socket, both closed at the end of the test.
func tcpListenerFile(t *testing.T) (net.Listener, *os.File) {
	t.Helper()
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nl.Close() })
	return nl, fileOf(t, nl.(*net.TCPListener))
}

// A listening socket package net made, TCP or Unix, handed to FileListener
// by its file: the listener accepts and echoes on l after the net listener
// and the file are closed, reports the address, and its Close leaves a Unix
// socket's file where it was.
func TestFileListenerAcceptsOnASocketOpenedElsewhere(t *testing.T) {
	for _, network := range []string{"tcp", "tcp6", "unix"} {
		t.Run(network, func(t *testing.T) {
			l := newLoop(t)
			addr := "127.0.0.1:0"
			switch network {
			case "tcp6":
				addr = "[::1]:0"
			case "unix":
				addr = filepath.Join(t.TempDir(), "s")
			}
			nl, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("cannot listen on %s %s here: %v", network, addr, err)
			}
			if ul, ok := nl.(*net.UnixListener); ok {
				ul.SetUnlinkOnClose(false) // the socket file stays for FileListener's listener
			}
			f := fileOf(t, nl.(interface{ File() (*os.File, error) }))
			srv := &echoServer{}
			ln, err := sock.FileListener(l, f, srv, sock.WithIdleTimeout(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if ln.Addr().Network() != nl.Addr().Network() || ln.Addr().String() != nl.Addr().String() {
				t.Errorf("Addr() = %s %s; want %s %s", ln.Addr().Network(), ln.Addr(), nl.Addr().Network(), nl.Addr())
			}
			nl.Close()
			f.Close() // the listener has its own descriptor
			dialNetwork := network
			peer, err := net.Dial(dialNetwork, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			peer.Write([]byte("through a file"))
			got := make(chan []byte, 1)
			go func() {
				b := make([]byte, len("through a file"))
				peer.SetReadDeadline(time.Now().Add(waitLimit))
				n, _ := io.ReadFull(peer, b)
				got <- b[:n]
				l.Post(func() {})
			}()
			var b []byte
			runUntil(t, l, "the echo", func() bool {
				select {
				case b = <-got:
					return true
				default:
					return false
				}
			})
			if string(b) != "through a file" {
				t.Errorf("echoed %q", b)
			}
			if n := ln.Conns(); n != 1 {
				t.Errorf("Conns() = %d; want 1", n)
			}
			peer.Close()
			runUntil(t, l, "the connection to close", func() bool { return ln.Conns() == 0 })
			if err := ln.Close(); err != nil {
				t.Fatal(err)
			}
			if network == "unix" {
				if _, err := os.Stat(addr); err != nil {
					t.Errorf("the socket file is gone after Close: %v", err)
				}
			}
		})
	}
}

// FileListener's descriptor is its own: closing the listener leaves the
// file's descriptor open and listening, and the file's is the caller's.
func TestFileListenerWorksOnADuplicate(t *testing.T) {
	l := newLoop(t)
	_, f := tcpListenerFile(t)
	ln, err := sock.FileListener(l, f, &echoServer{})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	on, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil || on != 1 {
		t.Errorf("the file's socket after the listener's Close: SO_ACCEPTCONN = %d, %v; want it listening", on, err)
	}
}

// What FileListener refuses, each with an error that says why.
func TestFileListenerRefuses(t *testing.T) {
	l := newLoop(t)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	conn, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	regular, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	unbound, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(unbound)
	unboundFile := os.NewFile(uintptr(unbound), "unbound")
	defer unboundFile.Close()
	listening := fileOf(t, tcp.(*net.TCPListener))
	for _, tc := range []struct {
		name string
		f    *os.File
		h    sock.Handler
		opts []sock.Option
		want string
	}{
		{"nil file", nil, &echoServer{}, nil, "nil *os.File"},
		{"nil handler", listening, nil, nil, "nil Handler"},
		{"UDP socket", fileOf(t, udp.(*net.UDPConn)), &echoServer{}, nil, "not a stream socket"},
		{"connection", fileOf(t, conn.(*net.TCPConn)), &echoServer{}, nil, "not listening"},
		{"socket never listened on", unboundFile, &echoServer{}, nil, "not listening"},
		{"regular file", regular, &echoServer{}, nil, "not a socket"},
		{"WithBacklog", listening, &echoServer{}, []sock.Option{sock.WithBacklog(10)}, "WithBacklog applies to Listen and Group.Listen only"},
		{"WithReusePort", listening, &echoServer{}, []sock.Option{sock.WithReusePort()}, "WithReusePort applies to"},
		{"WithConnectTimeout", listening, &echoServer{}, []sock.Option{sock.WithConnectTimeout(time.Second)}, "WithConnectTimeout applies to Dial only"},
		{"WithMessageTimeout without Messages", listening, &echoServer{}, []sock.Option{sock.WithMessageTimeout(time.Second)}, "WithMessageTimeout applies to a handler made by Messages"},
	} {
		ln, err := sock.FileListener(l, tc.f, tc.h, tc.opts...)
		if err == nil {
			ln.Close()
			t.Errorf("%s: FileListener succeeded; want an error saying %q", tc.name, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: FileListener: %v; want it to say %q", tc.name, err, tc.want)
		}
	}
	if _, err := sock.FileListener(nil, listening, &echoServer{}); err == nil || !strings.Contains(err.Error(), "nil *loop.Loop") {
		t.Errorf("FileListener(nil loop): %v; want an error saying so", err)
	}
	// The options a listener takes apply.
	ln, err := sock.FileListener(l, listening, &echoServer{}, sock.WithMaxConns(5), sock.WithAcceptErrorHandler(func(error) {}), sock.WithHighWater(1<<20))
	if err != nil {
		t.Fatalf("FileListener with a listener's options: %v", err)
	}
	ln.Close()
}

// A UDP socket package net made, handed to FilePacketConn by its file: an
// unconnected one echoes what it reads with WriteTo; a connected one keeps
// its peer, and its Write reaches it.
func TestFilePacketConnReadsASocketOpenedElsewhere(t *testing.T) {
	l := newLoop(t)
	nc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sock.FilePacketConn(l, fileOf(t, nc.(*net.UDPConn)), packetFunc(func(pc *sock.PacketConn, p []byte, from netip.AddrPort) {
		pc.WriteTo(p, from)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.LocalAddr().String() != nc.LocalAddr().String() || srv.RemoteAddr() != nil {
		t.Errorf("LocalAddr() = %v, RemoteAddr() = %v; want %v and nil", srv.LocalAddr(), srv.RemoteAddr(), nc.LocalAddr())
	}
	nc.Close()

	// The client: a connected socket of package net's, to the server.
	dialed, err := net.Dial("udp", srv.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	cli, err := sock.FilePacketConn(l, fileOf(t, dialed.(*net.UDPConn)), packetFunc(func(_ *sock.PacketConn, p []byte, _ netip.AddrPort) {
		got = append(got, p...)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	dialed.Close()
	if cli.RemoteAddr() == nil || cli.RemoteAddr().String() != srv.LocalAddr().String() {
		t.Errorf("the connected socket's RemoteAddr() = %v; want %v", cli.RemoteAddr(), srv.LocalAddr())
	}
	if _, err := cli.Write([]byte("datagram")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the echo", func() bool { return len(got) > 0 })
	if string(got) != "datagram" {
		t.Errorf("echoed %q", got)
	}
}

// What FilePacketConn refuses, each with an error that says why.
func TestFilePacketConnRefuses(t *testing.T) {
	l := newLoop(t)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	unixgram, err := net.ListenPacket("unixgram", filepath.Join(t.TempDir(), "g"))
	if err != nil {
		t.Fatal(err)
	}
	defer unixgram.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	regular, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	h := packetFunc(func(*sock.PacketConn, []byte, netip.AddrPort) {})
	udpFile := fileOf(t, udp.(*net.UDPConn))
	for _, tc := range []struct {
		name string
		f    *os.File
		h    sock.PacketHandler
		opts []sock.Option
		want string
	}{
		{"nil file", nil, h, nil, "nil *os.File"},
		{"nil handler", udpFile, nil, nil, "nil PacketHandler"},
		{"TCP listener", fileOf(t, tcp.(*net.TCPListener)), h, nil, "not a datagram socket"},
		{"Unix datagram socket", fileOf(t, unixgram.(*net.UnixConn)), h, nil, "neither IPv4 nor IPv6"},
		{"regular file", regular, h, nil, "not a socket"},
		{"WithReusePort", udpFile, h, []sock.Option{sock.WithReusePort()}, "WithReusePort applies to"},
		{"WithHighWater", udpFile, h, []sock.Option{sock.WithHighWater(1)}, "WithHighWater applies to"},
	} {
		pc, err := sock.FilePacketConn(l, tc.f, tc.h, tc.opts...)
		if err == nil {
			pc.Close()
			t.Errorf("%s: FilePacketConn succeeded; want an error saying %q", tc.name, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: FilePacketConn: %v; want it to say %q", tc.name, err, tc.want)
		}
	}
	pc, err := sock.FilePacketConn(l, udpFile, h, sock.WithReadBufferSize(2048), sock.WithRecvBufferSize(1<<16))
	if err != nil {
		t.Fatalf("FilePacketConn with a packet socket's options: %v", err)
	}
	pc.Close()
}

// plainEcho writes back what it reads, and keeps no state, so that the
// loops of a group can share it.
type plainEcho struct{ sock.BaseHandler }

func (plainEcho) OnData(c *sock.Conn, p []byte) { c.Write(p) }

// On a Group, every loop takes the same file (Group.Each): each listens on
// a duplicate of the one socket, the connections are served on whichever
// loop accepts them, and Shutdown drains them as it drains the group's own.
func TestFileListenerOnEveryLoopOfAGroup(t *testing.T) {
	newLoop(t) // skips on a variant without a poller; checks for leaks
	nl, f := tcpListenerFile(t)
	g, err := sock.NewGroup(2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	lns := make([]*sock.Listener, len(g.Loops()))
	err = g.Each(func(i int, l *loop.Loop) error {
		ln, err := sock.FileListener(l, f, plainEcho{})
		lns[i] = ln
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	nl.Close()
	f.Close()
	const clients = 20
	peers := echoClients(t, "tcp", lns[0].Addr().String(), clients)
	// Every connection open counts on one loop or the other.
	conns := make([]int, len(lns)) // conns[i] belongs to loop i
	g.Each(func(i int, l *loop.Loop) error {
		conns[i] = lns[i].Conns()
		return nil
	})
	if total := conns[0] + conns[1]; total != clients {
		t.Errorf("the loops' listeners hold %d connections; want %d", total, clients)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for i, p := range peers {
		p.SetReadDeadline(time.Now().Add(waitLimit))
		if n, err := p.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("client %d after Shutdown: read %d, %v; want the end of stream", i, n, err)
		}
	}
}
