package sock_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// loopChecker serves connections on the loop newHandler was given, and
// says whether each connection's loop is that one.
type loopChecker struct {
	sock.BaseHandler
	l     *loop.Loop
	right chan<- bool
}

func (h loopChecker) OnOpen(c *sock.Conn) { h.right <- c.Loop() == h.l }

// TestListenHandsNewHandlerItsLoop: newHandler is called once for each of
// the group's loops, with that loop, and the handler it makes serves that
// loop's connections.
func TestListenHandsNewHandlerItsLoop(t *testing.T) {
	g, _, _ := newGroup(t, 3)
	right := make(chan bool, 64)
	var mu sync.Mutex
	var given []*loop.Loop
	gln, err := g.Listen("tcp4", "127.0.0.1:0", func(l *loop.Loop) sock.Handler {
		mu.Lock()
		given = append(given, l)
		mu.Unlock()
		return loopChecker{l: l, right: right}
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := slices.Clone(given)
	mu.Unlock()
	if !slices.Equal(got, g.Loops()) {
		t.Fatalf("newHandler was given loops %v, want the group's %v, in order", got, g.Loops())
	}
	for range 12 {
		c, err := net.Dial("tcp4", gln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if !recv(t, right, "OnOpen") {
			t.Fatal("a connection was served by the handler made for another loop")
		}
		c.Close()
	}
}

// TestEachRunsOnEveryLoopAndWaits: fn runs once per loop, with its index
// in Loops(), on that loop's goroutine (a timer it makes there fires), and
// Each returns only when every call has returned.
func TestEachRunsOnEveryLoopAndWaits(t *testing.T) {
	g, err := sock.NewGroup(3)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	loops := g.Loops()
	var calls [3]atomic.Int32
	var finished atomic.Int32
	ticked := make(chan int, 3)
	err = g.Each(func(i int, l *loop.Loop) error {
		if l != loops[i] {
			t.Errorf("call %d was given loop %p, want Loops()[%d] = %p", i, l, i, loops[i])
		}
		calls[i].Add(1)
		l.CallLater(time.Millisecond, func() { ticked <- i })
		time.Sleep(20 * time.Millisecond) // Each must wait for this
		finished.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := finished.Load(); n != 3 {
		t.Fatalf("Each returned with %d of 3 calls finished", n)
	}
	for i := range calls {
		if n := calls[i].Load(); n != 1 {
			t.Errorf("loop %d: fn ran %d times, want 1", i, n)
		}
	}
	var fired []int
	for range 3 {
		fired = append(fired, recv(t, ticked, "a timer made in fn"))
	}
	slices.Sort(fired)
	if !slices.Equal(fired, []int{0, 1, 2}) {
		t.Fatalf("timers fired for loops %v, want 0, 1 and 2", fired)
	}
}

// TestEachJoinsTheLoopsErrors: each loop's error comes back naming its
// loop, and a panic in fn is an error too (and goes to the panic handler),
// without keeping the other loops from their calls.
func TestEachJoinsTheLoopsErrors(t *testing.T) {
	panics := make(chan any, 3)
	g, err := sock.NewGroup(3, loop.WithPanicHandler(func(v any) { panics <- v }))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	errTwo := errors.New("loop two says no")
	var ran atomic.Int32
	err = g.Each(func(i int, l *loop.Loop) error {
		ran.Add(1)
		switch i {
		case 0:
			panic("fn panicked on loop zero")
		case 2:
			return errTwo
		}
		return nil
	})
	if err == nil {
		t.Fatal("Each returned nil; want the errors of loops 0 and 2")
	}
	if !errors.Is(err, errTwo) {
		t.Errorf("Each's error %q does not wrap loop 2's", err)
	}
	for _, want := range []string{"loop 0:", "loop 2: loop two says no", "panic"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Each's error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "loop 1") {
		t.Errorf("Each's error %q names loop 1, which returned nil", err)
	}
	if n := ran.Load(); n != 3 {
		t.Errorf("fn ran on %d loops, want 3", n)
	}
	if v := recv(t, panics, "the panic handler"); v != "fn panicked on loop zero" {
		t.Errorf("the panic handler got %v", v)
	}
}

// TestEachOnAClosedGroup: after Shutdown (or Close) fn runs nowhere and the
// error says the group is shut down, wrapping ErrClosed; a nil fn is an
// error, not a panic on a loop.
func TestEachOnAClosedGroup(t *testing.T) {
	g, err := sock.NewGroup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Each(nil); err == nil || !strings.Contains(err.Error(), "nil fn") {
		t.Fatalf("Each(nil) = %v, want an error naming the nil fn", err)
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ran := false
	err = g.Each(func(int, *loop.Loop) error { ran = true; return nil })
	if ran {
		t.Error("fn ran on a group that was shut down")
	}
	if !errors.Is(err, sock.ErrClosed) || err.Error() != "sock: Group.Each: the group is shut down" {
		t.Fatalf("Each after Shutdown = %v, want %q wrapping ErrClosed", err, "sock: Group.Each: the group is shut down")
	}
}

// closingWatcher records, from its loop, what g.Closing says when Shutdown
// tells its connection, before the drain has closed anything.
type closingWatcher struct {
	sock.BaseHandler
	g      *sock.Group
	opened chan<- struct{}
	seen   chan<- bool
}

func (h closingWatcher) OnOpen(*sock.Conn) { h.opened <- struct{}{} }
func (h closingWatcher) OnShutdown(c *sock.Conn) {
	h.seen <- h.g.Closing()
	c.Close()
}

// TestGroupClosingIsTrueFromTheStartOfShutdown: Closing is false while the
// group serves and true, on the group's own loop, as soon as Shutdown has
// begun (a user's trial wanted a long OnData to see it, where the loop's
// own Closed stays false until the drain's callback runs).
func TestGroupClosingIsTrueFromTheStartOfShutdown(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	opened, seen := make(chan struct{}, 1), make(chan bool, 1)
	gln, err := g.Listen("tcp4", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		return closingWatcher{g: g, opened: opened, seen: seen}
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp4", gln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recv(t, opened, "OnOpen")
	if g.Closing() {
		t.Fatal("Closing is true before Shutdown")
	}
	done := make(chan error, 1)
	go func() { done <- g.Shutdown(context.Background()) }()
	if !recv(t, seen, "OnShutdown") {
		t.Fatal("Closing was false on the group's loop while Shutdown told its connection")
	}
	if err := recv(t, done, "Shutdown"); err != nil {
		t.Fatal(err)
	}
	if !g.Closing() {
		t.Fatal("Closing is false after Shutdown returned")
	}
}
