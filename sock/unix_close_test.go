package sock_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// closeUnixWithInputWaiting opens a Unix connection on a virtual-clock
// loop, has the peer send "request" twice, the second time after the
// handler's PauseReading (so that it waits unread in the kernel), and
// Closes the server's side, whose drain then reads it: the peer was still
// sending. It returns the handler and the peer.
func closeUnixWithInputWaiting(t *testing.T, opts ...sock.Option) (*corkConn, *net.UnixConn, func(time.Duration)) {
	t.Helper()
	l, vc := newVirtualLoop(t)
	h := &corkConn{}
	peer := unixPeer(t, l, h, opts...)
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	h.c.PauseReading()
	peer.Write([]byte("request"))
	settle(t, l)
	h.c.Write([]byte("answer"))
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}
	advance := func(d time.Duration) {
		vc.Advance(d)
		settle(t, l)
	}
	return h, peer.(*net.UnixConn), advance
}

// A Unix peer that is still sending when Close comes reads what was sent
// and then the end of stream, and the connection closes once the peer ends
// its own stream: closing the descriptor with its input still arriving
// made the peer's read end in ECONNRESET instead (an RPC trial's clients,
// in a Group's Shutdown; the pipelining case is
// TestRev13UnixCloseWhilePeerWritesEndsInEOF).
func TestUnixCloseWaitsForAPeerStillSending(t *testing.T) {
	h, peer, advance := closeUnixWithInputWaiting(t)
	advance(time.Second)
	if h.closed {
		t.Fatalf("OnClose(%v) while the peer may still be sending; want the close to wait for its end of stream", h.closeErr)
	}
	peer.Write([]byte("more")) // discarded
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	got, err := io.ReadAll(peer)
	if string(got) != "answer" || err != nil {
		t.Fatalf("the peer read %q, %v; want the answer and the end of stream", got, err)
	}
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

// A Unix peer that never ends its stream holds the close up to the linger
// timeout, and no longer; OnClose has nil (what was sent is in its queue).
func TestUnixCloseWaitsForAStillSendingPeerUpToTheLingerTimeout(t *testing.T) {
	h, _, advance := closeUnixWithInputWaiting(t, sock.WithLingerTimeout(3*time.Second))
	advance(2 * time.Second)
	if h.closed {
		t.Fatalf("OnClose(%v) 2s into a 3s linger timeout", h.closeErr)
	}
	advance(2 * time.Second)
	if !h.closed || h.closeErr != nil {
		t.Errorf("past the linger timeout: closed %v, OnClose(%v); want closed with nil", h.closed, h.closeErr)
	}
}

// A Unix peer whose input and end of stream both wait unread when Close
// comes has finished: the close does not wait.
func TestUnixCloseAfterThePeersEndDoesNotWait(t *testing.T) {
	l, _ := newVirtualLoop(t)
	h := &corkConn{}
	peer := unixPeer(t, l, h)
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	h.c.PauseReading()
	peer.Write([]byte("last request"))
	peer.(*net.UnixConn).CloseWrite()
	settle(t, l)
	h.c.Close()
	settle(t, l)
	if !h.closed || h.closeErr != nil {
		t.Errorf("closed %v, OnClose(%v); want closed at once with nil", h.closed, h.closeErr)
	}
}
