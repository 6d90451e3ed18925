package sock_test

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// mtoHandler records a Messages connection's events; it keeps the
// connection open at a split error, and at a timeout when keep is set.
type mtoHandler struct {
	sock.BaseHandler
	conn      *sock.Conn
	msgs      []string
	splitErrs []error
	timeouts  []error
	keep      bool // OnTimeout leaves the connection open
	closed    bool
	closeErr  error
	answer    []byte // written for each message
}

func (h *mtoHandler) OnOpen(c *sock.Conn) { h.conn = c }
func (h *mtoHandler) OnMessage(c *sock.Conn, msg []byte) {
	h.msgs = append(h.msgs, string(msg))
	if h.answer != nil {
		c.Write(h.answer)
	}
}
func (h *mtoHandler) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }
func (h *mtoHandler) OnSplitError(_ *sock.Conn, err error) {
	h.splitErrs = append(h.splitErrs, err)
}
func (h *mtoHandler) OnTimeout(c *sock.Conn, err error) {
	h.timeouts = append(h.timeouts, err)
	if !h.keep {
		c.Close()
	}
}

var errBang = errors.New("mto: a bang")

// bangLines is ScanLines refusing any input with a '!' in it, keeping it.
func bangLines(data []byte, atEOF bool) (int, []byte, error) {
	if bytes.IndexByte(data, '!') >= 0 {
		return 0, nil, errBang
	}
	return bufio.ScanLines(data, atEOF)
}

func mtoServer(t *testing.T, h sock.Handler, opts ...sock.Option) (*loop.Loop, *loop.VirtualClock, net.Conn) {
	t.Helper()
	l, vc := newVirtualLoop(t)
	_, peer := listenAndDial(t, l, h, append([]sock.Option{sock.WithMessageTimeout(2 * time.Second)}, opts...)...)
	return l, vc, peer
}

// TestMtoSplitErrorKeptOpenIsNotTimedOut: after a split error whose
// OnSplitError keeps the connection (SplitErrorHandler's doc allows it: no
// message comes after it, input is dropped), no message is being cut, so
// no message timeout may fire. (One did: the timeout started for the
// input the failed Feed kept, before the error was recorded. Fixed: the
// error stops it, and timedOut asks again whether a message is unfinished.)
func TestMtoSplitErrorKeptOpenIsNotTimedOut(t *testing.T) {
	for _, perConn := range []bool{false, true} {
		h := &mtoHandler{keep: true}
		var mh sock.Handler
		if perConn {
			mh = sock.MessagesPerConn(func(*sock.Conn) bufio.SplitFunc { return bangLines }, 1024, h)
		} else {
			mh = sock.Messages(bangLines, 1024, h)
		}
		l, vc, peer := mtoServer(t, mh)
		runUntil(t, l, "the open", func() bool { return h.conn != nil })
		peer.Write([]byte("abc!"))
		runUntil(t, l, "the split error", func() bool { return len(h.splitErrs) == 1 })
		vc.Advance(5 * time.Second)
		settle(t, l)
		if len(h.timeouts) != 0 || h.closed {
			t.Errorf("perConn %v: after a split error the handler kept, OnTimeout got %v, closed %v (%v); want no message timeout", perConn, h.timeouts, h.closed, h.closeErr)
		}
	}
}

// splitOnly is mtoHandler without OnTimeout: a timeout closes.
type splitOnly struct {
	sock.BaseHandler
	conn      *sock.Conn
	splitErrs []error
	closed    bool
	closeErr  error
}

func (h *splitOnly) OnOpen(c *sock.Conn)                  { h.conn = c }
func (h *splitOnly) OnMessage(*sock.Conn, []byte)         {}
func (h *splitOnly) OnSplitError(_ *sock.Conn, err error) { h.splitErrs = append(h.splitErrs, err) }
func (h *splitOnly) OnClose(_ *sock.Conn, err error)      { h.closed, h.closeErr = true, err }

