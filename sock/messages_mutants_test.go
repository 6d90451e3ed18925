package sock_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// These tests pin behaviour of Messages (sock/messages.go, and its hooks in
// sock/conn.go) that a mutation round found unpinned: each names the
// mutant it kills.

// mutLines is a MessageHandler that records one connection's messages and
// events; onMessage, when set, runs after each message is recorded.
type mutLines struct {
	sock.BaseHandler
	conn            *sock.Conn
	msgs            []string
	closed          bool
	closeErr        error
	pauses, resumes int
	onMessage       func(c *sock.Conn, msg string)

	// ownPause is set while the handler has reading paused of its own
	// accord (the test clears it when it resumes); whileOwnPause counts the
	// messages that came meanwhile.
	ownPause      bool
	whileOwnPause int
}

func (h *mutLines) OnOpen(c *sock.Conn) { h.conn = c }

func (h *mutLines) OnMessage(c *sock.Conn, msg []byte) {
	if h.ownPause {
		h.whileOwnPause++
	}
	h.msgs = append(h.msgs, string(msg))
	if h.onMessage != nil {
		h.onMessage(c, string(msg))
	}
}

func (h *mutLines) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }
func (h *mutLines) OnPause(*sock.Conn)              { h.pauses++ }
func (h *mutLines) OnResume(*sock.Conn)             { h.resumes++ }

// pauseOwn pauses c's reading for the handler, and marks it.
func (h *mutLines) pauseOwn(c *sock.Conn) {
	c.PauseReading()
	h.ownPause = true
}

// resumeOwn ends the handler's own pause.
func (h *mutLines) resumeOwn() {
	h.ownPause = false
	h.conn.ResumeReading()
}

// mutEOFLines is mutLines with OnEOF, which counts its calls, records
// whether writes were paused and how many OnResume had come, and returns
// keepOpen.
type mutEOFLines struct {
	mutLines
	keepOpen         bool
	eofCalls         int
	resumesAtEOF     int
	writePausedAtEOF bool
}

func (h *mutEOFLines) OnEOF(c *sock.Conn) bool {
	h.eofCalls++
	h.resumesAtEOF, h.writePausedAtEOF = h.resumes, c.WritePaused()
	return h.keepOpen
}

// mutSplitErrLines is mutLines with OnSplitError, which records the errors
// and leaves the connection open.
type mutSplitErrLines struct {
	mutLines
	splitErrs []error
}

func (h *mutSplitErrLines) OnSplitError(_ *sock.Conn, err error) {
	h.splitErrs = append(h.splitErrs, err)
}

// mutIterate runs n iterations of l without blocking: enough for what is
// queued or readable already to happen.
func mutIterate(t *testing.T, l *loop.Loop, n int) {
	t.Helper()
	for range n {
		if err := l.RunOnce(false); err != nil {
			t.Fatal(err)
		}
	}
}

// mutReadAll reads what the peer gets until its end of stream, from a
// goroutine, and wakes l when done; the returned func, run in a runUntil
// condition, reports whether the read has ended and what it got.
func mutReadAll(l *loop.Loop, peer net.Conn) func() ([]byte, bool) {
	ch := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		ch <- b
		l.Post(func() {})
	}()
	var got []byte
	done := false
	return func() ([]byte, bool) {
		if !done {
			select {
			case got = <-ch:
				done = true
			default:
			}
		}
		return got, done
	}
}

