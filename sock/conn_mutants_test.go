package sock_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// These tests pin behaviour of Conn that a mutation round on conn.go found
// unchecked: each fails on a one-line change that the rest of the suite let
// through.

// Close's and the setters' docs: once Close was called, Write and Writev
// return ErrClosed and queue nothing, and PauseReading, SetIdleTimeout and
// SetReadTimeout return ErrClosed, also while the close is still flushing
// what was queued before it (the connection is not closed yet).
func TestCallsAfterCloseAreRefusedWhileItFlushes(t *testing.T) {
	h := &boundaryHandler{}
	l, _, _ := deadlineSetup(t, h, nil, sock.WithSendBufferSize(64<<10))
	h.c.Write(pattern(4 << 20)) // the peer never reads
	if h.c.Buffered() == 0 {
		t.Skip("the kernel took 4 MiB at once")
	}
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}
	spin(t, l)
	if h.closed {
		t.Skip("the close ended though the peer reads nothing")
	}
	queued := h.c.Buffered()
	if n, err := h.c.Write([]byte("late")); n != 0 || !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Write during Close's flush = %d, %v; want 0, ErrClosed", n, err)
	}
	if n, err := h.c.Writev([]byte("la"), []byte("te")); n != 0 || !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Writev during Close's flush = %d, %v; want 0, ErrClosed", n, err)
	}
	if got := h.c.Buffered(); got != queued {
		t.Errorf("Buffered went from %d to %d after refused writes", queued, got)
	}
	if err := h.c.PauseReading(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("PauseReading during Close's flush = %v; want ErrClosed", err)
	}
	if err := h.c.SetIdleTimeout(time.Second); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("SetIdleTimeout during Close's flush = %v; want ErrClosed", err)
	}
	if err := h.c.SetReadTimeout(time.Second); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("SetReadTimeout during Close's flush = %v; want ErrClosed", err)
	}
}

// Write's doc: if the connection fails while sending, Write returns that
// error and the connection closes: later writes return ErrClosed, and
// OnClose follows with the same error.
func TestAWriteThatFailsClosesTheConnection(t *testing.T) {
	l := newLoop(t)
	h := &boundaryHandler{}
	_, peer := listenAndDial(t, l, h)
	runUntil(t, l, "the accept", func() bool { return h.opened })
	peer.(interface{ SetLinger(int) error }).SetLinger(0)
	peer.Close() // a reset
	// The loop does not run meanwhile, so only the writes can see the reset.
	// On loopback it has arrived by now; if not, the first write provokes
	// another one.
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = h.c.Write([]byte("x"))
	}
	if err == nil || errors.Is(err, sock.ErrClosed) {
		t.Fatalf("Write after the peer's reset = %v; want the send's error", err)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		t.Fatalf("Write's error %v is no errno", err)
	}
	if _, err2 := h.c.Write([]byte("y")); !errors.Is(err2, sock.ErrClosed) {
		t.Errorf("Write after a failed Write = %v; want ErrClosed", err2)
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if !errors.Is(h.closeErr, errno) {
		t.Errorf("OnClose(%v); want the failed Write's error, %v", h.closeErr, err)
	}
}

// Writev's doc (as Write's): after CloseWrite it returns ErrClosed and
// sends nothing.
func TestWritevAfterCloseWriteIsErrClosed(t *testing.T) {
	l := newLoop(t)
	h := &boundaryHandler{}
	listenAndDial(t, l, h)
	runUntil(t, l, "the accept", func() bool { return h.opened })
	t.Cleanup(func() {
		h.c.Abort()
		runUntil(t, l, "OnClose", func() bool { return h.closed })
	})
	if err := h.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := h.c.Writev([]byte("after"), []byte("CloseWrite")); n != 0 || !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Writev after CloseWrite = %d, %v; want 0, ErrClosed", n, err)
	}
	if h.closed {
		t.Errorf("OnClose(%v) after a refused Writev", h.closeErr)
	}
}

// SetWriteTimeout's doc: the write timeout runs while bytes are queued and
// make no progress. A Writev that queues onto an empty queue starts it, as
// Write does. (On a Unix socket whose peer does not read, nothing queued
// moves again, so no flush progress starts it instead.)
func TestAWritevThatQueuesStartsTheWriteTimeout(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &boundaryHandler{}
	dialUnixSmall(t, l, h) // the peer never reads
	if err := h.c.SetWriteTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n, err := h.c.Writev(pattern(256<<10), []byte("tail")); n != 256<<10+4 || err != nil {
		t.Fatalf("Writev = %d, %v", n, err)
	}
	if h.c.Buffered() == 0 {
		t.Skip("the kernel took 256 KiB at once")
	}
	advanceBy(t, l, vc, 6*time.Second)
	runIteration(t, l)
	if !h.closed {
		t.Fatalf("still open 6 s into a 5 s write timeout, with %d bytes queued", h.c.Buffered())
	}
	var ue *sock.UnsentError
	if !errors.Is(h.closeErr, sock.ErrTimeout) || !errors.As(h.closeErr, &ue) {
		t.Fatalf("OnClose(%v); want an *UnsentError wrapping the write timeout", h.closeErr)
	}
}