// TestMtoSplitErrorKeptOpenIsNotClosed: the same without a TimeoutHandler:
// SplitErrorHandler's doc says the connection stays open until the
// handler closes it or the peer's end of stream does.
func TestMtoSplitErrorKeptOpenIsNotClosed(t *testing.T) {
	h := &splitOnly{}
	l, vc, peer := mtoServer(t, sock.Messages(bangLines, 1024, h))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	peer.Write([]byte("abc!"))
	runUntil(t, l, "the split error", func() bool { return len(h.splitErrs) == 1 })
	vc.Advance(5 * time.Second)
	settle(t, l)
	if h.closed {
		t.Errorf("after a split error the handler kept, closed with %v; want it open", h.closeErr)
	}
}

// TestMtoDialedByteAtATime: a connection made by Dial with a Messages
// handler is timed out by a byte-a-time server.
func TestMtoDialedByteAtATime(t *testing.T) {
	l, vc := newVirtualLoop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := &mtoHandler{}
	c, err := sock.Dial(l, "tcp", ln.Addr().String(), sock.Messages(bufio.ScanLines, 1024, h), sock.WithMessageTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	for i := 1; i <= 3; i++ {
		sendAndCut(t, l, func() *sock.Conn { return h.conn }, srv, "x", i)
		vc.Advance(600 * time.Millisecond)
		settle(t, l)
	}
	if len(h.timeouts) != 0 {
		t.Fatalf("timed out %v 1.8 s into the line", h.timeouts)
	}
	vc.Advance(300 * time.Millisecond)
	runUntil(t, l, "the message timeout", func() bool { return len(h.timeouts) == 1 })
	if h.timeouts[0] != sock.ErrMessageTimeout {
		t.Errorf("OnTimeout(%v); want ErrMessageTimeout", h.timeouts[0])
	}
}

// TestMtoPerConnByteAtATime: MessagesPerConn's framing, made at OnOpen,
// times a byte-a-time peer out too.
func TestMtoPerConnByteAtATime(t *testing.T) {
	h := &mtoHandler{}
	l, vc, peer := mtoServer(t, sock.MessagesPerConn(func(*sock.Conn) bufio.SplitFunc { return bufio.ScanLines }, 1024, h))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	conn := func() *sock.Conn { return h.conn }
	sendAndCut(t, l, conn, peer, "x", 1)
	vc.Advance(1500 * time.Millisecond)
	settle(t, l)
	sendAndCut(t, l, conn, peer, "y", 2)
	vc.Advance(600 * time.Millisecond)
	runUntil(t, l, "the message timeout", func() bool { return len(h.timeouts) == 1 })
}

// TestMtoOnTimeoutKeepsAndFiresAgain: an OnTimeout that keeps the
// connection is asked again d later while the message stays unfinished,
// and not once it is finished.
func TestMtoOnTimeoutKeepsAndFiresAgain(t *testing.T) {
	h := &mtoHandler{keep: true}
	l, vc, peer := mtoServer(t, sock.Messages(bufio.ScanLines, 1024, h))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	conn := func() *sock.Conn { return h.conn }
	sendAndCut(t, l, conn, peer, "x", 1)
	vc.Advance(2100 * time.Millisecond)
	runUntil(t, l, "the first timeout", func() bool { return len(h.timeouts) == 1 })
	vc.Advance(2100 * time.Millisecond)
	runUntil(t, l, "the second timeout", func() bool { return len(h.timeouts) == 2 })
	sendAndCut(t, l, conn, peer, "\n", 0)
	vc.Advance(10 * time.Second)
	settle(t, l)
	if len(h.timeouts) != 2 || h.closed {
		t.Errorf("after the line was finished: timeouts %v, closed %v", h.timeouts, h.closed)
	}
}

// TestMtoPausedForWritesDoesNotFire: reading paused by Messages at OnPause
// (the peer reads nothing) with a line begun: no message timeout while
// writes are paused; once the peer reads and OnResume resumes reading, the
// kept line has its 2 s again.
func TestMtoPausedForWritesDoesNotFire(t *testing.T) {
	h := &mtoHandler{}
	l, vc, peer := mtoServer(t, sock.Messages(bufio.ScanLines, 1024, h), sock.WithHighWater(64<<10), sock.WithLowWater(16<<10))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	conn := func() *sock.Conn { return h.conn }
	sendAndCut(t, l, conn, peer, "begun", 5)
	fillKernelBuffers(t, h.conn)
	h.conn.Write(make([]byte, 128<<10)) // past the high-water mark: OnPause
	if !h.conn.WritePaused() || !h.conn.ReadPaused() {
		t.Fatalf("WritePaused %v ReadPaused %v; want both", h.conn.WritePaused(), h.conn.ReadPaused())
	}
	h.conn.ResumeReading() // while writes are paused: reading stays paused
	settle(t, l)
	vc.Advance(time.Minute)
	settle(t, l)
	if len(h.timeouts) != 0 || h.closed {
		t.Fatalf("timeouts %v closed %v while writes were paused", h.timeouts, h.closed)
	}
	go func() { // the peer reads everything now
		buf := make([]byte, 64<<10)
		for {
			if _, err := peer.Read(buf); err != nil {
				return
			}
		}
	}()
	runUntil(t, l, "OnResume", func() bool { return !h.conn.WritePaused() && !h.conn.ReadPaused() })
	settle(t, l)
	vc.Advance(1500 * time.Millisecond)
	settle(t, l)
	if len(h.timeouts) != 0 {
		t.Fatalf("timed out %v 1.5 s after OnResume", h.timeouts)
	}
	vc.Advance(600 * time.Millisecond)
	runUntil(t, l, "the message timeout", func() bool { return len(h.timeouts) == 1 })
}

// TestMtoNoTimerAfterOnClose: a connection closed by the peer's end of
// stream with a line begun leaves no timer on the loop.
func TestMtoNoTimerAfterOnClose(t *testing.T) {
	h := &mtoHandler{}
	l, _ := newVirtualLoop(t)
	var before int
	l.CallSoon(func() { before = l.Pending() })
	settle(t, l)
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h), sock.WithMessageTimeout(2*time.Second))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	sendAndCut(t, l, func() *sock.Conn { return h.conn }, peer, "begun", 5)
	peer.Close()
	runUntil(t, l, "the close", func() bool { return h.closed })
	settle(t, l)
	if p := l.Pending(); p != before {
		t.Errorf("Pending %d after OnClose; %d before the connection", p, before)
	}
}

