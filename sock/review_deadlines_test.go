package sock_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// deadlineSetup listens on a virtual-clock loop with a boundaryHandler
// whose OnOpen runs onOpen, dials it from a plain net.Conn, and aborts the
// connection at the end of the test if it is still open.
func deadlineSetup(t *testing.T, h *boundaryHandler, onOpen func(*sock.Conn), opts ...sock.Option) (*loop.Loop, *loop.VirtualClock, net.Conn) {
	t.Helper()
	return deadlineSetupWith(t, h, h, onOpen, opts...)
}

// deadlineSetupWith is deadlineSetup for a handler that embeds h.
func deadlineSetupWith(t *testing.T, handler sock.Handler, h *boundaryHandler, onOpen func(*sock.Conn), opts ...sock.Option) (*loop.Loop, *loop.VirtualClock, net.Conn) {
	t.Helper()
	l, vc := newVirtualLoop(t)
	h.onOpen = onOpen
	_, peer := listenAndDial(t, l, handler, opts...)
	runUntil(t, l, "the accept", func() bool { return h.opened })
	t.Cleanup(func() {
		h.c.Abort()
		runUntil(t, l, "OnClose", func() bool { return h.closed })
	})
	return l, vc, peer
}

// advanceBy moves the virtual clock and runs the timers that made due.
func advanceBy(t *testing.T, l *loop.Loop, vc *loop.VirtualClock, d time.Duration) {
	t.Helper()
	vc.Advance(d)
	runIteration(t, l)
}

// spin runs l without blocking for a moment of real time, so that what the
// peer just sent is read.
func spin(t *testing.T, l *loop.Loop) {
	t.Helper()
	for end := time.Now().Add(20 * time.Millisecond); time.Now().Before(end); {
		if err := l.RunOnce(false); err != nil {
			t.Fatal(err)
		}
	}
}

// requireTimeout waits for OnClose and checks that the named timeout ended
// the connection.
func requireTimeout(t *testing.T, l *loop.Loop, h *boundaryHandler, which string) {
	t.Helper()
	runUntil(t, l, "the "+which+" timeout", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrTimeout) || !strings.Contains(h.closeErr.Error(), which) {
		t.Fatalf("OnClose(%v); want the %s timeout", h.closeErr, which)
	}
}

// Close's doc: a peer that never reads keeps a closing connection open
// while bytes are queued; set a write timeout. One set after Close (which
// SetWriteTimeout allows until the connection is closed) ends that flush,
// and OnClose counts what was left.
func TestAWriteTimeoutSetAfterCloseEndsAFlushThePeerDoesNotRead(t *testing.T) {
	h := &boundaryHandler{}
	l, vc, _ := deadlineSetup(t, h, nil, sock.WithSendBufferSize(64<<10))
	h.c.Write(pattern(4 << 20)) // the peer never reads
	if h.c.Buffered() == 0 {
		t.Skip("the kernel took 4 MiB at once")
	}
	h.c.Close()
	if err := h.c.SetWriteTimeout(5 * time.Second); err != nil {
		t.Fatalf("SetWriteTimeout after Close, with bytes queued = %v; want nil", err)
	}
	// Window updates may let the kernel take a little now and then, which
	// starts the timeout over a bounded number of times.
	for i := 0; !h.closed; i++ {
		if i == 20 {
			t.Fatalf("no write timeout after %d virtual seconds; %d bytes still queued", 2*i, h.c.Buffered())
		}
		advanceBy(t, l, vc, 2*time.Second)
	}
	var ue *sock.UnsentError
	if !errors.Is(h.closeErr, sock.ErrTimeout) || !errors.As(h.closeErr, &ue) || ue.Unsent == 0 {
		t.Fatalf("OnClose(%v); want an *UnsentError wrapping the write timeout", h.closeErr)
	}
}

// SetIdleTimeout's doc: once Close was called, what arrives is discarded
// and does not count as read, so a peer that sends and never reads what
// Close is flushing cannot hold the connection open.
func TestWhatACloseDiscardsDoesNotHoldOffTheIdleTimeout(t *testing.T) {
	h := &boundaryHandler{}
	l, vc, peer := deadlineSetup(t, h, func(c *sock.Conn) { c.SetIdleTimeout(10 * time.Second) },
		sock.WithSendBufferSize(64<<10))
	h.c.Write(pattern(4 << 20)) // the peer never reads
	if h.c.Buffered() == 0 {
		t.Skip("the kernel took 4 MiB at once")
	}
	h.c.Close()
	peer.SetWriteDeadline(time.Now().Add(waitLimit))
	for i := 0; !h.closed; i++ {
		if i == 20 {
			t.Fatalf("no idle timeout after %d virtual seconds of a peer that sends every 6 s and reads nothing", 6*i)
		}
		advanceBy(t, l, vc, 6*time.Second)
		if h.closed {
			break
		}
		if _, err := peer.Write(make([]byte, 1024)); err != nil {
			break // the timeout closed the connection, and OnClose is still to run
		}
		spin(t, l) // the closing connection reads it, and discards it
	}
	requireTimeout(t, l, h, "idle")
}

