package sock_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// Review 13 of Conn.Cork, Uncork and Corked: tests that kill the mutants
// the cork tests let live (mutant names as in the review's report).

// fillQueue writes to c, whose peer does not read, until more than min
// bytes wait in its queue for the kernel (the writer is registered).
func fillQueue(t *testing.T, c *sock.Conn, min int) {
	t.Helper()
	chunk := make([]byte, 256<<10)
	for i := 0; c.Buffered() <= min; i++ {
		if i > 400 {
			t.Fatalf("Buffered() = %d after %d writes to a peer that does not read", c.Buffered(), i)
		}
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
}

// An Uncork, or a corked Write past the limit, while the queue waits for a
// peer that stopped reading does not start the write timeout over: it runs
// from when the queue last moved, and ends the connection on time, with
// what was held behind the queue counted as unsent. Kills M8 (Uncork
// without its fWriting check: its release restarts the timer) and M14
// (hold without its fWriting check: the corked Write's release does).
func TestRev13UncorkKeepsTheWriteTimeoutOfAWaitingQueue(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &corkConn{}
	acceptCorkConn(t, l, h)
	c := h.c
	fillQueue(t, c, 64<<10) // more than Cork's 16 KiB
	settle(t, l)
	if err := c.SetWriteTimeout(time.Second); err != nil { // from now: the queue waits
		t.Fatal(err)
	}
	vc.Advance(600 * time.Millisecond)
	settle(t, l)
	c.Cork()
	c.Write([]byte("behind the queue"))
	c.Uncork()
	vc.Advance(600 * time.Millisecond) // 1.2 s since the queue last moved
	settle(t, l)
	if !c.Closing() {
		t.Fatalf("open 1.2 s after the queue last moved, with a 1 s write timeout: the Uncork started it over")
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	var unsent *sock.UnsentError
	if !errors.Is(h.closeErr, sock.ErrWriteTimeout) || !errors.As(h.closeErr, &unsent) {
		t.Errorf("OnClose(%v); want an *UnsentError wrapping ErrWriteTimeout", h.closeErr)
	}
}

// dialSlowName dials "svc.test" on l with a fake resolver and returns the
// connection, the lookup to answer, and a channel of the peer's accepted
// connection (nil if the accept failed).
func dialSlowName(t *testing.T, l *loop.Loop, h sock.Handler) (*sock.Conn, lookup, <-chan net.Conn) {
	t.Helper()
	pl := peerListener(t)
	_, port, _ := net.SplitHostPort(pl.Addr().String())
	res := newFakeResolver()
	c, err := sock.Dial(l, "tcp", "svc.test:"+port, h, sock.WithResolver(res))
	if err != nil {
		t.Fatal(err)
	}
	q := res.next(t) // the lookup waits for its answer
	accepted := make(chan net.Conn, 1)
	go func() {
		p, err := pl.Accept()
		if err != nil {
			p = nil
		} else {
			t.Cleanup(func() { p.Close() })
		}
		accepted <- p
	}()
	return c, q, accepted
}

// While a Dial looks its host name up there is no socket yet: a corked
// connection neither sends at Uncork nor past the limit then (either would
// write to descriptor -1 and fail), but keeps it all until it connects, and
// then sends it, in order. Kills M9 (Uncork without its fConnecting check)
// and M13 (hold without its fConnecting check).
func TestRev13CorkDuringALookup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		uncork bool // Uncork during the lookup; else it stays corked past the limit
	}{
		{"uncork", 100, true},
		{"pastTheLimit", 20 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			h := &corkConn{}
			c, q, accepted := dialSlowName(t, l, h)
			msg := make([]byte, tc.size)
			for i := range msg {
				msg[i] = byte(i % 251)
			}
			c.Cork()
			if n, err := c.Write(msg[:tc.size/2]); n != tc.size/2 || err != nil {
				t.Fatalf("corked Write during the lookup = %d, %v", n, err)
			}
			if n, err := c.Writev(msg[tc.size/2:]); n != tc.size-tc.size/2 || err != nil {
				t.Fatalf("corked Writev during the lookup = %d, %v", n, err)
			}
			if tc.uncork {
				c.Uncork()
				if c.Corked() {
					t.Error("Corked() after Uncork during the lookup")
				}
			}
			settle(t, l)
			if h.closed || c.Buffered() != tc.size {
				t.Fatalf("during the lookup: closed %v (OnClose(%v)), Buffered() = %d; want open, %d", h.closed, h.closeErr, c.Buffered(), tc.size)
			}
			q.reply <- answer{addrs: addrs("127.0.0.1")}
			runUntil(t, l, "OnOpen", func() bool { return h.opened || h.closed })
			peer := <-accepted
			if peer == nil || h.closed {
				t.Fatalf("OnClose(%v); want the connection open", h.closeErr)
			}
			got := make(chan []byte, 1)
			go func() { got <- readExactly(t, peer, tc.size) }()
			runUntil(t, l, "the bytes sent", func() bool { return c.Buffered() == 0 || h.closed })
			if b := <-got; !bytes.Equal(b, msg) {
				t.Errorf("the peer read %d bytes, not the %d written in order", len(b), tc.size)
			}
			c.Abort()
			runUntil(t, l, "OnClose", func() bool { return h.closed })
			if h.closeErr != nil {
				t.Errorf("OnClose(%v) after all was sent; want nil", h.closeErr)
			}
		})
	}
}

