package sock_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// A dial closed while an address with others after it is being tried
// leaves no attempt timer behind: once OnClose ran, nothing is pending on
// the loop, and the attempt's share running out later does nothing.
func TestCloseWhileDialingANameLeavesNoAttemptTimer(t *testing.T) {
	port := blackHole(t, [4]byte{127, 0, 0, 1}, 0)
	l, vc := newVirtualLoop(t)
	c, cli, res := dialSvc(t, l, port, 10*time.Second)
	res.next(t).reply <- answer{addrs: addrs("127.0.0.1", "127.0.0.2")}
	runUntil(t, l, "the connect to the first address to start", func() bool { return c.RemoteAddr() != nil })
	c.Close()
	runUntil(t, l, "the close", func() bool { return cli.closeCount > 0 })
	l.RunOnce(false)
	if n := l.Pending(); n != 0 {
		t.Fatalf("%d callbacks or timers pending after a closed dial's OnClose, want 0 (the attempt timer left behind?)", n)
	}
	vc.Advance(6 * time.Second)
	l.RunOnce(false)
	if cli.closeCount != 1 || cli.openCount != 0 {
		t.Fatalf("OnOpen %d, OnClose %d times; want 0 and 1", cli.openCount, cli.closeCount)
	}
}

// An address that connects within its share, with others after it, is
// not cut off when the share would have ended: connecting cancels the
// attempt timer.
func TestAConnectWithinItsShareStaysOpen(t *testing.T) {
	l, vc := newVirtualLoop(t)
	srv := &recorder{}
	ln, err := sock.Listen(l, "tcp4", "127.0.0.2:0", srv)
	if err != nil {
		t.Skipf("no second loopback address to listen on: %v", err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c, cli, res := dialSvc(t, l, port, 10*time.Second)
	res.next(t).reply <- answer{addrs: addrs("127.0.0.2", "127.0.0.1")}
	runUntil(t, l, "the first address to connect", func() bool { return cli.openCount+cli.closeCount > 0 })
	if cli.openCount != 1 {
		t.Fatalf("OnOpen ran %d times, OnClose(%v): the first address listens", cli.openCount, cli.closeErr)
	}
	// The first address's share (5 s) and the whole timeout are over.
	vc.Advance(6 * time.Second)
	l.RunOnce(false)
	vc.Advance(6 * time.Second)
	l.RunOnce(false)
	if cli.closeCount != 0 {
		t.Fatalf("an open connection was closed when its address's share of the connect timeout ended: %v", cli.closeErr)
	}
	c.Close()
	runUntil(t, l, "the close", func() bool { return cli.closeCount == 1 })
}

// An address that fails before its share is over (refused) does not leave
// its attempt timer to cut the next address's share short: with 9 s and
// three addresses, the first refused at once, the second (which never
// answers) gets half of the 9 s, not what was left of the first's third.
func TestARefusedAddressDoesNotShortenTheNextOnesShare(t *testing.T) {
	port := blackHole(t, [4]byte{127, 0, 0, 3}, 0)
	p := strconv.Itoa(port)
	l, vc := newVirtualLoop(t)
	c, cli, res := dialSvc(t, l, port, 9*time.Second)
	res.next(t).reply <- answer{addrs: addrs("127.0.0.1", "127.0.0.3", "127.0.0.4")}
	runUntil(t, l, "the second address to be tried", func() bool {
		return cli.closeCount > 0 || c.RemoteAddr() != nil && c.RemoteAddr().String() == "127.0.0.3:"+p
	})
	if cli.closeCount != 0 {
		t.Fatalf("the dial failed: %v", cli.closeErr)
	}
	vc.Advance(4 * time.Second)
	l.RunOnce(false)
	if cli.closeCount != 0 {
		t.Fatalf("the dial failed: %v", cli.closeErr)
	}
	if got := c.RemoteAddr().String(); got != "127.0.0.3:"+p {
		t.Fatalf("4 s into the second address's 4.5 s share, trying %s, want 127.0.0.3:%s", got, p)
	}
	c.Close()
	runUntil(t, l, "the close", func() bool { return cli.closeCount == 1 })
}
