package sock_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// respondThenClose writes a response of n bytes to the first data it gets,
// then closes, and says so on closed.
type respondThenClose struct {
	recorder
	n        int
	closeNow chan struct{} // closed once Close was called
}

func (h *respondThenClose) OnData(c *sock.Conn, p []byte) {
	h.recorder.OnData(c, p)
	if h.closeNow == nil {
		return
	}
	c.Write(make([]byte, h.n))
	c.Close()
	close(h.closeNow)
	h.closeNow = nil
}

// A peer that sends again after the server's Close (a pipelined request)
// must still receive the whole response and a clean end of stream: a
// descriptor closed while input arrives makes the kernel reset the
// connection, and the reset discards what the peer had not read yet.
func TestCloseDeliversEverythingToAPeerStillSending(t *testing.T) {
	for _, size := range []int{200 << 10, 4 << 20} { // taken by the kernel at once; queued
		t.Run(fmt.Sprintf("%dKiB", size>>10), func(t *testing.T) {
			l := newLoop(t)
			h := &respondThenClose{n: size, closeNow: make(chan struct{})}
			closeNow := h.closeNow
			_, peer := listenAndDial(t, l, h)
			type result struct {
				n   int64
				err error
			}
			done := make(chan result, 1)
			go func() {
				peer.Write([]byte("first request"))
				<-closeNow
				peer.Write([]byte("second request, never read"))
				time.Sleep(20 * time.Millisecond) // let it arrive before the server is done
				peer.SetReadDeadline(time.Now().Add(waitLimit))
				n, err := io.Copy(io.Discard, peer)
				peer.Close()
				done <- result{n, err}
				l.Post(func() {})
			}()
			var r result
			runUntil(t, l, "the peer to read to the end", func() bool {
				select {
				case r = <-done:
					return true
				default:
					return false
				}
			})
			if r.err != nil || r.n != int64(size) {
				t.Fatalf("peer read %d of %d bytes, then %v", r.n, size, r.err)
			}
			runUntil(t, l, "OnClose", func() bool { return h.closed })
			if h.closeErr != nil {
				t.Fatalf("OnClose(%v), want nil", h.closeErr)
			}
		})
	}
}

// A peer that neither reads nor closes its end does not hold a closing
// connection open once its kernel has acknowledged everything: what the
// peer has not read is safe there. It then reads the response and end of
// stream.
func TestCloseEndsOnceThePeerAcknowledgedEverything(t *testing.T) {
	l := newLoop(t)
	h := &respondThenClose{n: 1000, closeNow: make(chan struct{})}
	_, peer := listenAndDial(t, l, h, sock.WithLingerTimeout(time.Hour))
	if _, err := peer.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil {
		t.Fatalf("OnClose(%v), want nil", h.closeErr)
	}
	buf := make([]byte, 2000)
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	n, err := io.ReadFull(peer, buf[:1000])
	if err != nil || n != 1000 {
		t.Fatalf("peer read %d of 1000 bytes: %v", n, err)
	}
	if _, err := peer.Read(buf); err != io.EOF {
		t.Fatalf("after the response the peer read %v, want EOF", err)
	}
}

// A peer that stops reading with a small receive window leaves most of a
// response unacknowledged in the server's kernel: Close gives up after the
// linger timeout and says how much the peer never acknowledged.
func TestCloseGivesUpAfterTheLingerTimeout(t *testing.T) {
	l := newLoop(t)
	const size = 512 << 10
	h := &respondThenClose{n: size, closeNow: make(chan struct{})}
	// The kernel takes the whole response; the peer acknowledges little.
	peer := listenAndDialSmall(t, l, h, sock.WithLingerTimeout(100*time.Millisecond))
	if _, err := peer.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Fatalf("closed after %v, before the linger timeout", waited)
	}
	var ue *sock.UnsentError
	if !errors.Is(h.closeErr, sock.ErrLinger) || !errors.As(h.closeErr, &ue) || ue.Unsent <= 0 || ue.Unsent > size {
		t.Fatalf("OnClose(%v), want an *UnsentError wrapping ErrLinger", h.closeErr)
	}
}

