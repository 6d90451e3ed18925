package sock_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// Tests of Conn.Cork and Uncork (the Messages write gathering's are in the
// cork_*_test.go files).

// corkConn is a recorder that keeps its connection.
type corkConn struct {
	recorder
	c *sock.Conn
}

func (h *corkConn) OnOpen(c *sock.Conn) { h.c, h.opened = c, true }

// acceptCorkConn listens on loopback TCP with h and opts, dials it with a
// plain net.Conn and runs l until the connection is open.
func acceptCorkConn(t *testing.T, l *loop.Loop, h *corkConn, opts ...sock.Option) net.Conn {
	t.Helper()
	_, peer := listenAndDial(t, l, h, opts...)
	runUntil(t, l, "the connection", func() bool { return h.opened })
	return peer
}

// readNothing checks that the peer has received nothing for a moment.
func readNothing(t *testing.T, peer net.Conn, when string) {
	t.Helper()
	peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var b [64]byte
	n, err := peer.Read(b[:])
	peer.SetReadDeadline(time.Time{})
	var ne net.Error
	if n > 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%s: the peer read %q, %v; want nothing yet", when, b[:n], err)
	}
}

// readExactly reads from peer until it has n bytes, with a generous deadline,
// running nothing of l (what it reads was sent already).
func readExactly(t *testing.T, peer net.Conn, n int) []byte {
	t.Helper()
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	defer peer.SetReadDeadline(time.Time{})
	b := make([]byte, n)
	if _, err := io.ReadFull(peer, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// Writes made while corked wait, in order, until Uncork sends them.
func TestCorkHoldsWritesUntilUncork(t *testing.T) {
	l := newLoop(t)
	h := &corkConn{}
	peer := acceptCorkConn(t, l, h)
	c := h.c
	if c.Corked() {
		t.Fatal("Corked() before Cork")
	}
	c.Cork()
	if !c.Corked() {
		t.Fatal("Corked() false after Cork")
	}
	var want []byte
	for i := range 100 {
		msg := []byte(strings.Repeat(string(rune('a'+i%26)), 1+i%7))
		want = append(want, msg...)
		if n, err := c.Write(msg); n != len(msg) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if n, err := c.Writev([]byte("head"), []byte("body")); n != 8 || err != nil {
		t.Fatalf("Writev = %d, %v", n, err)
	}
	want = append(want, "headbody"...)
	if got := c.Buffered(); got != len(want) {
		t.Fatalf("Buffered() = %d while corked; want the %d bytes written", got, len(want))
	}
	settle(t, l)
	readNothing(t, peer, "corked")
	c.Uncork()
	if c.Corked() {
		t.Fatal("Corked() after Uncork")
	}
	if got := c.Buffered(); got != 0 {
		t.Errorf("Buffered() = %d after Uncork to a reading peer; want 0", got)
	}
	if got := readExactly(t, peer, len(want)); !bytes.Equal(got, want) {
		t.Errorf("the peer read %q; want %q", got, want)
	}
	// Uncorked, a Write goes out at once again.
	c.Write([]byte("now"))
	if got := c.Buffered(); got != 0 {
		t.Errorf("Buffered() = %d after a Write uncorked; want 0", got)
	}
	if got := readExactly(t, peer, 3); string(got) != "now" {
		t.Errorf("the peer read %q; want \"now\"", got)
	}
	c.Uncork() // not corked: nothing happens
	c.Cork()
	c.Cork() // one Uncork ends it
	c.Write([]byte("x"))
	c.Uncork()
	if c.Corked() || c.Buffered() != 0 {
		t.Errorf("after Cork, Cork, Write, Uncork: Corked() = %v, Buffered() = %d; want false, 0", c.Corked(), c.Buffered())
	}
}

// The pattern in Cork's doc: callbacks posted from another goroutine
// write, the first of an iteration corks and queues the Uncork, and the
// writes go out together, every byte in order of the posts. The posts are
// all made before the loop runs, so that its iterations take them in
// batches (a loop that kept up with a slow producer would take them one by
// one, and gather nothing: no test of the gathering).
func TestCorkGathersPostedWrites(t *testing.T) {
	l := newLoop(t)
	h := &corkConn{}
	peer := acceptCorkConn(t, l, h)
	c := h.c
	const posts = 2000
	held := 0 // the most bytes held at once, seen at an Uncork
	uncork := func() {
		held = max(held, c.Buffered())
		c.Uncork()
	}
	ran := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range posts {
			msg := []byte{byte(i), byte(i >> 8)}
			if err := l.Post(func() {
				ran++
				if !c.Corked() {
					c.Cork()
					l.CallSoon(uncork)
				}
				c.Write(msg)
			}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	<-done
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 2*posts)
		peer.SetReadDeadline(time.Now().Add(waitLimit))
		n, err := io.ReadFull(peer, b)
		if err != nil {
			t.Errorf("the peer read %d of %d bytes: %v", n, len(b), err)
		}
		got <- b[:n]
	}()
	runUntil(t, l, "the posts and the last Uncork", func() bool { return ran == posts && !c.Corked() })
	b := <-got
	for i := 0; i+1 < len(b); i += 2 {
		if k := int(b[i]) | int(b[i+1])<<8; k != i/2 {
			t.Fatalf("post %d's bytes at %d; want post %d's", k, i, i/2)
		}
	}
	if held < 4 {
		// Posts are taken in batches; each holds several.
		t.Errorf("at most %d bytes held at an Uncork; want the writes of several posts gathered", held)
	}
}

// Held bytes never reach the high-water mark: past 16 KiB, or past the mark
// if lower, all of it is sent at once; with a peer that stops reading, the
// usual flow control takes over (OnPause, then OnResume once it reads).
func TestCorkSendsPastItsLimit(t *testing.T) {
	for _, hw := range []int{1 << 20, 4096} {
		l := newLoop(t)
		h := &corkConn{}
		peer := acceptCorkConn(t, l, h, sock.WithHighWater(hw))
		c := h.c
		limit := min(16<<10, hw)
		c.Cork()
		c.Write(make([]byte, limit))
		if got := c.Buffered(); got != limit {
			t.Fatalf("high water %d: Buffered() = %d after a corked Write of the limit; want it held", hw, got)
		}
		c.Write([]byte{1})
		if got := c.Buffered(); got != 0 {
			t.Errorf("high water %d: Buffered() = %d after passing the limit; want all of it sent", hw, got)
		}
		if !c.Corked() {
			t.Errorf("high water %d: passing the limit ended the cork", hw)
		}
		readExactly(t, peer, limit+1)
		// The peer stops reading: what the kernel does not take waits,
		// and more is written behind it until OnPause.
		msg := make([]byte, 1000)
		for i := 0; h.pauses == 0; i++ {
			if i > 100000 {
				t.Fatalf("high water %d: no OnPause after %d bytes to a peer that does not read", hw, i*len(msg))
			}
			c.Write(msg)
		}
		if !c.WritePaused() {
			t.Errorf("high water %d: WritePaused() false after OnPause", hw)
		}
		reader := make(chan error, 1)
		go func() {
			peer.SetReadDeadline(time.Now().Add(waitLimit))
			_, err := io.Copy(io.Discard, peer)
			reader <- err
		}()
		runUntil(t, l, "OnResume", func() bool { return h.resumes == 1 })
		c.Uncork()
		runUntil(t, l, "the queue to drain", func() bool { return c.Buffered() == 0 })
		c.Close()
		runUntil(t, l, "OnClose", func() bool { return h.closed })
		if err := <-reader; err != nil {
			t.Errorf("high water %d: the peer read: %v", hw, err)
		}
		l.Close()
	}
}

// Close and CloseWrite send what is held first; the peer reads it all, then
// the end of the stream, and OnClose has nil.
func TestCloseAndCloseWriteSendWhatCorkHeld(t *testing.T) {
	for _, how := range []string{"Close", "CloseWrite"} {
		t.Run(how, func(t *testing.T) {
			l := newLoop(t)
			h := &corkConn{}
			peer := acceptCorkConn(t, l, h)
			h.c.Cork()
			h.c.Write([]byte("held until the end"))
			var err error
			if how == "Close" {
				err = h.c.Close()
			} else {
				err = h.c.CloseWrite()
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.c.Corked() {
				t.Errorf("Corked() after %s", how)
			}
			got := make(chan []byte, 1)
			go func() {
				peer.SetReadDeadline(time.Now().Add(waitLimit))
				b, _ := io.ReadAll(peer)
				got <- b
				peer.Close()
			}()
			runUntil(t, l, "OnClose", func() bool { return h.closed })
			if h.closeErr != nil {
				t.Errorf("OnClose(%v); want nil", h.closeErr)
			}
			if b := <-got; string(b) != "held until the end" {
				t.Errorf("the peer read %q before the end of stream", b)
			}
		})
	}
}

// Abort discards what is held, says so in OnClose, and resets the
// connection: the peer must not read a stream cut short as a whole one.
func TestAbortDiscardsWhatCorkHeld(t *testing.T) {
	l := newLoop(t)
	h := &corkConn{}
	peer := acceptCorkConn(t, l, h)
	h.c.Cork()
	h.c.Write([]byte("never sent"))
	if err := h.c.Abort(); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	var unsent *sock.UnsentError
	if !errors.As(h.closeErr, &unsent) || unsent.Unsent != len("never sent") || !errors.Is(h.closeErr, sock.ErrAborted) {
		t.Errorf("OnClose(%v); want an *UnsentError of %d bytes wrapping ErrAborted", h.closeErr, len("never sent"))
	}
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	b, err := io.ReadAll(peer)
	if len(b) > 0 || err == nil {
		t.Errorf("the peer read %q, %v; want a reset and nothing", b, err)
	}
}

// Held bytes do not wait for the peer: a write timeout does not run for
// them, set before the Cork or while it holds, and starts once they are
// sent and the kernel leaves some of them queued.
func TestTheWriteTimeoutDoesNotRunForWhatCorkHolds(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &corkConn{}
	peer := acceptCorkConn(t, l, h)
	c := h.c
	c.SetWriteTimeout(time.Second)
	c.Cork()
	c.Write([]byte("held"))
	vc.Advance(10 * time.Second)
	settle(t, l)
	c.SetWriteTimeout(time.Second) // set again while bytes are held
	vc.Advance(10 * time.Second)
	settle(t, l)
	if h.closed {
		t.Fatalf("OnClose(%v) while bytes were held; want the connection open", h.closeErr)
	}
	c.Uncork()
	if got := readExactly(t, peer, 4); string(got) != "held" {
		t.Errorf("the peer read %q", got)
	}
}

// A dialed connection corked while it connects holds what was written
// meanwhile past its OnOpen, until Uncork; past the limit it sends it as
// soon as it opens.
func TestCorkWhileConnecting(t *testing.T) {
	for _, size := range []int{100, 20 << 10} {
		l := newLoop(t)
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pl.Close() })
		h := &corkConn{}
		c, err := sock.Dial(l, "tcp", pl.Addr().String(), h)
		if err != nil {
			t.Fatal(err)
		}
		c.Cork()
		msg := bytes.Repeat([]byte("d"), size)
		if n, err := c.Write(msg); n != size || err != nil {
			t.Fatalf("Write while connecting = %d, %v", n, err)
		}
		peer, err := pl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { peer.Close() })
		runUntil(t, l, "OnOpen", func() bool { return h.opened })
		settle(t, l)
		if size <= 16<<10 {
			if got := c.Buffered(); got != size {
				t.Errorf("Buffered() = %d after OnOpen, corked; want the %d bytes held", got, size)
			}
			readNothing(t, peer, "corked after connecting")
			c.Uncork()
		}
		got := make(chan []byte, 1)
		go func() { got <- readExactly(t, peer, size) }()
		runUntil(t, l, "the bytes sent", func() bool { return c.Buffered() == 0 })
		if b := <-got; !bytes.Equal(b, msg) {
			t.Errorf("size %d: the peer read %d bytes, not what was written", size, len(b))
		}
		c.Abort()
		runUntil(t, l, "OnClose", func() bool { return h.closed })
		l.Close()
	}
}

// Cork does nothing where no more may be written.
func TestCorkOnAConnectionThatCannotWrite(t *testing.T) {
	l := newLoop(t)
	h := &corkConn{}
	acceptCorkConn(t, l, h)
	h.c.CloseWrite()
	h.c.Cork()
	if h.c.Corked() {
		t.Error("Corked() after CloseWrite and Cork")
	}
	h.c.Close()
	h.c.Cork()
	if h.c.Corked() {
		t.Error("Corked() after Close and Cork")
	}
	if _, err := h.c.Write([]byte("x")); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Write after Close = %v; want ErrClosed", err)
	}
	h.c.Uncork()
}

