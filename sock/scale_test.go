package sock_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// groupEcho is a Group's per-loop echo handler. Its counters are read after
// Shutdown has returned, when the loop goroutines have ended.
type groupEcho struct {
	sock.BaseHandler
	greeting       []byte // written on open, if any
	opened, closed int
	errs           []error
}

func (h *groupEcho) OnOpen(c *sock.Conn) {
	h.opened++
	if h.greeting != nil {
		c.Write(h.greeting)
	}
}
func (h *groupEcho) OnData(c *sock.Conn, p []byte) { c.Write(p) }
func (h *groupEcho) OnClose(_ *sock.Conn, err error) {
	h.closed++
	if err != nil {
		h.errs = append(h.errs, err)
	}
}

// newGroup starts a group of n loops, skipping on a variant without a
// poller, and returns a function that makes the per-loop handlers and
// remembers them.
func newGroup(t *testing.T, n int, opts ...loop.Option) (*sock.Group, *[]*groupEcho, func(*loop.Loop) sock.Handler) {
	t.Helper()
	checkFDs(t)
	// The variant is the whole binary's: a loop of our own answers for the
	// group's, without touching a loop that runs on another goroutine.
	probe, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	requirePoller(t, probe)
	g, err := sock.NewGroup(n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	var mu sync.Mutex
	var hs []*groupEcho
	return g, &hs, func(*loop.Loop) sock.Handler {
		h := &groupEcho{}
		mu.Lock()
		hs = append(hs, h)
		mu.Unlock()
		return h
	}
}

// TestGroupThousandConnections: 1,000 clients at once, each sending 100
// messages and reading them back, every byte in order, over a Group of two
// loops sharing the port through SO_REUSEPORT.
func TestGroupThousandConnections(t *testing.T) {
	const conns, msgs = 1000, 100
	raiseFDLimit(t, 2*conns+200)
	g, hs, newHandler := newGroup(t, 2)
	gln, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { errs <- echoClient(addr.String(), i, msgs) })
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed++; failed <= 5 {
				t.Error(err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d clients failed", failed, conns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	opened, closed := 0, 0
	for _, h := range *hs {
		opened += h.opened
		closed += h.closed
		for _, err := range h.errs {
			t.Errorf("server OnClose(%v)", err)
		}
	}
	if opened != conns || closed != conns {
		t.Errorf("server opened %d and closed %d connections; want %d each", opened, closed, conns)
	}
	t.Logf("per loop: %d handlers", len(*hs))
}

// echoClient sends msgs numbered messages of varying length, then reads
// the echo and compares.
func echoClient(addr string, id, msgs int) error {
	c, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLimit))
	var sent []byte
	for i := range msgs {
		msg := fmt.Appendf(nil, "client %d message %d %s|", id, i, bytes.Repeat([]byte{'x'}, i%17))
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("client %d: write %d: %w", id, i, err)
		}
		sent = append(sent, msg...)
	}
	got := make([]byte, len(sent))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("client %d: read: %w", id, err)
	}
	if !bytes.Equal(got, sent) {
		return fmt.Errorf("client %d: echo differs", id)
	}
	return nil
}

// TestGroupShutdownWhileClientsSend: clients keep sending and reading while
// the group shuts down; Shutdown drains, closes every connection, and
// returns nil well within its deadline; each client's reading ends with the
// server's end of stream, not a reset.
func TestGroupShutdownWhileClientsSend(t *testing.T) {
	const clients = 20
	g, hs, newHandler := newGroup(t, 2)
	gln, err := g.Listen("tcp", "127.0.0.1:0", newHandler)
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	echoed := make(chan struct{}, clients)
	ends := make(chan error, clients) // how each client's reading ended
	var wg sync.WaitGroup
	// Dial everyone first: once the senders run, the loops are busy
	// echoing and a dial waits its turn for a CPU.
	var cs []net.Conn
	for range clients {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitLimit))
		cs = append(cs, c)
	}
	for _, c := range cs {
		wg.Go(func() { // keep sending until the connection fails
			for {
				if _, err := c.Write([]byte("still sending|")); err != nil {
					return
				}
			}
		})
		wg.Go(func() { // keep reading until end of stream or an error
			buf := make([]byte, 4096)
			first := true
			for {
				if _, err := c.Read(buf); err != nil {
					ends <- err
					return
				}
				if first {
					echoed <- struct{}{}
					first = false
				}
			}
		})
	}
	for range clients {
		<-echoed
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with clients still sending = %v", err)
	}
	wg.Wait() // every client saw its connection end
	close(ends)
	// Shutdown closes each connection, so its client reads what was echoed
	// and then the server's end of stream; an aborted connection ends with a
	// reset instead (a Shutdown that called Abort failed here; the counts
	// below did not see it).
	for err := range ends {
		if err != io.EOF {
			t.Errorf("a client's reading ended with %v, want io.EOF: Shutdown reset the connection instead of closing it", err)
		}
	}
	opened, closed := 0, 0
	for _, h := range *hs {
		opened, closed = opened+h.opened, closed+h.closed
	}
	if opened != clients || closed != clients {
		t.Errorf("server opened %d and closed %d; want %d each", opened, closed, clients)
	}
	if err := g.Shutdown(ctx); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("second Shutdown = %v; want ErrClosed", err)
	}
}

