package sock_test

import (
	"errors"
	"net"
	"slices"
	"syscall"
	"testing"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// Tests that kill mutants of sock/group.go that the suite let live
// (mutation round mut2-8841; ids as in /tmp/mut2-8841/RESULTS.md:
// R2, R4, R5, X1, X6, X7). A Group keeps, per loop, the listeners that
// Shutdown and Close must reach (lns); sock.GroupListeners counts them.

// groupListenerCounts wants each loop of g to keep want listeners.
func groupListenerCounts(t *testing.T, g *sock.Group, want []int, when string) {
	t.Helper()
	ns, err := sock.GroupListeners(g)
	if err != nil {
		t.Fatalf("%s: GroupListeners = %v", when, err)
	}
	if !slices.Equal(ns, want) {
		t.Fatalf("%s: the loops keep %v listeners; want %v", when, ns, want)
	}
}

// openClose says when a connection opens and when its OnClose has run.
type openClose struct {
	sock.BaseHandler
	opened, closed chan<- struct{}
}

func (h openClose) OnOpen(*sock.Conn)         { h.opened <- struct{}{} }
func (h openClose) OnClose(*sock.Conn, error) { h.closed <- struct{}{} }

// TestGroupKeepsAnOpenListenerWithNoConnection: a listener that is open
// is kept for Shutdown and Close, connections or none; prune drops only
// the closed ones. (Kills prune mutants `ln.nconns == 0` and
// `ln.closed || ln.nconns == 0`: a second Listen dropped the first, open,
// listener.)
func TestGroupKeepsAnOpenListenerWithNoConnection(t *testing.T) {
	g, _, newHandler := newGroup(t, 2)
	a, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
	if err != nil {
		t.Fatal(err)
	}
	groupListenerCounts(t, g, []int{2, 2}, "two open listeners")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	groupListenerCounts(t, g, []int{1, 1}, "after the first's Close")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	groupListenerCounts(t, g, []int{0, 0}, "after both Closes")
	shutdownOK(t, g)
}

// TestGroupKeepsAClosedListenerUntilItsLastConnectionEnds: a listener
// closed with a connection open is kept (Shutdown tells that connection
// through it, stop aborts it) until the connection's OnClose; the next
// Listen then drops it. (Kills prune `return ln.closed`, which dropped it
// with its connection, and Listen without gl.prune(), which kept it.)
func TestGroupKeepsAClosedListenerUntilItsLastConnectionEnds(t *testing.T) {
	g, _, newHandler := newGroup(t, 1)
	opened, closed := make(chan struct{}, 1), make(chan struct{}, 1)
	a, err := g.Listen("tcp4", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		return openClose{opened: opened, closed: closed}
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp4", a.Addr().String(), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recv(t, opened, "OnOpen")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	groupListenerCounts(t, g, []int{1}, "a closed listener with a connection open")
	c.Close()
	recv(t, closed, "the server's OnClose")
	b, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
	if err != nil {
		t.Fatal(err)
	}
	groupListenerCounts(t, g, []int{1}, "a Listen after the closed listener's last connection ended")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	groupListenerCounts(t, g, []int{0}, "after the second listener's Close")
	shutdownOK(t, g)
}

// TestAFailedGroupListenLeavesNothingBehind: when a later loop fails to
// listen, the listener an earlier loop opened is closed (the address
// refuses connections) and dropped from what the group keeps. (Kills the
// rollback without o.ln.Close(), the one that rolls nothing back, and the
// one that leaves the listener in lns.)
func TestAFailedGroupListenLeavesNothingBehind(t *testing.T) {
	g, _, newHandler := newGroup(t, 2, loop.WithPanicHandler(func(any) {}))
	// A fixed port, so that the address can be dialed after Listen failed.
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	calls := 0
	_, err = g.Listen("tcp4", addr, func(l *loop.Loop) sock.Handler {
		calls++ // one loop at a time: Listen waits for each
		if calls == 2 {
			panic("the second loop fails")
		}
		return newHandler(l)
	})
	if err == nil {
		t.Fatal("Group.Listen succeeded though the second newHandler panicked")
	}
	if calls != 2 {
		t.Fatalf("newHandler ran %d times; want 2", calls)
	}
	groupListenerCounts(t, g, []int{0, 0}, "after a failed Listen")
	for i := range 5 {
		c, err := net.DialTimeout("tcp4", addr, waitLimit)
		if err == nil {
			c.Close()
			t.Fatalf("dial %d to %s after the failed Listen connected; want it refused", i, addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %d to %s after the failed Listen = %v; want ECONNREFUSED", i, addr, err)
		}
	}
	shutdownOK(t, g)
}
