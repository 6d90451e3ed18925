package sock_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// lineHandler is a MessageHandler that records the messages of one
// connection and, when shout is set, answers each in upper case.
type lineHandler struct {
	sock.BaseHandler
	conn            *sock.Conn
	msgs            []string
	shout           bool
	closed          bool
	closeErr        error
	contextAtClose  any
	pauses, resumes int
	maxKept         int // kept input and queued answers, at most
	inResume        bool
	reentered       bool // OnMessage ran inside a ResumeReading
}

func (h *lineHandler) OnOpen(c *sock.Conn) { h.conn, c.Context = c, "the handler's own" }

func (h *lineHandler) OnMessage(c *sock.Conn, msg []byte) {
	if h.inResume {
		h.reentered = true
	}
	h.msgs = append(h.msgs, string(msg))
	if h.shout {
		c.Write(append(bytes.ToUpper(msg), '\n'))
	}
	kept, _ := sock.MessagesKept(c)
	h.maxKept = max(h.maxKept, kept+c.Buffered())
}

func (h *lineHandler) OnClose(c *sock.Conn, err error) {
	h.closed, h.closeErr, h.contextAtClose = true, err, c.Context
}
func (h *lineHandler) OnPause(*sock.Conn)  { h.pauses++ }
func (h *lineHandler) OnResume(*sock.Conn) { h.resumes++ }

// scanAll cuts b as bufio.Scanner does, for the messages a test expects.
func scanAll(b []byte, split bufio.SplitFunc) []string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	sc.Split(split)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func sameMessages(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("message %d is %q, want %q", i, got[i], want[i])
		}
	}
}

// TestMessagesAreCutAsScannerCutsThem: lines of 0 to 300 bytes sent in
// pieces of 1 to 700 bytes, with pauses between some, come out as
// bufio.Scanner cuts the whole stream, the last one (without its newline)
// at the peer's end of stream, and then the connection closes cleanly with
// Conn.Context left as the handler set it.
func TestMessagesAreCutAsScannerCutsThem(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var stream bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&stream, "%d:%s\n", i, strings.Repeat("x", rng.IntN(300)))
	}
	stream.WriteString("a last line without its newline")
	l := newLoop(t)
	h := &lineHandler{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	go func() {
		b := stream.Bytes()
		for i := 0; len(b) > 0; i++ {
			n := min(len(b), 1+rng.IntN(700))
			peer.Write(b[:n])
			b = b[n:]
			if i%8 == 0 {
				time.Sleep(200 * time.Microsecond) // most likely a read of its own
			}
		}
		peer.(*net.TCPConn).CloseWrite()
	}()
	runUntil(t, l, "the close", func() bool { return h.closed })
	sameMessages(t, h.msgs, scanAll(stream.Bytes(), bufio.ScanLines))
	if h.closeErr != nil {
		t.Errorf("OnClose got %v, want nil", h.closeErr)
	}
	if h.contextAtClose != "the handler's own" {
		t.Errorf("Context at OnClose is %v; Messages must leave it to the handler", h.contextAtClose)
	}
}

