//go:build unix

package sock

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/loopgen/loop"
)

// MessageHandler receives a connection's messages, cut from its input by
// the split function given to Messages, and the other events of Handler.
// Embed BaseHandler for the methods a protocol does not need (its OnData is
// never called). All its methods run on the loop goroutine.
//
// It may also implement EOFHandler (OnEOF comes after the last message,
// the one the split function makes of what is left at the end of stream),
// ShutdownHandler, SplitErrorHandler and TimeoutHandler.
type MessageHandler interface {
	OnOpen(c *Conn)
	// OnMessage is called with each message, in order. msg is valid only
	// during the call (it lies in the loop's read buffer, or in what the
	// connection kept of an earlier read): copy what must outlive it.
	OnMessage(c *Conn, msg []byte)
	OnClose(c *Conn, err error)
	OnPause(c *Conn)
	OnResume(c *Conn)
}

// SplitErrorHandler may be implemented by a MessageHandler that answers
// input it cannot cut (a line past the bound, a frame whose header the split
// function refuses) instead of having the connection closed. OnSplitError
// gets bufio.ErrTooLong, the split function's error, or io.ErrUnexpectedEOF
// for an unfinished message at the peer's end of stream. No message comes
// after it, and input that follows is dropped; the connection stays open
// until the handler closes it (after writing an answer, say), or the peer's
// end of stream does.
type SplitErrorHandler interface {
	OnSplitError(c *Conn, err error)
}

// maxKeptCapacity is the largest buffer a connection keeps for cut messages
// once what it keeps is short: one that a long message grew is let go, so
// that an idle connection does not hold its largest message's size.
const maxKeptCapacity = 4 << 10

// maxSpareCapacity is the largest buffer a loop keeps, once a connection
// lets it go, for the next connection whose messages must wait: a
// handler that pauses in every burst of pipelined requests would
// otherwise make a buffer for each burst, and let it go after.
const maxSpareCapacity = 64 << 10

