package sock_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// Tests from a mutation round over the cork (the write gathering of a
// Messages handler: Conn.startGathering, gather, spill, sendGathered and
// what looks at them). Each names the mutants of sock/conn.go or sock/messages.go that the
// existing tests let through and that it kills.

// listenUnix listens on a Unix socket of a fresh directory with h, closed at
// the end of the test.
func listenUnix(t *testing.T, l *loop.Loop, h sock.Handler, opts ...sock.Option) *sock.Listener {
	t.Helper()
	ln, err := sock.Listen(l, "unix", filepath.Join(t.TempDir(), "s"), h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialPeer connects a plain net.Conn to ln, closed at the end of the test.
func dialPeer(t *testing.T, ln *sock.Listener) net.Conn {
	t.Helper()
	peer, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return peer
}

// TestCorkMutantGathersUpTo16KiB: under Messages, what OnMessage writes is
// gathered (Buffered counts it, Write returns len(p)) up to 16 KiB in all,
// the bound included; one byte more sends what was gathered, then the
// byte, and the peer reads it all in order.
//
// Kills: Write returning 0 for gathered bytes; gather's n > maxGather as
// n >= maxGather; maxGather 8 KiB or 64 KiB; gather sizing without what is
// already gathered (n := 0); startGathering not setting fGathering; OnData's sendGathered run
// at once instead of deferred (nothing gathered).
func TestCorkMutantGathersUpTo16KiB(t *testing.T) {
	l := newLoop(t)
	a := bytes.Repeat([]byte("a"), 100)
	b := bytes.Repeat([]byte("b"), 16<<10-len(a))
	var ns, buffered []int
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		for _, p := range [][]byte{a, b, []byte("\n")} {
			n, err := c.Write(p)
			if err != nil {
				t.Errorf("Write: %v", err)
			}
			ns, buffered = append(ns, n), append(buffered, c.Buffered())
		}
		c.Close()
	}}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h), sock.WithSendBufferSize(1<<20))
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	got := answersUntilClosed(t, l, peer, h)
	if want := []int{len(a), len(b), 1}; !equalInts(ns, want) {
		t.Errorf("the Writes returned %v; want %v", ns, want)
	}
	// The 1 MiB send buffer takes 16 KiB + 1 at once: nothing stays queued.
	if want := []int{len(a), 16 << 10, 0}; !equalInts(buffered, want) {
		t.Errorf("Buffered() after each Write: %v; want %v (gathered up to 16 KiB, then sent)", buffered, want)
	}
	want := string(a) + string(b) + "\n"
	if string(got) != want {
		t.Errorf("the peer read %d bytes, want %d; first difference at %d", len(got), len(want), firstByteDifference(got, []byte(want)))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCorkMutantWritevGathersEveryBuffer: Writev under Messages gathers all
// its buffers, returns their total, and the peer reads them in order.
//
// Kills: Writev not gathering; Writev returning 0 for gathered bytes;
// gather appending only the first buffer.
func TestCorkMutantWritevGathersEveryBuffer(t *testing.T) {
	l := newLoop(t)
	n, buffered := -1, -1
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		var err error
		n, err = c.Writev([]byte("ab"), []byte("cd"), []byte("ef\n"))
		if err != nil {
			t.Errorf("Writev: %v", err)
		}
		buffered = c.Buffered()
		c.Close()
	}}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h))
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	got := answersUntilClosed(t, l, peer, h)
	if n != 7 || buffered != 7 {
		t.Errorf("Writev returned %d, then Buffered() = %d; want 7 and 7 (gathered)", n, buffered)
	}
	if string(got) != "abcdef\n" {
		t.Errorf("the peer read %q; want %q", got, "abcdef\n")
	}
}

