package sock_test

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/loopgen/loop"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// closeWriteOnOpen shuts down its sending side as soon as it is open.
type closeWriteOnOpen struct{ recorder }

func (h *closeWriteOnOpen) OnOpen(c *sock.Conn) {
	h.opened = true
	if err := c.CloseWrite(); err != nil {
		panic(err)
	}
}

// TestCloseWriteInOnOpenShutsDownOnce: a dialed connection that calls
// CloseWrite from OnOpen, with nothing queued, to a peer that has already
// finished, ends cleanly. (The send side was shut down twice, and the
// second shutdown failed with ENOTCONN once both sides were done.)
func TestCloseWriteInOnOpenShutsDownOnce(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	h := &closeWriteOnOpen{}
	if _, err := sock.Dial(l, "tcp", pl.Addr().String(), h); err != nil {
		t.Fatal(err)
	}
	// The handshake completes in the kernel; the peer accepts and closes
	// before the loop has run OnOpen.
	s, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if !h.opened || h.closeErr != nil {
		t.Fatalf("opened %v, OnClose(%v); want OnOpen, then OnClose(nil)", h.opened, h.closeErr)
	}
}

// pauseReaction writes or aborts from OnPause.
type pauseReaction struct {
	recorder
	onPause func(c *sock.Conn)
}

func (h *pauseReaction) OnPause(c *sock.Conn) { h.pauses++; h.onPause(c) }

// TestWritevCrossingHighWaterKeepsOrder: a Writev whose first buffer
// crosses the high-water mark calls OnPause once, after all its buffers
// are queued, so that what OnPause writes comes after them. (OnPause ran
// between the buffers, and its write went out in the middle.)
func TestWritevCrossingHighWaterKeepsOrder(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	a, b, x := pattern(2000), []byte("second buffer"), []byte("written from OnPause")
	h := &pauseReaction{onPause: func(c *sock.Conn) { c.Write(x) }}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), h, sock.WithHighWater(1000))
	if err != nil {
		t.Fatal(err)
	}
	// Still connecting: everything is queued.
	if n, err := c.Writev(a, b); n != len(a)+len(b) || err != nil {
		t.Fatalf("Writev = %d, %v", n, err)
	}
	c.Close()
	got := make(chan []byte, 1)
	go func() {
		s, err := pl.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer s.Close()
		p, _ := io.ReadAll(s)
		got <- p
	}()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil || h.pauses != 1 {
		t.Errorf("OnClose(%v) after %d OnPause; want nil after 1", h.closeErr, h.pauses)
	}
	want := append(append(append([]byte{}, a...), b...), x...)
	if p := <-got; !bytes.Equal(p, want) {
		t.Fatalf("the peer got %d bytes out of order; want Writev's buffers, then OnPause's write", len(p))
	}
}

// TestWritevAbortedFromOnPauseCountsEveryByte: when OnPause aborts during
// a Writev, the UnsentError counts all the bytes Writev reported as taken.
// (It counted only the buffers queued before OnPause.)
func TestWritevAbortedFromOnPauseCountsEveryByte(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	h := &pauseReaction{onPause: func(c *sock.Conn) { c.Abort() }}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), h, sock.WithHighWater(1000))
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Writev(pattern(2000), pattern(300), pattern(40))
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	var ue *sock.UnsentError
	if !errors.As(h.closeErr, &ue) || ue.Unsent != n || !errors.Is(h.closeErr, sock.ErrAborted) {
		t.Fatalf("Writev took %d bytes; OnClose(%v), want an UnsentError of %d wrapping ErrAborted", n, h.closeErr, n)
	}
}