// Messages returns a Handler that cuts each connection's input into
// messages with split, however the reads divide it, and calls h.OnMessage
// with each: bufio.ScanLines for a line protocol, or a split function that
// finds a length-prefixed frame. It does for every connection what a
// Handler does with a Splitter of its own (NewSplitter's doc tells how
// split is called, and what maxMessage bounds), with flow control and the
// end of stream wired in, and leaves Conn.Context to h.
//
// Messages that lie whole in a read are handed out of the loop's read
// buffer, not copied. A connection keeps input only while a read has ended
// inside a message (or messages wait, below), bounded by maxMessage. A
// buffer that a long message grew past 4 KiB is let go once what is kept
// is short again (what is left is copied to a small one), so that an idle
// connection does not hold its longest message's size. A connection whose
// messages come whole allocates nothing; once a read has cut one, it keeps
// about a hundred bytes of state, and a buffer of at most 4 KiB between
// long messages. The buffer that messages waited in (up to 64 KiB) goes
// to the loop, for the next connection whose messages must wait: a
// handler that pauses in every burst allocates nothing for it.
//
// Writes are gathered: while it hands out the messages of one read (and
// at the end of stream, and after a pause), what OnMessage or OnEOF
// writes on the connection goes to a buffer of the loop, up to 16 KiB, and
// is sent in one system call when they are all handed out (or sooner: with
// a write that would take it past 16 KiB, in that write's system call, or
// at Close, CloseWrite or Abort), not in one each: 100
// pipelined lines, answered one by one, cost 70 ns a message in place of
// 1,318 (BenchmarkMessagesPipelined). Until then it counts in Buffered, and
// as unsent if the connection fails; OnPause and the write timeout see it
// only once it is queued. Writes to other connections are not gathered.
//
// Flow control, on an accepted connection: when the bytes waiting to be
// sent rise above the high-water mark (OnPause), reading pauses, and the
// messages already read wait; at OnResume reading resumes and they are
// handed out, from the loop soon after h's OnResume returns. So a peer
// that sends requests faster than it reads the answers holds the
// connection's memory at about the high-water mark and one read. A dialed
// connection reads on while its writes wait: a client that stopped reading
// the answers while its requests wait would wait for ever on a server that
// stops reading the requests while its answers wait, as this one does. A
// client that also answers what it reads (a server's pushes) may pause its
// own reading in OnPause to bound what it queues, but only against a peer
// that reads on while its own writes wait: against a Messages server, both
// ends then stop for good once each has filled the other's buffers. h's
// OnPause and OnResume are called as well.
//
// That bound holds for answers written in OnMessage. Answers that come
// later (OnMessage hands the request to a pool of goroutines, which Post
// the answers back) are not written yet when the next requests are read,
// so nothing pauses reading, and a client that pipelines and does not read
// makes the server take requests without bound (an RPC trial: 37,881
// requests and 375 MB queued before the first OnPause). Count the requests
// in flight per connection (in Context), PauseReading at a cap and
// ResumeReading once answers have brought it down (64 and 32 bounded the
// same trial at 446 requests and 170 KB), and write the answers with the
// Cork pattern (see Conn.Cork): 2.3x the requests a second of one Write
// each in that trial, over TCP.
//
// A handler that must have no message until some work of its own is done
// (an answer it finishes from a timer or another goroutine) calls
// PauseReading itself, whether or not ReadPaused is already true: the
// pause for writes ends at OnResume, its own only at its ResumeReading.
// OnMessage may also PauseReading itself: the messages after it wait, and
// are handed out soon after ResumeReading (from the loop, not inside the
// call), and so does the end of stream. On an accepted connection, a
// ResumeReading while writes are paused leaves reading paused (ReadPaused
// stays true) until OnResume. After Close or Abort no message comes.
// WithMessageTimeout bounds how long a message may take to come whole.
//
// At the peer's end of stream, what the split function makes of the kept
// input (bufio.ScanLines gives a last line without its newline) is handed
// out, then h's OnEOF decides if h is an EOFHandler, and otherwise the
// connection closes as Close does, sending what was written first.
//
// bufio.ErrTooLong (a message longer than maxMessage, whole in a read or
// unfinished past it: no longer message is handed out), an error from
// split, or io.ErrUnexpectedEOF (a message left unfinished at the end of
// stream) goes to h's OnSplitError if h is a SplitErrorHandler; otherwise
// the connection is closed as Close does, and OnClose receives the error
// unless the close itself failed. A split function that returns
// bufio.ErrFinalToken ends the stream there: after that message, the
// connection is closed as Close does and the input after it is dropped (a
// protocol that switches framing uses a Splitter and its Rest). A panic in
// OnMessage goes to the loop's panic handler, as Handler's do, and closes
// the connection: what it had read is no longer in order.
//
// One split function serves every connection of the Handler, and is not
// told which one it cuts for: a split function with state of its own (a
// header line that announces a counted block) needs one per connection,
// which MessagesPerConn makes. The Handler Messages returns must be the
// connection's own (given to Listen or Dial, or returned by Group.Listen's
// newHandler), not called by another Handler wrapped around it: ResumeReading
// and the end of stream after CloseWrite find it by its type.
//
// It panics if split or h is nil or maxMessage is not positive.
func Messages(split bufio.SplitFunc, maxMessage int, h MessageHandler) Handler {
	if split == nil {
		panic("sock: Messages with a nil split function")
	}
	return newMessages(split, nil, maxMessage, h)
}

// MessagesPerConn is Messages with a split function for each connection,
// made by newSplit when the connection opens, after h's OnOpen (so it may
// use what OnOpen put in Context): for a split function with state of its
// own, such as one that hands out the counted block a header line
// announced, which the handler reads and sets. Each connection then keeps
// its splitter (about a hundred bytes) from its OnOpen to its OnClose.
//
// It panics if newSplit or h is nil or maxMessage is not positive, and a
// connection's OnOpen panics if newSplit returns nil.
func MessagesPerConn(newSplit func(c *Conn) bufio.SplitFunc, maxMessage int, h MessageHandler) Handler {
	if newSplit == nil {
		panic("sock: MessagesPerConn with a nil newSplit")
	}
	return newMessages(nil, newSplit, maxMessage, h)
}

func newMessages(split bufio.SplitFunc, newSplit func(*Conn) bufio.SplitFunc, maxMessage int, h MessageHandler) Handler {
	if h == nil {
		panic("sock: Messages with a nil MessageHandler")
	}
	if maxMessage <= 0 {
		panic(fmt.Sprintf("sock: Messages with maxMessage %d; it must be positive", maxMessage))
	}
	m := &messages{split: split, newSplit: newSplit, max: maxMessage, h: h}
	m.eh, _ = h.(EOFHandler)
	m.seh, _ = h.(SplitErrorHandler)
	if sh, ok := h.(ShutdownHandler); ok {
		return messagesShutdown{m, sh}
	}
	return m
}