// TestCorkMutantWritevReportsTheFailedSendOfWhatWasGathered is
// TestCorkWriteReportsTheFailedSendOfWhatWasGathered for Writev: a Writev
// too long to gather sends what was gathered first; that send fails
// (EPIPE), and Writev returns its error, not one of a send on the
// descriptor teardown closed.
//
// Kills: Writev ignoring gather's error.
func TestCorkMutantWritevReportsTheFailedSendOfWhatWasGathered(t *testing.T) {
	l := newLoop(t)
	var werr error
	wrote := false
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		c.Write(bytes.Repeat([]byte("a"), 100))                        // gathered
		_, werr = c.Writev(make([]byte, 10<<10), make([]byte, 10<<10)) // too long: the 100 go first, and fail
		wrote = true
	}}
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h))
	peer := dialPeer(t, ln)
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	peer.Close() // the server reads "go\n", and its sends fail with EPIPE
	runUntil(t, l, "the close", func() bool { return wrote && h.closed })
	if !errors.Is(werr, syscall.EPIPE) {
		t.Errorf("the long Writev returned %v; want the failed send's EPIPE", werr)
	}
}

// TestCorkMutantNoGatherBehindQueuedBytes: once bytes are queued (the
// kernel was full), a short answer is queued behind them, not gathered: the
// kernel may take it at sendGathered (here the peer has read meanwhile), and it
// would overtake what was written before it.
//
// Kills: gather without its check of queued bytes.
func TestCorkMutantNoGatherBehindQueuedBytes(t *testing.T) {
	l := newLoop(t)
	var peer net.Conn
	big := bytes.Repeat([]byte("b"), 20<<10)
	junk := 0
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		junk = fillKernel(t, sock.ConnFD(c))
		c.Write(big) // too long to gather; the kernel takes none of it: queued
		// The peer reads the filler now: the kernel has room again, but the
		// loop has not sent the queue yet.
		peer.SetReadDeadline(time.Now().Add(waitLimit))
		if _, err := io.ReadFull(peer, make([]byte, junk)); err != nil {
			t.Errorf("reading the filler: %v", err)
		}
		c.Write([]byte("tail\n"))
		c.Close()
	}}
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h))
	peer = dialPeer(t, ln)
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the message", func() bool { return junk > 0 })
	got := answersUntilClosed(t, l, peer, h)
	want := string(big) + "tail\n"
	if string(got) != want {
		t.Errorf("the peer read %d bytes, want %d; first difference at %d", len(got), len(want), firstByteDifference(got, []byte(want)))
	}
}

// TestCorkMutantOtherConnectionsKeepOutOfTheCork: what one connection's
// OnMessage gathered is its own: another connection of the loop does not
// count it in Buffered, and a Close or Abort of that other connection does
// not send it there.
//
// Kills: Buffered counting the loop's gather buffer whichever connection is corked;
// sendGathered without its check that c is corked (Close sends another's
// gathered bytes); Abort spilling whatever the connection.
func TestCorkMutantOtherConnectionsKeepOutOfTheCork(t *testing.T) {
	l := newLoop(t)
	conns := map[string]*sock.Conn{} // by the peer's address
	var peers [3]net.Conn
	otherBuffered := -1
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		c.Write([]byte("from a\n")) // gathered
		b, cc := conns[peers[1].LocalAddr().String()], conns[peers[2].LocalAddr().String()]
		otherBuffered = b.Buffered()
		b.Close()
		cc.Abort()
		c.Close()
	}}
	opens := 0
	mh := &openRecorder{MessageHandler: h, open: func(c *sock.Conn) { conns[c.RemoteAddr().String()] = c; opens++ }}
	ln, first := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, mh))
	peers[0] = first
	for i := 1; i < len(peers); i++ {
		peers[i] = dialPeer(t, ln)
	}
	runUntil(t, l, "three connections", func() bool { return opens == 3 })
	if _, err := peers[0].Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	var got [3][]byte
	var done [3]bool
	for i := range peers {
		readAllOf(l, peers[i], &done[i], &got[i])
	}
	runUntil(t, l, "the peers' ends of stream", func() bool { return done[0] && done[1] && done[2] })
	if otherBuffered != 0 {
		t.Errorf("another connection's Buffered() = %d while the first had gathered an answer; want 0", otherBuffered)
	}
	if string(got[0]) != "from a\n" || len(got[1]) != 0 || len(got[2]) != 0 {
		t.Errorf("the peers read %q, %q and %q; want the answer on the first only", got[0], got[1], got[2])
	}
}

// openRecorder is a MessageHandler that calls open from OnOpen, then h's.
type openRecorder struct {
	sock.MessageHandler
	open func(c *sock.Conn)
}

