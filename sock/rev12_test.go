package sock_test

import (
	"bufio"
	"errors"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// A shutdown that fails on an open connection (CloseWrite, and Close's,
// after a reset that reading, paused, had not seen) names the connection
// as read and write errors do, with the reset the socket holds.
func TestRev12ShutdownErrorNamesTheConnection(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the reset's SO_ERROR after a failed shutdown is Linux's")
	}
	for _, how := range []string{"CloseWrite", "Close"} {
		t.Run(how, func(t *testing.T) {
			l := newLoop(t)
			h := &addrRecorder{pause: true}
			_, peer := listenAndDial(t, l, h)
			runUntil(t, l, "OnOpen", func() bool { return h.conn != nil })
			peer.(*net.TCPConn).SetLinger(0)
			peer.Close()
			time.Sleep(50 * time.Millisecond) // the reset crosses loopback
			if how == "Close" {
				h.conn.Close()
			} else {
				h.conn.CloseWrite()
			}
			runUntil(t, l, "OnClose", func() bool { return h.closed })
			namedBy(t, h.closeErr, "shutdown", "tcp", h.local, h.remote, syscall.ECONNRESET)
		})
	}
}

// A closing Unix connection drains its input before it closes; a peer that
// closed with what this one sent unread makes that read fail with
// ECONNRESET, which reaches OnClose naming the connection.
func TestRev12UnixDrainErrorNamesTheConnection(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ECONNRESET on a Unix socket whose peer left input unread is Linux's")
	}
	l := newLoop(t)
	h := &addrRecorder{pause: true}
	path, peer := openUnix(t, l, h)
	if _, err := h.conn.Write([]byte("never read")); err != nil {
		t.Fatal(err)
	}
	peer.Close() // with our bytes unread in its queue
	h.conn.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	namedBy(t, h.closeErr, "read", "unix", path, h.remote, syscall.ECONNRESET)
}

// timedClient is a dialed Messages handler that fills its writes until
// they pause, and records its messages and its end.
type timedClient struct {
	sock.BaseHandler
	conn     *sock.Conn
	msgs     []string
	closed   bool
	closeErr error
}

func (c *timedClient) OnOpen(conn *sock.Conn) {
	c.conn = conn
	conn.Write(make([]byte, 16<<20)) // far more than the sockets hold
}
func (c *timedClient) OnMessage(_ *sock.Conn, m []byte) { c.msgs = append(c.msgs, string(m)) }
func (c *timedClient) OnClose(_ *sock.Conn, err error)  { c.closed, c.closeErr = true, err }

// A dialed connection reads on while its writes wait, so its message
// timeout runs then too: a server that starts an answer and stalls while
// the client's requests wait is caught, as it would be with the client's
// writes flowing.
func TestRev12DialedMessageTimeoutRunsWhileWritesWait(t *testing.T) {
	l, vc := newVirtualLoop(t)
	pl := peerListener(t)
	h := &timedClient{}
	if _, err := sock.Dial(l, "tcp", pl.Addr().String(), sock.Messages(bufio.ScanLines, 1<<20, h),
		sock.WithMessageTimeout(time.Second), sock.WithSendBufferSize(64<<10)); err != nil {
		t.Fatal(err)
	}
	peer, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "OnOpen", func() bool { return h.conn != nil })
	if !h.conn.WritePaused() {
		t.Fatalf("writes not paused with %d bytes buffered (the premise)", h.conn.Buffered())
	}
	if _, err := peer.Write([]byte("first\nunfinish")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the first message", func() bool { return len(h.msgs) == 1 || h.closed })
	if !h.conn.WritePaused() {
		t.Fatal("writes resumed: the peer reads nothing")
	}
	vc.Advance(2 * time.Second)
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrMessageTimeout) {
		t.Errorf("OnClose(%v); want ErrMessageTimeout: the message kept while writes waited timed out", h.closeErr)
	}
}