// messages is the Handler that Messages returns.
type messages struct {
	split    bufio.SplitFunc
	newSplit func(*Conn) bufio.SplitFunc // MessagesPerConn's; split is nil then
	max      int
	h        MessageHandler
	eh       EOFHandler        // h, if it is one
	seh      SplitErrorHandler // h, if it is one
}

// messagesShutdown is messages for an h that is a ShutdownHandler: the
// method's presence changes what Shutdown does, so only it has one.
type messagesShutdown struct {
	*messages
	sh ShutdownHandler
}

func (m messagesShutdown) OnShutdown(c *Conn) { m.sh.OnShutdown(c) }

// framing is what a connection of a Messages handler keeps between reads.
type framing struct {
	s         Splitter
	err       error // what ended the cutting: no message comes after it
	m         *messages
	c         *Conn
	eof       bool   // the peer's end of stream came while messages waited
	ended     bool   // End handed out everything: only OnEOF or the close is left
	scheduled bool   // a feedHeld is queued on the loop
	feed      func() // f.feedHeld, made on first use
}

func (m *messages) OnOpen(c *Conn) {
	m.h.OnOpen(c)
	if m.newSplit != nil && c.flags&(fClosing|fClosed) == 0 && c.framing() == nil {
		m.newFraming(c)
	}
}

// newFraming makes c's framing, with MessagesPerConn's split function for
// c or Messages' shared one.
func (m *messages) newFraming(c *Conn) *framing {
	s := Splitter{split: m.split, max: m.max}
	if m.newSplit != nil {
		if s.split = m.newSplit(c); s.split == nil {
			panic("sock: MessagesPerConn's newSplit returned a nil split function")
		}
	}
	return m.keep(c, &s)
}

// OnData hands out the messages p completes, with c gathering: their answers
// go out in one send when they are all handed out.
func (m *messages) OnData(c *Conn, p []byte) {
	if c.startGathering() {
		defer c.sendGathered() // also after a panic (in OnSplitError, say): a gathering left set keeps c's writes unsent
	}
	m.onData(c, p)
}

func (m *messages) onData(c *Conn, p []byte) {
	f := c.framing()
	if c.flags&c.messagesWaitOn() != 0 {
		// Messages wait (a handler resumed reading while writes are
		// paused): keep p uncut, so that none is handed out before OnResume.
		if f == nil {
			f = m.newFraming(c)
		}
		if f.err == nil {
			f.takeSpare() // shrink gives it back once the messages are handed out
			f.s.buf = append(f.s.buf, p...)
		}
		return
	}
	if f == nil && m.newSplit != nil {
		f = m.newFraming(c) // a connection whose OnOpen has not run
	}
	if f == nil {
		// Nothing is kept: cut p with a splitter on the stack, and make the
		// connection's own only if something is left to keep.
		s := Splitter{split: m.split, max: m.max}
		done := false
		defer m.closeIfPanicked(c, &done)
		err := s.Feed(p, func(msg []byte) error { return m.deliver(c, msg) })
		done = true
		if err == nil && s.Buffered() == 0 {
			return
		}
		f = m.keep(c, &s)
		c.watchMessage(true) // what is kept began in this read
		m.failed(c, f, err)
		return
	}
	if f.err != nil {
		return // after an error or the final message, input is dropped
	}
	m.feedKept(c, f, p)
}

// feedKept feeds p to the connection's kept input.
func (m *messages) feedKept(c *Conn, f *framing, p []byte) {
	lent := f.takeSpare()
	done := false
	defer m.closeIfPanicked(c, &done)
	handed := false
	err := f.s.Feed(p, func(msg []byte) error { handed = true; return m.deliver(c, msg) })
	done = true
	c.watchMessage(handed) // after one was handed out, what is kept began since
	switch {
	case lent:
		f.returnSpare()
	case err == nil && cap(f.s.buf) > maxKeptCapacity:
		f.shrink()
	}
	m.failed(c, f, err)
}