// CloseWrite is done once: a second call returns ErrClosed (as Write after
// it does), and the connection goes on reading until the peer finishes,
// then closes with OnClose(nil).
func TestASecondCloseWriteIsErrClosed(t *testing.T) {
	l := newLoop(t)
	h := &boundaryHandler{}
	_, peer := listenAndDial(t, l, h)
	runUntil(t, l, "the accept", func() bool { return h.opened })
	if err := h.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := h.c.CloseWrite(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("second CloseWrite = %v; want ErrClosed", err)
	}
	peer.SetDeadline(time.Now().Add(waitLimit))
	if b, err := io.ReadAll(peer); len(b) != 0 || err != nil {
		t.Fatalf("peer read %q, %v; want end of stream at once", b, err)
	}
	peer.Write([]byte("still read"))
	peer.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if string(h.got) != "still read" || h.closeErr != nil {
		t.Errorf("got %q, OnClose(%v); want %q, nil", h.got, h.closeErr, "still read")
	}
}

// A CloseWrite while a Dial looks its host name up is kept for later: the
// connection opens, sends its end of stream once connected, and reads on.
func TestCloseWriteDuringADialsLookupWaitsForTheConnect(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	_, port, _ := net.SplitHostPort(pl.Addr().String())
	res := newFakeResolver()
	cli := &opens{}
	c, err := sock.Dial(l, "tcp", "svc.test:"+port, cli, sock.WithResolver(res))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite during the lookup = %v", err)
	}
	res.next(t).reply <- answer{addrs: addrs("127.0.0.1")}
	accepted := make(chan net.Conn, 1)
	go func() {
		s, err := pl.Accept()
		if err == nil {
			s.SetDeadline(time.Now().Add(waitLimit))
			b, err := io.ReadAll(s) // our end of stream
			if len(b) == 0 && err == nil {
				s.Write([]byte("answer"))
			}
			s.Close()
		}
		accepted <- s
		l.Post(func() {})
	}()
	runUntil(t, l, "OnClose", func() bool { return cli.closed })
	if cli.openCount != 1 || string(cli.got) != "answer" || cli.closeErr != nil {
		t.Fatalf("OnOpen %d times, got %q, OnClose(%v); want 1, %q, nil", cli.openCount, cli.got, cli.closeErr, "answer")
	}
	recv(t, accepted, "the accept")
}

// pausedCloser pauses reading, queues a reply that the peer's buffers
// cannot hold, and closes, all in OnOpen.
type pausedCloser struct {
	boundaryHandler
	reply []byte
}

func (h *pausedCloser) OnOpen(c *sock.Conn) {
	h.boundaryHandler.OnOpen(c)
	c.PauseReading()
	c.Write(h.reply)
	c.Close()
}

// smallBuffers gives a socket 4 KiB send and receive buffers: a
// net.Dialer's Control.
func smallBuffers(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		if serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// Close's and PauseReading's docs: a Close reads and discards what arrives
// even if the handler paused reading, also while its queue is still being
// sent, so that a peer blocked on sending to it goes on to read what it
// flushes, to the end of stream.
func TestCloseWithReadingPausedReadsSoThePeerCanDrain(t *testing.T) {
	l := newLoop(t)
	h := &pausedCloser{reply: pattern(256 << 10)}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", h, sock.WithSendBufferSize(4096), sock.WithRecvBufferSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	t.Cleanup(func() {
		if h.c != nil {
			h.c.Abort()
			runUntil(t, l, "OnClose", func() bool { return h.closed })
		}
	})
	peer, err := (&net.Dialer{Control: smallBuffers}).Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	got := make(chan []byte, 1)
	go func() {
		defer l.Post(func() {})
		peer.SetDeadline(time.Now().Add(waitLimit))
		if _, err := peer.Write(make([]byte, 1<<20)); err != nil {
			got <- []byte("write: " + err.Error())
			return
		}
		b, _ := io.ReadAll(peer)
		peer.Close()
		got <- b
	}()
	var b []byte
	runUntil(t, l, "the peer to read to the end", received(got, &b))
	if !bytes.Equal(b, h.reply) {
		t.Fatalf("the peer read %d bytes (%.40q); want the %d queued before Close", len(b), b, len(h.reply))
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil || len(h.got) != 0 {
		t.Errorf("OnData got %d bytes, OnClose(%v); want none, nil", len(h.got), h.closeErr)
	}
}

// Abort's and LocalAddr's docs: on a connection already closed Abort
// returns ErrClosed (also while its OnClose is still to come), and
// LocalAddr returns nil, even once its descriptor's number is in use again.
func TestAbortAndLocalAddrOnAClosedConnection(t *testing.T) {
	l := newLoop(t)
	h := &boundaryHandler{}
	listenAndDial(t, l, h)
	runUntil(t, l, "the accept", func() bool { return h.opened })
	if h.c.LocalAddr() == nil {
		t.Fatal("LocalAddr of an open connection is nil")
	}
	if err := h.c.Abort(); err != nil {
		t.Fatalf("Abort = %v", err)
	}
	if err := h.c.Abort(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("second Abort, OnClose still to come = %v; want ErrClosed", err)
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if err := h.c.Abort(); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Abort after OnClose = %v; want ErrClosed", err)
	}
	// The lowest free numbers go to new descriptors: the closed one's among them.
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for range 32 {
		fd, err := rawSocket()
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	if a := h.c.LocalAddr(); a != nil {
		t.Errorf("LocalAddr of a closed connection = %v; want nil", a)
	}
}
