package main

import (
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveTCP runs handle on every connection to a loopback listener until
// the test ends.
func serveTCP(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); handle(c) })
		}
	})
	return ln.Addr().String()
}

// The closed loop must fail against a server that does not echo what each
// connection sent, once each: the check compared every echo with one
// message that every connection sent every time, so a server that echoed
// twice (p50 1.3 µs) or answered every request with the first message it
// ever got passed.
func TestTheClosedLoopCatchesAWrongEcho(t *testing.T) {
	var firstMu sync.Mutex
	var first []byte
	servers := map[string]func(net.Conn){
		"echo": func(c net.Conn) { io.Copy(c, c) },
		"twice": func(c net.Conn) {
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				c.Write(buf[:n])
				c.Write(buf[:n])
			}
		},
		"replays the first message": func(c net.Conn) {
			buf := make([]byte, 64)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				firstMu.Lock()
				if first == nil {
					first = append([]byte(nil), buf...)
				}
				reply := first
				firstMu.Unlock()
				c.Write(reply)
			}
		},
	}
	for name, handle := range servers {
		addr := serveTCP(t, handle)
		_, err := closedLoop(addr, os.Getpid(), 4, 64, 20*time.Millisecond, 50*time.Millisecond)
		switch {
		case name == "echo" && err != nil:
			t.Errorf("against a correct echo: %v", err)
		case name != "echo" && (err == nil || !strings.Contains(err.Error(), "connection")):
			t.Errorf("against a server that %s: %v, want an error naming the connection", name, err)
		}
	}
}

// The idle point's one-byte echo differs from one connection to the next.
func TestIdleConnectionsCatchACrossedEcho(t *testing.T) {
	addr := serveTCP(t, func(c net.Conn) {
		var b [1]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				return
			}
			c.Write([]byte{'x'})
		}
	})
	if _, err := idleConns(addr, os.Getpid(), 8); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("against a server that always answers 'x': %v, want the echo to differ", err)
	}
}

// In n rounds of a point every server takes every place once, and with an
// even n no server follows the same one twice.
func TestServerOrderIsAWilliamsSquare(t *testing.T) {
	for n := 1; n <= 6; n++ {
		for _, point := range []uint64{64, 6400, 64000, 4096 * 1000} {
			places := make([]map[int]bool, n) // places[server]: the places it took
			for i := range places {
				places[i] = map[int]bool{}
			}
			follows := map[[2]int]int{} // {before, after}: how many rounds
			for round := range n {
				order := serverOrder(n, point, round)
				for place, s := range order {
					if places[s][place] {
						t.Fatalf("n=%d point %d: server %d ran in place %d twice in %d rounds", n, point, s, place, n)
					}
					places[s][place] = true
					if place > 0 {
						follows[[2]int{order[place-1], s}]++
					}
				}
			}
			for pair, k := range follows {
				if n%2 == 0 && k > 1 {
					t.Errorf("n=%d point %d: server %d followed server %d in %d of %d rounds", n, point, pair[1], pair[0], k, n)
				}
			}
		}
	}
}

// Every connection's message differs from every other's: the body alone,
// a pattern from the connection's index, repeats every 256 connections, and
// a server that crossed the replies of connections 256 apart passed.
func TestMessagesDifferBetweenConnections(t *testing.T) {
	seen := map[string]int{}
	for conn := range 2000 {
		m := string(newMessage(conn, 64))
		if other, ok := seen[m]; ok {
			t.Fatalf("connections %d and %d send the same message", other, conn)
		}
		seen[m] = conn
	}
}