// TestMessagesAllocateNothing: a round trip of a line that comes whole, and
// one of a line cut across two reads once the connection's buffer exists,
// allocate nothing.
func TestMessagesAllocateNothing(t *testing.T) {
	l := newLoop(t)
	srv := &echoLines{}
	c, cli := dialLines(t, l, srv, func() bool { return srv.conn != nil })
	line := []byte("ping ping ping ping ping ping ping ping\n")
	whole := func() {
		want := cli.got + len(line)
		c.Write(line)
		for cli.got < want {
			if err := l.RunOnce(true); err != nil {
				t.Fatal(err)
			}
		}
	}
	cut := func() {
		want := cli.got + len(line)
		c.Write(line[:10])
		for kept, _ := sock.MessagesKept(srv.conn); kept == 0; kept, _ = sock.MessagesKept(srv.conn) {
			if err := l.RunOnce(true); err != nil {
				t.Fatal(err)
			}
		}
		c.Write(line[10:])
		for cli.got < want {
			if err := l.RunOnce(true); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 100 {
		whole()
		cut()
	}
	if allocs := testing.AllocsPerRun(500, whole); allocs != 0 {
		t.Errorf("a round trip of a whole line allocates %v times; want 0", allocs)
	}
	if allocs := testing.AllocsPerRun(500, cut); allocs != 0 {
		t.Errorf("a round trip of a line cut in two allocates %v times; want 0", allocs)
	}
	// 200 in the warm-up, and AllocsPerRun runs each 501 times.
	if srv.n != 1202 || string(srv.last) != string(line) {
		t.Errorf("%d messages, the last answered with %q; want 1202 and %q", srv.n, srv.last, line)
	}
}

// dialLines listens on l with Messages(bufio.ScanLines, 1024, h) and
// opts, and dials it with a countingClient on l too; both close at the
// test's end. It returns once the client is open and opened says the
// server's side is.
func dialLines(t *testing.T, l *loop.Loop, h sock.MessageHandler, opened func() bool, opts ...sock.Option) (*sock.Conn, *countingClient) {
	t.Helper()
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", sock.Messages(bufio.ScanLines, 1024, h), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cli := &countingClient{}
	c, err := sock.Dial(l, "tcp", ln.Addr().String(), cli)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	runUntil(t, l, "the connection", func() bool { return cli.opened && opened() })
	return c, cli
}

// echoLines answers each line with itself, through a buffer it reuses, so
// that it allocates nothing itself.
type echoLines struct {
	sock.BaseHandler
	conn *sock.Conn
	n    int
	last []byte
}

func (h *echoLines) OnOpen(c *sock.Conn) { h.conn = c }

func (h *echoLines) OnMessage(c *sock.Conn, msg []byte) {
	h.n++
	h.last = append(append(h.last[:0], msg...), '\n')
	c.Write(h.last)
}

// TestMessagesWaitWhileWritesArePaused: a client that pipelines 20,000
// lines and ends its stream before it reads a byte gets every answer, in
// order: the server pauses reading at OnPause and keeps at most about its
// high-water mark and a read, the lines it had read wait for OnResume, the
// last ones are handed out at the end of stream, and only then does the
// connection close. The handler's OnPause and OnResume are called too.
func TestMessagesWaitWhileWritesArePaused(t *testing.T) {
	const lines, high = 20_000, 16 << 10
	l := newLoop(t)
	h := &lineHandler{shout: true}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h),
		sock.WithHighWater(high), sock.WithLowWater(high/4), sock.WithSendBufferSize(16<<10))
	peer.SetDeadline(time.Now().Add(waitLimit))
	var sent bytes.Buffer
	for i := range lines {
		fmt.Fprintf(&sent, "line %06d of the pipelined requests, in order\n", i)
	}
	want := bytes.ToUpper(sent.Bytes())
	paused := make(chan struct{})
	var answers []byte
	peerRead := readingPeer(l, peer, func() {
		peer.Write(sent.Bytes())
		peer.(*net.TCPConn).CloseWrite()
		<-paused // read only once the server had to wait
	}, &answers)
	once := false
	runUntil(t, l, "every answer and the close", func() bool {
		if h.pauses > 0 && !once {
			once = true
			close(paused)
		}
		return peerRead() && h.closed // the peer's read can end before OnClose runs
	})
	if !bytes.Equal(answers, want) {
		t.Fatalf("%d bytes of answers, want %d; first difference at %d", len(answers), len(want), firstByteDifference(answers, want))
	}
	if h.closeErr != nil {
		t.Errorf("OnClose got %v", h.closeErr)
	}
	if h.pauses == 0 || h.resumes == 0 {
		t.Errorf("OnPause %d times, OnResume %d: the server never had to wait", h.pauses, h.resumes)
	}
	if bound := high + 64<<10 + 1024; h.maxKept > bound {
		t.Errorf("the server kept up to %d bytes; want at most %d (the high-water mark, a read and a line)", h.maxKept, bound)
	}
}

// pausingHandler pauses reading after each message whose text is "pause",
// and resumes it from a timer, marking the ResumeReading call.
type pausingHandler struct{ lineHandler }

func (h *pausingHandler) OnMessage(c *sock.Conn, msg []byte) {
	h.lineHandler.OnMessage(c, msg)
	if string(msg) == "pause" {
		c.PauseReading()
		c.Loop().CallLater(time.Millisecond, func() {
			h.inResume = true
			c.ResumeReading()
			h.inResume = false
		})
	}
}

