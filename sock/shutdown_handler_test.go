package sock_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// deferredAnswers is a ShutdownHandler whose requests (lines) are answered
// by another goroutine, as a sharded server hands a request to the loop
// that owns its key: the answer is posted back and written later. Its
// fields belong to its loop's goroutine; the tests learn what happens
// through the channels.
type deferredAnswers struct {
	sock.BaseHandler
	l            *loop.Loop
	release      chan struct{}   // closed to let the answers be written
	received     chan<- string   // each request, once handed off
	told         chan<- string   // each OnShutdown, by the request's text or "idle"
	closeErrs    chan<- error    // each OnClose's error
	panicOnTold  bool            // OnShutdown panics instead
	opened       chan<- struct{} // each OnOpen, if set
	inFlight     map[*sock.Conn]string
	shuttingDown map[*sock.Conn]bool
}

func newDeferredAnswers(l *loop.Loop, release chan struct{}, received, told chan<- string, closeErrs chan<- error) *deferredAnswers {
	return &deferredAnswers{
		l: l, release: release, received: received, told: told, closeErrs: closeErrs,
		inFlight: map[*sock.Conn]string{}, shuttingDown: map[*sock.Conn]bool{},
	}
}

func (h *deferredAnswers) OnOpen(*sock.Conn) {
	if h.opened != nil {
		h.opened <- struct{}{}
	}
}

func (h *deferredAnswers) OnData(c *sock.Conn, p []byte) {
	req := strings.TrimSpace(string(p))
	h.inFlight[c] = req
	go func() {
		<-h.release
		h.l.Post(func() {
			c.Write([]byte("answer to " + req + "\n"))
			delete(h.inFlight, c)
			if h.shuttingDown[c] {
				c.Close()
			}
		})
	}()
	h.received <- req
}

func (h *deferredAnswers) OnShutdown(c *sock.Conn) {
	req, busy := h.inFlight[c]
	if !busy {
		req = "idle"
	}
	h.told <- req
	if h.panicOnTold {
		panic("OnShutdown panics")
	}
	if !busy {
		c.Close()
		return
	}
	h.shuttingDown[c] = true
}

func (h *deferredAnswers) OnClose(c *sock.Conn, err error) {
	delete(h.shuttingDown, c)
	h.closeErrs <- err
}

// shutdownGroup starts a one-loop group serving a deferredAnswers made by
// setup, and returns it with the address it listens on.
func shutdownGroup(t *testing.T, opts []loop.Option, setup func(*deferredAnswers)) (*sock.Group, string, chan struct{}, chan string, chan string, chan error) {
	t.Helper()
	g, _, _ := newGroup(t, 1, opts...)
	release := make(chan struct{})
	received, told := make(chan string, 10), make(chan string, 10)
	closeErrs := make(chan error, 10)
	gln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		h := newDeferredAnswers(g.Loops()[0], release, received, told, closeErrs)
		if setup != nil {
			setup(h)
		}
		return h
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	return g, addr.String(), release, received, told, closeErrs
}

// dialAndAsk connects to addr and, unless req is empty, sends it as a line
// and waits until the server has handed it off.
func dialAndAsk(t *testing.T, addr, req string, received <-chan string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitLimit))
	if req != "" {
		if _, err := c.Write([]byte(req + "\n")); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, received, "the request"); got != req {
			t.Fatalf("server received %q; want %q", got, req)
		}
	}
	return c
}

// recv receives from ch, failing the test when nothing comes within
// waitLimit: a Shutdown that never calls OnShutdown must fail, not hang.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("%s did not come within %v", what, waitLimit)
		panic("unreachable")
	}
}

// readToEOF reads what the server sends until its end of stream.
func readToEOF(t *testing.T, c net.Conn) string {
	t.Helper()
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		t.Fatalf("reading until the server's end of stream: %v (read %q)", err, b)
	}
	return string(b)
}