func (o *openRecorder) OnOpen(c *sock.Conn) {
	o.open(c)
	o.MessageHandler.OnOpen(c)
}

// TestCorkMutantFailedSpillLeavesNothingGathered: a connection whose spill
// failed (EPIPE) is torn down with what it gathered in the loop's gather
// buffer; teardown must empty it, or the next connection of the loop to
// gather sends those bytes to its own peer.
//
// Kills: dropGathered not emptying the gather buffer.
func TestCorkMutantFailedSpillLeavesNothingGathered(t *testing.T) {
	l := newLoop(t)
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		switch string(msg) {
		case "fail":
			c.Write(bytes.Repeat([]byte("a"), 100)) // gathered
			c.Write(make([]byte, 20<<10))           // too long: the 100 go first, and fail
		default:
			c.Write([]byte("mine\n"))
			c.Close()
		}
	}}
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h))
	first := dialPeer(t, ln)
	if _, err := first.Write([]byte("fail\n")); err != nil {
		t.Fatal(err)
	}
	first.Close()
	runUntil(t, l, "the failed connection's close", func() bool { return h.closed })
	second := dialPeer(t, ln)
	if _, err := second.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	done := false
	readAllOf(l, second, &done, &got)
	runUntil(t, l, "the second answer", func() bool { return done })
	if string(got) != "mine\n" {
		t.Errorf("the second peer read %q; want only its own answer", got)
	}
}

// TestCorkMutantWriteTimeoutAfterASpill: a Write too long to gather spills
// what was gathered into an empty queue, the kernel being full, and its own
// bytes follow: the queue was empty before the Write, so the write timeout
// starts, and a peer that never reads is dropped with ErrTimeout.
//
// Kills: Write (and, with writev set, Writev) taking "the queue was empty"
// after the gather's spill instead of before it.
func TestCorkMutantWriteTimeoutAfterASpill(t *testing.T) {
	for _, writev := range []bool{false, true} {
		name := "Write"
		if writev {
			name = "Writev"
		}
		t.Run(name, func(t *testing.T) {
			l, vc := newVirtualLoop(t)
			queued := -1
			h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
				c.SetWriteTimeout(time.Second)
				fillKernel(t, sock.ConnFD(c))
				c.Write(make([]byte, 10<<10)) // gathered
				if writev {
					c.Writev(make([]byte, 5<<10), make([]byte, 5<<10)) // too long: spills, then queued
				} else {
					c.Write(make([]byte, 10<<10)) // too long: spills, then queued
				}
				queued = c.Buffered()
			}}
			_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h), sock.WithSendBufferSize(16<<10))
			if _, err := peer.Write([]byte("go\n")); err != nil {
				t.Fatal(err)
			}
			runUntil(t, l, "the message", func() bool { return queued >= 0 })
			if queued == 0 {
				t.Skip("the kernel took all of it")
			}
			advanceUntilClosed(l, vc, h, 5*time.Second)
			if !errors.Is(h.closeErr, sock.ErrTimeout) {
				t.Fatalf("after 5 s with %d bytes queued and a peer that never reads: closed %v (%v); want ErrTimeout", queued, h.closed, h.closeErr)
			}
		})
	}
}

// advanceUntilClosed advances vc by 100 ms steps, up to limit, running l
// between them, until h's connection closes.
func advanceUntilClosed(l *loop.Loop, vc *loop.VirtualClock, h *corkHandler, limit time.Duration) {
	for d := time.Duration(0); d < limit && !h.closed; d += 100 * time.Millisecond {
		vc.Advance(100 * time.Millisecond)
		for range 3 {
			l.RunOnce(false)
		}
	}
}

// TestCorkMutantWriteTimeoutStartsAtUncork: an answer gathered while the
// kernel is full is queued at sendGathered; the write timeout starts then (the
// queue was empty), so a peer that never reads is dropped with ErrTimeout.
//
// Kills: sendGathered calling queued(false), or not calling queued.
func TestCorkMutantWriteTimeoutStartsAtUncork(t *testing.T) {
	l, vc := newVirtualLoop(t)
	gathered := -1
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		c.SetWriteTimeout(time.Second)
		fillKernel(t, sock.ConnFD(c))
		c.Write([]byte("pong\n"))
		gathered = c.Buffered()
	}}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h), sock.WithSendBufferSize(16<<10))
	if _, err := peer.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the message", func() bool { return gathered >= 0 })
	if q := h.conn.Buffered(); q == 0 {
		t.Skip("the kernel took the answer")
	}
	advanceUntilClosed(l, vc, h, 5*time.Second)
	if !errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Fatalf("after 5 s with an answer queued and a peer that never reads: closed %v (%v); want ErrTimeout", h.closed, h.closeErr)
	}
}