// TestMessagesMutantsPauseReadingHoldsTheRestOfTheRead: the messages that
// follow, in the same read, one whose OnMessage paused reading wait for
// ResumeReading (Messages' doc: "OnMessage may also PauseReading itself:
// the messages after it wait"). Kills deliver not holding the rest for
// fReadPaused.
func TestMessagesMutantsPauseReadingHoldsTheRestOfTheRead(t *testing.T) {
	l := newLoop(t)
	h := &mutLines{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "pause" {
			h.pauseOwn(c)
		}
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	if _, err := peer.Write([]byte("one\npause\ntwo\nthree\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the pausing message", func() bool { return len(h.msgs) >= 2 })
	mutIterate(t, l, 20)
	if h.whileOwnPause != 0 || !h.conn.ReadPaused() {
		t.Fatalf("with the handler's PauseReading in effect: messages %q, ReadPaused %v", h.msgs, h.conn.ReadPaused())
	}
	h.resumeOwn()
	runUntil(t, l, "the held messages", func() bool { return len(h.msgs) == 4 })
	if got := strings.Join(h.msgs, "|"); got != "one|pause|two|three" {
		t.Errorf("messages %q", h.msgs)
	}
}

// TestMessagesMutantsFinalTokenWithASplitErrorHandler: bufio.ErrFinalToken
// is no error to tell: with a SplitErrorHandler too, the connection closes
// after the final message, with OnClose(nil), and OnSplitError is not
// called. Kills failed handing ErrFinalToken to OnSplitError.
func TestMessagesMutantsFinalTokenWithASplitErrorHandler(t *testing.T) {
	untilStop := func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if err == nil && string(tok) == "stop" {
			return adv, tok, bufio.ErrFinalToken
		}
		return adv, tok, err
	}
	l := newLoop(t)
	h := &mutSplitErrLines{}
	_, peer := listenAndDial(t, l, sock.Messages(untilStop, 1024, h))
	if _, err := peer.Write([]byte("one\nstop\ndropped\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the close", func() bool { return h.closed })
	if strings.Join(h.msgs, "|") != "one|stop" || h.closeErr != nil || len(h.splitErrs) != 0 {
		t.Errorf("messages %q, OnClose(%v), OnSplitError %v; want one|stop, nil, none", h.msgs, h.closeErr, h.splitErrs)
	}
}

// TestMessagesMutantsOnResumeKeepsAPauseMadeBeforeOnPause: a handler that
// paused reading itself and then wrote an answer that paused writes keeps
// its pause over OnResume: no message until its ResumeReading. Kills
// Messages' OnPause pausing reading (and taking the pause over) when the
// handler had paused it already.
func TestMessagesMutantsOnResumeKeepsAPauseMadeBeforeOnPause(t *testing.T) {
	answer := bytes.Repeat([]byte("a"), 1<<20)
	l := newLoop(t)
	h := &mutLines{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "work" {
			h.pauseOwn(c)   // the handler's own pause, first
			c.Write(answer) // then OnPause
		}
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h),
		sock.WithHighWater(16<<10), sock.WithSendBufferSize(16<<10))
	peer.SetDeadline(time.Now().Add(waitLimit))
	sendAndReadAnswer(t, l, peer, "work\nnext\n", len(answer), func() bool { return h.resumes > 0 })
	if h.pauses == 0 {
		t.Fatal("the answer never paused writes: the test did not test")
	}
	mutIterate(t, l, 20)
	if h.whileOwnPause != 0 || !h.conn.ReadPaused() {
		t.Fatalf("after OnResume, with the handler's pause in effect: messages %q, ReadPaused %v", h.msgs, h.conn.ReadPaused())
	}
	h.resumeOwn()
	runUntil(t, l, "the next message", func() bool { return len(h.msgs) == 2 })
	if strings.Join(h.msgs, "|") != "work|next" {
		t.Errorf("messages %q", h.msgs)
	}
	h.conn.Abort()
	runUntil(t, l, "the close", func() bool { return h.closed })
}

// endMarker returns a split function that cuts lines and, at the end of
// stream, hands out one "<end>" message of its own (with nothing left to
// cut: state of its own says it was given), as End's doc allows ("one that
// ends the stream with a token of its own").
func endMarker() bufio.SplitFunc {
	given := false
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if atEOF && len(data) == 0 {
			if given {
				return 0, nil, nil
			}
			given = true
			return 0, []byte("<end>"), nil
		}
		return bufio.ScanLines(data, atEOF)
	}
}