// corkMessages answers each line; "cork" corks the connection (the answers
// before it were gathered by Messages) and queues the Uncork.
type corkMessages struct {
	corkHandler
	buffered []int // Buffered() after each answer
}

// Under Messages, Cork sends the answers gathered before it, and holds
// those after it, the gathering of later reads' answers stopped, until
// Uncork: the peer reads them all in order.
func TestCorkUnderMessages(t *testing.T) {
	l := newLoop(t)
	h := &corkMessages{}
	h.onMessage = func(c *sock.Conn, msg []byte) {
		if string(msg) == "cork" {
			c.Cork()
			c.Loop().CallSoon(func() {
				h.buffered = append(h.buffered, -1)
				c.Uncork()
			})
		}
		c.Writev(msg, []byte("\n"))
		h.buffered = append(h.buffered, c.Buffered())
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h))
	peer.Write([]byte("a\nb\ncork\nc\n"))
	want := "a\nb\ncork\nc\n"
	got := make(chan []byte, 1)
	go func() { got <- readExactly(t, peer, len(want)) }()
	runUntil(t, l, "the Uncork", func() bool { return len(h.buffered) == 5 })
	if b := <-got; string(b) != want {
		t.Errorf("the peer read %q; want %q", b, want)
	}
	// a and b gathered (2, 4 bytes), sent at the Cork; cork and c held.
	if wantB := []int{2, 4, 5, 7, -1}; !equalInts(h.buffered, wantB) {
		t.Errorf("Buffered() after each answer, -1 at the Uncork: %v; want %v", h.buffered, wantB)
	}
}

