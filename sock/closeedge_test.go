package sock_test

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// writeCloseOnOpen writes n bytes from OnOpen (all taken by the kernel) and
// then Closes, with nothing queued in sock.
type writeCloseOnOpen struct {
	recorder
	n        int
	buffered int
}

func (h *writeCloseOnOpen) OnOpen(c *sock.Conn) {
	h.opened = true
	if _, err := c.Write(make([]byte, h.n)); err != nil {
		panic(err)
	}
	h.buffered = c.Buffered()
	c.Close()
}

// A dialed connection that Closes from OnOpen with nothing queued in sock
// (but bytes unacknowledged in the kernel) lingers twice: Close starts a
// lingerCheck chain, then connected() -> drained() calls linger() again and
// starts a second one. teardown cancels only the last lingerT, so a timer
// stays armed after OnClose.
func TestCloseInOnOpenLingersOnce(t *testing.T) {
	l := newLoop(t)
	pl := smallRcvbufListener(t)
	h := &writeCloseOnOpen{n: 256 << 10}
	if _, err := sock.Dial(l, "tcp", pl.Addr().String(), h,
		sock.WithSendBufferSize(4<<20), sock.WithLingerTimeout(time.Hour)); err != nil {
		t.Fatal(err)
	}
	peer, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	if h.buffered != 0 {
		t.Skipf("the kernel did not take all %d bytes (%d queued)", h.n, h.buffered)
	}
	// The peer ends its stream: gotEOF tears the connection down.
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil {
		t.Fatalf("OnClose(%v)", h.closeErr)
	}
	if p := l.Pending(); p != 0 {
		t.Fatalf("after OnClose the loop still has %d pending callbacks/timers; want 0", p)
	}
}

// The same double linger, seen by a user: the two lingerCheck chains share
// the linger timeout's state, so a connection Closed from OnOpen gives up (ErrLinger) after
// about half of the linger timeout it was given.
func TestCloseInOnOpenKeepsTheWholeLingerTimeout(t *testing.T) {
	l, vc := newVirtualLoop(t)
	pl := smallRcvbufListener(t)
	const linger = 10 * time.Second
	h := &writeCloseOnOpen{n: 256 << 10}
	if _, err := sock.Dial(l, "tcp", pl.Addr().String(), h,
		sock.WithSendBufferSize(4<<20), sock.WithLingerTimeout(linger)); err != nil {
		t.Fatal(err)
	}
	peer, err := pl.Accept() // never reads
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	if h.buffered != 0 {
		t.Skipf("the kernel did not take all %d bytes", h.n)
	}
	start := vc.Elapsed()
	for !h.closed && vc.Elapsed()-start < 2*linger {
		vc.Advance(10 * time.Millisecond)
		for range 3 {
			l.RunOnce(false)
		}
	}
	took := vc.Elapsed() - start
	if !h.closed || !errors.Is(h.closeErr, sock.ErrLinger) {
		t.Fatalf("after %v: closed %v, OnClose(%v); want ErrLinger", took, h.closed, h.closeErr)
	}
	if took < linger {
		t.Fatalf("OnClose(%v) after %v of virtual time; the linger timeout is %v", h.closeErr, took, linger)
	}
}

// Dial on a closed loop fails with loop.ErrClosed, also where connect fails
// at once (a Unix path with no listener): it used to return a Conn whose
// OnClose was queued on a loop that would never run it.
func TestDialOnAClosedLoopFails(t *testing.T) {
	l := newLoop(t)
	l.Close()
	h := &recorder{}
	c, err := sock.Dial(l, "unix", filepath.Join(t.TempDir(), "nothing"), h)
	if !errors.Is(err, loop.ErrClosed) {
		t.Fatalf("Dial unix on a closed loop returned (%p, %v); want an error wrapping loop.ErrClosed", c, err)
	}
	pl := peerListener(t)
	if _, err := sock.Dial(l, "tcp", pl.Addr().String(), h); !errors.Is(err, loop.ErrClosed) {
		t.Fatalf("Dial tcp on a closed loop: %v; want an error wrapping loop.ErrClosed", err)
	}
	if h.opened || h.closed {
		t.Fatal("a Dial that failed called the handler")
	}
}