// TestMessagesMutantsEndWaitsForAPauseInTheEndsOwnMessage: a handler that
// pauses reading in the message the split function makes at the end of
// stream, with nothing kept before it, keeps the connection open until its
// ResumeReading, as PauseReading's doc says (the end of stream comes after
// ResumeReading), so that its answer is sent. Kills OnEOF closing at once
// when nothing was kept, whatever the handler's pause.
func TestMessagesMutantsEndWaitsForAPauseInTheEndsOwnMessage(t *testing.T) {
	l := newLoop(t)
	h := &mutLines{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "<end>" {
			h.pauseOwn(c) // answered below, from the test
		}
	}
	_, peer := listenAndDial(t, l, sock.Messages(endMarker(), 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("a\n"))
	peer.(*net.TCPConn).CloseWrite()
	read := mutReadAll(l, peer)
	runUntil(t, l, "the end's own message", func() bool { return len(h.msgs) == 2 || h.closed })
	mutIterate(t, l, 20)
	if h.closed {
		t.Fatalf("closed (OnClose(%v)) with the handler's pause in effect", h.closeErr)
	}
	if _, err := h.conn.Write([]byte("bye\n")); err != nil {
		t.Fatalf("the answer: %v", err)
	}
	h.resumeOwn()
	runUntil(t, l, "the close and the peer's read", func() bool { _, done := read(); return done && h.closed })
	got, _ := read()
	if string(got) != "bye\n" || h.closeErr != nil || strings.Join(h.msgs, "|") != "a|<end>" {
		t.Errorf("the peer read %q, OnClose(%v), messages %q", got, h.closeErr, h.msgs)
	}
}

// TestMessagesMutantsSplitErrorAtTheEndWithNothingKept: a split function
// that refuses the end of stream (a protocol whose stream must end with a
// trailer) has the connection closed with its error, also when nothing was
// kept. Kills OnEOF not acting on End's error when nothing was kept.
func TestMessagesMutantsSplitErrorAtTheEndWithNothingKept(t *testing.T) {
	errNoTrailer := errors.New("the stream ended without its trailer")
	split := func(data []byte, atEOF bool) (int, []byte, error) {
		if atEOF && len(data) == 0 {
			return 0, nil, errNoTrailer
		}
		return bufio.ScanLines(data, atEOF)
	}
	l := newLoop(t)
	h := &mutLines{}
	_, peer := listenAndDial(t, l, sock.Messages(split, 1024, h))
	peer.Write([]byte("a\n"))
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "the close", func() bool { return h.closed })
	if !errors.Is(h.closeErr, errNoTrailer) || strings.Join(h.msgs, "|") != "a" {
		t.Errorf("OnClose(%v), messages %q; want the split function's error after a", h.closeErr, h.msgs)
	}
}

// TestMessagesMutantsOnEOFOnce: OnEOF is asked once. A handler that pauses
// reading in the last message, resumes, keeps the connection open at
// OnEOF, and later pauses and resumes reading again gets no second OnEOF.
// Kills endKept leaving the end marked as waiting once it is handed out.
func TestMessagesMutantsOnEOFOnce(t *testing.T) {
	l := newLoop(t)
	h := &mutEOFLines{keepOpen: true}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "b" {
			h.pauseOwn(c)
		}
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("a\nb"))
	peer.(*net.TCPConn).CloseWrite()
	read := mutReadAll(l, peer)
	runUntil(t, l, "the last message", func() bool { return len(h.msgs) == 2 })
	mutIterate(t, l, 20)
	if h.eofCalls != 0 || h.closed {
		t.Fatalf("with the handler's pause in effect: OnEOF %d times, closed %v", h.eofCalls, h.closed)
	}
	h.resumeOwn()
	runUntil(t, l, "OnEOF", func() bool { return h.eofCalls > 0 })
	h.conn.PauseReading()
	h.conn.ResumeReading()
	mutIterate(t, l, 20)
	if h.eofCalls != 1 || h.closed {
		t.Errorf("OnEOF %d times, closed %v; want once, open", h.eofCalls, h.closed)
	}
	h.conn.Write([]byte("done\n"))
	h.conn.Close()
	runUntil(t, l, "the close and the peer's read", func() bool { _, done := read(); return done && h.closed })
	if got, _ := read(); string(got) != "done\n" || h.closeErr != nil {
		t.Errorf("the peer read %q, OnClose(%v)", got, h.closeErr)
	}
}