// PauseReading's doc: the idle timeout runs while reading is paused, and
// what the peer sends meanwhile is not read, so it is no activity.
func TestTheIdleTimeoutRunsWhileReadingIsPaused(t *testing.T) {
	h := &boundaryHandler{}
	l, vc, peer := deadlineSetup(t, h, func(c *sock.Conn) {
		c.SetIdleTimeout(10 * time.Second)
		c.PauseReading()
	})
	advanceBy(t, l, vc, 6*time.Second)
	if _, err := peer.Write([]byte("not read")); err != nil {
		t.Fatal(err)
	}
	spin(t, l)
	advanceBy(t, l, vc, 3*time.Second)
	if h.closed {
		t.Fatalf("closed by %v 9 s into a 10 s idle timeout", h.closeErr)
	}
	advanceBy(t, l, vc, 2*time.Second)
	requireTimeout(t, l, h, "idle")
}

// eofKeeper keeps a connection open after the peer's end of stream.
type eofKeeper struct {
	boundaryHandler
	eofs int
}

func (h *eofKeeper) OnEOF(*sock.Conn) bool { h.eofs++; return true }

// SetReadTimeout's doc: the read timeout does not run once reading is over.
// After the peer's end of stream (kept open by OnEOF to answer), one running
// stops, and one set then does not start.
func TestTheReadTimeoutStopsAtThePeersEndOfStream(t *testing.T) {
	h := &eofKeeper{}
	l, vc, peer := deadlineSetupWith(t, h, &h.boundaryHandler, func(c *sock.Conn) { c.SetReadTimeout(3 * time.Second) })
	if err := peer.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnEOF", func() bool { return h.eofs == 1 })
	advanceBy(t, l, vc, 10*time.Second)
	if h.closed {
		t.Fatalf("closed by %v 10 s after the peer's end of stream; the read timeout is over then", h.closeErr)
	}
	if err := h.c.SetReadTimeout(time.Second); err != nil {
		t.Fatal(err)
	}
	advanceBy(t, l, vc, 10*time.Second)
	if h.closed {
		t.Fatalf("closed by %v: a read timeout set after the end of stream ran", h.closeErr)
	}
}

// The setters' docs: d <= 0 turns the timeout off, also one already
// running (each of the three is set, then turned off, one with 0 and the
// others with a negative d).
func TestAZeroOrNegativeTimeoutTurnsARunningOneOff(t *testing.T) {
	h := &boundaryHandler{}
	l, vc, _ := deadlineSetup(t, h, func(c *sock.Conn) {
		c.SetIdleTimeout(5 * time.Second)
		c.SetReadTimeout(5 * time.Second)
		c.SetWriteTimeout(5 * time.Second)
	}, sock.WithSendBufferSize(64<<10))
	h.c.Write(pattern(4 << 20)) // the peer never reads: the write timeout runs
	if h.c.Buffered() == 0 {
		t.Skip("the kernel took 4 MiB at once")
	}
	advanceBy(t, l, vc, 2*time.Second)
	for _, err := range []error{h.c.SetIdleTimeout(0), h.c.SetReadTimeout(-1), h.c.SetWriteTimeout(-time.Second)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	advanceBy(t, l, vc, time.Minute)
	if h.closed {
		t.Fatalf("closed by %v a minute after every timeout was turned off", h.closeErr)
	}
}

// abortsTheOthers is a ShutdownHandler whose OnShutdown aborts every other
// connection of its loop, then Closes its own.
type abortsTheOthers struct {
	sock.BaseHandler
	conns  map[*sock.Conn]bool
	opened chan<- struct{}
	told   chan<- struct{}
	closed chan<- error
}

func (h *abortsTheOthers) OnOpen(c *sock.Conn) { h.conns[c] = true; h.opened <- struct{}{} }
func (h *abortsTheOthers) OnShutdown(c *sock.Conn) {
	h.told <- struct{}{}
	for o := range h.conns {
		if o != c {
			o.Abort()
		}
	}
	c.Close()
}
func (h *abortsTheOthers) OnClose(c *sock.Conn, err error) { delete(h.conns, c); h.closed <- err }

// ShutdownHandler's doc: OnShutdown is called once for each connection
// that Close or Abort has not been called on. The first OnShutdown aborts
// the others, so they are not told; Shutdown still returns nil once all
// are closed.
func TestOnShutdownIsNotCalledForAConnectionAnotherOneAborted(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	opened, told := make(chan struct{}, 3), make(chan struct{}, 3)
	closed := make(chan error, 3)
	gln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		return &abortsTheOthers{conns: map[*sock.Conn]bool{}, opened: opened, told: told, closed: closed}
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	for range 3 {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		recv(t, opened, "OnOpen")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v; want nil", err)
	}
	if n := len(told); n != 1 {
		t.Errorf("OnShutdown ran %d times; want once: the first aborted the other two", n)
	}
	if n := len(closed); n != 3 {
		t.Errorf("%d OnClose; want 3", n)
	}
}
