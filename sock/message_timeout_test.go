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

// open returns h's connection, or nil before OnOpen.
func (h *slowLines) open() *sock.Conn { return h.conn }

// openAfter advances vc by d and fails the test if h's connection closed.
func (h *slowLines) openAfter(t *testing.T, l *loop.Loop, vc *loop.VirtualClock, d time.Duration, when string) {
	t.Helper()
	vc.Advance(d)
	settle(t, l)
	if h.closed {
		t.Fatalf("closed %v %s", h.closeErr, when)
	}
}

// timesOutAfter advances vc by d and runs l until h's connection closes,
// with ErrMessageTimeout.
func (h *slowLines) timesOutAfter(t *testing.T, l *loop.Loop, vc *loop.VirtualClock, d time.Duration) {
	t.Helper()
	vc.Advance(d)
	runUntil(t, l, "the message timeout", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrMessageTimeout) || !errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Errorf("OnClose(%v); want ErrMessageTimeout, an ErrTimeout", h.closeErr)
	}
}

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
	l, vc, peer := mtoServer(t, sock.Messages(bufio.ScanLines, 1024, h))
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
	l, vc, peer := messageTimeoutServer(t, h, h.open)
	for i := 1; i <= 3; i++ {
		sendAndCut(t, l, h.open, peer, "x", i)
		h.openAfter(t, l, vc, 500*time.Millisecond, "1.5 s or less into the line; want 2 s")
	}
	sendAndCut(t, l, h.open, peer, "x", 4) // 1.5 s in
	h.timesOutAfter(t, l, vc, 600*time.Millisecond)
}

// TestMessageTimeoutCountsFromEachMessagesStart: lines that come whole
// never start it; a line finished in time is not timed out, and the line
// begun in the read that finished it has its own 2 s.
func TestMessageTimeoutCountsFromEachMessagesStart(t *testing.T) {
	h := &slowLines{}
	l, vc, peer := messageTimeoutServer(t, h, h.open)
	for range 5 {
		sendAndCut(t, l, h.open, peer, "whole\n", 0)
		h.openAfter(t, l, vc, time.Second, "with whole lines alone")
	}
	sendAndCut(t, l, h.open, peer, "first", 5)
	h.openAfter(t, l, vc, 1500*time.Millisecond, "1.5 s into the first line")
	sendAndCut(t, l, h.open, peer, " line\nsecond", 6) // finishes the first, begins the second
	h.openAfter(t, l, vc, 1500*time.Millisecond, "1.5 s into the second line (3 s into the first); want the second's own 2 s")
	h.timesOutAfter(t, l, vc, 600*time.Millisecond)
	if got := strings.Join(h.msgs, "|"); got != "whole|whole|whole|whole|whole|first line" {
		t.Errorf("messages %q", got)
	}
}

// TestMessageTimeoutWaitsWhileReadingIsPaused: the handler pauses reading
// at a line with the next one begun behind it; the timeout does not run
// while it is paused, and starts again, for the line kept, at
// ResumeReading.
func TestMessageTimeoutWaitsWhileReadingIsPaused(t *testing.T) {
	h := &slowLines{pauseAt: "pause"}
	l, vc, peer := messageTimeoutServer(t, h, h.open)
	sendAndCut(t, l, h.open, peer, "pause\nbegun", 5)
	h.openAfter(t, l, vc, time.Minute, "while reading was paused")
	h.conn.ResumeReading()
	settle(t, l)
	h.openAfter(t, l, vc, 1500*time.Millisecond, "1.5 s after ResumeReading")
	h.timesOutAfter(t, l, vc, 600*time.Millisecond)
}

// TestMessageTimeoutGoesToOnTimeout: a TimeoutHandler answers it (an HTTP
// server's 408), and the peer reads the answer.
func TestMessageTimeoutGoesToOnTimeout(t *testing.T) {
	h := &timeoutAnswering{}
	l, vc, peer := messageTimeoutServer(t, h, h.open)
	sendAndCut(t, l, h.open, peer, "GET / HTTP/1.1", 14)
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
	l, vc, peer := messageTimeoutServer(t, h, h.open)
	sendAndCut(t, l, h.open, peer, "begun", 5)
	h.openAfter(t, l, vc, time.Second, "1 s into the line")
	h.conn.PauseReading()
	h.openAfter(t, l, vc, time.Minute, "while reading was paused")
	h.conn.ResumeReading()
	settle(t, l)
	h.timesOutAfter(t, l, vc, 2100*time.Millisecond)
}

// TestMessageTimeoutStopsAtClose: a Close with a line begun and an answer
// the peer does not read waits for its flush; the message timeout, which
// no message can answer now, does not end it.
func TestMessageTimeoutStopsAtClose(t *testing.T) {
	h := &slowLines{}
	l, vc, peer := messageTimeoutServer(t, h, h.open)
	sendAndCut(t, l, h.open, peer, "begun", 5)
	fillKernelBuffers(t, h.conn)
	h.conn.Write(make([]byte, 64<<10)) // queued: the peer reads nothing
	h.conn.Close()
	h.openAfter(t, l, vc, 3*time.Second, "3 s into the flush of a Close; want it still flushing")
	h.conn.Abort()
	runUntil(t, l, "the abort", func() bool { return h.closed })
}
