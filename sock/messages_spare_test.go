package sock_test

import (
	"bytes"
	"testing"

	"github.com/loopgen/loop/sock"
)

// pausingCounter counts lines, and at the first of each burst pauses
// reading and resumes it from the loop's next turn, as a handler that
// waits on other work does: the rest of the burst is held meanwhile.
type pausingCounter struct {
	sock.BaseHandler
	conn     *sock.Conn
	n        int
	perBurst int
	resume   func()
}

func (h *pausingCounter) OnOpen(c *sock.Conn) {
	h.conn = c
	h.resume = func() { c.ResumeReading() }
}

func (h *pausingCounter) OnMessage(c *sock.Conn, _ []byte) {
	if h.n%h.perBurst == 0 {
		c.PauseReading()
		c.Loop().CallSoon(h.resume)
	}
	h.n++
}

// TestMessagesHeldAcrossPausesAllocateNothing: a connection whose handler
// pauses reading in every burst of pipelined lines, so that more than 4
// KiB waits each time, reuses the buffer the held lines wait in: once
// warm, a burst allocates nothing. (The buffer was let go when the lines
// were handed out, and made again at the next pause: an earlier trial
// counted 5 KB a pause.)
func TestMessagesHeldAcrossPausesAllocateNothing(t *testing.T) {
	const lines = 100
	l := newLoop(t)
	srv := &pausingCounter{perBurst: lines}
	c, _ := dialLines(t, l, srv, func() bool { return srv.conn != nil })
	burst := bytes.Repeat([]byte(string(bytes.Repeat([]byte("x"), 99))+"\n"), lines)
	maxKept := 0
	round := func() {
		want := srv.n + lines
		c.Write(burst)
		for srv.n < want {
			if err := l.RunOnce(true); err != nil {
				t.Fatal(err)
			}
			if n, _ := sock.MessagesKept(srv.conn); n > maxKept {
				maxKept = n
			}
		}
	}
	for range 20 {
		round()
	}
	if maxKept <= 4<<10 {
		t.Fatalf("at most %d bytes were held at a pause; the test needs more than 4 KiB", maxKept)
	}
	if allocs := testing.AllocsPerRun(200, round); allocs != 0 {
		t.Errorf("a burst held at a pause allocates %v times; want 0", allocs)
	}
	if n, capacity := sock.MessagesKept(srv.conn); n != 0 || capacity > 4<<10 {
		t.Errorf("an idle connection keeps %d bytes in a buffer of %d; want none in at most 4 KiB", n, capacity)
	}
	// A line's start, with nothing held: the connection keeps it in a
	// buffer of its own, not in the loop's spare, while it waits for the
	// rest; and the next burst still finds the spare.
	c.Write(burst[:50])
	runUntil(t, l, "the line's start", func() bool { n, _ := sock.MessagesKept(srv.conn); return n == 50 })
	if _, capacity := sock.MessagesKept(srv.conn); capacity > 4<<10 {
		t.Errorf("a connection waiting for the rest of a line keeps 50 bytes in a buffer of %d; want at most 4 KiB", capacity)
	}
	c.Write(burst[50:100])
	runUntil(t, l, "the line's end", func() bool { n, _ := sock.MessagesKept(srv.conn); return n == 0 })
	srv.n = 0 // so that each burst pauses at its first line again
	if allocs := testing.AllocsPerRun(50, round); allocs != 0 {
		t.Errorf("after a cut line, a burst held at a pause allocates %v times; want 0", allocs)
	}
}

// TestMessagesSpareIsBounded: the buffer a burst of 200 KiB waited in is
// not kept for the loop (a spare past 64 KiB would hold a burst's size
// for good); one of 10 KiB is.
func TestMessagesSpareIsBounded(t *testing.T) {
	l := newLoop(t)
	srv := &pausingCounter{}
	c, _ := dialLines(t, l, srv, func() bool { return srv.conn != nil }, sock.WithReadBufferSize(256<<10))
	line := append(bytes.Repeat([]byte("x"), 99), '\n')
	for _, tc := range []struct {
		lines, held int // held: how much the test needs to wait
		kept        bool
	}{{2000, 64<<10 + 1, false}, {100, 4 << 10, true}} {
		srv.n, srv.perBurst = 0, tc.lines
		c.Write(bytes.Repeat(line, tc.lines))
		maxKept := 0
		runUntil(t, l, "the burst", func() bool {
			n, _ := sock.MessagesKept(srv.conn)
			maxKept = max(maxKept, n)
			return srv.n == tc.lines
		})
		if maxKept < tc.held {
			t.Fatalf("at most %d bytes of a burst of %d lines waited; the test needs %d to wait", maxKept, tc.lines, tc.held)
		}
		if spare := sock.SpareKept(srv.conn); tc.kept != (spare > 0) || spare > 64<<10 {
			t.Errorf("after a burst of %d bytes waited, the loop keeps a spare of %d bytes; want one: %v, at most 64 KiB", tc.lines*len(line), spare, tc.kept)
		}
	}
}
