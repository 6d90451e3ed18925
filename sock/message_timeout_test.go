package sock_test

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// slowLines is a line handler that can pause reading at a line.
type slowLines struct {
	sock.BaseHandler
	conn     *sock.Conn
	msgs     []string
	pauseAt  string
	timeouts []error
	closed   bool
	closeErr error
}

func (h *slowLines) OnOpen(c *sock.Conn) { h.conn = c }
func (h *slowLines) OnMessage(c *sock.Conn, msg []byte) {
	h.msgs = append(h.msgs, string(msg))
	if string(msg) == h.pauseAt {
		c.PauseReading()
	}
}
func (h *slowLines) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }

// timeoutAnswering is slowLines as a TimeoutHandler that answers a
// timeout with a 408 and a Close.
type timeoutAnswering struct{ slowLines }

func (h *timeoutAnswering) OnTimeout(c *sock.Conn, err error) {
	h.timeouts = append(h.timeouts, err)
	c.Write([]byte("408\n"))
	c.Close()
}

// messageTimeoutServer listens on a virtual clock's loop with Messages
// around h and a 2 s message timeout, and returns the loop, the clock and
// the peer once the connection is open.
func messageTimeoutServer(t *testing.T, h sock.MessageHandler, conn func() *sock.Conn) (*loop.Loop, *loop.VirtualClock, net.Conn) {
	t.Helper()
	l, vc := newVirtualLoop(t)
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h), sock.WithMessageTimeout(2*time.Second))
	runUntil(t, l, "the open", func() bool { return conn() != nil })
	return l, vc, peer
}

// sendAndCut writes s and runs l until its connection keeps kept bytes.
func sendAndCut(t *testing.T, l *loop.Loop, c func() *sock.Conn, peer net.Conn, s string, kept int) {
	t.Helper()
	if _, err := peer.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the read", func() bool { n, _ := sock.MessagesKept(c()); return n == kept })
}

// TestMessageTimeoutEndsASlowlorisPeer: a peer that sends a line a byte
// every 500 ms, which a read timeout never catches, is closed with
// ErrMessageTimeout 2 s after the line's first byte.
func TestMessageTimeoutEndsASlowlorisPeer(t *testing.T) {
	h := &slowLines{}
	l, vc, peer := messageTimeoutServer(t, h, func() *sock.Conn { return h.conn })
	for i := 1; i <= 3; i++ {
		sendAndCut(t, l, func() *sock.Conn { return h.conn }, peer, "x", i)
		vc.Advance(500 * time.Millisecond)
		settle(t, l)
		if h.closed {
			t.Fatalf("closed %v after %d bytes, 1.5 s or less into the line; want 2 s", h.closeErr, i)
		}
	}
	sendAndCut(t, l, func() *sock.Conn { return h.conn }, peer, "x", 4) // 1.5 s in
	vc.Advance(600 * time.Millisecond)
	runUntil(t, l, "the message timeout", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrMessageTimeout) || !errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Errorf("OnClose(%v); want ErrMessageTimeout, an ErrTimeout", h.closeErr)
	}
}

// TestMessageTimeoutCountsFromEachMessagesStart: lines that come whole
// never start it; a line finished in time is not timed out, and the line
// begun in the read that finished it has its own 2 s.
func TestMessageTimeoutCountsFromEachMessagesStart(t *testing.T) {
	h := &slowLines{}
	l, vc, peer := messageTimeoutServer(t, h, func() *sock.Conn { return h.conn })
	conn := func() *sock.Conn { return h.conn }
	for range 5 {
		sendAndCut(t, l, conn, peer, "whole\n", 0)
		vc.Advance(time.Second)
		settle(t, l)
	}
	sendAndCut(t, l, conn, peer, "first", 5)
	vc.Advance(1500 * time.Millisecond)
	settle(t, l)
	sendAndCut(t, l, conn, peer, " line\nsecond", 6) // finishes the first, begins the second
	vc.Advance(1500 * time.Millisecond)
	settle(t, l)
	if h.closed {
		t.Fatalf("closed %v 1.5 s into the second line (3 s into the first); want the second's own 2 s", h.closeErr)
	}
	vc.Advance(600 * time.Millisecond)
	runUntil(t, l, "the message timeout", func() bool { return h.closed })
	if got := strings.Join(h.msgs, "|"); got != "whole|whole|whole|whole|whole|first line" {
		t.Errorf("messages %q", got)
	}
	if !errors.Is(h.closeErr, sock.ErrMessageTimeout) {
		t.Errorf("OnClose(%v); want ErrMessageTimeout", h.closeErr)
	}
}