// After Close the handler hears nothing more of what arrives, even while
// the queue is still being sent.
func TestNoDataAfterClose(t *testing.T) {
	l := newLoop(t)
	h := &respondThenClose{n: 4 << 20, closeNow: make(chan struct{})}
	closeNow := h.closeNow
	_, peer := listenAndDial(t, l, h)
	go func() {
		peer.Write([]byte("x"))
		<-closeNow
		peer.Write([]byte("more"))
		io.Copy(io.Discard, peer)
		peer.Close()
		l.Post(func() {})
	}()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if string(h.got) != "x" {
		t.Fatalf("OnData got %q, want only what came before Close", h.got)
	}
	if h.closeErr != nil {
		t.Fatalf("OnClose(%v), want nil", h.closeErr)
	}
}

// A Close made while the connect is still under way reads once connected,
// so it sees the peer's end of stream: here the peer never reads (a 4 KiB
// receive buffer keeps most of the response unacknowledged) and only
// shuts down its sending side, and OnClose must come from that, not from a
// linger timeout an hour away.
func TestCloseWhileConnectingSeesThePeersEnd(t *testing.T) {
	l := newLoop(t)
	pl := smallRcvbufListener(t)
	h := &recorder{}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), h,
		sock.WithSendBufferSize(4<<20), sock.WithLingerTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, 512<<10)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	peer, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil {
		t.Fatalf("OnClose(%v), want nil: the peer ended its stream", h.closeErr)
	}
}

// A Unix socket's bytes are in the peer's queue as soon as they are sent:
// Close does not wait for the peer to read them, and reports nothing lost.
func TestUnixCloseDoesNotWaitForThePeerToRead(t *testing.T) {
	l := newLoop(t)
	h := &respondThenClose{n: 1000, closeNow: make(chan struct{})}
	peer := unixPeer(t, l, h, sock.WithLingerTimeout(time.Hour))
	if _, err := peer.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil {
		t.Fatalf("OnClose(%v), want nil", h.closeErr)
	}
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	got, err := io.ReadAll(peer)
	if err != nil || len(got) != 1000 {
		t.Fatalf("the peer read %d of 1000 bytes, then %v", len(got), err)
	}
}

// writeThenPause writes a reply as the connection opens and stops reading.
type writeThenPause struct {
	recorder
	c *sock.Conn
}

func (h *writeThenPause) OnOpen(c *sock.Conn) {
	h.recorder.OnOpen(c)
	h.c = c
	c.Write([]byte("a reply the peer never reads"))
	c.PauseReading()
}

// A Unix peer that closes with our bytes unread in its queue drops them, and
// the kernel says so with ECONNRESET on our side: Close must pass that to
// OnClose, not report a clean close (it did, for Unix sockets only).
func TestUnixCloseReportsBytesThePeerDropped(t *testing.T) {
	l := newLoop(t)
	h := &writeThenPause{}
	peer := unixPeer(t, l, h)
	runUntil(t, l, "OnOpen", func() bool { return h.c != nil })
	peer.Close() // the reply is in its queue, unread
	h.c.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if !errors.Is(h.closeErr, syscall.ECONNRESET) {
		t.Errorf("OnClose(%v), want ECONNRESET: the peer closed without reading the reply", h.closeErr)
	}
}

// closeInOnData closes its connection from inside OnData and records p
// before and after.
type closeInOnData struct {
	sock.BaseHandler
	before, after string
	done          bool
}

func (h *closeInOnData) OnData(c *sock.Conn, p []byte) {
	if h.done {
		return
	}
	h.before = string(p)
	c.Close()
	h.after = string(p)
	h.done = true
}

// OnData's p stays as it was for the whole call, also when the handler
// closes a Unix connection, which drains the socket's input at once (into
// the read buffer that p is part of, it used to).
func TestUnixCloseInsideOnDataLeavesPAlone(t *testing.T) {
	l := newLoop(t)
	h := &closeInOnData{}
	peer := unixPeer(t, l, h, sock.WithReadBufferSize(5))
	if _, err := peer.Write([]byte("helloWORLD")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnData", func() bool { return h.done })
	if h.before != "hello" || h.after != h.before {
		t.Errorf("p was %q when OnData began and %q after Close, want %q both times", h.before, h.after, "hello")
	}
}

// unixPeer listens on a Unix socket in a temporary directory, accepting on l
// with h and opts, and returns a client connected to it. Both close when the
// test ends.
func unixPeer(t *testing.T, l *loop.Loop, h sock.Handler, opts ...sock.Option) net.Conn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := sock.Listen(l, "unix", path, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	peer, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return peer
}