// Package net dials an empty host under "tcp" as the local system over IPv4,
// which reaches a server on 127.0.0.1 only; Dial does the same (it dialed ::1).
func TestDialWithoutAHostReachesIPv4LoopbackAsPackageNetDoes(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t) // 127.0.0.1
	_, port, _ := net.SplitHostPort(pl.Addr().String())
	nc, err := net.Dial("tcp", ":"+port)
	if err != nil {
		t.Skipf("package net cannot dial :%s either: %v", port, err)
	}
	nc.Close()
	if s, err := pl.Accept(); err == nil {
		s.Close()
	}
	h := &recorder{}
	if _, err := sock.Dial(l, "tcp", ":"+port, h); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnOpen or OnClose", func() bool { return h.opened || h.closed })
	if !h.opened {
		t.Fatalf("net.Dial(\"tcp\", \":%s\") connects; sock.Dial: OnClose(%v)", port, h.closeErr)
	}
	c, _ := pl.Accept()
	c.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
}

// closeOnData closes the connection from OnData.
type closeOnData struct{ recorder }

func (h *closeOnData) OnData(c *sock.Conn, p []byte) {
	h.got = append(h.got, p...)
	c.Close()
}

// A peer that sends a request and resets: the reset is pending on the
// socket when OnData runs, and Close's shutdown(SHUT_WR) fails with ENOTCONN.
// OnClose receives the reset, not that.
func TestAResetBeforeCloseReachesOnCloseAsECONNRESET(t *testing.T) {
	l := newLoop(t)
	h := &closeOnData{}
	_, peer := listenAndDial(t, l, h)
	peer.Write([]byte("request"))
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close() // RST right behind the request, before the loop runs
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if string(h.got) != "request" {
		t.Skipf("OnData got %q", h.got)
	}
	if !errors.Is(h.closeErr, syscall.ECONNRESET) {
		t.Fatalf("OnClose(%v); want an error wrapping ECONNRESET", h.closeErr)
	}
}

// Closing the loop aborts a connection that is lingering after Close: the
// kernel still holds bytes the peer has not acknowledged, and unread input
// makes close(2) reset the connection, which throws them away. OnClose must
// say so (it received nil).
func TestLoopCloseDuringALingerReportsWhatWasNotAcknowledged(t *testing.T) {
	l := newLoop(t)
	pl := smallRcvbufListener(t)
	const n = 512 << 10
	h := &recorder{}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), h, sock.WithSendBufferSize(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	peer, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	if _, err := c.Write(pattern(n)); err != nil {
		t.Fatal(err)
	}
	if c.Buffered() != 0 {
		t.Skipf("the kernel did not take all %d bytes", n)
	}
	c.Close() // lingering: the peer has acknowledged only a few KiB
	l.RunOnce(false)
	peer.Write([]byte("late")) // input the closing side has not read yet
	l.Close()                  // closeAll aborts the lingering connection
	if !h.closed {
		t.Fatal("no OnClose after the loop closed")
	}
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	got, rerr := io.ReadAll(peer)
	t.Logf("peer read %d of %d bytes, then %v; OnClose(%v)", len(got), n, rerr, h.closeErr)
	if len(got) == n {
		return // the kernel delivered everything after all
	}
	var ue *sock.UnsentError
	if !errors.As(h.closeErr, &ue) || !errors.Is(ue, sock.ErrAborted) || ue.Unsent < n-len(got) {
		t.Fatalf("Write accepted %d bytes, the peer got %d (%v), and OnClose(%v); want an *UnsentError wrapping ErrAborted for at least %d bytes",
			n, len(got), rerr, h.closeErr, n-len(got))
	}
}
