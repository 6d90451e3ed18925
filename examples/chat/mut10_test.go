package main

import (
	"bufio"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// A mutation round over the chat's flush, refusals and backlog cut-off:
// each test here kills mutants that the chat's tests let live.

// -grace 0 is taken: it means close at once, as its refusal says. Kills
// the mutant that refuses o.grace <= 0.
func TestMut10GraceZeroIsTaken(t *testing.T) {
	o, err := parseFlags([]string{"-grace", "0"})
	if err != nil || o.grace != 0 {
		t.Errorf("parseFlags(-grace 0) = %v, %v; want grace 0 and no error", o.grace, err)
	}
}

// An empty line is said to nobody: the next line the others hear is the
// sender's next one. Kills the mutant that drops OnMessage's len(msg) == 0
// check (the others heard "#N: ").
func TestMut10AnEmptyLineIsNotSaid(t *testing.T) {
	_, addr := startChat(t, defaults)
	a, b := join(t, addr), join(t, addr)
	if got := a.next(t); got != b.id+" joined" {
		t.Fatalf("%s heard %q; want %q", a.id, got, b.id+" joined")
	}
	if _, err := a.conn.Write([]byte("\n\r\nhello\n")); err != nil {
		t.Fatal(err)
	}
	got := b.next(t)
	if got == a.id+" joined" { // a join just before b's own may reach b (see say)
		got = b.next(t)
	}
	if want := a.id + ": hello"; got != want {
		t.Errorf("%s heard %q after an empty line and hello from %s; want %q", b.id, got, a.id, want)
	}
}

// twoRooms makes the rooms of a group of two loops as listen does, and
// returns the group and the rooms, without listening.
func twoRooms(t *testing.T, cfg config) (*sock.Group, []*room) {
	t.Helper()
	g, err := sock.NewGroup(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	rooms := make([]*room, 2)
	ids := new(atomic.Int64)
	for i, l := range g.Loops() {
		rooms[i] = &room{cfg: cfg, l: l, conns: make(map[*sock.Conn]struct{}), rooms: rooms, ids: ids, outbox: make([][][]byte, 2)}
	}
	return g, rooms
}

// onLoop runs fn on l's goroutine and waits for it.
func onLoop(t *testing.T, l *loop.Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Post(func() { defer close(done); fn() }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a callback posted to the loop did not run within 10 s")
	}
}

// The lines said on a loop in one iteration wait in its outbox for one
// flush, queued once, in the next iteration, which hands them to the other
// loop in one Post (white-box: the batching has no other trace). Kills the
// mutant that flushes at once (a Post a line) and the one that never sets
// flushing (a flush queued a line).
func TestMut10LinesSaidInAnIterationWaitForOneFlush(t *testing.T) {
	g, rooms := twoRooms(t, defaults)
	r := rooms[0]
	onLoop(t, g.Loops()[0], func() {
		r.say(nil, []byte("one\n"))
		r.say(nil, []byte("two\n"))
		if !r.flushing || len(r.outbox[1]) != 2 || len(r.outbox[0]) != 0 {
			t.Errorf("after two lines said in one callback: flushing %v, outbox %d for the other loop and %d for this one; want true, 2 and 0 (one flush to come)", r.flushing, len(r.outbox[1]), len(r.outbox[0]))
		}
	})
	onLoop(t, g.Loops()[0], func() { // after the flush: it was queued first
		if r.flushing || len(r.outbox[1]) != 0 {
			t.Errorf("after the flush: flushing %v, outbox %d; want false and 0", r.flushing, len(r.outbox[1]))
		}
	})
}

// A client is cut off once more than -backlog bytes wait for it, not when
// exactly -backlog do. Kills the mutant Buffered() >= backlog.
func TestMut10BacklogIsCutOffPastTheBoundOnly(t *testing.T) {
	g, rooms := twoRooms(t, defaults)
	r := rooms[0]
	var addr net.Addr
	onLoop(t, g.Loops()[0], func() {
		ln, err := sock.Listen(g.Loops()[0], "tcp", "127.0.0.1:0", sock.Messages(bufio.ScanLines, defaults.maxLine, r))
		if err != nil {
			t.Error(err)
			return
		}
		addr = ln.Addr()
	})
	if addr == nil {
		t.FailNow()
	}
	conn, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	welcome, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(welcome, "welcome") {
		t.Fatalf("first line %q, %v; want the welcome", welcome, err)
	}
	// The client reads no more: fill the kernel's buffers, then the queue.
	onLoop(t, g.Loops()[0], func() {
		if len(r.conns) != 1 {
			t.Errorf("%d connections in the room; want 1", len(r.conns))
			return
		}
		var c *sock.Conn
		for c = range r.conns {
		}
		chunk := make([]byte, 1<<20)
		for i := 0; c.Buffered() == 0 && i < 256; i++ {
			if _, err := c.Write(chunk); err != nil {
				t.Errorf("filling: %v", err)
				return
			}
		}
		if c.Buffered() == 0 {
			t.Error("256 MiB did not fill the kernel's buffers")
			return
		}
		line := []byte("#9: x\n")
		r.cfg.backlog = c.Buffered() + len(line)
		r.deliver(nil, line)
		if c.Buffered() != r.cfg.backlog {
			t.Errorf("Buffered() = %d after the line; want %d (the line queued)", c.Buffered(), r.cfg.backlog)
		}
		if _, err := c.Write(nil); err != nil {
			t.Errorf("the client was cut off with exactly -backlog (%d) bytes waiting for it: %v", r.cfg.backlog, err)
		}
		r.deliver(nil, line)
		if _, err := c.Write(nil); err == nil {
			t.Errorf("the client was not cut off with %d bytes waiting for it, past -backlog (%d)", c.Buffered(), r.cfg.backlog)
		}
	})
}
