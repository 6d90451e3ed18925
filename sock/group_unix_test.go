package sock_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// echoClients dials n connections to an echo server at addr, each of which
// sends "client i" and reads it back, and returns them, open until the end
// of the test.
func echoClients(t *testing.T, network, addr string, n int) []net.Conn {
	t.Helper()
	peers := make([]net.Conn, n)
	for i := range peers {
		c, err := net.Dial(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		peers[i] = c
		msg := []byte("client " + strconv.Itoa(i))
		c.Write(msg)
		got := make([]byte, len(msg))
		c.SetReadDeadline(time.Now().Add(waitLimit))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			t.Fatalf("client %d: echoed %q, %v", i, got, err)
		}
	}
	return peers
}

// A Group's Unix listener: every loop accepts from the one socket, every
// connection is served, Conns counts them on the loops that took them,
// Shutdown drains them, and Close removes the socket's file once.
func TestGroupListenUnix(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	path := filepath.Join(t.TempDir(), "s")
	newHandler := func(*loop.Loop) sock.Handler { return plainEcho{} }
	gln, err := g.Listen("unix", path, newHandler)
	if err != nil {
		t.Fatal(err)
	}
	if gln.Addr().Network() != "unix" || gln.Addr().String() != path {
		t.Errorf("Addr() = %s %s; want unix %s", gln.Addr().Network(), gln.Addr(), path)
	}
	const clients = 40
	peers := echoClients(t, "unix", path, clients)
	conns := gln.Conns()
	t.Logf("connections per loop: %v", conns)
	if len(conns) != 2 || conns[0]+conns[1] != clients {
		t.Errorf("Conns() = %v; want %d in all on 2 loops", conns, clients)
	}
	// A second Group.Listen on the path fails while this one holds it.
	if _, err := g.Listen("unix", path, newHandler); err == nil {
		t.Error("a second Group.Listen on the same Unix path succeeded")
	}
	if err := gln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file after Close: %v; want it removed", err)
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

// Group.FileListener: every loop accepts from the socket a file holds (as
// systemd's socket activation passes it), the GroupListener counts and
// closes them, the file's descriptor stays the caller's, and Shutdown
// drains what they accepted.
func TestGroupFileListener(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			g, _, _ := newGroup(t, 2)
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "s")
			}
			nl, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nl.Close()
			if ul, ok := nl.(*net.UnixListener); ok {
				ul.SetUnlinkOnClose(false)
			}
			f := fileOf(t, nl.(interface{ File() (*os.File, error) }))
			gln, err := g.FileListener(f, func(*loop.Loop) sock.Handler { return plainEcho{} }, sock.WithMaxConns(100))
			if err != nil {
				t.Fatal(err)
			}
			nl.Close()
			f.Close()
			if gln.Addr().String() != nl.Addr().String() || gln.Addr().Network() != network {
				t.Errorf("Addr() = %s %s; want %s %s", gln.Addr().Network(), gln.Addr(), network, nl.Addr())
			}
			const clients = 20
			echoClients(t, network, gln.Addr().String(), clients)
			conns := gln.Conns()
			t.Logf("connections per loop: %v", conns)
			if len(conns) != 2 || conns[0]+conns[1] != clients {
				t.Errorf("Conns() = %v; want %d in all on 2 loops", conns, clients)
			}
			if err := gln.Close(); err != nil {
				t.Fatal(err)
			}
			if c, err := net.Dial(network, gln.Addr().String()); err == nil {
				c.Close()
				t.Error("a dial after the GroupListener's Close connected")
			}
			if network == "unix" {
				if _, err := os.Stat(addr); err != nil {
					t.Errorf("the socket file after Close: %v; want it left in place", err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := g.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

// Group.FileListener refuses what FileListener refuses, before any loop
// listens, and a nil file or newHandler.
func TestGroupFileListenerRefuses(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	newHandler := func(*loop.Loop) sock.Handler { return plainEcho{} }
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	listening := fileOf(t, tcp.(*net.TCPListener))
	for _, tc := range []struct {
		name       string
		f          *os.File
		newHandler func(*loop.Loop) sock.Handler
		opts       []sock.Option
		want       string
	}{
		{"nil file", nil, newHandler, nil, "nil *os.File"},
		{"nil newHandler", listening, nil, nil, "nil newHandler"},
		{"UDP socket", fileOf(t, udp.(*net.UDPConn)), newHandler, nil, "not a stream socket"},
		{"WithBacklog", listening, newHandler, []sock.Option{sock.WithBacklog(5)}, "WithBacklog applies to"},
	} {
		gln, err := g.FileListener(tc.f, tc.newHandler, tc.opts...)
		if err == nil {
			gln.Close()
			t.Errorf("%s: Group.FileListener succeeded; want an error saying %q", tc.name, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want it to say %q", tc.name, err, tc.want)
		}
	}
}
