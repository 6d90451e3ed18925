package sock_test

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// blackHole returns a port on ip (of 127.0.0.0/8) where a connect hangs: a
// listener whose accept queue is full (it never accepts), so Linux drops
// the SYNs. Port 0 picks one. It dials until one connect does not
// complete, so that the queue is full whatever the kernel makes of
// backlog 0.
func blackHole(t *testing.T, ip [4]byte, port int) int {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux dropping SYNs to a full accept queue")
	}
	lfd, err := rawSocket()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(lfd) })
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: ip, Port: port}); err != nil {
		t.Skipf("cannot bind %v:%d for a black hole: %v", ip, port, err)
	}
	if err := unix.Listen(lfd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	port = sa.(*unix.SockaddrInet4).Port
	addr := fmt.Sprintf("%d.%d.%d.%d:%d", ip[0], ip[1], ip[2], ip[3], port)
	for range 8 {
		c, err := net.DialTimeout("tcp4", addr, 200*time.Millisecond)
		if err != nil {
			return port // this one hung: the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the kernel completed every connect to a listener that never accepts")
	return 0
}

// dialSvc dials "svc.test:port" on l with a fake resolver and the connect
// timeout, and returns the connection, its handler and the resolver, whose
// lookup the test answers.
func dialSvc(t *testing.T, l *loop.Loop, port int, timeout time.Duration) (*sock.Conn, *opens, *fakeResolver) {
	t.Helper()
	res, cli := newFakeResolver(), &opens{}
	c, err := sock.Dial(l, "tcp", "svc.test:"+strconv.Itoa(port), cli, sock.WithResolver(res), sock.WithConnectTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	return c, cli, res
}

// TestDialGivesEachAddressItsShareOfTheConnectTimeout: a name whose first
// address never answers (a full accept queue on 127.0.0.1) and whose second
// listens (127.0.0.2, the same port) connects to the second once the
// first's share of the connect timeout is over, as package net's Dial does,
// instead of spending the whole timeout on the first.
func TestDialGivesEachAddressItsShareOfTheConnectTimeout(t *testing.T) {
	port := blackHole(t, [4]byte{127, 0, 0, 1}, 0)
	l, vc := newVirtualLoop(t)
	srv := &recorder{}
	ln, err := sock.Listen(l, "tcp4", "127.0.0.2:"+strconv.Itoa(port), srv)
	if err != nil {
		t.Skipf("no second loopback address to listen on: %v", err)
	}
	defer ln.Close()
	c, cli, res := dialSvc(t, l, port, 10*time.Second)
	res.next(t).reply <- answer{addrs: addrs("127.0.0.1", "127.0.0.2")}
	runUntil(t, l, "the connect to the first address to start", func() bool { return c.RemoteAddr() != nil })
	if got := c.RemoteAddr().String(); got != "127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("first tried %s, want 127.0.0.1:%d", got, port)
	}
	// Half of the 10 s is the first address's share: just before it ends,
	// the dial still waits on it.
	vc.Advance(5*time.Second - time.Millisecond)
	l.RunOnce(false)
	if cli.openCount != 0 || cli.closeCount != 0 {
		t.Fatalf("before the first address's share ended: OnOpen %d, OnClose %d (%v)", cli.openCount, cli.closeCount, cli.closeErr)
	}
	vc.Advance(time.Millisecond + l.Variant().Tick) // a timer fires at the first tick at or after its deadline
	runUntil(t, l, "the second address to connect", func() bool { return cli.openCount+cli.closeCount > 0 })
	if cli.openCount != 1 {
		t.Fatalf("OnOpen ran %d times, OnClose(%v): the second address should have connected", cli.openCount, cli.closeErr)
	}
	if got := c.RemoteAddr().String(); got != "127.0.0.2:"+strconv.Itoa(port) {
		t.Errorf("connected to %s, want 127.0.0.2:%d", got, port)
	}
	// The whole dial's timeout is over too now; it must not fail an open
	// connection.
	vc.Advance(10 * time.Second)
	l.RunOnce(false)
	if cli.closeCount != 0 {
		t.Errorf("the connect timeout closed a connection that had opened: %v", cli.closeErr)
	}
	c.Close()
	runUntil(t, l, "the close", func() bool { return cli.closeCount == 1 })
}

// TestDialsLastAddressGetsAllTheTimeLeft: the shares are the time left
// divided by the addresses left, at least 2 s, and the last address gets
// all that is left: with three addresses that never answer and 3 s, the
// first gets 2 s (a third would be under the minimum), the second the
// last 1 s (less than the minimum is left), and the dial then fails with
// the connect timeout, naming the address it was trying.
func TestDialsLastAddressGetsAllTheTimeLeft(t *testing.T) {
	port := blackHole(t, [4]byte{127, 0, 0, 1}, 0)
	blackHole(t, [4]byte{127, 0, 0, 3}, port)
	p := strconv.Itoa(port)
	l, vc := newVirtualLoop(t)
	c, cli, res := dialSvc(t, l, port, 3*time.Second)
	res.next(t).reply <- answer{addrs: addrs("127.0.0.1", "127.0.0.3", "127.0.0.4")}
	runUntil(t, l, "the first connect to start", func() bool { return c.RemoteAddr() != nil })
	trying := func(when, want string) {
		t.Helper()
		l.RunOnce(false)
		if cli.closeCount != 0 {
			t.Fatalf("%s: the dial failed: %v", when, cli.closeErr)
		}
		if got := c.RemoteAddr().String(); got != want+":"+p {
			t.Fatalf("%s: trying %s, want %s:%s", when, got, want, p)
		}
	}
	// A timer fires at the first tick at or after its deadline: up to a
	// tick late, never early.
	tick := l.Variant().Tick
	if tick >= 500*time.Millisecond {
		t.Skipf("a tick of %v cannot tell the shares of 2 s and 1 s apart", tick)
	}
	at := func(d time.Duration) { vc.AdvanceTo(vc.Start().Add(d)) }
	at(2*time.Second - time.Millisecond)
	trying("just before 2 s", "127.0.0.1")
	at(2*time.Second + tick)
	trying("at 2 s", "127.0.0.3")
	at(3*time.Second - time.Millisecond)
	trying("just before 3 s", "127.0.0.3")
	at(3*time.Second + tick)
	runUntil(t, l, "the dial to time out", func() bool { return cli.closeCount > 0 })
	if cli.openCount != 0 || !errors.Is(cli.closeErr, sock.ErrTimeout) {
		t.Fatalf("OnOpen %d, OnClose(%v); want the connect timeout", cli.openCount, cli.closeErr)
	}
	var op *net.OpError
	if !errors.As(cli.closeErr, &op) || op.Addr == nil || op.Addr.String() == "127.0.0.1:"+p {
		t.Errorf("OnClose(%v): want a *net.OpError naming an address after the first", cli.closeErr)
	}
}

// TestDialWithNoTimeLeftDoesNotFailAnOpenConnection: a lookup that answers
// once the connect timeout's deadline has passed, but before its timer's
// tick, left the first address an attempt of 0, which CallLater made a
// CallSoon that no Cancel stopped: the address connected, OnOpen ran, and
// then the attempt's callback failed the open connection (a review found
// it). Now the dial's own timer ends such a dial, and one that connects
// first stays open.
func TestDialWithNoTimeLeftDoesNotFailAnOpenConnection(t *testing.T) {
	l, vc := newVirtualLoop(t)
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	vc.Advance(l.Variant().Tick / 2) // so that the deadline falls mid-tick
	c, cli, res := dialSvc(t, l, port, 10*time.Second)
	q := res.next(t)
	vc.Advance(10 * time.Second) // at the deadline, short of its timer's tick
	q.reply <- answer{addrs: addrs("127.0.0.1", "127.0.0.2")}
	runUntil(t, l, "OnOpen or OnClose", func() bool { return cli.openCount+cli.closeCount > 0 })
	for range 5 {
		l.RunOnce(false)
	}
	if cli.openCount == 1 && cli.closeCount != 0 {
		t.Fatalf("the connection opened, then its dial failed it: %v", cli.closeErr)
	}
	if cli.openCount != 1 {
		// The clock stays short of the dial timer's tick: nothing may end it.
		t.Fatalf("the dial did not open (OnClose(%v)); the clock never reached its timeout's tick", cli.closeErr)
	}
	c.Close()
	runUntil(t, l, "the close", func() bool { return cli.closeCount == 1 })
}

// TestADialWhoseFirstAddressTimedOutSaysSoOnce: the first address's share
// ends (a black hole), the second refuses, and OnClose gets the first
// address's error, naming it once: the attempt's timeout was wrapped as a
// dial error twice ("dial tcp A: dial tcp A: sock: connect timeout"; a
// mutation round found it).
func TestADialWhoseFirstAddressTimedOutSaysSoOnce(t *testing.T) {
	port := blackHole(t, [4]byte{127, 0, 0, 1}, 0)
	l, vc := newVirtualLoop(t)
	c, cli, res := dialSvc(t, l, port, 10*time.Second)
	// 127.0.0.5 listens on nothing: refused at once.
	res.next(t).reply <- answer{addrs: addrs("127.0.0.1", "127.0.0.5")}
	runUntil(t, l, "the connect to the first address to start", func() bool { return c.RemoteAddr() != nil })
	vc.Advance(5*time.Second + l.Variant().Tick) // the first's share, and up to a tick as its timer fires
	runUntil(t, l, "the dial to fail", func() bool { return cli.closeCount > 0 })
	want := fmt.Sprintf("dial tcp 127.0.0.1:%d: sock: connect timeout", port)
	if cli.openCount != 0 || cli.closeErr == nil || cli.closeErr.Error() != want || !errors.Is(cli.closeErr, sock.ErrTimeout) {
		t.Fatalf("OnOpen %d, OnClose(%v); want %q, wrapping ErrTimeout", cli.openCount, cli.closeErr, want)
	}
}