// TestMessagesStopAtPauseReading: the messages after one whose OnMessage
// paused reading wait, and are handed out after ResumeReading, from the
// loop and not inside the call, in order.
func TestMessagesStopAtPauseReading(t *testing.T) {
	l := newLoop(t)
	h := &pausingHandler{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.Write([]byte("one\npause\ntwo\npause\nthree\nfour\n"))
	runUntil(t, l, "six messages", func() bool { return len(h.msgs) == 6 })
	sameMessages(t, h.msgs, []string{"one", "pause", "two", "pause", "three", "four"})
	if h.reentered {
		t.Error("OnMessage ran inside ResumeReading")
	}
	if kept, _ := sock.MessagesKept(h.conn); kept != 0 {
		t.Errorf("%d bytes kept after every message was handed out", kept)
	}
}

// TestMessagesAfterCloseInOnMessage: no message comes after the one whose
// OnMessage closed the connection, and its answer is sent.
func TestMessagesAfterCloseInOnMessage(t *testing.T) {
	l := newLoop(t)
	h := &quitter{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("one\nquit\ntwo\nthree\n"))
	runUntil(t, l, "the close", func() bool { return h.closed })
	sameMessages(t, h.msgs, []string{"one", "quit"})
	if b, _ := io.ReadAll(peer); string(b) != "bye\n" {
		t.Errorf("the peer read %q, want the answer to quit", b)
	}
}

type quitter struct{ lineHandler }

func (h *quitter) OnMessage(c *sock.Conn, msg []byte) {
	h.lineHandler.OnMessage(c, msg)
	if string(msg) == "quit" {
		c.Write([]byte("bye\n"))
		c.Close()
	}
}

// TestMessagesTooLongClosesWithTheError: without a SplitErrorHandler a line
// past the bound closes the connection after the answers written before
// it are sent, and OnClose gets bufio.ErrTooLong.
func TestMessagesTooLongClosesWithTheError(t *testing.T) {
	l := newLoop(t)
	h := &lineHandler{shout: true}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 16, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("short\n" + strings.Repeat("y", 100)))
	runUntil(t, l, "the close", func() bool { return h.closed })
	if !errors.Is(h.closeErr, bufio.ErrTooLong) {
		t.Errorf("OnClose got %v, want bufio.ErrTooLong", h.closeErr)
	}
	sameMessages(t, h.msgs, []string{"short"})
	if b, _ := io.ReadAll(peer); string(b) != "SHORT\n" {
		t.Errorf("the peer read %q, want the answer written before the long line", b)
	}
}

// TestMessagesTooLongWholeInARead: a line past the bound that one read
// brings whole is refused as one cut by the reads is, and the lines after
// it are not handed out. (It was handed out: whether a line was too long
// depended on where the reads cut the stream.)
func TestMessagesTooLongWholeInARead(t *testing.T) {
	l := newLoop(t)
	h := &lineHandler{shout: true}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 16, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("short\n" + strings.Repeat("y", 16) + "\n" + strings.Repeat("z", 17) + "\nafter\n"))
	runUntil(t, l, "the close", func() bool { return h.closed })
	if !errors.Is(h.closeErr, bufio.ErrTooLong) {
		t.Errorf("OnClose got %v, want bufio.ErrTooLong", h.closeErr)
	}
	sameMessages(t, h.msgs, []string{"short", strings.Repeat("y", 16)})
}

// errorAnswerer is a SplitErrorHandler: it answers the error and closes.
type errorAnswerer struct {
	lineHandler
	splitErrs []error
}

func (h *errorAnswerer) OnSplitError(c *sock.Conn, err error) {
	h.splitErrs = append(h.splitErrs, err)
	fmt.Fprintf(c, "error: %v\n", err)
	c.Close()
}

