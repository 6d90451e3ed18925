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
	"golang.org/x/sys/unix"
)

// In cork_*_test.go, messages_cork_test.go and a few older tests
// (gathering_test.go, mto_review_test.go, mut11*_test.go), "cork" means
// the write gathering of a Messages handler or WithWriteGathering
// (Conn.startGathering and sendGathered, named cork and uncork until
// Conn.Cork came): not Conn.Cork, whose tests are in conn_cork_test.go and
// rev13_cork*_test.go.

// corkHandler is a MessageHandler whose OnMessage and OnPause a test
// supplies; it records the connection and its close.
type corkHandler struct {
	sock.BaseHandler
	conn      *sock.Conn
	onMessage func(c *sock.Conn, msg []byte)
	onPause   func(c *sock.Conn)
	pauses    int
	resumes   int
	closed    bool
	closeErr  error
}

func (h *corkHandler) OnOpen(c *sock.Conn) { h.conn = c }
func (h *corkHandler) OnMessage(c *sock.Conn, msg []byte) {
	if h.onMessage != nil {
		h.onMessage(c, msg)
	}
}
func (h *corkHandler) OnPause(c *sock.Conn) {
	h.pauses++
	if h.onPause != nil {
		h.onPause(c)
	}
}
func (h *corkHandler) OnResume(*sock.Conn)             { h.resumes++ }
func (h *corkHandler) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }

// fillKernel writes to fd, behind package sock's back, until the kernel
// takes no more (EAGAIN): the next send the connection makes takes
// nothing, and the connection's own queue is still empty.
func fillKernel(t *testing.T, fd int) int {
	t.Helper()
	buf := make([]byte, 4<<10)
	total := 0
	for {
		n, err := unix.Write(fd, buf)
		if err == unix.EAGAIN {
			return total
		}
		if err != nil {
			t.Fatalf("filling the socket: %v", err)
		}
		total += n
		if total > 64<<20 {
			t.Fatal("the kernel took 64 MiB and still takes more")
		}
	}
}

// fillKernelBuffers fills c's socket past the connection's queue until
// neither its send buffer nor its peer's receive buffer has taken more for
// 50 ms, so that nothing moves until the peer reads: after one fillKernel,
// acknowledgements can make room again, and the connection's progress
// into it re-arms a write or idle timeout a test is waiting for.
func fillKernelBuffers(t *testing.T, c *sock.Conn) {
	t.Helper()
	for quiet := time.Now(); time.Since(quiet) < 50*time.Millisecond; time.Sleep(time.Millisecond) {
		if fillKernel(t, sock.ConnFD(c)) > 0 {
			quiet = time.Now()
		}
	}
}

// readAllOf reads everything the peer is sent until its end of stream or
// an error, on a goroutine, and posts the outcome to l.
func readAllOf(l *loop.Loop, peer net.Conn, done *bool, got *[]byte) {
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	go func() {
		b, _ := io.ReadAll(peer)
		l.Post(func() { *got, *done = b, true })
	}()
}

// TestCorkWriteTimeoutAfterAnAnswerThatWasSent: a write timeout set in
// OnMessage after an answer sees the answer in the cork (Buffered counts
// it) and starts; sendGathered then sends the answer whole, and nothing stops
// the timer, so a connection with nothing queued fails with ErrTimeout.
// Without the cork the answer was sent at once and the timeout not started.
func TestCorkWriteTimeoutAfterAnAnswerThatWasSent(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		c.Write([]byte("pong\n"))
		c.SetWriteTimeout(time.Second) // bounds what waits in the queue from now on
	}}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h))
	if _, err := peer.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	var line string
	read := false
	go func() {
		s, _ := bufio.NewReader(peer).ReadString('\n')
		l.Post(func() { line, read = s, true })
	}()
	runUntil(t, l, "the answer", func() bool { return read })
	if line != "pong\n" {
		t.Fatalf("the peer read %q", line)
	}
	if b := h.conn.Buffered(); b != 0 {
		t.Fatalf("Buffered() = %d after the peer read the answer", b)
	}
	for i := 0; i < 50 && !h.closed; i++ {
		vc.Advance(100 * time.Millisecond)
		for range 3 {
			l.RunOnce(false)
		}
	}
	if h.closed {
		t.Fatalf("OnClose(%v) with nothing queued: the write timeout ran for an answer the kernel had taken", h.closeErr)
	}
	h.conn.Abort()
	runUntil(t, l, "the close", func() bool { return h.closed })
}