// TestShutdownLetsAShutdownHandlerFinishItsWorkInFlight: a request whose
// answer comes from another goroutine after Shutdown began is still
// answered, then the connection closes cleanly and Shutdown returns nil;
// an idle connection is closed by its OnShutdown at once. Before
// ShutdownHandler, Shutdown's Close cut the busy one off: its answer met
// ErrClosed and its client read end of stream alone.
func TestShutdownLetsAShutdownHandlerFinishItsWorkInFlight(t *testing.T) {
	opened := make(chan struct{}, 2)
	g, addr, release, received, told, closeErrs := shutdownGroup(t, nil, func(h *deferredAnswers) { h.opened = opened })
	busy := dialAndAsk(t, addr, "get k", received)
	idle := dialAndAsk(t, addr, "", received)
	// A Shutdown that began before the server accepted the idle
	// connection would close the listener with it in the backlog.
	recv(t, opened, "OnOpen")
	recv(t, opened, "OnOpen")

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		shutdown <- g.Shutdown(ctx)
	}()
	got := map[string]bool{recv(t, told, "OnShutdown"): true, recv(t, told, "OnShutdown"): true}
	if !got["get k"] || !got["idle"] {
		t.Fatalf("OnShutdown told %v; want the busy connection (\"get k\") and the idle one", got)
	}
	if s := readToEOF(t, idle); s != "" {
		t.Errorf("the idle connection read %q before its end of stream; want nothing", s)
	}
	close(release) // the answer is written only now, after Shutdown began
	if s := readToEOF(t, busy); s != "answer to get k\n" {
		t.Errorf("the busy connection read %q before its end of stream; want its answer", s)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown = %v; want nil: both connections closed in time", err)
	}
	for range 2 {
		if err := recv(t, closeErrs, "OnClose"); err != nil {
			t.Errorf("OnClose(%v); want nil for a connection its handler closed", err)
		}
	}
}

// TestShutdownAbortsWhatAShutdownHandlerKeepsOpenPastCtx: a handler that
// never closes its connection holds Shutdown up only until ctx ends; then
// the connection is aborted and Shutdown returns ctx's error.
func TestShutdownAbortsWhatAShutdownHandlerKeepsOpenPastCtx(t *testing.T) {
	g, addr, release, received, told, closeErrs := shutdownGroup(t, nil, nil)
	defer close(release) // the answer's goroutine ends; its Post fails
	c := dialAndAsk(t, addr, "never answered", received)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v; want context.DeadlineExceeded", err)
	}
	if got := recv(t, told, "OnShutdown"); got != "never answered" {
		t.Errorf("OnShutdown told %q; want the connection with the request in flight", got)
	}
	select {
	case <-closeErrs: // aborted with nothing queued: its error is not the point
	default:
		t.Error("Shutdown returned before the connection's OnClose ran")
	}
	if _, err := io.ReadAll(c); err == nil {
		// A reset or an end of stream: either ends the read; only a read
		// that does not end is wrong, and the deadline turns that into an
		// error that is not a timeout's.
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("the client's read did not end: %v", err)
	}
}

// TestAPanicInOnShutdownClosesThatConnectionOnly: OnShutdown panics for
// every connection; each is Closed as if the handler had no OnShutdown,
// each panic reaches the loop's panic handler, and Shutdown returns nil.
// Both connections are told: a panic in one's OnShutdown does not keep the
// other's from running.
func TestAPanicInOnShutdownClosesThatConnectionOnly(t *testing.T) {
	panics := make(chan any, 10)
	g, addr, release, received, told, closeErrs := shutdownGroup(t,
		[]loop.Option{loop.WithPanicHandler(func(v any) { panics <- v })},
		func(h *deferredAnswers) { h.panicOnTold = true })
	defer close(release)
	a := dialAndAsk(t, addr, "a", received)
	b := dialAndAsk(t, addr, "b", received)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v; want nil: a panicking OnShutdown closes its connection", err)
	}
	got := map[string]bool{recv(t, told, "OnShutdown"): true, recv(t, told, "OnShutdown"): true}
	if !got["a"] || !got["b"] {
		t.Errorf("OnShutdown told %v; want both connections", got)
	}
	for range 2 {
		if v := recv(t, panics, "the panic handler"); v != "OnShutdown panics" {
			t.Errorf("panic handler got %v", v)
		}
		if err := recv(t, closeErrs, "OnClose"); err != nil {
			t.Errorf("OnClose(%v); want nil: the panic's Close is a graceful one", err)
		}
	}
	for _, c := range []net.Conn{a, b} {
		if s := readToEOF(t, c); s != "" {
			t.Errorf("read %q before the end of stream; want nothing (the answers were never released)", s)
		}
	}
}