// TestCorkMutantReadsDoNotRestartTheWriteTimeout: with bytes queued and no
// progress, requests that keep arriving (and are answered by nothing) do
// not hold the write timeout off: sendGathered of a connection whose queue was
// not empty starts no timer over.
//
// Kills: sendGathered calling queued(true) whether or not the queue was empty.
func TestCorkMutantReadsDoNotRestartTheWriteTimeout(t *testing.T) {
	l, vc := newVirtualLoop(t)
	msgs, queued := 0, -1
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		msgs++
		if string(msg) == "fill" {
			c.SetWriteTimeout(time.Second)
			fillKernel(t, sock.ConnFD(c))
			c.Write(make([]byte, 20<<10)) // too long to gather: queued
			queued = c.Buffered()
		}
	}}
	// A Unix socket: a TCP peer's requests carry window updates that let
	// the kernel take more of the queue (progress).
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h), sock.WithSendBufferSize(16<<10))
	peer := dialPeer(t, ln)
	if _, err := peer.Write([]byte("fill\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the message", func() bool { return queued >= 0 })
	if queued == 0 {
		t.Skip("the kernel took all of it")
	}
	for step := 1; step <= 30 && !h.closed; step++ {
		if step%4 == 0 { // a request every 400 ms
			want := msgs + 1
			if _, err := peer.Write([]byte("x\n")); err != nil {
				t.Fatal(err)
			}
			runUntil(t, l, "the request", func() bool { return msgs == want || h.closed })
		}
		vc.Advance(100 * time.Millisecond)
		for range 3 {
			l.RunOnce(false)
		}
	}
	if !errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Fatalf("after 3 s of requests with 20 KiB queued and none of it sent: closed %v (%v); want ErrTimeout after 1 s", h.closed, h.closeErr)
	}
}

// corkEOFKeeper answers each message, and at the end of stream writes "bye"
// and keeps the connection open.
type corkEOFKeeper struct {
	corkHandler
	eofBuffered int
	eofs        int
}

func (h *corkEOFKeeper) OnEOF(c *sock.Conn) bool {
	h.eofs++
	c.Write([]byte("bye\n"))
	h.eofBuffered = c.Buffered()
	return true
}

// TestCorkMutantGathersAtTheEndOfStream: the last message (handed out at
// the peer's end of stream) and OnEOF write gathered too, and what they
// gathered is sent when OnEOF returns, even though the connection stays
// open.
//
// Kills: Messages' OnEOF without its cork; OnEOF corking without its
// sendGathered.
func TestCorkMutantGathersAtTheEndOfStream(t *testing.T) {
	l := newLoop(t)
	h := &corkEOFKeeper{}
	lastBuffered := -1
	h.onMessage = func(c *sock.Conn, msg []byte) {
		c.Write(append(bytes.ToUpper(msg), '\n'))
		lastBuffered = c.Buffered()
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h))
	if _, err := peer.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	peer.(*net.TCPConn).CloseWrite()
	runUntil(t, l, "OnEOF", func() bool { return h.eofs > 0 })
	after := -1
	l.Post(func() { after = h.conn.Buffered() })
	runUntil(t, l, "the posted look", func() bool { return after >= 0 })
	if lastBuffered != 5 || h.eofBuffered != 9 {
		t.Errorf("Buffered() in the last OnMessage %d, in OnEOF %d; want 5 and 9 (gathered)", lastBuffered, h.eofBuffered)
	}
	if after != 0 {
		t.Errorf("Buffered() = %d once OnEOF returned, with the kernel taking all: the answers stayed gathered", after)
	}
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	got := make([]byte, len("LAST\nbye\n"))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "LAST\nbye\n" {
		t.Errorf("the peer read %q (%v); want %q", got, err, "LAST\nbye\n")
	}
	h.conn.Close()
	runUntil(t, l, "the close", func() bool { return h.closed })
}

