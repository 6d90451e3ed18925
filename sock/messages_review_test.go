package sock_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// reviewLines is a MessageHandler for the review's tests: it records the
// messages of one connection, and what it was doing when each came.
type reviewLines struct {
	sock.BaseHandler
	conn            *sock.Conn
	msgs            []string
	closed          bool
	closeErr        error
	pauses, resumes int
	splitErrs       []error

	// onMessage, when set, runs after each message is recorded.
	onMessage func(c *sock.Conn, msg string)
	// onOpen, when set, runs in OnOpen.
	onOpen func(c *sock.Conn)

	// ownPause is set while the handler has reading paused of its own
	// accord (the test clears it when it resumes), and whileOwnPause counts
	// the messages that came meanwhile.
	ownPause      bool
	whileOwnPause int
	// whileWritesPaused counts the messages that came while WritePaused.
	whileWritesPaused int
}

func (h *reviewLines) OnOpen(c *sock.Conn) {
	h.conn = c
	if h.onOpen != nil {
		h.onOpen(c)
	}
}

func (h *reviewLines) OnMessage(c *sock.Conn, msg []byte) {
	if h.ownPause {
		h.whileOwnPause++
	}
	if c.WritePaused() {
		h.whileWritesPaused++
	}
	h.msgs = append(h.msgs, string(msg))
	if h.onMessage != nil {
		h.onMessage(c, string(msg))
	}
}

func (h *reviewLines) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }
func (h *reviewLines) OnPause(*sock.Conn)              { h.pauses++ }
func (h *reviewLines) OnResume(*sock.Conn)             { h.resumes++ }

// reviewSplitLines is reviewLines with OnSplitError.
type reviewSplitLines struct{ reviewLines }

func (h *reviewSplitLines) OnSplitError(_ *sock.Conn, err error) {
	h.splitErrs = append(h.splitErrs, err)
}

// iterate runs l's iterations without blocking, n times: enough for what is
// already queued or readable to happen.
func iterate(t *testing.T, l *loop.Loop, n int) {
	t.Helper()
	for range n {
		if err := l.RunOnce(false); err != nil {
			t.Fatal(err)
		}
	}
}

// abortAndWait aborts c, if it is open, and runs l until h saw OnClose.
func abortAndWait(t *testing.T, l *loop.Loop, c *sock.Conn, h *reviewLines) {
	t.Helper()
	if c != nil {
		c.Abort()
	}
	runUntil(t, l, "the connection to close", func() bool { return h.closed })
}

// TestMessagesReviewLastMessageAfterCloseWrite: a dialed client that sends
// its request and CloseWrites (as an HTTP/1.0 or a "send, half-close, read
// the answer" client does) must still get the last message that the peer's
// end of stream finishes (bufio.ScanLines' last line without its newline),
// and must learn of a frame cut short by it. Messages' doc: "At the peer's
// end of stream, what the split function makes of the kept input ... is
// handed out", and io.ErrUnexpectedEOF goes to OnSplitError. On db8cdf4
// gotEOF tears a CloseWritten connection down without Messages' OnEOF, so
// the last line is dropped and OnClose gets nil.
func TestMessagesReviewLastMessageAfterCloseWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answer   string
		wantMsgs []string
		wantErr  error // what OnSplitError must get
	}{
		{"last line without newline", "first\nlast without newline", []string{"first", "last without newline"}, nil},
		{"frame cut short", "\x00\x00\x00\x02ok\x00\x00\x00\x09cut", []string{"ok"}, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			pl := peerListener(t)
			go func() {
				pc, err := pl.Accept()
				if err != nil {
					return
				}
				defer pc.Close()
				pc.SetDeadline(time.Now().Add(waitLimit))
				io.ReadAll(pc) // the request, up to the client's CloseWrite
				pc.Write([]byte(tc.answer))
			}()
			split := bufio.ScanLines
			if tc.wantErr != nil {
				split = scanLengthPrefixed
			}
			h := &reviewSplitLines{}
			h.onOpen = func(c *sock.Conn) {
				c.Write([]byte("request\n"))
				c.CloseWrite()
			}
			c, err := sock.Dial(l, "tcp", pl.Addr().String(), sock.Messages(split, 1024, h))
			if err != nil {
				t.Fatal(err)
			}
			runUntil(t, l, "the close", func() bool { return h.closed })
			_ = c
			if h.closeErr != nil {
				t.Errorf("OnClose got %v, want nil", h.closeErr)
			}
			if strings.Join(h.msgs, "|") != strings.Join(tc.wantMsgs, "|") {
				t.Errorf("messages %q, want %q", h.msgs, tc.wantMsgs)
			}
			if tc.wantErr != nil && (len(h.splitErrs) != 1 || h.splitErrs[0] != tc.wantErr) {
				t.Errorf("OnSplitError got %v, want %v once", h.splitErrs, tc.wantErr)
			}
			if tc.wantErr == nil && len(h.splitErrs) != 0 {
				t.Errorf("OnSplitError got %v", h.splitErrs)
			}
		})
	}
}