// atEOFLines cuts lines only at the end of stream: every message waits
// for it, and End hands them all out.
func atEOFLines(data []byte, atEOF bool) (int, []byte, error) {
	if !atEOF {
		return 0, nil, nil
	}
	return bufio.ScanLines(data, atEOF)
}

// TestMessagesMutantsNoOnEOFAfterCloseInTheLastMessage: a handler that
// closes the connection in a message of the end of stream is not asked
// OnEOF after it (a plain Handler's OnEOF is not asked once it has closed
// either): the close stands. Kills eofDone (the end handed out at once) and
// feedHeld (the end handed out after the handler's pause) asking OnEOF of
// a closing connection.
func TestMessagesMutantsNoOnEOFAfterCloseInTheLastMessage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		split    bufio.SplitFunc
		send     string
		pauseAtA bool
	}{
		// The end of stream finishes "quit": OnEOF hands it out.
		{"at once", bufio.ScanLines, "a\nquit", false},
		// Both come at the end; the handler pauses in "a", and "quit" is
		// handed out after its ResumeReading.
		{"after a pause", atEOFLines, "a\nquit\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			h := &mutEOFLines{keepOpen: true}
			h.onMessage = func(c *sock.Conn, msg string) {
				switch msg {
				case "a":
					if tc.pauseAtA {
						h.pauseOwn(c)
						c.Loop().CallSoon(h.resumeOwn)
					}
				case "quit":
					c.Write([]byte("bye\n"))
					c.Close()
				}
			}
			_, peer := listenAndDial(t, l, sock.Messages(tc.split, 1024, h))
			peer.SetDeadline(time.Now().Add(waitLimit))
			peer.Write([]byte(tc.send))
			peer.(*net.TCPConn).CloseWrite()
			read := mutReadAll(l, peer)
			runUntil(t, l, "the close and the peer's read", func() bool { _, done := read(); return done && h.closed })
			got, _ := read()
			if h.eofCalls != 0 {
				t.Errorf("OnEOF asked %d times after the handler's Close", h.eofCalls)
			}
			if string(got) != "bye\n" || h.closeErr != nil || strings.Join(h.msgs, "|") != "a|quit" {
				t.Errorf("the peer read %q, OnClose(%v), messages %q", got, h.closeErr, h.msgs)
			}
		})
	}
}

// TestMessagesMutantsNoOnEOFAfterCloseWriteWhileTheEndWaited: a handler
// that pauses reading in the last message and, before resuming, answers
// and CloseWrites (the answer's flush still under way) is not asked OnEOF
// (EOFHandler's doc: "After CloseWrite ... OnEOF is not called"); the
// connection closes once the answer is sent. Kills feedHeld asking OnEOF
// after CloseWrite.
func TestMessagesMutantsNoOnEOFAfterCloseWriteWhileTheEndWaited(t *testing.T) {
	answer := bytes.Repeat([]byte("B"), 1<<20)
	l := newLoop(t)
	h := &mutEOFLines{keepOpen: true}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "b" {
			h.pauseOwn(c)
		}
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h),
		sock.WithHighWater(4<<20), sock.WithSendBufferSize(16<<10))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("a\nb"))
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "the last message", func() bool { return len(h.msgs) == 2 })
	mutIterate(t, l, 20)
	if _, err := h.conn.Write(answer); err != nil {
		t.Fatal(err)
	}
	if err := h.conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if h.conn.Buffered() == 0 {
		t.Skip("the kernel took the whole answer: no flush under way")
	}
	h.resumeOwn()
	read := mutReadAll(l, peer)
	runUntil(t, l, "the close and the peer's read", func() bool { _, done := read(); return done && h.closed })
	got, _ := read()
	if h.eofCalls != 0 {
		t.Errorf("OnEOF asked %d times after CloseWrite", h.eofCalls)
	}
	if !bytes.Equal(got, answer) || h.closeErr != nil {
		t.Errorf("the peer read %d bytes (want %d), OnClose(%v)", len(got), len(answer), h.closeErr)
	}
}