// Cork after a Close made while connecting does nothing: the connection
// sends what was written once it connects, and closes. Kills M7 (Cork
// without its fClosing check: connected then holds the bytes, the Close
// never completes).
func TestRev13CorkAfterCloseWhileConnecting(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	h := &corkConn{}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("goodbye"))
	c.Close()
	c.Cork()
	if c.Corked() {
		t.Error("Corked() after Close and Cork")
	}
	got := make(chan []byte, 1)
	go func() {
		peer, err := pl.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer peer.Close()
		peer.SetReadDeadline(time.Now().Add(waitLimit))
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil {
		t.Errorf("OnClose(%v); want nil", h.closeErr)
	}
	if b := <-got; string(b) != "goodbye" {
		t.Errorf("the peer read %q; want %q", b, "goodbye")
	}
}

// Corked is false once the connection is closed, also after an Abort that
// left the cork in place. Kills M12 (Corked reporting the flag alone).
func TestRev13CorkedIsFalseAfterAbort(t *testing.T) {
	l := newLoop(t)
	h := &corkConn{}
	acceptCorkConn(t, l, h)
	c := h.c
	c.Cork()
	c.Write([]byte("discarded"))
	c.Abort()
	if c.Corked() {
		t.Error("Corked() after Abort")
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if c.Corked() {
		t.Error("Corked() after OnClose")
	}
	c.Uncork() // does nothing on a closed connection
}

// A corked Write past the limit, late in a callback that read the clock
// earlier (it scheduled a timer), starts the write timeout for what the
// kernel leaves from the clock's present, not from the callback's earlier
// reading: the connection stays open until d after the Write. Kills M19
// (release's queued(false): only consume's re-arm, from the earlier
// reading, times the queue, and the timeout ends the connection at once).
func TestRev13CorkedWritePastTheLimitTimesTheQueueFromThePresent(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &corkConn{}
	acceptCorkConn(t, l, h) // the peer never reads
	c := h.c
	c.SetWriteTimeout(time.Second)
	l.CallSoon(func() {
		l.CallLater(time.Hour, func() {}) // the callback reads the clock
		vc.Advance(5 * time.Second)       // a long callback
		c.Cork()
		if _, err := c.Write(make([]byte, 8<<20)); err != nil { // more than the kernel takes
			t.Error(err)
		}
	})
	settle(t, l)
	if h.closed || c.Closing() || c.Buffered() == 0 {
		t.Fatalf("just after the Write: Closing() %v, OnClose(%v), Buffered() = %d; want open, with bytes queued", c.Closing(), h.closeErr, c.Buffered())
	}
	vc.Advance(1100 * time.Millisecond)
	settle(t, l)
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrWriteTimeout) {
		t.Errorf("OnClose(%v); want ErrWriteTimeout", h.closeErr)
	}
}