// TestDialedReadTimeoutSetBeforeConnect: a read timeout set right after
// Dial runs once the connection is open, and fires when the peer sends
// nothing. (connected() started reading without arming it, so it never
// fired.)
func TestDialedReadTimeoutSetBeforeConnect(t *testing.T) {
	l, vc := newVirtualLoop(t)
	srv := &recorder{} // accepts and never sends
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli := &recorder{}
	c, err := sock.Dial(l, "tcp", ln.Addr().String(), cli)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadTimeout(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the connection", func() bool { return cli.opened && srv.opened })
	vc.Advance(4 * time.Second)
	runUntil(t, l, "the read timeout", func() bool { return cli.closed })
	if !errors.Is(cli.closeErr, sock.ErrTimeout) {
		t.Errorf("OnClose(%v); want ErrTimeout", cli.closeErr)
	}
	runUntil(t, l, "the server to see the end", func() bool { return srv.closed })
}

// TestGroupListenSurvivesPanickingNewHandler: a newHandler that panics
// makes Group.Listen fail. (It waited forever for an answer from the call
// the loop had abandoned.)
func TestGroupListenSurvivesPanickingNewHandler(t *testing.T) {
	panics := make(chan any, 10)
	g, _, _ := newGroup(t, 2, loop.WithPanicHandler(func(v any) { panics <- v }))
	errc := make(chan error, 1)
	go func() {
		_, err := g.Listen("tcp4", "127.0.0.1:0", func(*loop.Loop) sock.Handler { panic("newHandler panics") })
		errc <- err
	}()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Group.Listen succeeded though newHandler panicked")
		}
	case <-time.After(waitLimit):
		t.Fatal("Group.Listen still waiting after newHandler panicked")
	}
	if v := <-panics; v != "newHandler panics" {
		t.Errorf("panic handler got %v", v)
	}
}

// TestGroupListenRollbackClosesAcceptedConnections: when Group.Listen fails
// on a later loop, a connection that an earlier loop's listener accepted
// meanwhile is closed with that listener. (It stayed open on a loop that
// Shutdown and Close no longer knew of: its descriptor leaked.)
func TestGroupListenRollbackClosesAcceptedConnections(t *testing.T) {
	g, _, _ := newGroup(t, 2, loop.WithPanicHandler(func(any) {}))
	// A fixed port, so that the second newHandler can reach the first
	// listener before Listen has returned.
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()

	opened := make(chan struct{}, 1)
	var client net.Conn
	calls := 0
	newHandler := func(*loop.Loop) sock.Handler {
		calls++ // one loop at a time: Listen waits for each
		if calls == 1 {
			return openSignal{opened: opened}
		}
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			panic(err)
		}
		client = c
		<-opened // the first loop accepted it
		panic("the second loop fails")
	}
	if _, err := g.Listen("tcp4", addr, newHandler); err == nil {
		t.Fatal("Group.Listen succeeded though newHandler panicked")
	}
	if client == nil {
		t.Fatal("the second newHandler did not run")
	}
	defer client.Close()
	client.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := client.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the client's read = %v; want the end of the connection", err)
	}
}

// manyBuffers writes want on open with one Writev of one-byte buffers,
// then closes.
type manyBuffers struct {
	recorder
	want []byte
}

func (h *manyBuffers) OnOpen(c *sock.Conn) {
	bufs := make([][]byte, len(h.want))
	for i := range h.want {
		bufs[i] = h.want[i : i+1]
	}
	if n, err := c.Writev(bufs...); n != len(h.want) || err != nil {
		panic(fmt.Sprintf("Writev = %d, %v", n, err))
	}
	c.Close()
}

// TestWritevMoreBuffersThanIOVMax: a Writev of more buffers than the
// kernel's IOV_MAX (1024) sends what one call can and queues the rest; every
// byte arrives in order. (On darwin and the BSDs all the buffers went to
// one sendmsg, which fails with EMSGSIZE.)
func TestWritevMoreBuffersThanIOVMax(t *testing.T) {
	l := newLoop(t)
	srv := &manyBuffers{want: pattern(3000)}
	_, peer := listenAndDial(t, l, srv)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	runUntil(t, l, "OnClose", func() bool { return srv.closed })
	if srv.closeErr != nil {
		t.Errorf("OnClose(%v); want nil", srv.closeErr)
	}
	if b := <-got; !bytes.Equal(b, srv.want) {
		t.Fatalf("the peer got %d bytes, not the %d written, in order", len(b), len(srv.want))
	}
}