// TestMessagesSplitErrorHandlerAnswers: with a SplitErrorHandler, the
// handler gets the error, writes its answer and closes; OnClose then gets
// nil.
func TestMessagesSplitErrorHandlerAnswers(t *testing.T) {
	l := newLoop(t)
	h := &errorAnswerer{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 16, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("short\n" + strings.Repeat("y", 100)))
	runUntil(t, l, "the close", func() bool { return h.closed })
	if len(h.splitErrs) != 1 || !errors.Is(h.splitErrs[0], bufio.ErrTooLong) {
		t.Fatalf("OnSplitError got %v, want bufio.ErrTooLong once", h.splitErrs)
	}
	if h.closeErr != nil {
		t.Errorf("OnClose got %v, want nil after the handler closed", h.closeErr)
	}
	sameMessages(t, h.msgs, []string{"short"})
	if b, _ := io.ReadAll(peer); !strings.HasPrefix(string(b), "error: bufio.Scanner: token too long") {
		t.Errorf("the peer read %q, want the handler's answer", b)
	}
}

// TestMessagesUnfinishedAtTheEnd: a message left unfinished at the peer's
// end of stream is io.ErrUnexpectedEOF, given to OnSplitError.
func TestMessagesUnfinishedAtTheEnd(t *testing.T) {
	l := newLoop(t)
	h := &errorAnswerer{}
	_, peer := listenAndDial(t, l, sock.Messages(scanLengthPrefixed, 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte{0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 9, 'c', 'u', 't'})
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "the close", func() bool { return h.closed })
	sameMessages(t, h.msgs, []string{"hello"})
	if len(h.splitErrs) != 1 || h.splitErrs[0] != io.ErrUnexpectedEOF {
		t.Errorf("OnSplitError got %v, want io.ErrUnexpectedEOF", h.splitErrs)
	}
}

// eofAnswerer is an EOFHandler: at the end of stream it writes how many
// messages came, then closes.
// scanLengthPrefixed cuts frames of a 4-byte big-endian length and that
// many bytes, handing out the bytes.
func scanLengthPrefixed(data []byte, atEOF bool) (int, []byte, error) {
	if len(data) < 4 {
		return 0, nil, nil
	}
	n := 4 + int(binary.BigEndian.Uint32(data))
	if len(data) < n {
		return 0, nil, nil
	}
	return n, data[4:n], nil
}

type eofAnswerer struct {
	lineHandler
	eofAt int // messages seen when OnEOF came; -1 before
}

func (h *eofAnswerer) OnEOF(c *sock.Conn) bool {
	h.eofAt = len(h.msgs)
	fmt.Fprintf(c, "%d messages\n", len(h.msgs))
	return false
}

// TestMessagesEOFComesAfterTheLastMessage: the handler's OnEOF comes after
// the message that the end of stream finishes.
func TestMessagesEOFComesAfterTheLastMessage(t *testing.T) {
	l := newLoop(t)
	h := &eofAnswerer{eofAt: -1}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("one\ntwo\nthree without a newline"))
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "the close", func() bool { return h.closed })
	sameMessages(t, h.msgs, []string{"one", "two", "three without a newline"})
	if h.eofAt != 3 {
		t.Errorf("OnEOF came after %d messages, want 3", h.eofAt)
	}
	if b, _ := io.ReadAll(peer); string(b) != "3 messages\n" {
		t.Errorf("the peer read %q", b)
	}
}

// TestMessagesFinalTokenEndsTheStream: after the message a split function
// marks as the last, the connection closes and what followed is dropped.
func TestMessagesFinalTokenEndsTheStream(t *testing.T) {
	untilStop := func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if err == nil && string(tok) == "stop" {
			return adv, tok, bufio.ErrFinalToken
		}
		return adv, tok, err
	}
	l := newLoop(t)
	h := &lineHandler{}
	_, peer := listenAndDial(t, l, sock.Messages(untilStop, 1024, h))
	peer.Write([]byte("one\nstop\ndropped\n"))
	runUntil(t, l, "the close", func() bool { return h.closed })
	sameMessages(t, h.msgs, []string{"one", "stop"})
	if h.closeErr != nil {
		t.Errorf("OnClose got %v, want nil", h.closeErr)
	}
}

type panicker struct{ lineHandler }

func (h *panicker) OnMessage(c *sock.Conn, msg []byte) {
	h.lineHandler.OnMessage(c, msg)
	if string(msg) == "panic" {
		panic("bang")
	}
}