// TestMessagesMutantsOnCloseKeepsTheClosesOwnError: after a split error
// closes the connection, OnClose receives the split error "unless the close
// itself failed" (Messages' doc): here the close's flush meets the write
// timeout, and OnClose receives that. Kills OnClose putting the split error
// over the close's own.
func TestMessagesMutantsOnCloseKeepsTheClosesOwnError(t *testing.T) {
	l := newLoop(t)
	h := &mutLines{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "big" {
			c.SetWriteTimeout(100 * time.Millisecond)
			c.Write(make([]byte, 4<<20)) // the peer never reads it
		}
	}
	peer := listenAndDialSmall(t, l, sock.Messages(bufio.ScanLines, 1024, h),
		sock.WithSendBufferSize(16<<10), sock.WithHighWater(64<<20))
	// "big", then a line past the bound in the same write: bufio.ErrTooLong.
	if _, err := peer.Write(append([]byte("big\n"), bytes.Repeat([]byte("y"), 2048)...)); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the close", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrTimeout) || errors.Is(h.closeErr, bufio.ErrTooLong) {
		t.Errorf("OnClose(%v); want the write timeout that failed the close", h.closeErr)
	}
}

// TestMessagesMutantsPanicLeavesOnCloseNil: a panic in OnMessage goes to
// the loop's panic handler and closes the connection as Close does; OnClose
// gets nil, not the panic's internal marker. Kills OnClose passing
// errMessagePanicked on.
func TestMessagesMutantsPanicLeavesOnCloseNil(t *testing.T) {
	var panics []any
	l := newLoop(t, loop.WithPanicHandler(func(v any) { panics = append(panics, v) }))
	h := &mutLines{}
	h.onMessage = func(_ *sock.Conn, msg string) {
		if msg == "panic" {
			panic("bang")
		}
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.Write([]byte("one\npanic\ntwo\n"))
	runUntil(t, l, "the close", func() bool { return h.closed })
	if len(panics) != 1 || h.closeErr != nil || strings.Join(h.msgs, "|") != "one|panic" {
		t.Errorf("panics %v, OnClose(%v), messages %q; want one panic, nil, one|panic", panics, h.closeErr, h.msgs)
	}
}

// TestMessagesMutantsNothingKeptAfterOnClose: a connection closed with
// input kept lets it go by OnClose, with Messages and with MessagesPerConn
// (whose doc says a connection keeps its splitter "from its OnOpen to its
// OnClose"): a program that holds on to a closed Conn does not hold its
// buffer. Kills OnClose leaving the connection's framing in place.
func TestMessagesMutantsNothingKeptAfterOnClose(t *testing.T) {
	for name, mk := range map[string]func(h sock.MessageHandler) sock.Handler{
		"Messages": func(h sock.MessageHandler) sock.Handler { return sock.Messages(bufio.ScanLines, 1<<20, h) },
		"MessagesPerConn": func(h sock.MessageHandler) sock.Handler {
			return sock.MessagesPerConn(func(*sock.Conn) bufio.SplitFunc { return bufio.ScanLines }, 1<<20, h)
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLoop(t)
			h := &mutLines{}
			_, peer := listenAndDial(t, l, mk(h))
			peer.Write([]byte("one\n" + strings.Repeat("z", 8<<10)))
			runUntil(t, l, "the unfinished line kept", func() bool {
				if h.conn == nil {
					return false
				}
				kept, _ := sock.MessagesKept(h.conn)
				return kept == 8<<10
			})
			h.conn.Abort()
			runUntil(t, l, "the close", func() bool { return h.closed })
			if kept, capacity := sock.MessagesKept(h.conn); kept != 0 || capacity != 0 {
				t.Errorf("after OnClose the connection keeps %d bytes in a buffer of %d", kept, capacity)
			}
		})
	}
}