// shrink lets go of a buffer that a long message grew, once what is kept
// is short: with none kept, or the start of a short message copied into a
// buffer of its own, so that a connection idle in the middle of a message
// does not hold its longest message's size.
func (f *framing) shrink() {
	switch n := f.s.Buffered(); {
	case n == 0:
		f.giveSpare(f.s.buf)
		f.s.buf, f.s.off = nil, 0
	case n <= maxKeptCapacity/2:
		long := f.s.buf
		f.s.buf, f.s.off = append(make([]byte, 0, maxKeptCapacity), f.s.buf[f.s.off:]...), 0
		f.giveSpare(long)
	}
}

// takeSpare lends a connection that keeps nothing the buffer its loop
// kept from one that held messages, if any, and reports whether it did:
// what the Feed that follows must keep goes there.
func (f *framing) takeSpare() bool {
	ls := f.c.cfg.ls
	if cap(f.s.buf) != 0 || ls.spareKept == nil {
		return false
	}
	f.s.buf, f.s.off, ls.spareKept = ls.spareKept, 0, nil
	return true
}

// returnSpare gives back, after the Feed, the buffer takeSpare lent,
// unless messages wait in it (reading or writes paused, or a close under
// way), which need it until they are handed out, when shrink gives it
// back. An unfinished message is copied into a buffer of its own, so that
// an idle connection does not hold the loop's spare.
func (f *framing) returnSpare() {
	switch n := f.s.Buffered(); {
	case f.c.flags&(f.c.messagesWaitOn()|fClosing|fClosed) != 0 && n > 0:
		return
	case n > 0:
		lent := f.s.buf
		f.s.buf, f.s.off = append([]byte(nil), f.s.buf[f.s.off:]...), 0
		f.giveSpare(lent)
	default:
		f.giveSpare(f.s.buf)
		f.s.buf, f.s.off = nil, 0
	}
}

// giveSpare keeps b on the loop for takeSpare, if it is the largest seen
// within maxSpareCapacity: the loop keeps one such buffer at most.
func (f *framing) giveSpare(b []byte) {
	if ls := f.c.cfg.ls; cap(b) > cap(ls.spareKept) && cap(b) <= maxSpareCapacity {
		ls.spareKept = b[:0]
	}
}

// deliver hands one message to h, and holds the rest when h can take no
// more now: writes or reading paused, or the connection closing.
func (m *messages) deliver(c *Conn, msg []byte) error {
	m.h.OnMessage(c, msg)
	if c.flags&(c.messagesWaitOn()|fClosing|fClosed) != 0 {
		return HoldRest
	}
	return nil
}

// closeIfPanicked closes c when OnMessage panicked (done still false): the
// splitter's state is then unknown, so what follows cannot be cut in order.
// The panic goes on to the loop.
func (m *messages) closeIfPanicked(c *Conn, done *bool) {
	if *done {
		return
	}
	f := c.framing()
	if f == nil {
		f = m.keep(c, &Splitter{max: m.max}) // only to record the end
	}
	f.err = errMessagePanicked
	if c.flags&(fClosing|fClosed) == 0 {
		c.Close()
	}
}

// errMessagePanicked is what stops a connection's messages after a panic in
// OnMessage. OnClose does not get it: the loop's panic handler got the panic.
var errMessagePanicked = errors.New("sock: OnMessage panicked")

// keep makes c's framing from s, which a Feed on the stack left holding
// input (or ended).
func (m *messages) keep(c *Conn, s *Splitter) *framing {
	f := &framing{s: *s, m: m, c: c}
	c.extra().framing = f
	return f
}

// failed acts on the error a Feed or End returned.
func (m *messages) failed(c *Conn, f *framing, err error) {
	if err == nil {
		return
	}
	f.err = err
	if c.ext != nil {
		c.stopMessageTimeout() // no message is cut after it
	}
	switch {
	case err == bufio.ErrFinalToken:
		c.Close()
	case m.seh != nil:
		m.seh.OnSplitError(c, err)
	default:
		c.Close()
	}
}

func (m *messages) OnPause(c *Conn) {
	if c.messagesWaitOn()&fPaused != 0 && c.flags&fReadPaused == 0 && c.PauseReading() == nil {
		c.flags |= fReadPausedForWrites
	}
	m.h.OnPause(c)
}

func (m *messages) OnResume(c *Conn) {
	if c.flags&fReadPausedForWrites != 0 {
		c.flags &^= fReadPausedForWrites
		if c.flags&fReadPaused != 0 {
			c.ResumeReading()
		}
	}
	if f := c.framing(); f != nil && c.flags&(fReadPaused|fClosing|fClosed) == 0 {
		f.resumed() // the messages that waited
	}
	m.h.OnResume(c)
}