// TestMessagesPanicClosesTheConnection: the loop's panic handler gets a
// panic in OnMessage, no message comes after it, and the connection closes.
func TestMessagesPanicClosesTheConnection(t *testing.T) {
	var panics []any
	l := newLoop(t, loop.WithPanicHandler(func(v any) { panics = append(panics, v) }))
	h := &panicker{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.Write([]byte("one\npanic\ntwo\n"))
	runUntil(t, l, "the close", func() bool { return h.closed })
	if len(panics) != 1 || panics[0] != "bang" {
		t.Errorf("the panic handler got %v", panics)
	}
	sameMessages(t, h.msgs, []string{"one", "panic"})
}

type shutdownLines struct{ lineHandler }

func (*shutdownLines) OnShutdown(c *sock.Conn) { c.Close() }

// TestMessagesKeepsTheOptionalInterfaces: the Handler is a ShutdownHandler
// only when the MessageHandler is one (that changes what Shutdown does),
// and always an EOFHandler (it hands out the last message at the end).
func TestMessagesKeepsTheOptionalInterfaces(t *testing.T) {
	plain := sock.Messages(bufio.ScanLines, 1, &lineHandler{})
	if _, ok := plain.(sock.ShutdownHandler); ok {
		t.Error("a plain MessageHandler's Handler is a ShutdownHandler")
	}
	withShutdown := sock.Messages(bufio.ScanLines, 1, &shutdownLines{})
	if _, ok := withShutdown.(sock.ShutdownHandler); !ok {
		t.Error("a ShutdownHandler's Handler is not one")
	}
	for _, h := range []sock.Handler{plain, withShutdown} {
		if _, ok := h.(sock.EOFHandler); !ok {
			t.Errorf("%T is not an EOFHandler", h)
		}
	}
}

// TestMessagesRefusesMistakes: a nil split function or handler and a bound
// that is not positive are the program's mistakes, and panic at once.
func TestMessagesRefusesMistakes(t *testing.T) {
	for name, call := range map[string]func(){
		"nil split":    func() { sock.Messages(nil, 1, &lineHandler{}) },
		"nil h":        func() { sock.Messages(bufio.ScanLines, 1, nil) },
		"zero bound":   func() { sock.Messages(bufio.ScanLines, 0, &lineHandler{}) },
		"nil newSplit": func() { sock.MessagesPerConn(nil, 1, &lineHandler{}) },
		"nil h per conn": func() {
			sock.MessagesPerConn(func(*sock.Conn) bufio.SplitFunc { return bufio.ScanLines }, 1, nil)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			call()
		}()
	}
}

// longLineThen sends a 100 KiB line in two reads, so that the connection
// keeps its first half, then tail, and returns the handler once the long
// line and the lines of tail are handed out, with its loop and the peer.
func longLineThen(t *testing.T, tail string, lines int) (*lineHandler, *loop.Loop, net.Conn) {
	t.Helper()
	l := newLoop(t)
	h := &lineHandler{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1<<20, h))
	long := strings.Repeat("z", 100<<10)
	peer.Write([]byte(long[:50<<10]))
	runUntil(t, l, "half the line kept", func() bool {
		if h.conn == nil {
			return false
		}
		kept, _ := sock.MessagesKept(h.conn)
		return kept > 0
	})
	peer.Write([]byte(long[50<<10:] + "\n" + tail))
	runUntil(t, l, "the lines", func() bool { return len(h.msgs) == 1+lines })
	if len(h.msgs[0]) != len(long) {
		t.Fatalf("a line of %d bytes, want %d", len(h.msgs[0]), len(long))
	}
	return h, l, peer
}

// TestMessagesLetALongBufferGo: once a long message cut across reads has
// been handed out, the connection does not keep the buffer it grew.
func TestMessagesLetALongBufferGo(t *testing.T) {
	h, _, _ := longLineThen(t, "", 0)
	if kept, capacity := sock.MessagesKept(h.conn); kept != 0 || capacity > 4<<10 {
		t.Errorf("after the long line %d bytes kept in a buffer of %d", kept, capacity)
	}
}

// TestMessagesLetALongBufferGoMidMessage: after a long message, a read that
// ends in the start of a short one leaves that start in a small buffer,
// not in the one the long message grew.
func TestMessagesLetALongBufferGoMidMessage(t *testing.T) {
	h, l, peer := longLineThen(t, "short\npar", 1)
	if kept, capacity := sock.MessagesKept(h.conn); kept != 3 || capacity > 4<<10 {
		t.Errorf("after the long line %d bytes kept in a buffer of %d; want 3 in at most 4 KiB", kept, capacity)
	}
	peer.Write([]byte("t\n"))
	runUntil(t, l, "the cut line", func() bool { return len(h.msgs) == 3 })
	if h.msgs[2] != "part" {
		t.Errorf("the third line is %q, want part", h.msgs[2])
	}
}

