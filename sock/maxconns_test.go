package sock_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// TestMaxConnsStopsAcceptingUntilOneCloses: with WithMaxConns(3), five
// clients connect, three are accepted and the other two wait in the
// kernel's queue (the loop runs on and takes none of them), and each
// accepted connection that closes lets one more in.
func TestMaxConnsStopsAcceptingUntilOneCloses(t *testing.T) {
	l := newLoop(t)
	h := &openCounter{}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", h, sock.WithMaxConns(3))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 5 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	runUntil(t, l, "three accepted", func() bool { return h.opened == 3 })
	waited := false
	l.CallLater(50*time.Millisecond, func() { waited = true })
	runUntil(t, l, "50ms more", func() bool { return waited })
	if h.opened != 3 || ln.Conns() != 3 {
		t.Fatalf("%d accepted, %d open with the limit at 3", h.opened, ln.Conns())
	}
	h.conns[0].Close()
	runUntil(t, l, "a fourth accepted", func() bool { return h.opened == 4 })
	if ln.Conns() != 3 {
		t.Errorf("%d open after one closed and one more came; want 3", ln.Conns())
	}
	h.conns[1].Abort()
	h.conns[2].Close()
	runUntil(t, l, "the fifth accepted", func() bool { return h.opened == 5 })
	if ln.Conns() != 2 {
		t.Errorf("%d open; want 2", ln.Conns())
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	runUntil(t, l, "a sixth accepted below the limit", func() bool { return h.opened == 6 })
}

// openCounter keeps the connections it was given, in order.
type openCounter struct {
	sock.BaseHandler
	opened int
	conns  []*sock.Conn
}

func (h *openCounter) OnOpen(c *sock.Conn) { h.opened++; h.conns = append(h.conns, c) }

// TestMaxConnsRefusesANegativeLimit: a negative limit is refused before a
// socket is opened, naming the option; 0 is no limit.
func TestMaxConnsRefusesANegativeLimit(t *testing.T) {
	l := newLoop(t)
	if _, err := sock.Listen(l, "tcp", "127.0.0.1:0", sock.BaseHandler{}, sock.WithMaxConns(-1)); err == nil || !strings.Contains(err.Error(), "WithMaxConns(-1)") {
		t.Errorf("Listen with WithMaxConns(-1): %v", err)
	}
	h := &openCounter{}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", h, sock.WithMaxConns(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 4 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	runUntil(t, l, "all four accepted", func() bool { return h.opened == 4 })
}

// TestGroupMaxConnsIsPerLoop: a Group of two loops with WithMaxConns(1)
// holds one connection on each loop; GroupListener.Conns reports them.
func TestGroupMaxConnsIsPerLoop(t *testing.T) {
	requirePoller(t, newLoop(t)) // the variant is the binary's: a loop of our own answers for the group's
	g, err := sock.NewGroup(2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	gln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return sock.BaseHandler{} }, sock.WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	deadline := time.Now().Add(waitLimit)
	for {
		// The kernel spreads connections by a hash of their addresses:
		// dial until each loop has one. Never more than one each.
		c, err := net.Dial("tcp", gln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		// The loops accept on their own goroutines: give this one a moment
		// to be counted (it waits in the kernel's queue if its loop is full).
		ns := gln.Conns()
		for settle := time.Now().Add(100 * time.Millisecond); ns[0]+ns[1] < min(len(clients), 2) && time.Now().Before(settle); ns = gln.Conns() {
			time.Sleep(time.Millisecond)
		}
		if ns[0] > 1 || ns[1] > 1 {
			t.Fatalf("open per loop %v with a limit of 1", ns)
		}
		if ns[0] == 1 && ns[1] == 1 {
			break
		}
		if time.Now().After(deadline) || len(clients) > 64 {
			t.Fatalf("open per loop %v after %d clients", ns, len(clients))
		}
	}
}

// connsReporter writes, at each OnOpen, the open counts that its group
// listener reports, from the loop goroutine.
type connsReporter struct {
	sock.BaseHandler
	gln *atomic.Pointer[sock.GroupListener]
}

func (h connsReporter) OnOpen(c *sock.Conn) { fmt.Fprintf(c, "%v\n", h.gln.Load().Conns()) }

// TestGroupListenerConnsFromALoop: a handler asks for the counts on its
// own loop (a STATS command) and gets them at once; a trial's did that when
// they were asked of each loop in turn, and its loop waited for itself for
// ever.
func TestGroupListenerConnsFromALoop(t *testing.T) {
	requirePoller(t, newLoop(t))
	g, err := sock.NewGroup(1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var gln atomic.Pointer[sock.GroupListener]
	ln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return connsReporter{gln: &gln} })
	if err != nil {
		t.Fatal(err)
	}
	gln.Store(ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLimit))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "[1]\n" {
		t.Fatalf("read %q (%v), want [1]", line, err)
	}
}
