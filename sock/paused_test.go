package sock_test

import (
	"io"
	"testing"

	"github.com/loopgen/loop/sock"
)

// pipeliner answers its requests while the connection is not paused,
// asking WritePaused between replies as its doc suggests, and closes once
// it has answered them all.
type pipeliner struct {
	sock.BaseHandler
	c                 *sock.Conn
	reply             []byte
	left              int
	atPause, atResume []bool // WritePaused inside each OnPause and OnResume
	maxBuffered       int
	closed            bool
}

func (p *pipeliner) OnOpen(c *sock.Conn)  { p.c = c; p.answer() }
func (p *pipeliner) OnPause(c *sock.Conn) { p.atPause = append(p.atPause, c.WritePaused()) }
func (p *pipeliner) OnResume(c *sock.Conn) {
	p.atResume = append(p.atResume, c.WritePaused())
	p.answer()
}
func (p *pipeliner) OnClose(*sock.Conn, error) { p.closed = true }

func (p *pipeliner) answer() {
	for p.left > 0 && !p.c.WritePaused() {
		if _, err := p.c.Write(p.reply); err != nil {
			return
		}
		p.left--
		p.maxBuffered = max(p.maxBuffered, p.c.Buffered())
	}
	if p.left == 0 {
		p.c.Close()
	}
}

// TestWritePausedHoldsAPipelineAtTheHighWaterMark: WritePaused is true
// from OnPause (inside the Write that crossed the mark) to OnResume, so a
// handler that asks it between replies stops within one reply of the mark
// and finishes once the peer reads, every byte delivered.
func TestWritePausedHoldsAPipelineAtTheHighWaterMark(t *testing.T) {
	const replies, size, high = 200, 8 << 10, 64 << 10
	l := newLoop(t)
	p := &pipeliner{reply: pattern(size), left: replies}
	_, peer := listenAndDial(t, l, p, sock.WithHighWater(high), sock.WithLowWater(high/4), sock.WithSendBufferSize(64<<10))
	runUntil(t, l, "OnPause", func() bool { return len(p.atPause) > 0 })
	if p.maxBuffered > high+size {
		t.Fatalf("%d bytes were buffered, above the high-water mark (%d) by more than one reply", p.maxBuffered, high)
	}
	if p.left == 0 {
		t.Fatal("every reply was written while the peer read nothing: the connection never paused")
	}
	got := make(chan int, 1)
	go func() {
		n, _ := io.Copy(io.Discard, peer)
		got <- int(n)
	}()
	runUntil(t, l, "the last reply and Close", func() bool { return p.closed })
	if n := recv(t, got, "the peer's end of stream"); n != replies*size {
		t.Errorf("the peer read %d bytes, want %d", n, replies*size)
	}
	for _, v := range p.atPause {
		if !v {
			t.Error("WritePaused was false inside OnPause")
		}
	}
	if len(p.atResume) == 0 {
		t.Fatal("OnResume never ran")
	}
	for _, v := range p.atResume {
		if v {
			t.Error("WritePaused was true inside OnResume")
		}
	}
	if p.c.WritePaused() {
		t.Error("WritePaused is true on a closed connection")
	}
}

// TestReadPausedFollowsPauseAndResumeReading: ReadPaused is true from
// PauseReading to ResumeReading, and false once the connection is closed.
func TestReadPausedFollowsPauseAndResumeReading(t *testing.T) {
	l := newLoop(t)
	var c *sock.Conn
	listenAndDial(t, l, connKeeper{c: &c})
	runUntil(t, l, "OnOpen", func() bool { return c != nil })
	if c.ReadPaused() {
		t.Fatal("ReadPaused before PauseReading")
	}
	if err := c.PauseReading(); err != nil {
		t.Fatal(err)
	}
	if !c.ReadPaused() {
		t.Fatal("not ReadPaused after PauseReading")
	}
	if err := c.ResumeReading(); err != nil {
		t.Fatal(err)
	}
	if c.ReadPaused() {
		t.Fatal("ReadPaused after ResumeReading")
	}
	if err := c.PauseReading(); err != nil {
		t.Fatal(err)
	}
	c.Abort()
	if c.ReadPaused() {
		t.Fatal("ReadPaused on a closed connection")
	}
}

// connKeeper keeps the connection it serves.
type connKeeper struct {
	sock.BaseHandler
	c **sock.Conn
}

func (k connKeeper) OnOpen(c *sock.Conn) { *k.c = c }

// pauseThenClose pauses its reading, writes until the connection pauses,
// then closes, and notes WritePaused and ReadPaused just after the Close.
type pauseThenClose struct {
	sock.BaseHandler
	opened, paused         bool
	writePaused, readPause bool
}

// writeUntilPaused writes 8 KiB at a time, up to 8 MiB, until c pauses,
// and reports whether it did.
func writeUntilPaused(c *sock.Conn) bool {
	chunk := pattern(8 << 10)
	for i := 0; i < 1024 && !c.WritePaused(); i++ {
		c.Write(chunk)
	}
	return c.WritePaused()
}

func (h *pauseThenClose) OnOpen(c *sock.Conn) {
	h.opened = true
	c.PauseReading()
	h.paused = writeUntilPaused(c)
	c.Close()
	h.writePaused, h.readPause = c.WritePaused(), c.ReadPaused()
}

// TestPausedIsFalseFromClose: from Close on, with its flush still to run,
// WritePaused is false (no OnResume comes after Close) and so is
// ReadPaused (a closing connection reads and discards what arrives). Found
// in review.
func TestPausedIsFalseFromClose(t *testing.T) {
	l := newLoop(t)
	h := &pauseThenClose{}
	listenAndDial(t, l, h, sock.WithHighWater(64<<10), sock.WithSendBufferSize(64<<10))
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	if !h.paused {
		t.Skip("the kernel took 8 MiB without the connection pausing")
	}
	if h.writePaused || h.readPause {
		t.Errorf("just after Close: WritePaused %v, ReadPaused %v; want both false", h.writePaused, h.readPause)
	}
}