// TestMessagesReviewOnResumeKeepsTheHandlersPause: a handler that answers
// a message (the answer crosses the high-water mark: Messages pauses
// reading) and then pauses reading itself (it hands the next step off, say)
// gets no message until it calls ResumeReading, and ReadPaused stays true
// meanwhile. Messages' doc: "OnMessage may also PauseReading itself: the
// messages after it wait, and are handed out soon after ResumeReading". On
// db8cdf4 Messages' OnResume calls ResumeReading for the pause it made at
// OnPause, which undoes the handler's own, and "next" is handed out.
func TestMessagesReviewOnResumeKeepsTheHandlersPause(t *testing.T) {
	const high = 16 << 10
	answer := bytes.Repeat([]byte("a"), 1<<20)
	l := newLoop(t)
	h := &reviewLines{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "big" {
			c.Write(answer) // OnPause: Messages pauses reading
			c.PauseReading()
			h.ownPause = true
		}
	}
	peer := listenAndDialSmall(t, l, sock.Messages(bufio.ScanLines, 1024, h),
		sock.WithHighWater(high), sock.WithSendBufferSize(16<<10))
	peer.SetDeadline(time.Now().Add(waitLimit))
	sendAndReadAnswer(t, l, peer, "big\nnext\n", len(answer), func() bool { return h.resumes > 0 })
	if h.pauses == 0 {
		t.Fatal("the answer never paused writes: the test did not test")
	}
	iterate(t, l, 10) // what OnResume queued runs
	if h.whileOwnPause != 0 || !h.conn.ReadPaused() {
		t.Errorf("with the handler's PauseReading in effect, %d messages came (%q) and ReadPaused is %v",
			h.whileOwnPause, h.msgs, h.conn.ReadPaused())
	}
	h.ownPause = false
	h.conn.ResumeReading()
	runUntil(t, l, "the second message", func() bool { return len(h.msgs) == 2 })
	if strings.Join(h.msgs, "|") != "big|next" {
		t.Errorf("messages %q", h.msgs)
	}
	abortAndWait(t, l, h.conn, h)
}

// TestMessagesReviewReadingStaysPausedWhileWritesArePaused: a handler
// that paused reading itself before its answer paused writes, and resumes
// reading while the answer still waits (its own work done), must not make
// the connection read and keep whatever the peer sends: Messages' doc
// promises that "reading pauses" at OnPause and that such a peer "holds the
// connection's memory at about the high-water mark and one read". On
// db8cdf4 OnData keeps every read uncut while writes are paused, so a peer
// that sends and never reads grows the kept input without bound.
func TestMessagesReviewReadingStaysPausedWhileWritesArePaused(t *testing.T) {
	const high, maxMsg = 16 << 10, 1024
	answer := bytes.Repeat([]byte("a"), 1<<20)
	l := newLoop(t)
	h := &reviewLines{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "pause" {
			c.PauseReading() // the handler's own, first
			c.Write(answer)  // then OnPause
		}
	}
	peer := listenAndDialSmall(t, l, sock.Messages(bufio.ScanLines, maxMsg, h),
		sock.WithHighWater(high), sock.WithSendBufferSize(16<<10))
	flood := bytes.Repeat([]byte("a request the server must not keep unread\n"), (8<<20)/42)
	// The peer never reads. Its write ends when all of flood is taken,
	// which only a server that reads everything allows, or at the deadline,
	// which bounds the experiment.
	peer.SetWriteDeadline(time.Now().Add(time.Second))
	done := make(chan struct{})
	go func() {
		peer.Write([]byte("pause\n"))
		peer.Write(flood)
		close(done)
		l.Post(func() {})
	}()
	runUntil(t, l, "the answer to pause writes", func() bool { return h.pauses > 0 })
	h.conn.ResumeReading() // the handler's own work is done; writes are still paused
	bound := high + 64<<10 + maxMsg
	maxKept := 0
	finished := false
	runUntil(t, l, "the peer's write to end, or the kept input to pass the bound", func() bool {
		kept, _ := sock.MessagesKept(h.conn)
		maxKept = max(maxKept, kept)
		select {
		case <-done:
			finished = true
		default:
		}
		return finished || maxKept > bound
	})
	if maxKept > bound {
		t.Errorf("with writes paused, the connection kept %d bytes of input; want at most %d (the high-water mark, a read and a message)", maxKept, bound)
	}
	if h.whileWritesPaused != 0 {
		t.Errorf("%d messages came while writes were paused", h.whileWritesPaused)
	}
	abortAndWait(t, l, h.conn, h)
}