// closesOnRequest is a ShutdownHandler that answers a request with more
// than a small receive buffer holds, then Closes: its Close waits for the
// client to read it all.
type closesOnRequest struct {
	sock.BaseHandler
	reply     []byte
	told      chan<- struct{}
	closeErrs chan<- error
	closing   chan<- struct{}
}

func (h *closesOnRequest) OnData(c *sock.Conn, _ []byte) {
	c.Write(h.reply)
	c.Close()
	h.closing <- struct{}{}
}
func (h *closesOnRequest) OnShutdown(*sock.Conn)           { h.told <- struct{}{} }
func (h *closesOnRequest) OnClose(_ *sock.Conn, err error) { h.closeErrs <- err }

// TestShutdownDoesNotTellAConnectionAlreadyClosing: a connection whose
// Close is still sending when Shutdown begins gets no OnShutdown (its
// handler has decided already), and Shutdown waits for its Close to finish.
func TestShutdownDoesNotTellAConnectionAlreadyClosing(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	told, closing := make(chan struct{}, 1), make(chan struct{}, 1)
	closeErrs := make(chan error, 1)
	reply := make([]byte, 4<<20)
	gln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		return &closesOnRequest{reply: reply, told: told, closeErrs: closeErrs, closing: closing}
	}, sock.WithSendBufferSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	c, err := smallRcvbufDialer().Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLimit))
	if _, err := c.Write([]byte("send me a lot\n")); err != nil {
		t.Fatal(err)
	}
	recv(t, closing, "the handler's Close") // Close was called with megabytes still queued
	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		shutdown <- g.Shutdown(ctx)
	}()
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != int64(len(reply)) {
		t.Errorf("client read %d bytes, %v; want all %d, then end of stream", n, err, len(reply))
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown = %v; want nil", err)
	}
	if err := recv(t, closeErrs, "OnClose"); err != nil {
		t.Errorf("OnClose(%v); want nil", err)
	}
	select {
	case <-told:
		t.Error("OnShutdown ran for a connection already closing")
	default:
	}
}

// uploader is a ShutdownHandler on a dialed connection: it sends payload
// in chunks as the connection drains, and closes once the peer says it
// has everything ("done"). Told of a Shutdown, it finishes first; one
// that stays told (hold) never closes.
type uploader struct {
	sock.BaseHandler
	payload  []byte
	sent     int
	hold     bool
	told     chan<- struct{}
	closeErr chan<- error
}

func (u *uploader) OnOpen(c *sock.Conn)   { u.send(c) }
func (u *uploader) OnResume(c *sock.Conn) { u.send(c) }
func (u *uploader) send(c *sock.Conn) {
	for u.sent < len(u.payload) && c.Buffered() < 64<<10 {
		n := min(16<<10, len(u.payload)-u.sent)
		c.Write(u.payload[u.sent : u.sent+n])
		u.sent += n
	}
}
func (u *uploader) OnData(c *sock.Conn, p []byte) {
	if string(p) == "done" && !u.hold {
		c.Close()
	}
}
func (u *uploader) OnShutdown(*sock.Conn)           { u.told <- struct{}{} }
func (u *uploader) OnClose(_ *sock.Conn, err error) { u.closeErr <- err }

// slowSink accepts one connection on loopback, reads want bytes slowly,
// answers "done" and then reads to the end. It reports how many bytes it
// read and how its reading ended.
func slowSink(t *testing.T, want int) (addr string, result <-chan error, got *int) {
	t.Helper()
	pl := smallRcvbufListener(t)
	res := make(chan error, 1)
	n := new(int)
	go func() {
		c, err := pl.Accept()
		if err != nil {
			res <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitLimit))
		buf := make([]byte, 8<<10)
		for *n < want {
			k, err := c.Read(buf)
			*n += k
			if err != nil {
				res <- err
				return
			}
			time.Sleep(time.Millisecond) // slower than the uploader
		}
		c.Write([]byte("done"))
		_, err = io.Copy(io.Discard, c)
		res <- err
	}()
	return pl.Addr().String(), res, n
}

// dialOn dials addr over TCP from l's goroutine with h and opts, and
// waits for Dial's error.
func dialOn(t *testing.T, l *loop.Loop, addr string, h sock.Handler, opts ...sock.Option) {
	t.Helper()
	dialed := make(chan error, 1)
	l.Post(func() {
		_, err := sock.Dial(l, "tcp", addr, h, opts...)
		dialed <- err
	})
	if err := recv(t, dialed, "Dial"); err != nil {
		t.Fatal(err)
	}
}