// closeLoopOnOpen closes the loop from the first OnOpen, so that the loop
// refuses to watch any descriptor after it.
type closeLoopOnOpen struct {
	sock.BaseHandler
	conns []*sock.Conn
}

func (h *closeLoopOnOpen) OnOpen(c *sock.Conn) {
	h.conns = append(h.conns, c)
	c.Loop().Close()
}

// TestListenerStopsAcceptingWhenItCannotWatch: when the loop cannot watch
// an accepted connection, the listener pauses and stops accepting; it does
// not go on accepting (and closing) the rest of the batch, reporting an
// error for each. (It paused, then kept accepting in the same batch.)
func TestListenerStopsAcceptingWhenItCannotWatch(t *testing.T) {
	const clients = 4
	l := newLoop(t)
	h := &closeLoopOnOpen{}
	var acceptErrs []error
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", h, sock.WithAcceptErrorHandler(func(err error) {
		acceptErrs = append(acceptErrs, err)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range clients {
		c, err := net.Dial("tcp4", ln.Addr().String()) // queued in the backlog
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	w := time.AfterFunc(waitLimit, func() { l.Close() })
	defer w.Stop()
	l.Run() // until OnOpen closes the loop
	for _, c := range h.conns {
		c.Abort()
	}
	if len(h.conns) != 1 {
		t.Fatalf("%d connections opened; want 1 (the first OnOpen closes the loop)", len(h.conns))
	}
	if len(acceptErrs) != 1 || !errors.Is(acceptErrs[0], loop.ErrClosed) {
		t.Errorf("accept errors %v; want one, wrapping loop.ErrClosed, after which the listener waits", acceptErrs)
	}
}

// readPauser stops reading while its writes are paused, as an echo does.
type readPauser struct{ recorder }

func (h *readPauser) OnPause(c *sock.Conn)  { h.pauses++; c.PauseReading() }
func (h *readPauser) OnResume(c *sock.Conn) { h.resumes++; c.ResumeReading() }

// TestOnResumeAfterCloseWrite: a paused connection whose queue drains
// after CloseWrite gets its OnResume whether the queue empties in one send
// or passes the low-water mark on the way. (In one send it got none: a
// handler that had paused its reading in OnPause never read the peer's
// end of stream, and the half-closed connection never ended.)
func TestOnResumeAfterCloseWrite(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	h := &readPauser{}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), h, sock.WithHighWater(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()       // if it hangs
	want := pattern(5000) // the kernel takes it in one send once connected
	c.Write(want)
	if h.pauses != 1 {
		t.Fatalf("%d OnPause after queueing %d bytes above a high-water mark of 1000; want 1", h.pauses, len(want))
	}
	c.CloseWrite()
	got := make(chan []byte, 1)
	go func() {
		s, err := pl.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer s.Close() // after our end of stream: the connection then ends
		p, _ := io.ReadAll(s)
		got <- p
	}()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil || h.resumes != 1 {
		t.Errorf("OnClose(%v) after %d OnResume; want nil after 1", h.closeErr, h.resumes)
	}
	if p := <-got; !bytes.Equal(p, want) {
		t.Fatalf("the peer got %d bytes; want the %d written", len(p), len(want))
	}
}

// panickingEOF panics in OnEOF.
type panickingEOF struct{ recorder }

func (*panickingEOF) OnEOF(*sock.Conn) bool { panic("OnEOF panics") }

// TestPanickingOnEOFClosesTheConnection: a connection whose OnEOF panics
// closes as without an EOFHandler. (It stayed open: it no longer read, had
// nothing to write, and nothing else would ever close it.)
func TestPanickingOnEOFClosesTheConnection(t *testing.T) {
	var panics []any
	l := newLoop(t, loop.WithPanicHandler(func(v any) { panics = append(panics, v) }))
	pl := peerListener(t)
	h := &panickingEOF{}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort() // if it hangs
	s, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil || len(panics) != 1 || panics[0] != "OnEOF panics" {
		t.Errorf("OnClose(%v), panics %v; want OnClose(nil) after OnEOF's panic", h.closeErr, panics)
	}
}
