package sock_test

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// These tests pin behaviour of WithMaxConns, Listener.Conns and
// GroupListener.Conns (sock/listener.go, sock/group.go), and of the linger
// timeout (sock/conn.go), that a mutation round found unpinned: each names
// the mutant it kills.

// mutOpens counts the connections it was given and keeps them, in order.
type mutOpens struct {
	sock.BaseHandler
	conns []*sock.Conn
}

func (h *mutOpens) OnOpen(c *sock.Conn) { h.conns = append(h.conns, c) }

// TestMaxConnsMutantsAFullListenerIsNotPolled: while the listener is at its
// limit and a connection waits in the kernel's queue, the loop does not
// watch the listening socket (it would be readable all along, and the loop
// would spin): it sleeps until its next timer. Kills accept returning at
// the limit without RemoveReader.
func TestMaxConnsMutantsAFullListenerIsNotPolled(t *testing.T) {
	l := newLoop(t)
	h := &mutOpens{}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", h, sock.WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	runUntil(t, l, "one accepted", func() bool { return len(h.conns) == 1 })
	fired := false
	l.CallLater(100*time.Millisecond, func() { fired = true })
	iterations := 0
	deadline := time.Now().Add(waitLimit)
	for !fired && iterations < 10_000 && time.Now().Before(deadline) {
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
		}
		iterations++
	}
	if !fired || iterations > 20 {
		t.Errorf("%d loop iterations in the 100ms a full listener waited (timer fired: %v); want a few", iterations, fired)
	}
	if len(h.conns) != 1 || ln.Conns() != 1 {
		t.Errorf("%d accepted, %d open; want 1 at the limit", len(h.conns), ln.Conns())
	}
}

// mutGroupCounter counts, per loop of its group (by Group.Index), the
// connections opened and closed; its methods run on the loops' goroutines.
type mutGroupCounter struct {
	g              *sock.Group
	opened, closed []atomic.Int64
}

type mutGroupConn struct {
	sock.BaseHandler
	gc *mutGroupCounter
}

func (h mutGroupConn) OnOpen(c *sock.Conn) { h.gc.opened[h.gc.g.Index(c.Loop())].Add(1) }
func (h mutGroupConn) OnClose(c *sock.Conn, _ error) {
	h.gc.closed[h.gc.g.Index(c.Loop())].Add(1)
}

// TestGroupListenerMutantsConnsPerLoopInOrder: GroupListener.Conns gives
// each loop's count in the order of Loops, and a count goes down once a
// connection's OnClose has run. Kills Conns reversing the order, and
// forget not updating the count GroupListener.Conns reads.
func TestGroupListenerMutantsConnsPerLoopInOrder(t *testing.T) {
	requirePoller(t, newLoop(t)) // the variant is the binary's: a loop of our own answers for the group's
	g, err := sock.NewGroup(2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	gc := &mutGroupCounter{g: g, opened: make([]atomic.Int64, 2), closed: make([]atomic.Int64, 2)}
	gln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return mutGroupConn{gc: gc} })
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(waitLimit); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	c, err := net.Dial("tcp", gln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor("the connection's OnOpen", func() bool { return gc.opened[0].Load()+gc.opened[1].Load() == 1 })
	// The count is kept before OnOpen runs: it shows the connection now,
	// on the loop that opened it and not on the other.
	want := []int{int(gc.opened[0].Load()), int(gc.opened[1].Load())}
	if ns := gln.Conns(); len(ns) != 2 || ns[0] != want[0] || ns[1] != want[1] {
		t.Fatalf("Conns() = %v; the loops opened %v", ns, want)
	}
	c.Close() // the server's connection reads the end of stream and closes
	waitFor("the connection's OnClose", func() bool { return gc.closed[0].Load()+gc.closed[1].Load() == 1 })
	// forget keeps the count after OnClose: give that a moment.
	var ns []int
	for settle := time.Now().Add(waitLimit); ; time.Sleep(time.Millisecond) {
		if ns = gln.Conns(); ns[0] == 0 && ns[1] == 0 || time.Now().After(settle) {
			break
		}
	}
	if ns[0] != 0 || ns[1] != 0 {
		t.Errorf("Conns() = %v after the only connection closed; want [0 0]", ns)
	}
}

// mutWriteCloseOnOpen writes n bytes in a dialed connection's OnOpen and
// Closes it there; the peer never reads, so most of it stays
// unacknowledged and the close lingers to the linger timeout.
type mutWriteCloseOnOpen struct {
	sock.BaseHandler
	n              int
	opened, closed bool
	buffered       int
	closeErr       error
}

func (h *mutWriteCloseOnOpen) OnOpen(c *sock.Conn) {
	h.opened = true
	c.Write(make([]byte, h.n))
	h.buffered = c.Buffered()
	c.Close()
}

func (h *mutWriteCloseOnOpen) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }

// TestLingerMutantsEndsAtTheTimeout: a linger that the peer never ends
// (it acknowledges little and never finishes) gives up at the linger
// timeout, not after it: on a virtual clock advanced a millisecond at a
// time, OnClose comes at the timeout. The existing tests bound it from below only. Kills the deadline
// set past the timeout, the last wait not cut to what is left, and a
// deadline reached with nothing left not ending the linger. Two timeouts,
// so that the last wait before the deadline is cut by much for one of
// them whatever the steps.
func TestLingerMutantsEndsAtTheTimeout(t *testing.T) {
	const step = time.Millisecond
	for _, linger := range []time.Duration{10 * time.Second, 10*time.Second + 50*time.Millisecond} {
		t.Run(linger.String(), func(t *testing.T) {
			l, vc := newVirtualLoop(t)
			pl := smallRcvbufListener(t)
			h := &mutWriteCloseOnOpen{n: 256 << 10}
			if _, err := sock.Dial(l, "tcp", pl.Addr().String(), h,
				sock.WithSendBufferSize(4<<20), sock.WithLingerTimeout(linger)); err != nil {
				t.Fatal(err)
			}
			peer, err := pl.Accept() // never reads
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			runUntil(t, l, "OnOpen", func() bool { return h.opened })
			if h.buffered != 0 {
				t.Skipf("the kernel did not take all %d bytes", h.n)
			}
			start := vc.Elapsed()
			for !h.closed && vc.Elapsed()-start < 2*linger {
				vc.Advance(step)
				for range 3 {
					if err := l.RunOnce(false); err != nil {
						t.Fatal(err)
					}
				}
			}
			took := vc.Elapsed() - start
			var ue *sock.UnsentError
			if !h.closed || !errors.Is(h.closeErr, sock.ErrLinger) || !errors.As(h.closeErr, &ue) {
				t.Fatalf("after %v: closed %v, OnClose(%v); want an *UnsentError wrapping ErrLinger", took, h.closed, h.closeErr)
			}
			// The timer wheel fires a timer at its deadline, or up to a tick
			// later: with a tick no longer than the clock's step (each
			// shipped variant's), OnClose comes at the timeout exactly.
			slack := time.Duration(0)
			if tick := l.Variant().Tick; tick > step {
				slack = tick + step
			}
			if took < linger || took > linger+slack {
				t.Errorf("OnClose after %v of virtual time; the linger timeout is %v (the loop's tick %v)", took, linger, l.Variant().Tick)
			}
		})
	}
}
