package sock_test

// Tests from a second mutation round, on listener.go, group.go, packet.go,
// addr.go and sys_linux.go: each fails with a one-line change that the rest
// of the suite let through. (survivors2_linux_test.go holds those that
// starve the process of descriptors or read the kernel's tables.)

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
	"weak"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// A listener closed before it accepted anything is unreachable for the
// user's code, and the loop must not keep it. (Close kept it registered for
// the loop's Close when it had no connection: only the last connection's
// close let it go.)
func TestAListenerClosedWithNoConnectionIsNotKeptByTheLoop(t *testing.T) {
	l := newLoop(t)
	var wln weak.Pointer[sock.Listener]
	func() {
		ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", &echoServer{})
		if err != nil {
			t.Fatal(err)
		}
		wln = weak.Make(ln)
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	if !collected(wln) {
		t.Error("a listener closed with no connection was kept")
	}
}

// openOrder is an echoServer that also keeps its connections in the order
// they opened.
type openOrder struct {
	echoServer
	order []*sock.Conn
}

func (h *openOrder) OnOpen(c *sock.Conn) { h.echoServer.OnOpen(c); h.order = append(h.order, c) }

// A listener keeps track of every connection it accepted until its OnClose,
// also after others closed in between: closing the loop then aborts the
// oldest and the newest. (With forget not linking a connection's successor
// back to its predecessor, closing two neighbours lost the connections
// after them; with open not linking the list's head back to the newest,
// closing one lost those opened after it.)
func TestClosingTheLoopReachesEveryConnectionAfterSomeClosed(t *testing.T) {
	l := newLoop(t)
	srv := &openOrder{}
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		peer, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		runUntil(t, l, "the accept", func() bool { return srv.opened == i+1 })
	}
	// The listener's newest first: 3, 2, 1, 0. The middle two close.
	for _, i := range []int{2, 1} {
		srv.order[i].Abort()
		runUntil(t, l, "the OnClose", func() bool { return srv.closed == 3-i })
	}
	l.Close()
	if srv.closed != 4 {
		t.Errorf("%d of the 4 connections had their OnClose after the loop closed; want all", srv.closed)
	}
}

// Shutdown does not wait for a loop that its user closed (which closed
// what sock had open there): it returns before its ctx ends. (Without the
// drain that Shutdown counts for such a loop, it waited for ctx, then said
// nil: TestGroupShutdownWithALoopClosedByItsUser passed, ten seconds late.)
func TestGroupShutdownDoesNotWaitForALoopClosedByItsUser(t *testing.T) {
	g, _, mk := newGroup(t, 2)
	if _, err := g.Listen("tcp4", "127.0.0.1:0", mk); err != nil {
		t.Fatal(err)
	}
	if err := g.Loops()[0].Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil || ctx.Err() != nil {
		t.Errorf("Shutdown = %v, with its ctx ended (%v); want nil before it ends", err, ctx.Err())
	}
}

// waitPending waits, on l's goroutine, until l has n callbacks and timers
// pending (what other goroutines post counts), for at most waitLimit.
func waitPending(t *testing.T, l *loop.Loop, n int) bool {
	for deadline := time.Now().Add(waitLimit); l.Pending() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("%d callbacks pending after %v; want %d", l.Pending(), waitLimit, n)
			return false
		}
	}
	return true
}

// A Group.Listen whose call reaches a loop after Shutdown began fails with
// ErrClosed: it does not open a listener there, even one that the drain
// queued behind it would close. The loop is held in a callback until
// Listen's call, then Shutdown's drain, are queued on it. (Without the
// check on the loop, Listen returned an address the group had stopped
// serving.)
func TestGroupListenOvertakenByShutdownFails(t *testing.T) {
	g, hs, mk := newGroup(t, 1)
	gl := g.Loops()[0]
	listened, shut := make(chan error, 1), make(chan error, 1)
	if err := gl.Post(func() {
		base := gl.Pending()
		go func() { _, err := g.Listen("tcp4", "127.0.0.1:0", mk); listened <- err }()
		if !waitPending(t, gl, base+1) { // Listen passed its first check
			return
		}
		go func() { shut <- g.Shutdown(context.Background()) }()
		waitPending(t, gl, base+2) // the group is closed, its drain queued
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-listened; !errors.Is(err, sock.ErrClosed) {
		t.Errorf("Listen overtaken by Shutdown = %v; want ErrClosed", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v; want nil", err)
	}
	if len(*hs) != 0 {
		t.Errorf("newHandler called %d times; want none", len(*hs))
	}
}

// An empty address listens on the wildcard address, on a port the kernel
// picks, as package net does: only a dial needs a host. (Refusing "" as a
// missing address, as Dial does, passed every other test.)
func TestListenOnAnEmptyAddressPicksAPort(t *testing.T) {
	l := newLoop(t)
	srv := &echoServer{}
	ln, err := sock.Listen(l, "tcp4", "", srv)
	if err != nil {
		t.Fatalf("Listen on an empty address: %v", err)
	}
	defer srv.closeAll(t, l, ln)
	port := ln.Addr().(*net.TCPAddr).Port
	if port == 0 {
		t.Fatalf("Listen on an empty address reports %v; want the port picked", ln.Addr())
	}
	peer, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "the accept", func() bool { return srv.opened == 1 })
}

// A tcp6 wildcard listener is IPv6 only, as package net makes it: the port
// of a tcp4 wildcard listener stays free for it. (With IPV6_V6ONLY left
// off, it was dual-stack, as "tcp" is, and its bind failed with
// EADDRINUSE.) Tried on a few ports, in case another program holds the
// IPv6 side of one.
func TestTCP6WildcardListenerIsIPv6Only(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback here")
	}
	l := newLoop(t)
	var errs []error
	for range 5 {
		ln4, err := sock.Listen(l, "tcp4", "0.0.0.0:0", &echoServer{})
		if err != nil {
			t.Fatal(err)
		}
		port := ln4.Addr().(*net.TCPAddr).Port
		ln6, err := sock.Listen(l, "tcp6", fmt.Sprintf("[::]:%d", port), &echoServer{})
		ln4.Close()
		if err == nil {
			ln6.Close()
			return
		}
		errs = append(errs, err)
	}
	t.Errorf("a tcp6 wildcard listener on a tcp4 wildcard listener's port failed each time: %v", errs)
}
