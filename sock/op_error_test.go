package sock_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// addrRecorder records a connection's addresses at OnOpen and its OnClose
// error, and can keep reading paused, so that the peer's end is met by a
// Write rather than a read.
type addrRecorder struct {
	sock.BaseHandler
	pause         bool
	conn          *sock.Conn
	local, remote string
	closed        bool
	closeErr      error
	writeErr      error
}

func (r *addrRecorder) OnOpen(c *sock.Conn) {
	r.conn, r.local, r.remote = c, c.LocalAddr().String(), c.RemoteAddr().String()
	if r.pause {
		c.PauseReading()
	}
}
func (r *addrRecorder) OnClose(_ *sock.Conn, err error) { r.closed, r.closeErr = true, err }

// namedBy checks that err is the *net.OpError package net would give for op
// on the connection: the network, both addresses, the system call, and the
// errno inside.
func namedBy(t *testing.T, err error, op, network, local, remote string, errnos ...syscall.Errno) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T); want a *net.OpError in it", err, err)
	}
	if oe.Op != op || oe.Net != network {
		t.Errorf("OpError Op %q, Net %q; want %q, %q", oe.Op, oe.Net, op, network)
	}
	if oe.Source == nil || oe.Source.String() != local {
		t.Errorf("OpError Source %v; want the connection's local address %s", oe.Source, local)
	}
	if oe.Addr == nil || oe.Addr.String() != remote {
		t.Errorf("OpError Addr %v; want the connection's remote address %s", oe.Addr, remote)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != op {
		t.Errorf("error %v; want an *os.SyscallError for %s inside", err, op)
	}
	found := false
	for _, e := range errnos {
		found = found || errors.Is(err, e)
	}
	if !found {
		t.Errorf("error %v; want one of %v inside", err, errnos)
	}
	if s := err.Error(); !strings.Contains(s, local+"->"+remote) {
		t.Errorf("error %q does not name the connection %s->%s", s, local, remote)
	}
}

// A reset read by an accepted connection reaches OnClose naming the
// connection, as package net's read would: a server that logs the error
// alone says which client it was.
func TestAReadErrorNamesTheConnection(t *testing.T) {
	l := newLoop(t)
	h := &addrRecorder{}
	_, peer := listenAndDial(t, l, h)
	runUntil(t, l, "OnOpen", func() bool { return h.conn != nil })
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.remote != peer.LocalAddr().String() {
		t.Fatalf("RemoteAddr %s; the peer is %s", h.remote, peer.LocalAddr())
	}
	namedBy(t, h.closeErr, "read", "tcp", h.local, h.remote, syscall.ECONNRESET)
	if want := "read tcp " + h.local + "->" + h.remote + ": read: connection reset by peer"; h.closeErr.Error() != want {
		t.Errorf("OnClose(%q); want %q, as package net says it", h.closeErr, want)
	}
}

// A Write that meets the peer's reset returns the named error, and OnClose
// gets the same one, on a dialed connection with the network Dial was
// given.
func TestAWriteErrorNamesTheDialedConnection(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	h := &addrRecorder{pause: true}
	if _, err := sock.Dial(l, "tcp4", pl.Addr().String(), h); err != nil {
		t.Fatal(err)
	}
	peer, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnOpen", func() bool { return h.conn != nil })
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close()
	runUntil(t, l, "a Write that fails", func() bool {
		_, h.writeErr = h.conn.Write([]byte("after the reset"))
		return h.writeErr != nil
	})
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.remote != pl.Addr().String() {
		t.Fatalf("RemoteAddr %s; dialed %s", h.remote, pl.Addr())
	}
	namedBy(t, h.writeErr, "write", "tcp4", h.local, h.remote, syscall.ECONNRESET, syscall.EPIPE)
	if h.closeErr != h.writeErr {
		t.Errorf("OnClose(%v); want Write's error %v", h.closeErr, h.writeErr)
	}
}

// A Unix connection's error is named "unix", with the listener's path as
// the local address; the peer, as package net's, is unnamed.
func TestAUnixWriteErrorNamesTheConnection(t *testing.T) {
	l := newLoop(t)
	h := &addrRecorder{pause: true}
	path, peer := openUnix(t, l, h)
	peer.Close()
	runUntil(t, l, "a Write that fails", func() bool {
		_, h.writeErr = h.conn.Write([]byte("after the close"))
		return h.writeErr != nil
	})
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.local != path {
		t.Fatalf("LocalAddr %s; want %s", h.local, path)
	}
	namedBy(t, h.writeErr, "write", "unix", h.local, h.remote, syscall.EPIPE, syscall.ECONNRESET)
}

// openUnix listens on a Unix socket in a temporary directory with h, which
// pauses its reading, dials it with package net, and runs l until h has the
// connection; it returns the path and the peer.
func openUnix(t *testing.T, l *loop.Loop, h *addrRecorder) (string, net.Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := sock.Listen(l, "unix", path, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	peer, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	runUntil(t, l, "OnOpen", func() bool { return h.conn != nil })
	return path, peer
}