// Cork, writes and Uncork allocate nothing once the connection's queue has
// its chunk.
func TestCorkAllocatesNothing(t *testing.T) {
	l := newLoop(t)
	h := &corkConn{}
	peer := acceptCorkConn(t, l, h)
	go io.Copy(io.Discard, peer)
	c := h.c
	msg := []byte("a request of some length")
	round := func() {
		c.Cork()
		for range 10 {
			c.Write(msg)
		}
		c.Uncork()
	}
	for range 100 {
		round()
	}
	if allocs := testing.AllocsPerRun(1000, round); allocs != 0 {
		t.Errorf("Cork, 10 Writes and Uncork allocate %v times; want 0", allocs)
	}
}

// BenchmarkWritesFromCallbacks measures a write of 64 bytes made by one of
// 64 callbacks run in one iteration, as posted requests are: each sent by
// its own Write, or corked by the first callback and sent together at the
// Uncork it queues (Cork's doc's pattern). A goroutine reads what the peer
// receives and discards it.
func BenchmarkWritesFromCallbacks(b *testing.B) {
	for _, corked := range []bool{false, true} {
		name := "uncorked"
		if corked {
			name = "corked"
		}
		b.Run(name, func(b *testing.B) {
			l := newLoop(b)
			h := &corkConn{}
			_, peer := listenAndDial(b, l, h)
			runUntil(b, l, "the connection", func() bool { return h.opened })
			go io.Copy(io.Discard, peer)
			c := h.c
			msg := make([]byte, 64)
			const perIteration = 64
			write := func() {
				if corked && !c.Corked() {
					c.Cork()
					l.CallSoon(c.Uncork)
				}
				if _, err := c.Write(msg); err != nil {
					b.Error(err)
				}
			}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l.CallSoon(write)
				if i++; i%perIteration == 0 {
					for l.Pending() > 0 {
						if err := l.RunOnce(false); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}

// Cork called while bytes wait for the kernel: later writes join that
// queue and go out as it drains, before any Uncork (held bytes would only
// wait behind it for nothing: the drain sends them in the same writev).
func TestCorkBehindAWaitingQueueSendsAsItDrains(t *testing.T) {
	l := newLoop(t)
	h := &corkConn{}
	peer := acceptCorkConn(t, l, h, sock.WithHighWater(1<<30))
	c := h.c
	chunk := make([]byte, 64<<10)
	written := 0
	for c.Buffered() == 0 {
		if written > 64<<20 {
			t.Fatal("the kernel took 64 MiB from a peer that does not read")
		}
		c.Write(chunk)
		written += len(chunk)
	}
	c.Cork()
	c.Write([]byte("HELD"))
	written += 4
	if got := c.Buffered(); got == 0 {
		t.Fatal("nothing queued")
	}
	done := make(chan int64, 1)
	go func() {
		peer.SetReadDeadline(time.Now().Add(waitLimit))
		n, _ := io.CopyN(io.Discard, peer, int64(written))
		done <- n
		l.Post(func() {})
	}()
	var n int64 = -1
	runUntil(t, l, "the peer to read everything", func() bool {
		select {
		case n = <-done:
			return true
		default:
			return false
		}
	})
	if n != int64(written) {
		t.Fatalf("the peer read %d of %d bytes before Uncork", n, written)
	}
	if !c.Corked() || c.Buffered() != 0 {
		t.Errorf("after the drain: Corked() = %v, Buffered() = %d; want true and 0", c.Corked(), c.Buffered())
	}
	c.Uncork()
}