// TestMessagesMutantsNoMessageAfterCloseFollowingCloseWrite: a connection
// that CloseWrote and then Closed, with an unfinished message kept, hands
// out nothing at the peer's end of stream ("After Close or Abort no
// message comes"). The peer reads nothing, so the close lingers (what was
// sent is not acknowledged) until the peer's end of stream. Kills gotEOF
// giving a closing connection's end to Messages after CloseWrite.
func TestMessagesMutantsNoMessageAfterCloseFollowingCloseWrite(t *testing.T) {
	l := newLoop(t)
	h := &mutLines{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "a" {
			c.Write(make([]byte, 256<<10)) // the peer never reads it
			c.CloseWrite()
		}
	}
	peer := listenAndDialSmall(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("a\npart"))
	runUntil(t, l, "the unfinished line kept", func() bool {
		kept := 0
		if h.conn != nil {
			kept, _ = sock.MessagesKept(h.conn)
		}
		return kept == len("part")
	})
	if err := h.conn.Close(); err != nil {
		t.Fatal(err)
	}
	mutIterate(t, l, 10)
	if h.closed {
		t.Skip("the close did not linger: the peer acknowledged everything")
	}
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "the close", func() bool { return h.closed })
	if strings.Join(h.msgs, "|") != "a" {
		t.Errorf("messages %q; want only a", h.msgs)
	}
}

// TestMessagesMutantsOneSplitErrorWithAHandOutQueued: when the messages
// held by the handler's pause are queued to be handed out (ResumeReading
// from a posted callback: they go out in a later iteration) and the read
// that comes first fails the cutting (a line past the bound),
// OnSplitError is called once and no message follows. Kills feedHeld going
// on after an error. (Which comes first depends on the loop variant's
// order of I/O and queued callbacks; the test passes either way.)
func TestMessagesMutantsOneSplitErrorWithAHandOutQueued(t *testing.T) {
	l := newLoop(t)
	h := &mutSplitErrLines{}
	h.onMessage = func(c *sock.Conn, msg string) {
		if msg == "pause" {
			h.pauseOwn(c)
		}
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.Write([]byte("pause\nnext\n"))
	runUntil(t, l, "the pausing message", func() bool { return len(h.msgs) == 1 })
	peer.Write(bytes.Repeat([]byte("y"), 2048)) // past the bound, unfinished
	time.Sleep(20 * time.Millisecond)           // in the kernel's queue, most likely
	l.Post(func() { h.resumeOwn() })
	runUntil(t, l, "the split error", func() bool { return len(h.splitErrs) > 0 })
	mutIterate(t, l, 20)
	if len(h.splitErrs) != 1 || !errors.Is(h.splitErrs[0], bufio.ErrTooLong) {
		t.Errorf("OnSplitError got %v; want bufio.ErrTooLong once", h.splitErrs)
	}
	if strings.Join(h.msgs, "|") != "pause|next" {
		t.Errorf("messages %q", h.msgs)
	}
	h.conn.Abort()
	runUntil(t, l, "the close", func() bool { return h.closed })
}

// TestMessagesMutantsLetABufferJustPast4KiBGo: a message cut across reads
// that grows the connection's buffer a little past 4 KiB (not twice that)
// has it let go too: Messages' doc bounds what an idle connection keeps
// between long messages at 4 KiB. Kills feedKept letting go only buffers
// of 8 KiB and more.
func TestMessagesMutantsLetABufferJustPast4KiBGo(t *testing.T) {
	for _, size := range []int{5000, 6000, 7000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			l := newLoop(t)
			h := &mutLines{}
			_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1<<20, h))
			line := strings.Repeat("z", size)
			peer.Write([]byte(line[:size/2]))
			runUntil(t, l, "half the line kept", func() bool {
				if h.conn == nil {
					return false
				}
				kept, _ := sock.MessagesKept(h.conn)
				return kept == size/2
			})
			peer.Write([]byte(line[size/2:] + "\n"))
			runUntil(t, l, "the line", func() bool { return len(h.msgs) == 1 })
			if len(h.msgs[0]) != size {
				t.Fatalf("a line of %d bytes, want %d", len(h.msgs[0]), size)
			}
			if kept, capacity := sock.MessagesKept(h.conn); kept != 0 || capacity > 4<<10 {
				t.Errorf("after the line %d bytes kept in a buffer of %d; want none in at most 4 KiB", kept, capacity)
			}
		})
	}
}

// mutSplitCounter makes MessagesPerConn's split functions (lines), and
// counts the connections it made one for.
type mutSplitCounter struct{ made int }

