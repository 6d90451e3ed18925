package sock_test

import (
	"net"
	"testing"

	"github.com/loopgen/loop/sock"
)

// Closing is false on an open connection and after a CloseWrite, and true
// from Close or Abort on, inside OnClose, and after a failure (the peer's
// reset), as asyncio's is_closing.
func TestConnClosing(t *testing.T) {
	l := newLoop(t)
	var conns []*sock.Conn
	inClose := map[*sock.Conn]bool{}
	lst, err := sock.Listen(l, "tcp", "127.0.0.1:0", &funcHandler{
		open:  func(c *sock.Conn) { conns = append(conns, c) },
		close: func(c *sock.Conn, _ error) { inClose[c] = c.Closing() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer lst.Close()
	addr := lst.Addr().String()
	var peers []net.Conn
	for range 3 {
		p, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		peers = append(peers, p)
	}
	runUntil(t, l, "the accepts", func() bool { return len(conns) == 3 })
	// The server's side of each peer, by address: c1 is peers[0]'s.
	side := func(p net.Conn) *sock.Conn {
		for _, c := range conns {
			if c.RemoteAddr().String() == p.LocalAddr().String() {
				return c
			}
		}
		t.Fatalf("no accepted connection from %v", p.LocalAddr())
		return nil
	}
	c1, c2, c3 := side(peers[0]), side(peers[1]), side(peers[2])
	for i, c := range conns {
		if c.Closing() {
			t.Fatalf("connection %d: Closing true while open", i)
		}
	}
	c1.CloseWrite()
	if c1.Closing() {
		t.Error("Closing true after CloseWrite alone")
	}
	c2.Close()
	if !c2.Closing() {
		t.Error("Closing false after Close, during its wait for the peer")
	}
	c3.Abort()
	if !c3.Closing() {
		t.Error("Closing false after Abort")
	}
	peers[0].(*net.TCPConn).SetLinger(0)
	peers[0].Close() // a reset: c1 fails
	runUntil(t, l, "the reset and the closes", func() bool { return len(inClose) == 3 })
	for i, c := range []*sock.Conn{c1, c2, c3} {
		if closing, ok := inClose[c]; !ok || !closing {
			t.Errorf("connection %d: OnClose ran %v, Closing there %v; want true", i+1, ok, closing)
		}
		if !c.Closing() {
			t.Errorf("connection %d: Closing false once closed", i+1)
		}
	}
}