// TestGroupShutdownCutShort: a client that never reads keeps megabytes
// queued; Shutdown gives up when its context ends, returns the context's
// error, and the connection's OnClose reports the unsent bytes.
func TestGroupShutdownCutShort(t *testing.T) {
	g, hs, newHandler := newGroup(t, 1)
	greeting := make([]byte, 4<<20)
	gln, err := g.Listen("tcp", "127.0.0.1:0", func(l *loop.Loop) sock.Handler {
		h := newHandler(l).(*groupEcho)
		h.greeting = greeting
		return h
	}, sock.WithSendBufferSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	c, err := net.Dial("tcp", addr.String()) // and never read
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Wait until the server has accepted, so that there is something to cut.
	opened := make(chan bool, 1)
	for {
		g.Loops()[0].Post(func() { opened <- (*hs)[0].opened == 1 })
		if <-opened {
			break
		}
		runtime.Gosched()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v; want context.DeadlineExceeded", err)
	}
	h := (*hs)[0]
	var ue *sock.UnsentError
	if h.closed != 1 || len(h.errs) != 1 || !errors.As(h.errs[0], &ue) || !errors.Is(ue, sock.ErrAborted) {
		t.Errorf("server closed %d, OnClose errors %v; want one UnsentError wrapping ErrAborted", h.closed, h.errs)
	}
}

// panickyHandler panics in OnClose.
type panickyHandler struct{ sock.BaseHandler }

func (panickyHandler) OnClose(*sock.Conn, error) { panic("OnClose panics") }

// TestGroupShutdownSurvivesPanickingOnClose: the loop recovers a panic in
// OnClose, and Shutdown still learns that the connection is gone.
func TestGroupShutdownSurvivesPanickingOnClose(t *testing.T) {
	panics := make(chan any, 10)
	g, _, _ := newGroup(t, 1, loop.WithPanicHandler(func(v any) { panics <- v }))
	opened := make(chan struct{}, 1)
	gln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		return openSignal{panickyHandler{}, opened}
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-opened
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v; a panicking OnClose must not hold it up", err)
	}
	select {
	case v := <-panics:
		if v != "OnClose panics" {
			t.Errorf("panic handler got %v", v)
		}
	default:
		t.Error("OnClose did not run (no panic reached the handler)")
	}
}

// TestGroupShutdownWithALoopClosedByItsUser: closing one of Loops() directly
// closes what sock had open on it; Shutdown must not wait for that loop to
// report a drain it will never run.
func TestGroupShutdownWithALoopClosedByItsUser(t *testing.T) {
	g, _, newHandler := newGroup(t, 2)
	if _, err := g.Listen("tcp", "127.0.0.1:0", newHandler); err != nil {
		t.Fatal(err)
	}
	if err := g.Loops()[0].Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v; want nil: the closed loop has nothing left to drain", err)
	}
}

// openSignal wraps a handler and signals each OnOpen.
type openSignal struct {
	panickyHandler
	opened chan<- struct{}
}

func (o openSignal) OnOpen(*sock.Conn) { o.opened <- struct{}{} }

// TestGroupListenErrors: a Group refuses a network that is not a stream's,
// a port another socket holds without SO_REUSEPORT, and a Unix socket's
// path that exists already.
func TestGroupListenErrors(t *testing.T) {
	g, _, newHandler := newGroup(t, 2)
	if _, err := g.Listen("udp", "127.0.0.1:0", newHandler); err == nil {
		t.Error("Group.Listen accepted udp")
	}
	path := t.TempDir() + "/s"
	held, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := g.Listen("unix", path, newHandler); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Group.Listen on a Unix path in use: %v; want EADDRINUSE", err)
	}
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if _, err := g.Listen("tcp4", taken.Addr().String(), newHandler); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Group.Listen on a taken port = %v; want EADDRINUSE", err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Listen("tcp", "127.0.0.1:0", newHandler); !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Listen after Close = %v; want ErrClosed", err)
	}
}