// TestMessageTimeoutWaitsWhileReadingIsPaused: the handler pauses reading
// at a line with the next one begun behind it; the timeout does not run
// while it is paused, and starts again, for the line kept, at
// ResumeReading.
func TestMessageTimeoutWaitsWhileReadingIsPaused(t *testing.T) {
	h := &slowLines{pauseAt: "pause"}
	l, vc, peer := messageTimeoutServer(t, h, func() *sock.Conn { return h.conn })
	sendAndCut(t, l, func() *sock.Conn { return h.conn }, peer, "pause\nbegun", 5)
	vc.Advance(time.Minute)
	settle(t, l)
	if h.closed {
		t.Fatalf("closed %v while reading was paused", h.closeErr)
	}
	h.conn.ResumeReading()
	settle(t, l)
	vc.Advance(1500 * time.Millisecond)
	settle(t, l)
	if h.closed {
		t.Fatalf("closed %v 1.5 s after ResumeReading", h.closeErr)
	}
	vc.Advance(600 * time.Millisecond)
	runUntil(t, l, "the message timeout", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrMessageTimeout) {
		t.Errorf("OnClose(%v); want ErrMessageTimeout", h.closeErr)
	}
}

// TestMessageTimeoutGoesToOnTimeout: a TimeoutHandler answers it (an HTTP
// server's 408), and the peer reads the answer.
func TestMessageTimeoutGoesToOnTimeout(t *testing.T) {
	h := &timeoutAnswering{}
	l, vc, peer := messageTimeoutServer(t, h, func() *sock.Conn { return h.conn })
	sendAndCut(t, l, func() *sock.Conn { return h.conn }, peer, "GET / HTTP/1.1", 14)
	vc.Advance(2100 * time.Millisecond)
	runUntil(t, l, "the close", func() bool { return h.closed })
	if len(h.timeouts) != 1 || h.timeouts[0] != sock.ErrMessageTimeout || h.closeErr != nil {
		t.Errorf("OnTimeout got %v, OnClose(%v); want ErrMessageTimeout once, then a clean close", h.timeouts, h.closeErr)
	}
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	if b, _ := bufio.NewReader(peer).ReadString('\n'); b != "408\n" {
		t.Errorf("the peer read %q; want the 408", b)
	}
}

// TestMessageTimeoutNeedsMessages: given with a plain Handler, Listen and
// Dial fail, naming the option.
func TestMessageTimeoutNeedsMessages(t *testing.T) {
	l := newLoop(t)
	if ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", &recorder{}, sock.WithMessageTimeout(time.Second)); err == nil || !strings.Contains(err.Error(), "WithMessageTimeout applies to a handler made by Messages") {
		if ln != nil {
			ln.Close()
		}
		t.Errorf("Listen with a plain handler: %v; want WithMessageTimeout refused", err)
	}
	if c, err := sock.Dial(l, "tcp", "127.0.0.1:9", &recorder{}, sock.WithMessageTimeout(time.Second)); err == nil || !strings.Contains(err.Error(), "WithMessageTimeout applies") {
		if c != nil {
			c.Abort()
		}
		t.Errorf("Dial with a plain handler: %v; want WithMessageTimeout refused", err)
	}
	if _, err := sock.ListenPacket(l, "udp", "127.0.0.1:0", &udpClient{}, sock.WithMessageTimeout(time.Second)); err == nil {
		t.Error("ListenPacket took WithMessageTimeout")
	}
}

// TestMessageTimeoutStopsAtAPauseFromElsewhere: reading paused from
// outside OnMessage (a timer, the test here) while a line is begun stops
// the timeout too.
func TestMessageTimeoutStopsAtAPauseFromElsewhere(t *testing.T) {
	h := &slowLines{}
	l, vc, peer := messageTimeoutServer(t, h, func() *sock.Conn { return h.conn })
	sendAndCut(t, l, func() *sock.Conn { return h.conn }, peer, "begun", 5)
	vc.Advance(time.Second)
	settle(t, l)
	h.conn.PauseReading()
	vc.Advance(time.Minute)
	settle(t, l)
	if h.closed {
		t.Fatalf("closed %v while reading was paused", h.closeErr)
	}
	h.conn.ResumeReading()
	settle(t, l)
	vc.Advance(2100 * time.Millisecond)
	runUntil(t, l, "the message timeout", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrMessageTimeout) {
		t.Errorf("OnClose(%v); want ErrMessageTimeout", h.closeErr)
	}
}

// TestMessageTimeoutStopsAtClose: a Close with a line begun and an answer
// the peer does not read waits for its flush; the message timeout, which
// no message can answer now, does not end it.
func TestMessageTimeoutStopsAtClose(t *testing.T) {
	h := &slowLines{}
	l, vc, peer := messageTimeoutServer(t, h, func() *sock.Conn { return h.conn })
	sendAndCut(t, l, func() *sock.Conn { return h.conn }, peer, "begun", 5)
	fillKernelBuffers(t, h.conn)
	h.conn.Write(make([]byte, 64<<10)) // queued: the peer reads nothing
	h.conn.Close()
	vc.Advance(3 * time.Second)
	settle(t, l)
	if h.closed {
		t.Fatalf("a closing connection ended with %v 3 s into its flush; want it still flushing", h.closeErr)
	}
	h.conn.Abort()
	runUntil(t, l, "the abort", func() bool { return h.closed })
}