func (s *mutSplitCounter) newSplit(*sock.Conn) bufio.SplitFunc {
	s.made++
	return bufio.ScanLines
}

// mutRefuser closes every connection in OnOpen, as a handler at a limit of
// its own does.
type mutRefuser struct{ mutLines }

func (h *mutRefuser) OnOpen(c *sock.Conn) {
	h.mutLines.OnOpen(c)
	c.Close()
}

// TestMessagesMutantsPerConnNoSplitForAConnectionClosedInOnOpen: a
// connection its OnOpen closed reads nothing more, and MessagesPerConn
// does not ask newSplit for it (a newSplit that uses what OnOpen puts in
// Context would find nothing there). Kills OnOpen making the framing of a
// closing connection.
func TestMessagesMutantsPerConnNoSplitForAConnectionClosedInOnOpen(t *testing.T) {
	l := newLoop(t)
	h := &mutRefuser{}
	sc := &mutSplitCounter{}
	_, peer := listenAndDial(t, l, sock.MessagesPerConn(sc.newSplit, 1024, h))
	peer.Write([]byte("a\n"))
	runUntil(t, l, "the close", func() bool { return h.closed })
	if sc.made != 0 || len(h.msgs) != 0 {
		t.Errorf("newSplit called %d times, messages %q, for a connection closed in OnOpen", sc.made, h.msgs)
	}
}

// TestMessagesMutantsPerConnNilSplitPanicsInOnOpen: MessagesPerConn's doc
// says "a connection's OnOpen panics if newSplit returns nil": the loop's
// panic handler gets it as the connection opens, before any input. Kills
// newFraming not checking newSplit's result.
func TestMessagesMutantsPerConnNilSplitPanicsInOnOpen(t *testing.T) {
	var panics []any
	l := newLoop(t, loop.WithPanicHandler(func(v any) { panics = append(panics, v) }))
	h := &mutLines{}
	newSplit := func(*sock.Conn) bufio.SplitFunc { return nil }
	listenAndDial(t, l, sock.MessagesPerConn(newSplit, 1024, h))
	runUntil(t, l, "OnOpen", func() bool { return h.conn != nil })
	if len(panics) != 1 || !strings.Contains(fmt.Sprint(panics[0]), "newSplit returned a nil") {
		t.Errorf("the panic handler got %v as the connection opened; want newSplit's nil", panics)
	}
	h.conn.Abort()
	runUntil(t, l, "the close", func() bool { return h.closed })
}

// mutOpenPanicker panics in its first OnOpen, after recording it.
type mutOpenPanicker struct {
	mutEOFLines
	panicked bool
}

func (h *mutOpenPanicker) OnOpen(c *sock.Conn) {
	h.mutEOFLines.OnOpen(c)
	if !h.panicked {
		h.panicked = true
		panic("OnOpen")
	}
}

// TestMessagesMutantsPerConnServesAConnectionWhoseOnOpenPanicked: Handler's
// doc says a connection whose method panicked stays "open and served";
// under MessagesPerConn, one whose OnOpen panicked (before newSplit was
// asked) gets its split function when input or the end of stream comes.
// Kills OnData and OnEOF cutting such a connection's input with Messages'
// shared split function, which MessagesPerConn does not have.
func TestMessagesMutantsPerConnServesAConnectionWhoseOnOpenPanicked(t *testing.T) {
	for _, tc := range []struct {
		name, send string
		want       []string
	}{
		{"messages", "a\nb", []string{"a", "b"}},
		{"only the end", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var panics []any
			l := newLoop(t, loop.WithPanicHandler(func(v any) { panics = append(panics, v) }))
			h := &mutOpenPanicker{}
			sc := &mutSplitCounter{}
			_, peer := listenAndDial(t, l, sock.MessagesPerConn(sc.newSplit, 1024, h))
			peer.Write([]byte(tc.send))
			peer.(*net.TCPConn).CloseWrite()
			runUntil(t, l, "the close", func() bool { return h.closed })
			if len(panics) != 1 || panics[0] != "OnOpen" {
				t.Errorf("the panic handler got %v; want OnOpen's panic only", panics)
			}
			if strings.Join(h.msgs, "|") != strings.Join(tc.want, "|") || h.eofCalls != 1 || h.closeErr != nil || sc.made != 1 {
				t.Errorf("messages %q, OnEOF %d times, OnClose(%v), newSplit called %d times; want %q, once, nil, once",
					h.msgs, h.eofCalls, h.closeErr, sc.made, tc.want)
			}
		})
	}
}