// TestMessagesReviewNoMessageAtTheEndWhileWritesArePaused: the same
// handler, and a peer that has sent its last requests and its end of
// stream: when the handler resumes reading while its answer still waits,
// the end of stream must not hand out a message while writes are paused
// ("the messages already read wait; at OnResume they are handed out"). On
// db8cdf4 Messages' OnEOF cuts the kept input at once, and the first
// message after "pause" comes while WritePaused.
func TestMessagesReviewNoMessageAtTheEndWhileWritesArePaused(t *testing.T) {
	const high = 16 << 10
	answer := bytes.Repeat([]byte("a"), 1<<20)
	l := newLoop(t)
	h := &reviewLines{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "pause" {
			c.PauseReading()
			c.Write(answer)
		}
	}
	peer := listenAndDialSmall(t, l, sock.Messages(bufio.ScanLines, 1024, h),
		sock.WithHighWater(high), sock.WithSendBufferSize(16<<10))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("pause\nx\ny\nlast"))
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "the answer to pause writes", func() bool { return h.pauses > 0 })
	h.conn.ResumeReading()
	iterate(t, l, 10) // the end of stream is read
	if h.whileWritesPaused != 0 {
		t.Errorf("%d messages (%q) came while writes were paused", h.whileWritesPaused, h.msgs)
	}
	var got []byte
	peerRead := readingPeer(l, peer, nil, &got)
	runUntil(t, l, "every message and the close", func() bool { return peerRead() && h.closed })
	if strings.Join(h.msgs, "|") != "pause|x|y|last" || h.closeErr != nil {
		t.Errorf("messages %q, OnClose %v", h.msgs, h.closeErr)
	}
	if !bytes.Equal(got, answer) {
		t.Errorf("the peer read %d bytes, want the %d of the answer", len(got), len(answer))
	}
}

