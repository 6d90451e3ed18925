package sock_test

import (
	"bufio"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// goodbye is a TimeoutHandler: at a timeout it writes "IDLE" and closes,
// or, with keep, leaves the connection open; with panics, it panics.
type goodbye struct {
	sock.BaseHandler
	conn     *sock.Conn
	keep     bool
	panics   bool
	timeouts []error
	closed   bool
	closeErr error
}

func (h *goodbye) OnOpen(c *sock.Conn) {
	h.conn = c
	c.SetIdleTimeout(10 * time.Second)
}

func (h *goodbye) OnTimeout(c *sock.Conn, err error) {
	h.timeouts = append(h.timeouts, err)
	if h.panics {
		panic("no goodbye")
	}
	if !h.keep {
		c.Write([]byte("IDLE\n"))
		c.Close()
	}
}

func (h *goodbye) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }

// A TimeoutHandler's OnTimeout runs at the idle timeout instead of the
// close, with the timeout's error, and may write a goodbye before it
// closes: the peer reads it, then the end of stream, and OnClose gets nil.
func TestTimeoutHandlerSaysGoodbye(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &goodbye{}
	_, peer := listenAndDial(t, l, h)
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	vc.Advance(11 * time.Second)
	runUntil(t, l, "the timeout", func() bool { return len(h.timeouts) == 1 })
	if err := h.timeouts[0]; !errors.Is(err, sock.ErrTimeout) || !strings.Contains(err.Error(), "idle") {
		t.Errorf("OnTimeout(%v); want the idle timeout's error", err)
	}
	got, done := []byte(nil), false
	readAllOf(l, peer, &done, &got)
	runUntil(t, l, "the goodbye and the close", func() bool { return done && h.closed })
	if string(got) != "IDLE\n" || h.closeErr != nil {
		t.Errorf("the peer read %q and OnClose got %v; want the goodbye and nil", got, h.closeErr)
	}
}

// A TimeoutHandler that leaves the connection open keeps it; the timeout
// starts again with the next read, and comes again.
func TestTimeoutHandlerMayKeepTheConnection(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &goodbye{keep: true}
	_, peer := listenAndDial(t, l, h)
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	vc.Advance(11 * time.Second)
	runUntil(t, l, "the timeout", func() bool { return len(h.timeouts) == 1 })
	if h.closed {
		t.Fatalf("the connection closed (%v) though OnTimeout kept it", h.closeErr)
	}
	peer.Write([]byte("still here\n"))
	runUntil(t, l, "the read", func() bool { return h.conn.Buffered() == 0 && len(h.timeouts) == 1 })
	runIteration(t, l)
	vc.Advance(5 * time.Second)
	runIteration(t, l)
	if len(h.timeouts) != 1 {
		t.Fatalf("%d timeouts 5 s after a read; want the first only", len(h.timeouts))
	}
	vc.Advance(6 * time.Second)
	runUntil(t, l, "the second timeout", func() bool { return len(h.timeouts) == 2 })
	if h.closed {
		t.Errorf("the connection closed (%v) though OnTimeout kept it", h.closeErr)
	}
}

// A panic in OnTimeout closes the connection with the timeout's error, and
// goes to the loop's panic handler.
func TestTimeoutHandlerPanicCloses(t *testing.T) {
	panics := 0
	vc := loop.NewVirtualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newLoop(t, loop.WithClock(vc), loop.WithPanicHandler(func(any) { panics++ }))
	h := &goodbye{panics: true}
	listenAndDial(t, l, h)
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	vc.Advance(11 * time.Second)
	runUntil(t, l, "the close", func() bool { return h.closed })
	if panics != 1 || !errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Errorf("%d panics, OnClose(%v); want 1 and the timeout's error", panics, h.closeErr)
	}
}

// Once Close was called OnTimeout is not asked: a peer that reads nothing
// keeps the flush waiting, and the idle timeout then ends the connection
// with its error.
func TestTimeoutHandlerNotAskedAfterClose(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &goodbye{}
	listenAndDial(t, l, h, sock.WithSendBufferSize(4<<10))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	fillKernelBuffers(t, h.conn)
	h.conn.Write(make([]byte, 64<<10)) // queued: the peer reads nothing
	h.conn.Close()
	vc.Advance(11 * time.Second)
	runUntil(t, l, "the close", func() bool { return h.closed })
	if len(h.timeouts) != 0 {
		t.Errorf("OnTimeout asked %d times after Close", len(h.timeouts))
	}
	if !errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Errorf("OnClose(%v); want the idle timeout's error", h.closeErr)
	}
}

// lineGoodbye is a MessageHandler that is a TimeoutHandler: Messages hands
// it the timeout too.
type lineGoodbye struct {
	goodbye
}

func (h *lineGoodbye) OnMessage(*sock.Conn, []byte) {}

func TestTimeoutHandlerUnderMessages(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &lineGoodbye{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	vc.Advance(11 * time.Second)
	got, done := []byte(nil), false
	readAllOf(l, peer, &done, &got)
	runUntil(t, l, "the goodbye and the close", func() bool { return done && h.closed })
	if len(h.timeouts) != 1 || string(got) != "IDLE\n" {
		t.Errorf("%d timeouts, the peer read %q; want one and the goodbye", len(h.timeouts), got)
	}
}