// A connection aborted with bytes held keeps none of its queue's chunks
// once closed, also while the program keeps the *Conn: the chunk given back
// to the loop (or dropped, its free list full) is not kept alive by the
// queue's own array. 200 connections, each aborted with bytes held in a
// chunk, keep under 4 KiB each. Kills M24 (teardown not clearing the array
// the queue's one chunk lies in: 16 KiB kept per connection).
func TestRev13ClosedCorkedConnectionsKeepNoChunk(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	const conns = 200
	kept := make([]*sock.Conn, 0, conns)
	opened := 0
	for range conns {
		h := &corkConn{}
		c, err := sock.Dial(l, "tcp", pl.Addr().String(), h)
		if err != nil {
			t.Fatal(err)
		}
		// Sent once it connects: the queue's array is its own from then on.
		c.Write(make([]byte, 100))
		kept = append(kept, c)
	}
	runUntil(t, l, "the connections", func() bool {
		for opened < conns && kept[opened].Buffered() == 0 {
			opened++
		}
		return opened == conns
	})
	for _, c := range kept { // a chunk each: none is given back before the Aborts
		c.Cork()
		c.Write(make([]byte, 100))
	}
	for _, c := range kept {
		c.Abort()
	}
	settle(t, l)
	held := settledHeap()
	for i := range kept {
		kept[i] = nil
	}
	freed := settledHeap()
	if held > freed && (held-freed)/conns > 4<<10 {
		t.Errorf("closed connections keep %d bytes each; want no chunk (16 KiB) among them", (held-freed)/conns)
	}
	runtime.KeepAlive(kept)
}

// A write timeout set while corked runs when the queue waits for the peer
// already (what is held waits behind it): the connection ends once the
// queue has made no progress for d. Kills M27 (SetWriteTimeout not starting
// the timeout on a corked connection whose writer waits).
func TestRev13WriteTimeoutSetWhileCorkedBehindAWaitingQueue(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &corkConn{}
	acceptCorkConn(t, l, h) // the peer never reads
	c := h.c
	fillQueue(t, c, 0)
	settle(t, l)
	c.Cork()
	c.Write([]byte("held behind the queue"))
	if err := c.SetWriteTimeout(time.Second); err != nil {
		t.Fatal(err)
	}
	vc.Advance(1100 * time.Millisecond)
	settle(t, l)
	if !c.Closing() {
		t.Fatal("open 1.1 s after a 1 s write timeout was set, its queue stuck")
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	var unsent *sock.UnsentError
	if !errors.Is(h.closeErr, sock.ErrWriteTimeout) || !errors.As(h.closeErr, &unsent) {
		t.Errorf("OnClose(%v); want an *UnsentError wrapping ErrWriteTimeout", h.closeErr)
	}
}

// A dialed connection corked while connecting holds exactly the limit
// (16 KiB) past its OnOpen, as a connected one does: only more is sent
// at the open. Kills M30 (connected holding only below the limit).
func TestRev13CorkWhileConnectingHoldsTheLimit(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	h := &corkConn{}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	c.Cork()
	msg := bytes.Repeat([]byte("k"), 16<<10)
	c.Write(msg)
	peer, err := pl.Accept() // a literal address: the kernel connects it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	settle(t, l)
	if got := c.Buffered(); got != len(msg) || !c.Corked() {
		t.Errorf("after OnOpen: Buffered() = %d, Corked() = %v; want the %d bytes held, corked", got, c.Corked(), len(msg))
	}
	readNothing(t, peer, "16 KiB held at the open")
	c.Uncork()
	got := make(chan []byte, 1)
	go func() { got <- readExactly(t, peer, len(msg)) }()
	runUntil(t, l, "the bytes sent", func() bool { return c.Buffered() == 0 })
	if b := <-got; !bytes.Equal(b, msg) {
		t.Errorf("the peer read %d bytes, not the %d written", len(b), len(msg))
	}
	c.Abort()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
}
