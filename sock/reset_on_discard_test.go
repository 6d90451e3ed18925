package sock_test

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// writeThen writes payload when the connection opens, then does what next
// says, and records OnClose.
type writeThen struct {
	sock.BaseHandler
	payload  []byte
	next     func(c *sock.Conn)
	closed   bool
	closeErr error
}

func (h *writeThen) OnOpen(c *sock.Conn) {
	c.Write(h.payload)
	h.next(c)
}
func (h *writeThen) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }

// readAll reads c until its end or an error, within waitLimit.
func readAll(t *testing.T, c net.Conn) ([]byte, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("reading did not end within %v", waitLimit)
	}
	return b, err
}

// TestAbortWithBytesQueuedResetsThePeer: an Abort that discards queued
// bytes resets the connection, so the peer's read fails instead of ending
// as if the stream were whole (before, the peer read a few KiB of 4 MiB
// and then a clean end of stream). OnClose's count covers every byte the peer
// did not get: the reset discards what the kernel held too.
func TestAbortWithBytesQueuedResetsThePeer(t *testing.T) {
	l := newLoop(t)
	requirePoller(t, l)
	payload := make([]byte, 4<<20)
	h := &writeThen{payload: payload, next: func(c *sock.Conn) { c.Abort() }}
	peer := listenAndDialSmall(t, l, h, sock.WithSendBufferSize(16<<10))
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	got, err := readAll(t, peer)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the peer read %d of %d bytes, then %v; want ECONNRESET: a clean end would pass the cut-short stream off as whole", len(got), len(payload), err)
	}
	var ue *sock.UnsentError
	if !errors.As(h.closeErr, &ue) || !errors.Is(ue, sock.ErrAborted) {
		t.Fatalf("OnClose(%v); want an *UnsentError wrapping ErrAborted", h.closeErr)
	}
	if missing := len(payload) - len(got); ue.Unsent < missing {
		t.Errorf("OnClose counts %d unsent, but the peer missed %d", ue.Unsent, missing)
	}
}

// TestAbortWithNothingQueuedEndsTheStream: an Abort that discards nothing
// closes as usual: what the kernel took reaches the peer, then its end.
func TestAbortWithNothingQueuedEndsTheStream(t *testing.T) {
	l := newLoop(t)
	requirePoller(t, l)
	h := &writeThen{payload: []byte("all of it"), next: func(c *sock.Conn) {
		if c.Buffered() != 0 {
			t.Errorf("%d bytes queued; the test wants the kernel to have taken all", c.Buffered())
		}
		c.Abort()
	}}
	_, peer := listenAndDial(t, l, h)
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil {
		t.Errorf("OnClose(%v); want nil: nothing was discarded", h.closeErr)
	}
	if got, err := readAll(t, peer); err != nil || string(got) != "all of it" {
		t.Errorf("the peer read %q, %v; want all of it and its end", got, err)
	}
}

// TestAWriteTimeoutWithBytesQueuedResetsThePeer: a timeout that closes a
// connection with bytes queued resets it too.
func TestAWriteTimeoutWithBytesQueuedResetsThePeer(t *testing.T) {
	l := newLoop(t)
	requirePoller(t, l)
	payload := make([]byte, 4<<20)
	h := &writeThen{payload: payload, next: func(c *sock.Conn) { c.SetWriteTimeout(20 * time.Millisecond) }}
	peer := listenAndDialSmall(t, l, h, sock.WithSendBufferSize(16<<10))
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Fatalf("OnClose(%v); want a write timeout", h.closeErr)
	}
	got, err := readAll(t, peer)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the peer read %d of %d bytes, then %v; want ECONNRESET", len(got), len(payload), err)
	}
	var ue *sock.UnsentError
	if !errors.As(h.closeErr, &ue) {
		t.Fatalf("OnClose(%v); want an *UnsentError", h.closeErr)
	}
	if missing := len(payload) - len(got); ue.Unsent < missing {
		t.Errorf("OnClose counts %d unsent, but the peer missed %d", ue.Unsent, missing)
	}
}