// TestCorkMutantGathersInMessagesThatWaited: the messages that waited for
// a ResumeReading are handed out corked (feedHeld): what they write is
// gathered.
//
// Kills: feedHeld without its cork.
func TestCorkMutantGathersInMessagesThatWaited(t *testing.T) {
	l := newLoop(t)
	nextBuffered := -1
	h := &corkHandler{}
	h.onMessage = func(c *sock.Conn, msg []byte) {
		switch string(msg) {
		case "pause":
			c.PauseReading()
			l.Post(func() { c.ResumeReading() })
		case "next":
			c.Write([]byte("NEXT\n"))
			nextBuffered = c.Buffered()
			c.Close()
		}
	}
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h))
	peer := dialPeer(t, ln)
	if _, err := peer.Write([]byte("pause\nnext\n")); err != nil { // one write: one read
		t.Fatal(err)
	}
	got := answersUntilClosed(t, l, peer, h)
	if nextBuffered != 5 {
		t.Errorf("Buffered() = %d after the held message's answer; want 5 (gathered)", nextBuffered)
	}
	if string(got) != "NEXT\n" {
		t.Errorf("the peer read %q; want %q", got, "NEXT\n")
	}
}

// splitBad is bufio.ScanLines, with an error for the line "bad".
func splitBad(data []byte, atEOF bool) (int, []byte, error) {
	adv, tok, err := bufio.ScanLines(data, atEOF)
	if string(tok) == "bad" {
		return 0, nil, errors.New("a bad line")
	}
	return adv, tok, err
}

// TestCorkMutantSurvivesAPanicInOnSplitErrorOfAHeldMessage is
// TestCorkSurvivesAPanicInOnSplitError for the messages that waited for a
// ResumeReading (feedHeld): a panic in OnSplitError must not leave the
// connection corked, its later writes unsent.
//
// Kills: feedHeld's sendGathered not deferred.
func TestCorkMutantSurvivesAPanicInOnSplitErrorOfAHeldMessage(t *testing.T) {
	var panics []any
	l := newLoop(t, loop.WithPanicHandler(func(v any) { panics = append(panics, v) }))
	h := &splitErrorPanicker{}
	h.onMessage = func(c *sock.Conn, msg []byte) {
		if string(msg) == "pause" {
			c.PauseReading()
			l.Post(func() { c.ResumeReading() })
		}
	}
	ln := listenUnix(t, l, sock.Messages(splitBad, 64, h))
	peer := dialPeer(t, ln)
	if _, err := peer.Write([]byte("pause\nbad\n")); err != nil { // one write: one read
		t.Fatal(err)
	}
	runUntil(t, l, "the panic", func() bool { return len(panics) > 0 })
	uncorkedAfterThePanic(t, l, peer, h.conn, "ERR too long\n", func() bool { return h.closed })
}

// TestCorkMutantNothingGatheredSendsNothing: a sendGathered with nothing
// gathered makes no send. A Unix peer that sent a request and closed makes
// every send fail with EPIPE, even an empty one: a handler that answers
// nothing must see its connection close cleanly at the end of stream
// (OnClose(nil)), not fail in a send it never asked for.
//
// Kills: spill without its check for an empty cork (an empty send at
// every sendGathered).
func TestCorkMutantNothingGatheredSendsNothing(t *testing.T) {
	l := newLoop(t)
	msgs := 0
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) { msgs++ }}
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h))
	peer := dialPeer(t, ln)
	if _, err := peer.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	peer.Close() // before the server reads: its reads find "x\n", then the end
	runUntil(t, l, "the close", func() bool { return h.closed })
	if msgs != 1 || h.closeErr != nil {
		t.Errorf("%d messages, then OnClose(%v); want 1 and nil", msgs, h.closeErr)
	}
}

