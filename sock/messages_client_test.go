package sock_test

import (
	"bufio"
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loopgen/loop/sock"
)

// smallSocketBuffers keep the kernel from taking megabytes of a TCP
// connection's bytes (loopback's buffers grow that far), so that 64 requests
// of 64 KiB fill both ends.
var smallSocketBuffers = []sock.Option{sock.WithSendBufferSize(64 << 10), sock.WithRecvBufferSize(64 << 10)}

// bigAnswers answers each line with a line of 64 KiB.
type bigAnswers struct{ sock.BaseHandler }

var bigAnswer = append(bytes.Repeat([]byte("v"), 64<<10), '\n')

func (bigAnswers) OnMessage(c *sock.Conn, _ []byte) { c.Write(bigAnswer) }

// bigPipeliner sends want requests of 64 KiB as fast as flow control lets it
// (until OnPause, again at OnResume) and counts the answers. pauseOwn makes
// it pause its own reading while its writes are paused, as a client that
// answers what it reads would.
type bigPipeliner struct {
	sock.BaseHandler
	sent, got, want int
	pauseOwn        bool
	gotWhilePaused  int
	paused          bool
}

var bigRequest = append(append([]byte("SET k "), bytes.Repeat([]byte("x"), 64<<10)...), '\n')

func (p *bigPipeliner) pump(c *sock.Conn) {
	for p.sent < p.want && !c.WritePaused() {
		c.Write(bigRequest)
		p.sent++
	}
}
func (p *bigPipeliner) OnOpen(c *sock.Conn) { p.pump(c) }
func (p *bigPipeliner) OnPause(c *sock.Conn) {
	p.paused = true
	if p.pauseOwn {
		c.PauseReading()
	}
}
func (p *bigPipeliner) OnResume(c *sock.Conn) {
	p.paused = false
	if p.pauseOwn {
		c.ResumeReading()
	}
	p.pump(c)
}
func (p *bigPipeliner) OnMessage(*sock.Conn, []byte) {
	p.got++
	if p.paused {
		p.gotWhilePaused++
	}
}

// A client on Messages that pipelines more than the sockets hold, against
// a server on Messages: the server stops reading while its answers wait,
// so the client must go on reading while its requests wait. It paused its
// reading with its writes, as a server's does, and both ends stopped for
// good (a trial's key/value client, at its 8th of 200 requests over Unix).
// A dialed connection's messages now go on while its writes are paused.
func TestAMessagesClientReadsWhileItsWritesWait(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			l := newLoop(t)
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "s")
			}
			ln, err := sock.Listen(l, network, addr, sock.Messages(bufio.ScanLines, 1<<20, bigAnswers{}), smallSocketBuffers...)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			p := &bigPipeliner{want: 64}
			c, err := sock.Dial(l, network, ln.Addr().String(), sock.Messages(bufio.ScanLines, 1<<20, p), smallSocketBuffers...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Abort()
			runUntil(t, l, "every answer", func() bool { return p.got == p.want })
			if p.gotWhilePaused == 0 {
				t.Errorf("no answer came while the client's writes were paused; the test did not fill the sockets")
			}
		})
	}
}

// A dialed connection's handler that pauses its own reading in OnPause
// gets no message until it resumes, as on an accepted one.
func TestADialedMessagesHandlerMayStillPauseForItsWrites(t *testing.T) {
	l := newLoop(t)
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", sock.Messages(bufio.ScanLines, 1<<20, bigAnswers{}), smallSocketBuffers...)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &bigPipeliner{want: 64, pauseOwn: true}
	c, err := sock.Dial(l, "tcp", ln.Addr().String(), sock.Messages(bufio.ScanLines, 1<<20, p), smallSocketBuffers...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	runUntil(t, l, "the client's writes to pause", func() bool { return p.paused })
	settle(t, l)
	if p.gotWhilePaused != 0 {
		t.Errorf("%d answers came while the handler had paused its reading", p.gotWhilePaused)
	}
}

// heldAnswers answers each message later, from a callback of its own, with
// its reading paused meanwhile (as a handler waiting on other work), and
// notes what Held says each time it answers.
type heldAnswers struct {
	sock.BaseHandler
	held []int
}

func (h *heldAnswers) OnMessage(c *sock.Conn, msg []byte) {
	c.PauseReading()
	answer := append([]byte(nil), msg...)
	c.Loop().CallSoon(func() {
		h.held = append(h.held, c.Held())
		c.Write(append(answer, '\n'))
		c.ResumeReading()
	})
}

// Held counts the bytes of the messages Messages holds while reading is
// paused, so that a draining handler knows requests wait (a trial's
// ShutdownHandler closed with 328 of 490 requests held).
func TestHeldCountsTheMessagesThatWait(t *testing.T) {
	l := newLoop(t)
	h := &heldAnswers{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1<<10, h))
	if _, err := peer.Write([]byte("a\nbb\nccc\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "three answers", func() bool { return len(h.held) == 3 })
	if want := []int{len("bb\nccc\n"), len("ccc\n"), 0}; !slices.Equal(h.held, want) {
		t.Errorf("Held at each answer %v, want %v (the read came whole)", h.held, want)
	}
	srv := &echoServer{}
	_, plain := listenAndDial(t, l, srv)
	plain.Write([]byte("no newline"))
	runUntil(t, l, "the plain connection", func() bool { return srv.opened == 1 })
	settle(t, l)
	for c := range srv.conns {
		if c.Held() != 0 {
			t.Errorf("Held under a plain Handler = %d, want 0", c.Held())
		}
	}
}
