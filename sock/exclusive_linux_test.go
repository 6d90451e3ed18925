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

// loopOpened says, at OnOpen, which of the group's loops opened the
// connection.
type loopOpened struct {
	sock.BaseHandler
	i      int
	opened chan<- int
}

func (h loopOpened) OnOpen(*sock.Conn) { h.opened <- h.i }

// TestExclusiveAddressRefusesAnotherCopyAndSharesWithinTheGroup: a Group
// that listens with WithExclusiveAddress still spreads its connections
// over all its loops, and a second group, or a Listen with WithReusePort,
// that asks for the address exclusively fails with EADDRINUSE where
// without the option it would share it.
func TestExclusiveAddressRefusesAnotherCopyAndSharesWithinTheGroup(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	served := make(chan int, 64)
	gln, err := g.Listen("tcp4", "127.0.0.1:0", func(l *loop.Loop) sock.Handler {
		return loopOpened{i: slices.Index(g.Loops(), l), opened: served}
	}, sock.WithExclusiveAddress())
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 2)
	for range 40 {
		c, err := net.Dial("tcp4", gln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		counts[recv(t, served, "OnOpen")]++
		c.Close()
	}
	if counts[0] == 0 || counts[1] == 0 {
		t.Errorf("40 connections came to the loops as %v: the group's listeners do not share the address", counts)
	}

	other, _, newHandler := newGroup(t, 2)
	if gl, err := other.Listen("tcp4", gln.Addr().String(), newHandler, sock.WithExclusiveAddress()); !errors.Is(err, syscall.EADDRINUSE) {
		if err == nil {
			gl.Close()
		}
		t.Errorf("a second group's exclusive Listen on the address = %v; want EADDRINUSE", err)
	}
	l := newLoop(t)
	if ln, err := sock.Listen(l, "tcp4", gln.Addr().String(), sock.BaseHandler{}, sock.WithReusePort(), sock.WithExclusiveAddress()); !errors.Is(err, syscall.EADDRINUSE) {
		if err == nil {
			ln.Close()
		}
		t.Errorf("an exclusive Listen with WithReusePort on the address = %v; want EADDRINUSE", err)
	}
	// Without the option the address is shared, as documented.
	gl, err := other.Listen("tcp4", gln.Addr().String(), newHandler)
	if err != nil {
		t.Fatalf("a second group's Listen without the option = %v; want it shared", err)
	}
	gl.Close()
}