// linesThenEmptyEnd cuts lines and, at the end of stream once the kept
// input is used up, hands out an empty final message, as the split
// function of bufio's ExampleScanner_emptyFinalToken does for its last
// field (End's doc: "one that ends the stream with a token of its own").
func linesThenEmptyEnd(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, []byte{}, bufio.ErrFinalToken
	}
	return bufio.ScanLines(data, atEOF)
}

// endThenEmpty returns a split function that cuts lines and, at the end of
// stream with nothing kept, hands out "<end>" and then an empty final
// message.
func endThenEmpty() bufio.SplitFunc {
	given := false
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if atEOF && len(data) == 0 {
			if !given {
				given = true
				return 0, []byte("<end>"), nil
			}
			return 0, []byte{}, bufio.ErrFinalToken
		}
		return bufio.ScanLines(data, atEOF)
	}
}

// TestMessagesMutantsEveryMessageOfTheEndAfterAPause: a pause in a message
// that the end of stream hands out, with nothing kept after it, does not
// lose the messages the split function still has to hand out at the end:
// they come after ResumeReading (or OnResume), as with no pause. Messages'
// doc: "the messages after it wait, and are handed out soon after
// ResumeReading"; End's: it "asks the split function again after each
// token, until it returns none". Revealed by mutants of OnEOF and endKept
// that ask End again (they survived: on 840760b the empty last message is
// lost once the handler paused in the one before).
func TestMessagesMutantsEveryMessageOfTheEndAfterAPause(t *testing.T) {
	for _, tc := range []struct {
		name    string
		split   bufio.SplitFunc
		send    string
		pauseAt string // the message the handler pauses reading in ("": none)
		writeAt string // the message whose answer pauses writes ("": none)
		want    string
	}{
		{"no pause", linesThenEmptyEnd, "a\nlast", "", "", "a|last|"},
		{"a pause in the last line", linesThenEmptyEnd, "a\nlast", "last", "", "a|last|"},
		{"writes paused in the last line", linesThenEmptyEnd, "a\nlast", "", "last", "a|last|"},
		{"a pause in the end's own message, nothing kept", endThenEmpty(), "a\n", "<end>", "", "a|<end>|"},
		{"writes paused in the end's own message, nothing kept", endThenEmpty(), "a\n", "", "<end>", "a|<end>|"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer := bytes.Repeat([]byte("x"), 1<<20)
			l := newLoop(t)
			h := &mutLines{}
			h.onMessage = func(c *sock.Conn, msg string) {
				switch {
				case tc.pauseAt != "" && msg == tc.pauseAt:
					h.pauseOwn(c)
					c.Loop().CallLater(time.Millisecond, h.resumeOwn)
				case tc.writeAt != "" && msg == tc.writeAt:
					c.Write(answer)
				}
			}
			_, peer := listenAndDial(t, l, sock.Messages(tc.split, 1024, h),
				sock.WithHighWater(16<<10), sock.WithSendBufferSize(16<<10))
			peer.SetDeadline(time.Now().Add(waitLimit))
			peer.Write([]byte(tc.send))
			peer.(*net.TCPConn).CloseWrite()
			read := mutReadAll(l, peer)
			runUntil(t, l, "the close and the peer's read", func() bool { _, done := read(); return done && h.closed })
			if tc.writeAt != "" && h.pauses == 0 {
				t.Fatal("the answer never paused writes: the test did not test")
			}
			if got := strings.Join(h.msgs, "|"); got != tc.want || h.closeErr != nil {
				t.Errorf("messages %q, OnClose(%v); want %q, nil", got, h.closeErr, tc.want)
			}
		})
	}
}