// errorCounter is a SplitErrorHandler that neither answers nor closes.
type errorCounter struct {
	lineHandler
	splitErrs []error
}

func (h *errorCounter) OnSplitError(_ *sock.Conn, err error) { h.splitErrs = append(h.splitErrs, err) }

// TestMessagesInputAfterASplitErrorIsDropped: a SplitErrorHandler that
// leaves the connection open is told once; what the peer sends after the
// error is not handed out, and its end of stream closes the connection.
func TestMessagesInputAfterASplitErrorIsDropped(t *testing.T) {
	l := newLoop(t)
	h := &errorCounter{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 16, h))
	peer.Write([]byte("short\n" + strings.Repeat("y", 100)))
	runUntil(t, l, "the error", func() bool { return len(h.splitErrs) > 0 })
	peer.Write([]byte("\nafter\nand more\n"))
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "the close", func() bool { return h.closed })
	sameMessages(t, h.msgs, []string{"short"})
	if len(h.splitErrs) != 1 {
		t.Errorf("OnSplitError got %v, want bufio.ErrTooLong once", h.splitErrs)
	}
}

// eagerReader resumes reading in its OnPause, against Messages' own pause:
// the messages read meanwhile must still wait for OnResume.
type eagerReader struct {
	lineHandler
	whilePaused int // messages handed out while writes were paused
}

func (h *eagerReader) OnPause(c *sock.Conn) {
	h.lineHandler.OnPause(c)
	c.ResumeReading()
}

func (h *eagerReader) OnMessage(c *sock.Conn, msg []byte) {
	if c.WritePaused() {
		h.whilePaused++
	}
	h.lineHandler.OnMessage(c, msg)
}

// TestMessagesWaitForOnResumeWhenReadingIsResumed: a handler that resumes
// reading while writes are paused gets no message until OnResume, and then
// every one, in order.
func TestMessagesWaitForOnResumeWhenReadingIsResumed(t *testing.T) {
	const lines, high = 5_000, 16 << 10
	l := newLoop(t)
	h := &eagerReader{lineHandler: lineHandler{shout: true}}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h),
		sock.WithHighWater(high), sock.WithSendBufferSize(16<<10))
	peer.SetDeadline(time.Now().Add(waitLimit))
	var sent bytes.Buffer
	for i := range lines {
		fmt.Fprintf(&sent, "line %06d of the pipelined requests, in order\n", i)
	}
	want := bytes.ToUpper(sent.Bytes())
	paused := make(chan struct{})
	done := make(chan []byte, 1)
	go func() {
		go peer.Write(sent.Bytes())
		<-paused
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(want))))
		done <- b
		l.Post(func() {})
	}()
	var answers []byte
	once := false
	runUntil(t, l, "every answer", func() bool {
		if h.pauses > 0 && !once {
			once = true
			close(paused)
		}
		select {
		case answers = <-done:
			return true
		default:
			return false
		}
	})
	if !bytes.Equal(answers, want) {
		t.Fatalf("%d bytes of answers, want %d; first difference at %d", len(answers), len(want), firstByteDifference(answers, want))
	}
	if h.whilePaused > 0 {
		t.Errorf("%d messages handed out while writes were paused", h.whilePaused)
	}
}

// scanRecordsAtEOF hands out 100-byte records, and only at the end of
// stream: End then has many messages to hand out, enough to pause writes.
func scanRecordsAtEOF(data []byte, atEOF bool) (int, []byte, error) {
	if !atEOF || len(data) == 0 {
		return 0, nil, nil
	}
	n := min(len(data), 100)
	return n, data[:n], nil
}

