package sock_test

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// A Unix Close whose drain reads the peer's last input and then its end of
// stream closes at once, inside Close: the peer has finished, nothing is
// awaited (a drain that did not note the end of stream, or a close that
// did not look at it, waited for a later read event to find it again):
// ResumeReading, right after Close, says ErrClosed.
func TestMut13UnixCloseWhoseDrainFindsTheEndClosesInsideClose(t *testing.T) {
	l, _ := newVirtualLoop(t)
	h := &corkConn{}
	peer := unixPeer(t, l, h)
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	h.c.PauseReading()
	peer.Write([]byte("last request"))
	peer.(*net.UnixConn).CloseWrite()
	settle(t, l)
	if h.closed {
		t.Fatal("closed before Close")
	}
	l.CallSoon(func() {
		h.c.Write([]byte("answer"))
		if err := h.c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		// ResumeReading says ErrClosed once the connection is closed.
		if err := h.c.ResumeReading(); err != sock.ErrClosed {
			t.Errorf("ResumeReading on Close's return: %v; want ErrClosed (closed at once)", err)
		}
	})
	settle(t, l)
	if !h.closed || h.closeErr != nil {
		t.Errorf("closed %v, OnClose(%v); want closed with nil", h.closed, h.closeErr)
	}
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	got, err := io.ReadAll(peer)
	if string(got) != "answer" || err != nil {
		t.Errorf("the peer read %q, %v; want the answer and the end of stream", got, err)
	}
}

// A Unix close that waits for a peer still sending ends at the linger
// timeout exactly, not a moment later, with nil.
func TestMut13UnixCloseWaitEndsAtTheLingerTimeoutExactly(t *testing.T) {
	h, _, advance := closeUnixWithInputWaiting(t, sock.WithLingerTimeout(3*time.Second))
	advance(3*time.Second - time.Nanosecond)
	if h.closed {
		t.Fatalf("OnClose(%v) before the linger timeout", h.closeErr)
	}
	advance(time.Nanosecond)
	if !h.closed || h.closeErr != nil {
		t.Errorf("at the linger timeout: closed %v, OnClose(%v); want closed with nil", h.closed, h.closeErr)
	}
}

// A short linger timeout is waited for too: a Unix close with the peer
// still sending does not close at once when the timeout is a millisecond.
func TestMut13UnixCloseWaitsForAShortLingerTimeout(t *testing.T) {
	h, _, advance := closeUnixWithInputWaiting(t, sock.WithLingerTimeout(time.Millisecond))
	if h.closed {
		t.Fatalf("OnClose(%v) at once; want it after the 1ms linger timeout", h.closeErr)
	}
	advance(time.Millisecond / 2)
	if h.closed {
		t.Fatalf("OnClose(%v) halfway into a 1ms linger timeout", h.closeErr)
	}
	advance(time.Millisecond / 2)
	if !h.closed || h.closeErr != nil {
		t.Errorf("at the linger timeout: closed %v, OnClose(%v); want closed with nil", h.closed, h.closeErr)
	}
}

// A Unix peer that has read everything sent, end of stream included, but
// not ended its own stream still holds the close: only its end of stream or
// the linger timeout ends the wait (what the peer has read is no sign that
// it stopped sending).
func TestMut13UnixCloseWaitIsNotEndedByThePeerReading(t *testing.T) {
	h, peer, advance := closeUnixWithInputWaiting(t, sock.WithLingerTimeout(10*time.Second))
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	got, err := io.ReadAll(peer)
	if string(got) != "answer" || err != nil {
		t.Fatalf("the peer read %q, %v; want the answer and the end of stream", got, err)
	}
	for range 5 {
		advance(time.Second)
	}
	if h.closed {
		t.Fatalf("OnClose(%v) 5s into a 10s linger timeout, with the peer's stream open", h.closeErr)
	}
	peer.Write([]byte("late request")) // discarded
	peer.CloseWrite()
	for range 10 {
		if h.closed {
			break
		}
		advance(0)
	}
	if !h.closed || h.closeErr != nil {
		t.Errorf("after the peer's end of stream: closed %v, OnClose(%v); want closed with nil", h.closed, h.closeErr)
	}
}

// Group.Listen on unix checks each loop's handler against the options,
// those after the first too (which take the first's socket): a plain
// handler with WithMessageTimeout fails on whichever loop it comes.
func TestMut13GroupListenUnixChecksEveryLoopsHandler(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	loops := g.Loops()
	newHandler := func(l *loop.Loop) sock.Handler {
		if l == loops[0] {
			return sock.Messages(bufio.ScanLines, 64, &lineHandler{})
		}
		return plainEcho{}
	}
	path := filepath.Join(t.TempDir(), "s")
	gln, err := g.Listen("unix", path, newHandler, sock.WithMessageTimeout(time.Second))
	if err == nil {
		gln.Close()
		t.Fatal("Group.Listen unix with WithMessageTimeout and a plain handler on loop 1 succeeded")
	}
	// The first loop's listener is undone: the path is free again.
	gln, err = g.Listen("unix", path, func(*loop.Loop) sock.Handler { return plainEcho{} })
	if err != nil {
		t.Fatalf("Group.Listen after the failed one: %v", err)
	}
	gln.Close()
}

// Group.Listen on unix asks newHandler once for each loop, with that loop.
func TestMut13GroupListenUnixNewHandlerGetsEachLoop(t *testing.T) {
	g, _, _ := newGroup(t, 3)
	seen := map[*loop.Loop]int{}
	gln, err := g.Listen("unix", filepath.Join(t.TempDir(), "s"), func(l *loop.Loop) sock.Handler {
		seen[l]++ // each call on its loop's goroutine, one after another
		return plainEcho{}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gln.Close()
	for i, l := range g.Loops() {
		if seen[l] != 1 {
			t.Errorf("newHandler called %d times with loop %d; want once", seen[l], i)
		}
	}
	if len(seen) != 3 {
		t.Errorf("newHandler called with %d loops; want 3", len(seen))
	}
}
