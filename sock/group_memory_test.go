package sock_test

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestGroupMemoryPerConnectionDoesNotGrowWithItsLoops opens 1,000 idle
// connections to a Group of one loop and to one of eight, and compares the
// live heap each adds per connection. Fd numbers are the process's, so the
// kernel hands each of the eight loops fds spread over the whole range: a
// loop's registrations indexed by fd number made every loop pay for the
// highest (about 500 B more per connection with eight loops here). The
// loop's own fds are what a connection may cost it.
func TestGroupMemoryPerConnectionDoesNotGrowWithItsLoops(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,400 connections")
	}
	const conns, warm = 1000, 200
	raiseFDLimit(t, 2*(conns+warm)+200)
	perConn := func(loops int) float64 {
		g, _, newHandler := newGroup(t, loops)
		gln, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
		if err != nil {
			t.Fatal(err)
		}
		addr := gln.Addr()
		dial := func(n int) []net.Conn {
			cs := make([]net.Conn, 0, n)
			for range n {
				c, err := net.DialTimeout("tcp", addr.String(), waitLimit)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(waitLimit))
				var b [1]byte
				if _, err := c.Write([]byte{'x'}); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, b[:]); err != nil {
					t.Fatal(err)
				}
				cs = append(cs, c)
			}
			return cs
		}
		closeAll := func(cs []net.Conn) {
			for _, c := range cs {
				c.Close()
			}
		}
		// Every loop serves a connection first (the kernel picks the loop:
		// 200 connections miss one of eight loops with odds of 1 in 10^11),
		// so that what a loop sets up once is in the baseline.
		closeAll(dial(warm))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cs := dial(conns)
		runtime.GC()
		runtime.ReadMemStats(&after)
		closeAll(cs)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / conns
	}
	one := perConn(1)
	eight := perConn(8)
	t.Logf("live heap per idle connection (client and server side): %.0f B with one loop, %.0f B with eight", one, eight)
	if eight > one+120 {
		t.Errorf("a connection to a Group of 8 loops costs %.0f B of live heap, of 1 loop %.0f B: over 120 B more", eight, one)
	}
}