// TestMessagesAtTheEndWaitForOnResume: when the messages handed out at the
// end of stream pause writes, the rest wait for OnResume and the
// connection stays open until every one is answered, then closes.
func TestMessagesAtTheEndWaitForOnResume(t *testing.T) {
	const records, high = 2_000, 16 << 10
	l := newLoop(t)
	h := &eofAnswerer{lineHandler: lineHandler{shout: true}, eofAt: -1}
	_, peer := listenAndDial(t, l, sock.Messages(scanRecordsAtEOF, 1<<20, h),
		sock.WithHighWater(high), sock.WithSendBufferSize(16<<10))
	peer.SetDeadline(time.Now().Add(waitLimit))
	sent := bytes.Repeat([]byte("0123456789"), records*10)
	var want bytes.Buffer
	for r := range records {
		want.Write(sent[r*100 : r*100+100])
		want.WriteByte('\n')
	}
	fmt.Fprintf(&want, "%d messages\n", records)
	paused := make(chan struct{})
	var answers []byte
	peerRead := readingPeer(l, peer, func() {
		peer.Write(sent)
		peer.(*net.TCPConn).CloseWrite()
		<-paused
	}, &answers)
	once := false
	runUntil(t, l, "every answer and the close", func() bool {
		if h.pauses > 0 && !once {
			once = true
			close(paused)
		}
		return peerRead() && h.closed
	})
	if !bytes.Equal(answers, want.Bytes()) {
		t.Fatalf("%d bytes of answers, want %d; first difference at %d", len(answers), want.Len(), firstByteDifference(answers, want.Bytes()))
	}
	if h.eofAt != records || h.resumes == 0 {
		t.Errorf("OnEOF after %d messages (want %d), %d OnResume", h.eofAt, records, h.resumes)
	}
}

// blockState is a connection's state in a protocol of lines and counted
// blocks: "set N" announces a block of N bytes, which follows.
type blockState struct{ pending int }

// blockSplit cuts lines, or the block its state announces.
func blockSplit(st *blockState) bufio.SplitFunc {
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if st.pending > 0 {
			if len(data) < st.pending {
				return 0, nil, nil
			}
			return st.pending, data[:st.pending], nil
		}
		return bufio.ScanLines(data, atEOF)
	}
}

// blockServer stores blocks and answers lines; what it got is in order,
// each prefixed with its connection's name.
type blockServer struct {
	sock.BaseHandler
	got []string
}

func (h *blockServer) OnOpen(c *sock.Conn) { c.Context = &blockState{} }

func (h *blockServer) OnMessage(c *sock.Conn, msg []byte) {
	st := c.Context.(*blockState)
	var n int
	if st.pending > 0 {
		st.pending = 0
		h.got = append(h.got, "block "+string(msg))
		c.Write([]byte("STORED\n"))
	} else if _, err := fmt.Sscanf(string(msg), "set %d", &n); err == nil {
		st.pending = n
		h.got = append(h.got, "header "+string(msg))
	} else {
		h.got = append(h.got, "line "+string(msg))
		c.Write([]byte("LINE " + string(msg) + "\n"))
	}
}

// TestMessagesPerConnKeepsEachConnectionsSplitState: with a split function
// whose state the handler sets, a header on one connection does not make
// another's line a block (a trial's memcached-like server, on Messages,
// cut B's "get x" as A's block); MessagesPerConn gives each its own.
func TestMessagesPerConnKeepsEachConnectionsSplitState(t *testing.T) {
	l := newLoop(t)
	h := &blockServer{}
	newSplit := func(c *sock.Conn) bufio.SplitFunc { return blockSplit(c.Context.(*blockState)) }
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", sock.MessagesPerConn(newSplit, 1024, h))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(waitLimit))
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := dial(), dial()
	a.Write([]byte("set 5\n"))
	runUntil(t, l, "A's header", func() bool { return len(h.got) == 1 })
	b.Write([]byte("get x\n"))
	runUntil(t, l, "B's line", func() bool { return len(h.got) == 2 })
	a.Write([]byte("hello"))
	runUntil(t, l, "A's block", func() bool { return len(h.got) == 3 })
	want := []string{"header set 5", "line get x", "block hello"}
	sameMessages(t, h.got, want)
	for name, tc := range map[string]struct {
		c    net.Conn
		want string
	}{"A": {a, "STORED\n"}, "B": {b, "LINE get x\n"}} {
		buf := make([]byte, len(tc.want))
		if _, err := io.ReadFull(tc.c, buf); err != nil || string(buf) != tc.want {
			t.Errorf("%s read %q (%v), want %q", name, buf, err, tc.want)
		}
	}
}