// OnEOF hands out what the split function makes of the kept input at the
// end of stream; if messages must wait (writes paused, or the handler's
// PauseReading), it keeps the connection open until they are handed out.
func (m *messages) OnEOF(c *Conn) bool {
	if c.startGathering() {
		defer c.sendGathered() // as in OnData
	}
	return m.onEOF(c)
}

func (m *messages) onEOF(c *Conn) bool {
	f := c.framing()
	if f == nil && m.newSplit != nil {
		f = m.newFraming(c)
	}
	if f == nil {
		s := Splitter{split: m.split, max: m.max}
		done := false
		defer m.closeIfPanicked(c, &done)
		held, err := m.end(c, &s)
		done = true
		if err == nil && s.Buffered() == 0 && !held && !handlerPaused(c) {
			return m.eofDone(c)
		}
		f = m.keep(c, &s)
		if err != nil {
			m.failed(c, f, err)
			return m.eofDone(c)
		}
		// Messages wait, or the split function is still to be asked for
		// more (a message was held, with nothing kept after it): feedHeld
		// goes on.
		f.eof, f.ended = true, false
		return true
	} else if f.err == nil && !m.endKept(c, f) {
		return true // messages wait; feedHeld goes on
	}
	return m.eofDone(c)
}

// endKept ends the kept input, and reports whether it is all handed out
// (or failed): false when messages wait for OnResume or ResumeReading.
func (m *messages) endKept(c *Conn, f *framing) bool {
	if !f.ended {
		done := false
		defer m.closeIfPanicked(c, &done)
		held, err := m.end(c, &f.s)
		done = true
		if err != nil {
			m.failed(c, f, err)
			return true
		}
		// After a held message End must be asked again, even with nothing
		// kept: the split function may have more to hand out at the end
		// of stream (a message of its own, an empty last field).
		f.ended = f.s.Buffered() == 0 && !held
	}
	if !f.ended || handlerPaused(c) {
		// Messages wait, or the end does: the handler paused reading in
		// the last message, and the end of stream comes after its
		// ResumeReading, as PauseReading's doc says.
		f.eof = true
		return false
	}
	f.eof = false
	return true
}

// end is s.End handing the messages to h, and reports whether the last
// one held the rest because writes or reading paused: End then stopped
// without asking the split function for more.
func (m *messages) end(c *Conn, s *Splitter) (held bool, err error) {
	err = s.End(func(msg []byte) error {
		err := m.deliver(c, msg)
		held = err == HoldRest && c.flags&(fClosing|fClosed) == 0
		return err
	})
	return held, err
}

// handlerPaused reports whether the handler's own PauseReading is in
// effect (not the one Messages made at OnPause) on an open connection.
func handlerPaused(c *Conn) bool {
	return c.flags&(fReadPaused|fReadPausedForWrites|fClosing|fClosed) == fReadPaused
}

// eofDone is what OnEOF returns once the messages are handed out: h's
// decision, or a close. A connection closed on the way stays closed.
func (m *messages) eofDone(c *Conn) bool {
	if c.flags&(fClosing|fClosed) != 0 {
		return false
	}
	if m.eh != nil && c.flags&fShutWrite == 0 { // after CloseWrite, OnEOF is not asked
		return m.eh.OnEOF(c)
	}
	return false
}

func (m *messages) OnClose(c *Conn, err error) {
	if f := c.framing(); f != nil {
		if err == nil && m.seh == nil && f.err != bufio.ErrFinalToken && f.err != errMessagePanicked {
			err = f.err
		}
		c.ext.framing = nil
	}
	m.h.OnClose(c, err)
}

// Held returns how many bytes a Messages handler has read from the
// connection and not handed out yet: whole messages that wait while reading
// is paused (for writes, or by the handler's PauseReading), and the start
// of one still coming; 0 under other handlers. A Close or Abort drops
// them, so a ShutdownHandler that closes a connection once it is idle
// asks Held too: with requests held, it resumes reading (or lets OnResume
// come) and closes after their answers. Asked from OnMessage, it does not
// count the messages after this one in the same read.
func (c *Conn) Held() int {
	if f := c.framing(); f != nil && f.err == nil {
		return f.s.Buffered()
	}
	return 0
}

// framing returns c's kept input, or nil.
func (c *Conn) framing() *framing {
	if c.ext == nil {
		return nil
	}
	return c.ext.framing
}