// TestIdleConnectionMemory opens 2,000 idle loopback connections and
// reports the server's Go heap per connection. The clients are raw
// descriptors, so only the server side shows on the heap. The bound is
// generous; the figure is in the log (go test -run IdleConnectionMemory -v).
func TestIdleConnectionMemory(t *testing.T) {
	const conns = 2000
	raiseFDLimit(t, 2*conns+200)
	l := newLoop(t)
	srv := &countingServer{}
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	// One connection first, so that the loop's shared buffers and tables
	// exist before the measurement.
	warm := rawDial(t, ln)
	runUntil(t, l, "the first connection", func() bool { return len(srv.conns) == 1 })

	before := settledHeap()
	fds := make([]int, 0, conns)
	for range conns {
		fds = append(fds, rawDial(t, ln))
		if len(fds)%100 == 0 { // accept as we go, so the backlog never overflows
			runUntil(t, l, "accepts", func() bool { return len(srv.conns) == len(fds)+1 })
		}
	}
	runUntil(t, l, "every connection", func() bool { return len(srv.conns) == conns+1 })
	after := settledHeap()
	perConn := float64(after-before) / conns
	t.Logf("%d idle connections: %.0f bytes of Go heap each on the server (HeapAlloc %d -> %d)", conns, perConn, before, after)
	if perConn > 1000 {
		t.Errorf("an idle connection costs %.0f bytes; want well under 1000", perConn)
	}

	// An idle timeout adds its state and a timer on the wheel.
	for c := range srv.conns {
		c.SetIdleTimeout(time.Hour)
	}
	withTimeout := settledHeap()
	perTimeout := float64(withTimeout-after) / float64(len(srv.conns))
	t.Logf("an idle timeout adds %.0f bytes per connection (%.0f in all)", perTimeout, perConn+perTimeout)
	if perConn+perTimeout > 1000 {
		t.Errorf("an idle connection with an idle timeout costs %.0f bytes; want well under 1000", perConn+perTimeout)
	}

	for _, fd := range append(fds, warm) {
		unix.Close(fd)
	}
	runUntil(t, l, "the server to see every close", func() bool { return len(srv.conns) == 0 })
	ln.Close()
}

// settledHeap returns HeapAlloc once garbage collection has nothing more
// to free: what earlier tests left (loops whose shared state goes only when
// a cleanup runs after a collection) must not count.
func settledHeap() uint64 {
	var ms runtime.MemStats
	prev := uint64(0)
	for range 20 {
		runtime.GC()
		runtime.Gosched()
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc == prev {
			break
		}
		prev = ms.HeapAlloc
	}
	return ms.HeapAlloc
}

// countingServer keeps its connections in a slice-free set, reads and drops.
type countingServer struct {
	sock.BaseHandler
	conns map[*sock.Conn]struct{}
}

func (s *countingServer) OnOpen(c *sock.Conn) {
	if s.conns == nil {
		s.conns = make(map[*sock.Conn]struct{}, 4096) // sized up front: not the Conn's cost
	}
	s.conns[c] = struct{}{}
}
func (s *countingServer) OnClose(c *sock.Conn, _ error) { delete(s.conns, c) }

// rawDial connects a plain blocking socket to ln, outside the Go heap.
func rawDial(t *testing.T, ln *sock.Listener) int {
	t.Helper()
	fd, err := rawSocket()
	if err != nil {
		t.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	return fd
}

// TestGroupShutdownDrainsAListenerOpenedOnItsLoop: a listener opened with
// Listen on one of the group's loops (then the way to have a Unix listener in a
// group) was left out of the drain: its connection was aborted with what it
// had queued when the loops closed, and Shutdown returned nil.
func TestGroupShutdownDrainsAListenerOpenedOnItsLoop(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	l := g.Loops()[0]
	const size = 4 << 20
	path := filepath.Join(t.TempDir(), "s")
	closeErr := make(chan error, 1)
	opened := make(chan struct{}, 1)
	h := &funcHandler{
		open:  func(c *sock.Conn) { c.Write(make([]byte, size)); opened <- struct{}{} },
		close: func(_ *sock.Conn, err error) { closeErr <- err },
	}
	listened := make(chan error, 1)
	l.Post(func() {
		_, err := sock.Listen(l, "unix", path, h, sock.WithSendBufferSize(16<<10))
		listened <- err
	})
	if err := <-listened; err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-opened
	got := make(chan int64, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(waitLimit))
		n, _ := io.Copy(io.Discard, pacedReader{c})
		got <- n
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	serr := g.Shutdown(ctx)
	cerr := <-closeErr
	if n := <-got; serr != nil || cerr != nil || n != size {
		t.Fatalf("Shutdown = %v; OnClose(%v); the client read %d of %d bytes", serr, cerr, n, size)
	}
}

// funcHandler is a Handler made of functions.
type funcHandler struct {
	sock.BaseHandler
	open  func(*sock.Conn)
	close func(*sock.Conn, error)
}

func (h *funcHandler) OnOpen(c *sock.Conn)             { h.open(c) }
func (h *funcHandler) OnClose(c *sock.Conn, err error) { h.close(c, err) }

// pacedReader reads at most 8 KiB at a time, 200 µs apart: a peer slow
// enough that a writer still has bytes queued when Shutdown begins.
type pacedReader struct{ r io.Reader }

func (p pacedReader) Read(b []byte) (int, error) {
	time.Sleep(200 * time.Microsecond)
	return p.r.Read(b[:min(len(b), 8<<10)])
}