// TestMtoWriteGatheringByteAtATime: WithWriteGathering's cork does not
// keep the timeout from a byte-a-time peer whose lines are answered.
func TestMtoWriteGatheringByteAtATime(t *testing.T) {
	h := &mtoHandler{answer: []byte("ok\n")}
	l, vc, peer := mtoServer(t, sock.Messages(bufio.ScanLines, 1024, h), sock.WithWriteGathering())
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	conn := func() *sock.Conn { return h.conn }
	sendAndCut(t, l, conn, peer, "a\nb", 1)
	vc.Advance(1500 * time.Millisecond)
	settle(t, l)
	sendAndCut(t, l, conn, peer, "c", 2)
	vc.Advance(600 * time.Millisecond)
	runUntil(t, l, "the message timeout", func() bool { return len(h.timeouts) == 1 })
}

// pausingOnTimeout pauses reading at a message timeout, keeping the
// connection.
type pausingOnTimeout struct{ mtoHandler }

func (h *pausingOnTimeout) OnTimeout(c *sock.Conn, err error) {
	h.timeouts = append(h.timeouts, err)
	c.PauseReading()
}

// TestMtoOnTimeoutPausesThenResumes: an OnTimeout that pauses reading
// stops the timeout; ResumeReading gives the kept line its 2 s again.
func TestMtoOnTimeoutPausesThenResumes(t *testing.T) {
	h := &pausingOnTimeout{}
	l, vc, peer := mtoServer(t, sock.Messages(bufio.ScanLines, 1024, h))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	sendAndCut(t, l, func() *sock.Conn { return h.conn }, peer, "x", 1)
	vc.Advance(2100 * time.Millisecond)
	runUntil(t, l, "the first timeout", func() bool { return len(h.timeouts) == 1 })
	vc.Advance(time.Minute)
	settle(t, l)
	if len(h.timeouts) != 1 {
		t.Fatalf("timeouts %v while paused", h.timeouts)
	}
	h.conn.ResumeReading()
	settle(t, l)
	vc.Advance(1500 * time.Millisecond)
	settle(t, l)
	if len(h.timeouts) != 1 {
		t.Fatalf("timeouts %v 1.5 s after ResumeReading", h.timeouts)
	}
	vc.Advance(600 * time.Millisecond)
	runUntil(t, l, "the second timeout", func() bool { return len(h.timeouts) == 2 })
}
