package sock_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// refusedPort returns a loopback port nothing listens on (one a listener
// just gave back).
func refusedPort(t *testing.T) int {
	t.Helper()
	pl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pl.Addr().(*net.TCPAddr).Port
	pl.Close()
	return port
}

// checkDialError checks that err is a *net.OpError for a dial on network
// to addr, with want (a syscall.Errno or a sentinel) in its chain, and that
// it reads as package net's would.
func checkDialError(t *testing.T, err error, network, addr string, want error, text string) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || oe.Net != network || oe.Addr == nil || oe.Addr.String() != addr {
		t.Fatalf("OnClose(%v); want a *net.OpError for dial %s %s", err, network, addr)
	}
	if !errors.Is(err, want) {
		t.Errorf("OnClose(%v); want %v in its chain", err, want)
	}
	if err.Error() != text {
		t.Errorf("OnClose's error reads %q; want %q", err.Error(), text)
	}
}

// A refused dial names the network and address, as package net's Dial
// does, and keeps the system error in the chain. Before, OnClose got a
// bare "connect: connection refused", which said nothing of where.
func TestAFailedDialNamesItsAddress(t *testing.T) {
	l := newLoop(t)
	requirePoller(t, l)
	addr := "127.0.0.1:" + strconv.Itoa(refusedPort(t))
	cli := &opens{}
	if _, err := sock.Dial(l, "tcp4", addr, cli); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the refusal", func() bool { return cli.closed })
	checkDialError(t, cli.closeErr, "tcp4", addr, syscall.ECONNREFUSED, "dial tcp4 "+addr+": connect: connection refused")
	var se *os.SyscallError
	if !errors.As(cli.closeErr, &se) || se.Syscall != "connect" {
		t.Errorf("OnClose(%v); want the *os.SyscallError still in the chain", cli.closeErr)
	}

	path := filepath.Join(t.TempDir(), "nobody")
	ucli := &opens{}
	if _, err := sock.Dial(l, "unix", path, ucli); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the unix dial's failure", func() bool { return ucli.closed })
	checkDialError(t, ucli.closeErr, "unix", path, syscall.ENOENT, "dial unix "+path+": connect: no such file or directory")
}

// A name whose addresses all refuse reports the first address's error,
// naming that address, not the last one tried.
func TestADialOfANameNamesTheFirstAddressThatFailed(t *testing.T) {
	l := newLoop(t)
	requirePoller(t, l)
	port := refusedPort(t)
	res := newFakeResolver()
	cli := &opens{}
	if _, err := sock.Dial(l, "tcp", "two.test:"+strconv.Itoa(port), cli, sock.WithResolver(res)); err != nil {
		t.Fatal(err)
	}
	res.next(t).reply <- answer{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}}
	runUntil(t, l, "both refusals", func() bool { return cli.closed })
	first := "127.0.0.1:" + strconv.Itoa(port)
	checkDialError(t, cli.closeErr, "tcp", first, syscall.ECONNREFUSED, "dial tcp "+first+": connect: connection refused")
}

// A connect timeout during the lookup names the name as given to Dial (its
// Network the one given to Dial too), and is still a timeout.
func TestAConnectTimeoutDuringTheLookupNamesTheName(t *testing.T) {
	l, vc := newVirtualLoop(t)
	res := newFakeResolver()
	cli := &opens{}
	if _, err := sock.Dial(l, "tcp6", "slow.test:80", cli, sock.WithResolver(res), sock.WithConnectTimeout(time.Second)); err != nil {
		t.Fatal(err)
	}
	res.next(t)
	vc.Advance(time.Second + l.Variant().Tick) // a timer fires at the first tick at or after its deadline
	runUntil(t, l, "the connect timeout", func() bool { return cli.closed })
	checkDialError(t, cli.closeErr, "tcp6", "slow.test:80", sock.ErrTimeout, "dial tcp6 slow.test:80: sock: connect timeout")
	var oe *net.OpError
	if errors.As(cli.closeErr, &oe) && oe.Addr.Network() != "tcp6" {
		t.Errorf("the looked-up name's Network() is %q; want the network given to Dial", oe.Addr.Network())
	}
	var ne net.Error
	if !errors.As(cli.closeErr, &ne) || !ne.Timeout() {
		t.Errorf("OnClose(%v); want a net.Error whose Timeout is true", cli.closeErr)
	}
}