// TestCorkWriteReportsTheFailedSendOfWhatWasGathered: a Write too long to
// gather sends what was gathered first; when that send fails (the Unix
// peer has gone: EPIPE), the connection is torn down, and Write went on to
// send its own bytes on the descriptor teardown had just closed. Write must
// return the send's error, as its doc says, and touch no descriptor after
// the close (the number may be another socket's by then).
func TestCorkWriteReportsTheFailedSendOfWhatWasGathered(t *testing.T) {
	l := newLoop(t)
	var n int
	var werr error
	wrote := false
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		c.Write(bytes.Repeat([]byte("a"), 100)) // gathered
		n, werr = c.Write(make([]byte, 20<<10)) // too long: the 100 go first, and fail
		wrote = true
	}}
	ln, err := sock.Listen(l, "unix", filepath.Join(t.TempDir(), "s"), sock.Messages(bufio.ScanLines, 64, h))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	peer.Close() // the server reads "go\n", and its sends fail with EPIPE
	runUntil(t, l, "the close", func() bool { return wrote && h.closed })
	if !errors.Is(werr, syscall.EPIPE) {
		t.Errorf("the long Write returned (%d, %v); want the failed send's EPIPE", n, werr)
	}
	var ue *sock.UnsentError
	if !errors.As(h.closeErr, &ue) || ue.Unsent < 100 || !errors.Is(h.closeErr, syscall.EPIPE) {
		t.Errorf("OnClose(%v); want an UnsentError of EPIPE counting the 100 gathered bytes", h.closeErr)
	}
}

// splitErrorPanicker answers a line too long with an error, then panics.
type splitErrorPanicker struct{ corkHandler }

func (h *splitErrorPanicker) OnSplitError(c *sock.Conn, err error) {
	c.Write([]byte("ERR too long\n"))
	panic("OnSplitError")
}

// TestCorkSurvivesAPanicInOnSplitError: a panic in OnSplitError leaves
// OnData without its sendGathered. The connection stays open (an OnSplitError
// that returns leaves it to the handler), but corked for good: the error
// answer and everything written later wait in the loop's gather buffer, and
// no other connection of the loop can cork again.
func TestCorkSurvivesAPanicInOnSplitError(t *testing.T) {
	var panics []any
	l := newLoop(t, loop.WithPanicHandler(func(v any) { panics = append(panics, v) }))
	h := &splitErrorPanicker{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 8, h))
	if _, err := peer.Write([]byte("an unfinished line longer than eight bytes")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the panic", func() bool { return len(panics) > 0 })
	uncorkedAfterThePanic(t, l, peer, h.conn, "ERR too long\n", func() bool { return h.closed })
}

// uncorkedAfterThePanic checks that c, whose handler wrote answered while
// corked and panicked, is not left corked: a later Write (from a timer,
// say, with room in the kernel) is sent at once, and the peer reads both.
// Then, given closed, it aborts c and runs l until closed reports it closed.
func uncorkedAfterThePanic(t *testing.T, l *loop.Loop, peer net.Conn, c *sock.Conn, answered string, closed func() bool) {
	t.Helper()
	later := -1
	l.Post(func() {
		c.Write([]byte("later\n"))
		later = c.Buffered()
	})
	runUntil(t, l, "the later write", func() bool { return later >= 0 })
	if later != 0 {
		t.Errorf("Buffered() = %d after a later Write with the kernel taking all: the connection is still corked", later)
	}
	want := answered + "later\n"
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != want {
		t.Errorf("the peer read %q (%v); want %q", got, err, want)
	}
	if closed != nil {
		c.Abort()
		runUntil(t, l, "the close", closed)
	}
}

// TestCorkSurvivesAPanicInOnPause: sendGathered's send leaves bytes queued past
// the high-water mark, so OnPause runs inside sendGathered, before it ends the
// cork; a panicking OnPause leaves the connection corked for good, and once
// its queue has drained its writes wait in the gather buffer, unsent.
func TestCorkSurvivesAPanicInOnPause(t *testing.T) {
	var panics []any
	l := newLoop(t, loop.WithPanicHandler(func(v any) { panics = append(panics, v) }))
	h := &corkHandler{}
	h.onMessage = func(c *sock.Conn, msg []byte) {
		fillKernel(t, sock.ConnFD(c))
		c.Write(bytes.Repeat([]byte("a"), 4<<10)) // gathered; sendGathered queues it
	}
	h.onPause = func(*sock.Conn) { panic("OnPause") }
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h),
		sock.WithSendBufferSize(16<<10), sock.WithHighWater(1024))
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the panic", func() bool { return len(panics) > 0 })
	var got []byte
	done := false
	readAllOf(l, peer, &done, &got)
	runUntil(t, l, "the queue to drain", func() bool { return h.resumes > 0 })
	later := -1
	l.Post(func() {
		h.conn.Write([]byte("later\n"))
		later = h.conn.Buffered()
	})
	runUntil(t, l, "the later write", func() bool { return later >= 0 })
	if later != 0 {
		t.Errorf("Buffered() = %d after a Write on a drained connection: it is still corked, and the bytes wait unsent", later)
	}
	h.conn.Close()
	runUntil(t, l, "the peer's end of stream", func() bool { return done })
	if !bytes.HasSuffix(got, []byte("later\n")) {
		t.Errorf("the peer's stream does not end with the later write")
	}
	runUntil(t, l, "the close", func() bool { return h.closed })
}