// TestCorkMutantGathersAfterTheQueueDrained: a connection whose queue was
// used and has drained gathers again: only bytes actually queued stop the
// gathering.
//
// Kills: gather refusing whenever the connection has a queue (c.out !=
// nil), even an empty one.
func TestCorkMutantGathersAfterTheQueueDrained(t *testing.T) {
	l := newLoop(t)
	junk, pongBuffered := -1, -1
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		switch string(msg) {
		case "fill":
			junk = fillKernel(t, sock.ConnFD(c))
			c.Write(bytes.Repeat([]byte("a"), 100)) // gathered; sendGathered queues it
		case "ping":
			c.Write([]byte("pong\n"))
			pongBuffered = c.Buffered()
			c.Close()
		}
	}}
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h))
	peer := dialPeer(t, ln)
	if _, err := peer.Write([]byte("fill\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the first message", func() bool { return junk >= 0 })
	if h.conn.Buffered() == 0 {
		t.Skip("the kernel took the answer: nothing was queued")
	}
	readErr := make(chan error, 1)
	go func() {
		peer.SetReadDeadline(time.Now().Add(waitLimit))
		_, err := io.ReadFull(peer, make([]byte, junk+100))
		readErr <- err
		l.Post(func() {})
	}()
	var rerr error
	read := false
	runUntil(t, l, "the queue to drain", func() bool {
		if !read {
			select {
			case rerr = <-readErr:
				read = true
			default:
			}
		}
		return read && h.conn.Buffered() == 0
	})
	if rerr != nil {
		t.Fatal(rerr)
	}
	if _, err := peer.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	got := answersUntilClosed(t, l, peer, h)
	if pongBuffered != 5 {
		t.Errorf("Buffered() = %d after the answer; want 5 (gathered: the queue had drained)", pongBuffered)
	}
	if string(got) != "pong\n" {
		t.Errorf("the peer read %q; want %q", got, "pong\n")
	}
}

// TestCorkMutantPartlySentGatherIsQueuedOnce: what the kernel does not
// take of the gathered bytes at sendGathered (a send buffer smaller than they
// are) is queued, and only that: the peer reads every byte once, in order.
//
// Kills: spill queueing the whole gather buffer after a partial send.
func TestCorkMutantPartlySentGatherIsQueuedOnce(t *testing.T) {
	l := newLoop(t)
	answer := make([]byte, 15<<10)
	for i := range answer {
		answer[i] = byte(i % 251)
	}
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		c.Write(answer) // gathered; the kernel takes part of it at sendGathered
		c.Close()
	}}
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h), sock.WithSendBufferSize(4096))
	peer := dialPeer(t, ln)
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	got := answersUntilClosed(t, l, peer, h)
	if !bytes.Equal(got, answer) {
		t.Errorf("the peer read %d bytes, want %d; first difference at %d", len(got), len(answer), firstByteDifference(got, answer))
	}
}

// TestCorkMutantCloseWriteSendsWhatWasGathered: a CloseWrite in OnMessage
// sends the answer gathered before it, then the end of stream: the peer
// reads both, and the connection stays open for reading.
//
// Kills: CloseWrite without its sendGathered (the answer goes out at OnData's
// sendGathered, and nothing shuts the sending direction down after it).
func TestCorkMutantCloseWriteSendsWhatWasGathered(t *testing.T) {
	l := newLoop(t)
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		if string(msg) == "bye" {
			c.Write([]byte("bye\n")) // gathered
			c.CloseWrite()
		}
	}}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h))
	if _, err := peer.Write([]byte("bye\n")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	done := false
	readAllOf(l, peer, &done, &got)
	runUntil(t, l, "the answer and the end of stream", func() bool { return done })
	if string(got) != "bye\n" {
		t.Errorf("the peer read %q; want %q", got, "bye\n")
	}
	if h.closed {
		t.Errorf("OnClose(%v) before the peer finished: CloseWrite keeps reading", h.closeErr)
	}
	peer.Close()
	runUntil(t, l, "the close", func() bool { return h.closed })
}

// answersUntilClosed runs l until the peer has read everything the server
// sent and h's connection has closed, and returns what the peer read.
func answersUntilClosed(t *testing.T, l *loop.Loop, peer net.Conn, h *corkHandler) []byte {
	t.Helper()
	var got []byte
	done := false
	readAllOf(l, peer, &done, &got)
	runUntil(t, l, "the answer and the close", func() bool { return done && h.closed })
	return got
}
