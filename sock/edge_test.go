package sock_test

import (
	"net"
	"testing"

	"github.com/loopgen/loop/sock"
)

// closeWriteOnOpen shuts down its sending side as soon as it is open.
type closeWriteOnOpen struct{ recorder }

func (h *closeWriteOnOpen) OnOpen(c *sock.Conn) {
	h.opened = true
	if err := c.CloseWrite(); err != nil {
		panic(err)
	}
}

// TestCloseWriteInOnOpenShutsDownOnce: a dialed connection that calls
// CloseWrite from OnOpen, with nothing queued, to a peer that has already
// finished, ends cleanly. (The send side was shut down twice, and the
// second shutdown failed with ENOTCONN once both sides were done.)
func TestCloseWriteInOnOpenShutsDownOnce(t *testing.T) {
	l := newLoop(t)
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	h := &closeWriteOnOpen{}
	if _, err := sock.Dial(l, "tcp", pl.Addr().String(), h); err != nil {
		t.Fatal(err)
	}
	// The handshake completes in the kernel; the peer accepts and closes
	// before the loop has run OnOpen.
	s, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if !h.opened || h.closeErr != nil {
		t.Fatalf("opened %v, OnClose(%v); want OnOpen, then OnClose(nil)", h.opened, h.closeErr)
	}
}