// resumed queues the hand-out of the messages that waited while reading
// was paused, once ResumeReading is called: from the loop, so that
// OnMessage never runs inside a ResumeReading that a handler called.
func (f *framing) resumed() {
	if f.scheduled || f.err != nil || (f.s.Buffered() == 0 && !f.eof) {
		return
	}
	if f.feed == nil {
		f.feed = f.feedHeld
	}
	f.scheduled = true
	f.c.cfg.l.CallSoon(f.feed)
}

// feedHeld hands out the messages that waited, unless reading paused again
// or the connection closed meanwhile.
func (f *framing) feedHeld() {
	if f.c.startGathering() {
		defer f.c.sendGathered() // as in OnData
	}
	f.feedHeldGathered()
}

func (f *framing) feedHeldGathered() {
	f.scheduled = false
	c, m := f.c, f.m
	if c.flags&(c.messagesWaitOn()|fClosing|fClosed) != 0 || f.err != nil || c.framing() != f {
		return // OnResume or ResumeReading queues it again
	}
	if !f.eof {
		m.feedKept(c, f, nil)
		return
	}
	if !m.endKept(c, f) {
		return // writes paused again
	}
	if c.flags&(fClosing|fClosed) != 0 {
		return
	}
	if m.eh != nil && c.flags&fShutWrite == 0 {
		c.askEOF(m.eh)
		return
	}
	c.Close()
}

// messagesWaitOn returns the flags under which c's messages wait: the
// handler's PauseReading, and on an accepted connection its writes paused
// (OnPause to OnResume), so that a peer that sends requests faster than it
// reads the answers holds the server at about the high-water mark. A
// dialed connection reads on while its writes wait: a client's answers
// add nothing to what it writes, and one that stopped reading while its
// requests wait stopped a server that stops reading while its answers
// wait (as this one does) for good: each waited for the other (a trial's
// key/value client, at its 8th of 200 requests of 64 KiB over Unix). See
// Messages' doc for a client that answers what it reads.
func (c *Conn) messagesWaitOn() connFlags {
	if c.cfg.kind == forDial {
		return fReadPaused
	}
	return fPaused | fReadPaused
}

// messages returns c's Messages handler, or nil.
func (c *Conn) messages() *messages {
	switch h := c.cfg.h.(type) {
	case *messages:
		return h
	case messagesShutdown:
		return h.messages
	}
	return nil
}

// resumeReading is Messages' part of a ResumeReading: it queues the
// messages that waited, and reports true when writes are paused, so that
// reading stays paused (for writes: OnResume resumes it) and the peer's
// requests are not read and kept without bound meanwhile.
func (m *messages) resumeReading(c *Conn) bool {
	if c.flags&c.messagesWaitOn()&fPaused != 0 {
		c.flags |= fReadPaused | fReadPausedForWrites
		return true
	}
	if f := c.framing(); f != nil {
		f.resumed() // messages held when reading paused
	}
	return false
}

// watchMessage starts, keeps or stops c's message timeout
// (WithMessageTimeout) after its input was cut: it runs while an
// unfinished message is kept and reading goes on, from the read that
// brought the message's first byte, which is this one when begun.
func (c *Conn) watchMessage(begun bool) {
	d := c.cfg.messageTimeout
	if d == 0 {
		return
	}
	dl := &c.extra().message
	switch {
	case !c.messageUnfinished():
		c.stopMessageTimeout()
	case begun || dl.t == (loop.Timer{}):
		if dl.fire == nil {
			dl.d, dl.fire = d, func() { c.timedOut(dl, ErrMessageTimeout) }
		}
		c.restart(dl)
	}
}

// messageUnfinished reports whether c keeps the start of a message while
// reading goes on: with reading paused, what is kept may be messages
// waiting, and the peer cannot finish one anyway.
func (c *Conn) messageUnfinished() bool {
	f := c.framing()
	return f != nil && f.err == nil && f.s.Buffered() > 0 && c.flags&(c.messagesWaitOn()|fEOF|fClosing|fClosed) == 0
}

// stopMessageTimeout stops the message timeout, if one runs: reading
// paused, or the connection closing.
func (c *Conn) stopMessageTimeout() {
	if dl := &c.ext.message; dl.t != (loop.Timer{}) {
		c.cfg.l.Cancel(dl.t)
		dl.t = loop.Timer{}
	}
}