// TestMessagesReviewEndWaitsForTheHandlersResume: a handler that pauses
// reading at each message while it works on it (answering later, from
// another callback) must see the peer's end of stream only after its
// ResumeReading, as PauseReading's doc says ("the peer's end of stream
// (OnEOF or OnClose) comes after ResumeReading"), so that its answer to the
// last message is sent. On db8cdf4, when the last message is the one the
// end of stream finishes (a line without its newline), Messages closes the
// connection right after handing it out, with the handler's pause in
// effect: the answer meets ErrClosed and the peer never gets it.
func TestMessagesReviewEndWaitsForTheHandlersResume(t *testing.T) {
	l := newLoop(t)
	h := &reviewLines{}
	var pending []string
	h.onMessage = func(c *sock.Conn, msg string) {
		c.PauseReading() // work on msg; ResumeReading when it is answered
		h.ownPause = true
		pending = append(pending, msg)
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	var got []byte
	peerRead := readingPeer(l, peer, func() {
		peer.Write([]byte("a\nb"))
		peer.(*net.TCPConn).CloseWrite()
	}, &got)
	var writeErrs []error
	for answered := 0; answered < 2; answered++ {
		runUntil(t, l, "a message to work on", func() bool { return len(pending) > 0 || h.closed })
		if len(pending) == 0 {
			break
		}
		iterate(t, l, 10) // whatever comes while the handler works
		if h.closed || h.whileOwnPause != 0 {
			t.Errorf("while the handler worked on %q with reading paused: closed %v, %d more messages", pending[0], h.closed, h.whileOwnPause)
		}
		if _, err := h.conn.Write([]byte(strings.ToUpper(pending[0]) + "\n")); err != nil {
			writeErrs = append(writeErrs, err)
		}
		pending = pending[1:]
		h.ownPause = false
		h.conn.ResumeReading()
	}
	runUntil(t, l, "the close and the peer's read", func() bool { return peerRead() && h.closed })
	if string(got) != "A\nB\n" || len(writeErrs) != 0 {
		t.Errorf("the peer read %q, want both answers; the answers' writes failed with %v", got, writeErrs)
	}
	if strings.Join(h.msgs, "|") != "a|b" {
		t.Errorf("messages %q", h.msgs)
	}
}

// eofAfterCloseWrite is a MessageHandler and EOFHandler that records
// whether OnEOF was called.
type eofAfterCloseWrite struct {
	reviewLines
	eofCalls int
}

func (h *eofAfterCloseWrite) OnEOF(*sock.Conn) bool { h.eofCalls++; return false }

// TestMessagesReviewNoOnEOFAfterCloseWrite: EOFHandler's doc says "After
// CloseWrite there is nothing left to write, so OnEOF is not called". A
// MessageHandler that answers the last message (the one the end of stream
// finishes) and CloseWrites while its answer is still queued must not get
// OnEOF either. On db8cdf4 Messages' OnEOF asks h's OnEOF once End's
// messages are out, whatever they did.
func TestMessagesReviewNoOnEOFAfterCloseWrite(t *testing.T) {
	answer := bytes.Repeat([]byte("a"), 1<<20)
	l := newLoop(t)
	h := &eofAfterCloseWrite{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "last" {
			c.Write(answer) // stays queued: the CloseWrite's flush is under way
			c.CloseWrite()
		}
	}
	peer := listenAndDialSmall(t, l, sock.Messages(bufio.ScanLines, 1024, h),
		sock.WithHighWater(4<<20), sock.WithSendBufferSize(16<<10))
	peer.SetDeadline(time.Now().Add(waitLimit))
	var got []byte
	peerRead := readingPeer(l, peer, func() {
		peer.Write([]byte("a\nlast"))
		peer.(*net.TCPConn).CloseWrite()
	}, &got)
	runUntil(t, l, "the close and the peer's read", func() bool { return peerRead() && h.closed })
	if h.eofCalls != 0 {
		t.Errorf("OnEOF called %d times after CloseWrite", h.eofCalls)
	}
	if strings.Join(h.msgs, "|") != "a|last" || !bytes.Equal(got, answer) || h.closeErr != nil {
		t.Errorf("messages %q, the peer read %d bytes (want %d), OnClose %v", h.msgs, len(got), len(answer), h.closeErr)
	}
}

// readingPeer starts a goroutine that calls first (if not nil), then reads
// peer to its end and wakes l. The func it returns, for a runUntil
// condition on l's goroutine, reports whether the read has ended, and then
// *got holds what it read.
func readingPeer(l *loop.Loop, peer net.Conn, first func(), got *[]byte) func() bool {
	read := make(chan []byte, 1)
	go func() {
		if first != nil {
			first()
		}
		b, _ := io.ReadAll(peer)
		read <- b
		l.Post(func() {})
	}()
	return func() bool {
		if *got == nil {
			select {
			case *got = <-read:
			default:
			}
		}
		return *got != nil
	}
}

// sendAndReadAnswer has the peer send req and read n bytes of answer on a
// goroutine, and runs l until it has, and until resumed holds.
func sendAndReadAnswer(t *testing.T, l *loop.Loop, peer net.Conn, req string, n int, resumed func() bool) {
	t.Helper()
	read := make(chan error, 1)
	go func() {
		peer.Write([]byte(req))
		_, err := io.ReadFull(peer, make([]byte, n))
		read <- err
		l.Post(func() {})
	}()
	var readErr error
	gotAnswer := false
	runUntil(t, l, "the answer read and OnResume", func() bool {
		if !gotAnswer {
			select {
			case readErr = <-read:
				gotAnswer = true
			default:
			}
		}
		return gotAnswer && resumed()
	})
	if readErr != nil {
		t.Fatalf("the peer read the answer with %v", readErr)
	}
}
