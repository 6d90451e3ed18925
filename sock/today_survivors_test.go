// Tests written for mutants of the day's code (group.go, sock.go, conn.go,
// dial.go) that the suite let through: each fails with its mutant.

package sock_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// closesWhenTold is a dialed ShutdownHandler that closes when told (and
// says so on told, if set).
type closesWhenTold struct {
	sock.BaseHandler
	told   chan<- struct{}
	closed chan<- error
}

func (h *closesWhenTold) OnShutdown(c *sock.Conn) {
	if h.told != nil {
		h.told <- struct{}{}
	}
	c.Close()
}
func (h *closesWhenTold) OnClose(_ *sock.Conn, err error) { h.closed <- err }

// dialsAfterItsClose is a listener's handler whose OnClose posts a Dial of
// a ShutdownHandler: it runs after the loop has reported itself drained.
type dialsAfterItsClose struct {
	sock.BaseHandler
	to       string
	up       sock.Handler
	accepted chan<- struct{}
	dialErr  chan<- error
}

func (d *dialsAfterItsClose) OnOpen(*sock.Conn) { d.accepted <- struct{}{} }
func (d *dialsAfterItsClose) OnClose(c *sock.Conn, _ error) {
	l := c.Loop()
	l.Post(func() {
		_, err := sock.Dial(l, "tcp", d.to, d.up)
		d.dialErr <- err
	})
}

// TestADialAfterTheDrainEndedDoesNotReopenIt: a ShutdownHandler dialed
// once every loop has reported itself drained (Shutdown is stopping the
// loops) is aborted with the rest; it does not take the loop's report back,
// which would report it a second time when the connection closes.
func TestADialAfterTheDrainEndedDoesNotReopenIt(t *testing.T) {
	panics := make(chan any, 4)
	g, _, _ := newGroup(t, 1, loop.WithPanicHandler(func(v any) { panics <- v }))
	sink, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	accepted, dialErr := make(chan struct{}, 1), make(chan error, 1)
	upClosed := make(chan error, 1)
	gln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		return &dialsAfterItsClose{to: sink.Addr().String(), up: &closesWhenTold{closed: upClosed}, accepted: accepted, dialErr: dialErr}
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	client := dialAndAsk(t, addr.String(), "", nil)
	recv(t, accepted, "OnOpen")
	shutdownOK(t, g)
	readToEOF(t, client)
	if err := recv(t, dialErr, "the Dial after the drain"); err != nil {
		t.Fatalf("Dial = %v", err)
	}
	recv(t, upClosed, "the dialed connection's OnClose")
	select {
	case v := <-panics:
		t.Errorf("the loop panicked: %v", v)
	default:
	}
}

// TestShutdownAfterAListenRolledBack: a Listen that fails on the second
// loop (its newHandler panicked) closes what it opened on the first; that
// loop has not begun to drain, so the closing reports nothing, and a later
// Shutdown finds the loop drained at once instead of waiting for ctx.
func TestShutdownAfterAListenRolledBack(t *testing.T) {
	panics := make(chan any, 4)
	g, _, _ := newGroup(t, 2, loop.WithPanicHandler(func(v any) { panics <- v }))
	var calls atomic.Int32
	if _, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		if calls.Add(1) == 2 {
			panic("newHandler panics")
		}
		return &sock.BaseHandler{}
	}); err == nil {
		t.Fatal("Listen = nil; want its newHandler's panic")
	}
	if v := recv(t, panics, "the panic handler"); v != "newHandler panics" {
		t.Errorf("panic handler got %v; want newHandler's panic", v)
	}
	shutdownWithoutWaiting(t, g, "it to find nothing to drain")
	select {
	case v := <-panics:
		t.Errorf("the loop panicked again: %v", v)
	default:
	}
}

// TestAnOpenConnectionsErrorIsNotADials: a connection that opened and then
// fails (a write timeout here, on a dialed one) reports the failure as it
// is, not as a dial's *net.OpError.
func TestAnOpenConnectionsErrorIsNotADials(t *testing.T) {
	l := newLoop(t)
	requirePoller(t, l)
	pl := smallRcvbufListener(t)
	h := &writeThen{payload: make([]byte, 4<<20), next: func(c *sock.Conn) { c.SetWriteTimeout(20 * time.Millisecond) }}
	if _, err := sock.Dial(l, "tcp", pl.Addr().String(), h); err != nil {
		t.Fatal(err)
	}
	peer, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Fatalf("OnClose(%v); want a write timeout", h.closeErr)
	}
	var oe *net.OpError
	if errors.As(h.closeErr, &oe) {
		t.Errorf("OnClose(%v); want no dial's *net.OpError for a connection that had opened", h.closeErr)
	}
}