// shutdownOK shuts g down, wanting it to drain within waitLimit.
func shutdownOK(t *testing.T, g *sock.Group) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v; want nil", err)
	}
}

// checkUploadArrived wants an uploader to have been told of the Shutdown
// and closed cleanly, and its sink to have read all want bytes, then the
// end.
func checkUploadArrived(t *testing.T, told <-chan struct{}, closeErr, sunk <-chan error, got *int, want int) {
	t.Helper()
	recv(t, told, "the uploader's OnShutdown")
	if err := recv(t, closeErr, "the uploader's OnClose"); err != nil {
		t.Errorf("OnClose(%v); want nil: the upload was cut short", err)
	}
	if err := recv(t, sunk, "the sink's end"); err != nil || *got != want {
		t.Errorf("the peer read %d of %d bytes, then %v; want all, then the end", *got, want, err)
	}
}

// TestShutdownWaitsForADialedShutdownHandler: a connection dialed on a
// group's loop whose Handler is a ShutdownHandler is told and waited for,
// as the listeners' are: its upload reaches the peer whole, and Shutdown
// returns nil. Before, Shutdown saw nothing to drain and the loop's close
// aborted the upload.
func TestShutdownWaitsForADialedShutdownHandler(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	payload := make([]byte, 2<<20)
	addr, sunk, got := slowSink(t, len(payload))
	told, closeErr := make(chan struct{}, 1), make(chan error, 1)
	dialOn(t, g.Loops()[0], addr, &uploader{payload: payload, told: told, closeErr: closeErr})
	shutdownOK(t, g)
	checkUploadArrived(t, told, closeErr, sunk, got, len(payload))
}

// TestShutdownAbortsADialedShutdownHandlerThatStaysOpen: a dialed
// ShutdownHandler that never closes holds Shutdown up until ctx ends, and
// Shutdown then says it cut the drain short.
func TestShutdownAbortsADialedShutdownHandlerThatStaysOpen(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	addr, _, _ := slowSink(t, 1)
	told, closeErr := make(chan struct{}, 1), make(chan error, 1)
	dialOn(t, g.Loops()[0], addr, &uploader{payload: []byte("x"), hold: true, told: told, closeErr: closeErr})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v; want context.DeadlineExceeded", err)
	}
	recv(t, told, "OnShutdown")
	recv(t, closeErr, "OnClose")
}

// dialsOnShutdown is a listener's ShutdownHandler that, told of the
// Shutdown, dials a connection to say goodbye (an uploader) and closes.
type dialsOnShutdown struct {
	sock.BaseHandler
	to       string
	up       *uploader
	dialErr  chan<- error
	accepted chan<- struct{}
}

func (d *dialsOnShutdown) OnOpen(*sock.Conn) { d.accepted <- struct{}{} }
func (d *dialsOnShutdown) OnShutdown(c *sock.Conn) {
	_, err := sock.Dial(c.Loop(), "tcp", d.to, d.up)
	d.dialErr <- err
	c.Close()
}

// TestShutdownWaitsForAShutdownHandlerDialedWhileItDrains: a connection
// dialed after Shutdown began, with a ShutdownHandler, is told and waited
// for too.
func TestShutdownWaitsForAShutdownHandlerDialedWhileItDrains(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	payload := []byte("goodbye")
	sinkAddr, sunk, got := slowSink(t, len(payload))
	told, closeErr := make(chan struct{}, 1), make(chan error, 1)
	dialErr, accepted := make(chan error, 1), make(chan struct{}, 1)
	gln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		return &dialsOnShutdown{to: sinkAddr, up: &uploader{payload: payload, told: told, closeErr: closeErr}, dialErr: dialErr, accepted: accepted}
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	client := dialAndAsk(t, addr.String(), "", nil)
	recv(t, accepted, "OnOpen")
	shutdownOK(t, g)
	if err := recv(t, dialErr, "the Dial in OnShutdown"); err != nil {
		t.Fatal(err)
	}
	checkUploadArrived(t, told, closeErr, sunk, got, len(payload))
	readToEOF(t, client)
}