// TestAUnixCloseWithBytesQueuedCountsOnlyThem: a Unix connection closed
// with bytes queued (by a write timeout, or Abort) is not reset (there is
// no reset to send): its peer reads all the kernel took, then its end, so
// OnClose counts as unsent only what was still queued here, and the two
// add up to what was written.
func TestAUnixCloseWithBytesQueuedCountsOnlyThem(t *testing.T) {
	for _, tc := range []struct {
		name string
		then func(*sock.Conn)
		why  error
	}{
		{"write timeout", func(c *sock.Conn) { c.SetWriteTimeout(20 * time.Millisecond) }, sock.ErrTimeout},
		{"Abort", func(c *sock.Conn) { c.Abort() }, sock.ErrAborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoop(t)
			requirePoller(t, l)
			payload := make([]byte, 4<<20)
			h := &writeThen{payload: payload, next: tc.then}
			path := filepath.Join(t.TempDir(), "s")
			ln, err := sock.Listen(l, "unix", path, h)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			peer, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			runUntil(t, l, "OnClose", func() bool { return h.closed })
			var ue *sock.UnsentError
			if !errors.As(h.closeErr, &ue) || !errors.Is(ue, tc.why) {
				t.Fatalf("OnClose(%v); want an *UnsentError wrapping %v", h.closeErr, tc.why)
			}
			got, err := readAll(t, peer)
			if err != nil {
				t.Fatalf("the peer read %d bytes, then %v; want the end of stream", len(got), err)
			}
			if len(got)+ue.Unsent != len(payload) {
				t.Errorf("the peer read %d bytes and OnClose counts %d unsent; want them to add up to %d", len(got), ue.Unsent, len(payload))
			}
		})
	}
}

// TestARefusedDialCountsTheOneByteWritten: a byte written before the
// connection opened, on a dial that is refused, is counted as unsent, even
// alone.
func TestARefusedDialCountsTheOneByteWritten(t *testing.T) {
	l := newLoop(t)
	requirePoller(t, l)
	cli := &opens{}
	c, err := sock.Dial(l, "tcp4", "127.0.0.1:"+strconv.Itoa(refusedPort(t)), cli)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the refusal", func() bool { return cli.closed })
	var ue *sock.UnsentError
	if !errors.As(cli.closeErr, &ue) || ue.Unsent != 1 || !errors.Is(ue, syscall.ECONNREFUSED) {
		t.Errorf("OnClose(%v); want an *UnsentError counting 1 byte, wrapping ECONNREFUSED", cli.closeErr)
	}
}

// TestShutdownDoesNotWaitForADialedPlainHandler: a connection dialed on a
// group's loop whose Handler is not a ShutdownHandler is not drained: its
// upload to a peer that reads nothing does not hold Shutdown up until ctx
// ends; it is aborted when the loops stop, and OnClose says so.
func TestShutdownDoesNotWaitForADialedPlainHandler(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	pl := smallRcvbufListener(t)
	opened := make(chan struct{}, 1)
	h := &writeThen{payload: make([]byte, 4<<20), next: func(*sock.Conn) { opened <- struct{}{} }}
	closed := make(chan error, 1)
	l := g.Loops()[0]
	dialOn(t, l, pl.Addr().String(), &closeTo{Handler: h, closed: closed})
	peer, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	recv(t, opened, "OnOpen")
	shutdownWithoutWaiting(t, g, "it not to wait for a connection whose Handler is not a ShutdownHandler")
	if err := recv(t, closed, "OnClose"); !errors.Is(err, sock.ErrAborted) {
		t.Errorf("OnClose(%v); want ErrAborted: the upload was cut short", err)
	}
}

// closeTo passes OnClose's error on to a channel.
type closeTo struct {
	sock.Handler
	closed chan<- error
}

func (c *closeTo) OnClose(conn *sock.Conn, err error) {
	c.Handler.OnClose(conn, err)
	c.closed <- err
}

// TestShutdownTellsEveryDialedShutdownHandler: two connections dialed on
// one loop before Shutdown began are both told and waited for, not only
// the first of the loop's list.
func TestShutdownTellsEveryDialedShutdownHandler(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	peer, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	told, closed := make(chan struct{}, 2), make(chan error, 2)
	l := g.Loops()[0]
	dialed := make(chan error, 1)
	l.Post(func() {
		for range 2 {
			if _, err := sock.Dial(l, "tcp", peer.Addr().String(), &closesWhenTold{told: told, closed: closed}); err != nil {
				dialed <- err
				return
			}
		}
		dialed <- nil
	})
	if err := recv(t, dialed, "the Dials"); err != nil {
		t.Fatal(err)
	}
	shutdownOK(t, g)
	if len(told) != 2 {
		t.Errorf("OnShutdown ran %d times before Shutdown returned; want 2, once for each dialed connection", len(told))
	}
	for range 2 {
		if err := recv(t, closed, "OnClose"); err != nil {
			t.Errorf("OnClose(%v); want nil: each closed when told", err)
		}
	}
}

// shutdownWithoutWaiting shuts g down with 2 s to drain, wanting nil and a
// Shutdown that did not wait for its ctx to end (want says why not).
func shutdownWithoutWaiting(t *testing.T, g *sock.Group, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v; want nil", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Shutdown waited for ctx to end; want %s", want)
	}
}
