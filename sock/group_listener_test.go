package sock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// loopTagged echoes, and says on which of the group's loops each
// connection opened.
type loopTagged struct {
	sock.BaseHandler
	loop   int
	opened chan<- int
}

func (h loopTagged) OnOpen(*sock.Conn)           { h.opened <- h.loop }
func (loopTagged) OnData(c *sock.Conn, p []byte) { c.Write(p) }

// perLoop returns a newHandler for g.Listen that hands make the index of
// the loop it is called for: Listen calls it once per loop, in the order of
// g.Loops().
func perLoop(make func(i int) sock.Handler) func(*loop.Loop) sock.Handler {
	var mu sync.Mutex
	next := 0
	return func(*loop.Loop) sock.Handler {
		mu.Lock()
		defer mu.Unlock()
		next++
		return make(next - 1)
	}
}

// echoOnce sends msg on c and wants it back.
func echoOnce(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo of %q = %q, %v; want it back", msg, got, err)
	}
}

// TestGroupListenerCloseRefusesNewConnectionsOnEveryLoop: after Close, no
// loop accepts on the address (each loop had accepted one before), while
// the connections open on every loop keep echoing and the group's other
// listener keeps accepting.
func TestGroupListenerCloseRefusesNewConnectionsOnEveryLoop(t *testing.T) {
	const loops = 2
	g, _, _ := newGroup(t, loops)
	opened := make(chan int, 128)
	tagged := perLoop(func(i int) sock.Handler { return loopTagged{loop: i, opened: opened} })
	gln, err := g.Listen("tcp4", "127.0.0.1:0", tagged)
	if err != nil {
		t.Fatal(err)
	}
	other, err := g.Listen("tcp4", "127.0.0.1:0", tagged)
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr().String()

	// SO_REUSEPORT spreads by a hash of the peer's port: 64 dials reach
	// both loops but with odds of 2^-63.
	var conns []net.Conn
	seen := map[int]bool{}
	for range 64 {
		if len(seen) == loops {
			break
		}
		c, err := net.DialTimeout("tcp4", addr, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitLimit))
		conns = append(conns, c)
		seen[recv(t, opened, "OnOpen")] = true
	}
	if len(seen) != loops {
		t.Fatalf("64 connections opened on loops %v; want all %d", seen, loops)
	}

	if err := gln.Close(); err != nil {
		t.Fatalf("GroupListener.Close = %v; want nil", err)
	}
	for i := range 50 {
		c, err := net.DialTimeout("tcp4", addr, waitLimit)
		if err == nil {
			c.Close()
			t.Fatalf("dial %d to %s after Close connected; want it refused", i, addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %d to %s after Close = %v; want ECONNREFUSED", i, addr, err)
		}
	}
	for i, c := range conns {
		echoOnce(t, c, fmt.Sprintf("still served %d", i))
	}
	c, err := net.DialTimeout("tcp4", other.Addr().String(), waitLimit)
	if err != nil {
		t.Fatalf("dial to the other listener after the first's Close: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLimit))
	recv(t, opened, "OnOpen on the other listener")
	echoOnce(t, c, "other")
	shutdownOK(t, g)
}

// inFlightAfterClose starts a two-loop group of deferredAnswers, asks it
// a question that stays unanswered until answer is called (by the test, or
// else by Cleanup), and closes the listener.
func inFlightAfterClose(t *testing.T) (g *sock.Group, c net.Conn, answer func(), told chan string, closeErrs chan error) {
	t.Helper()
	g, _, _ = newGroup(t, 2)
	release := make(chan struct{})
	answer = sync.OnceFunc(func() { close(release) })
	t.Cleanup(answer)
	received, told := make(chan string, 10), make(chan string, 10)
	closeErrs = make(chan error, 10)
	gln, err := g.Listen("tcp", "127.0.0.1:0", perLoop(func(i int) sock.Handler {
		return newDeferredAnswers(g.Loops()[i], release, received, told, closeErrs)
	}))
	if err != nil {
		t.Fatal(err)
	}
	c = dialAndAsk(t, gln.Addr().String(), "q", received)
	if err := gln.Close(); err != nil {
		t.Fatalf("GroupListener.Close = %v; want nil", err)
	}
	return g, c, answer, told, closeErrs
}

// TestShutdownAfterGroupListenerCloseWaitsForARequestInFlight: the
// connection of a closed listener is still told of the Shutdown, Shutdown
// waits for its answer, and returns nil once it is written.
func TestShutdownAfterGroupListenerCloseWaitsForARequestInFlight(t *testing.T) {
	g, c, answer, told, closeErrs := inFlightAfterClose(t)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		shut <- g.Shutdown(ctx)
	}()
	if got := recv(t, told, "OnShutdown"); got != "q" {
		t.Fatalf("OnShutdown saw %q in flight; want q", got)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with an answer in flight", err)
	default:
	}
	answer()
	if got := readToEOF(t, c); got != "answer to q\n" {
		t.Errorf("client read %q; want the answer, then the end", got)
	}
	if err := recv(t, closeErrs, "OnClose"); err != nil {
		t.Errorf("OnClose = %v; want nil", err)
	}
	if err := recv(t, shut, "Shutdown's return"); err != nil {
		t.Errorf("Shutdown = %v; want nil", err)
	}
}

// TestCloseAfterGroupListenerCloseAbortsARequestInFlight: the group's
// Close still reaches a closed listener's connection: it aborts it at once,
// without waiting for its answer.
func TestCloseAfterGroupListenerCloseAbortsARequestInFlight(t *testing.T) {
	g, c, _, _, closeErrs := inFlightAfterClose(t)
	closed := make(chan error, 1)
	go func() { closed <- g.Close() }()
	if err := recv(t, closed, "Close's return"); err != nil {
		t.Fatalf("Close = %v; want nil", err)
	}
	recv(t, closeErrs, "OnClose")
	b, err := io.ReadAll(c)
	if len(b) > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("client read %q, %v; want the connection ended with no answer", b, err)
	}
}

// TestGroupListenerCloseTwice: the second Close says the listener is
// closed already, and is ErrClosed for errors.Is.
func TestGroupListenerCloseTwice(t *testing.T) {
	g, _, newHandler := newGroup(t, 2)
	gln, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
	if err != nil {
		t.Fatal(err)
	}
	if err := gln.Close(); err != nil {
		t.Fatalf("first Close = %v; want nil", err)
	}
	err = gln.Close()
	want := "sock: GroupListener.Close tcp4 " + gln.Addr().String() + ": the listener is closed already"
	if !errors.Is(err, sock.ErrClosed) || err.Error() != want {
		t.Errorf("second Close = %v; want %q, which is ErrClosed", err, want)
	}
	shutdownOK(t, g)
}

// TestConcurrentGroupListenerClosesWaitForTheFirst: of two Closes made
// while a loop is busy, neither returns before that loop's listener is
// closed: a second Close that said "closed already" at once left a caller
// who took it for "the port is free" wrong (a review found it).
func TestConcurrentGroupListenerClosesWaitForTheFirst(t *testing.T) {
	g, _, newHandler := newGroup(t, 1)
	gln, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
	if err != nil {
		t.Fatal(err)
	}
	block, blocked := make(chan struct{}), make(chan struct{})
	if err := g.Loops()[0].Post(func() { close(blocked); <-block }); err != nil {
		t.Fatal(err)
	}
	recv(t, blocked, "the loop to block")
	closes := make(chan error, 2)
	for range 2 {
		go func() { closes <- gln.Close() }()
	}
	select {
	case err := <-closes:
		close(block)
		t.Fatalf("a Close returned (%v) while the loop, busy, had not closed its listener", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(block)
	errs := []error{recv(t, closes, "a Close"), recv(t, closes, "the other Close")}
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), sock.ErrClosed) {
		t.Fatalf("the two Closes returned %v; want nil and an ErrClosed", errs)
	}
	if c, err := net.DialTimeout("tcp4", gln.Addr().String(), waitLimit); err == nil {
		c.Close()
		t.Fatal("the address still accepts after both Closes returned")
	}
	shutdownOK(t, g)
}

// TestListenAndCloseOverAndOverKeepsNoListener: a program that opens and
// closes listeners for ever does not grow what the group keeps for
// Shutdown.
func TestListenAndCloseOverAndOverKeepsNoListener(t *testing.T) {
	g, _, newHandler := newGroup(t, 2)
	for range 50 {
		gln, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
		if err != nil {
			t.Fatal(err)
		}
		if err := gln.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := sock.GroupListeners(g)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range ns {
		if n != 0 {
			t.Errorf("loop %d keeps %d listeners after 50 Listen and Close; want 0", i, n)
		}
	}
}

// TestAClosedGroupSaysSo: after Shutdown or Close, each method returns an
// error that names it and what closed the group, and is ErrClosed for
// errors.Is; none waits.
func TestAClosedGroupSaysSo(t *testing.T) {
	for _, end := range []struct {
		name string
		end  func(*sock.Group) error
		what string
	}{
		{"Shutdown", func(g *sock.Group) error { return g.Shutdown(context.Background()) }, "the group is shut down"},
		{"Close", (*sock.Group).Close, "the group is closed"},
	} {
		t.Run(end.name, func(t *testing.T) {
			g, _, newHandler := newGroup(t, 2)
			gln, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
			if err != nil {
				t.Fatal(err)
			}
			if err := end.end(g); err != nil {
				t.Fatalf("%s = %v; want nil", end.name, err)
			}
			for _, m := range []struct {
				call func() error
				want string
			}{
				{func() error { _, err := g.Listen("tcp", "127.0.0.1:0", newHandler); return err },
					"sock: Group.Listen tcp 127.0.0.1:0: " + end.what},
				{func() error { return g.Shutdown(context.Background()) }, "sock: Group.Shutdown: " + end.what},
				{g.Close, "sock: Group.Close: " + end.what},
				{gln.Close, "sock: GroupListener.Close tcp4 " + gln.Addr().String() + ": " + end.what},
				{gln.Close, "sock: GroupListener.Close tcp4 " + gln.Addr().String() + ": the listener is closed already"},
			} {
				done := make(chan error, 1)
				go func() { done <- m.call() }()
				err := recv(t, done, m.want)
				if !errors.Is(err, sock.ErrClosed) || err.Error() != m.want {
					t.Errorf("got %v; want %q, which is ErrClosed", err, m.want)
				}
			}
		})
	}
}

// TestGroupListenerCloseRacingShutdownEnds: a Close that meets a Shutdown
// midway neither hangs nor panics, and whatever it says is nil or
// ErrClosed.
func TestGroupListenerCloseRacingShutdownEnds(t *testing.T) {
	for range 10 {
		g, _, newHandler := newGroup(t, 2)
		gln, err := g.Listen("tcp4", "127.0.0.1:0", newHandler)
		if err != nil {
			t.Fatal(err)
		}
		closed := make(chan error, 1)
		go func() { closed <- gln.Close() }()
		shutdownOK(t, g)
		if err := recv(t, closed, "GroupListener.Close's return"); err != nil && !errors.Is(err, sock.ErrClosed) {
			t.Errorf("GroupListener.Close racing Shutdown = %v; want nil or ErrClosed", err)
		}
	}
}

// TestGroupListenerCloseSkipsALoopWhoseRunEnded: a loop whose goroutine
// ended on its own (a callback called runtime.Goexit) closed its listener
// with it; Close closes the others and returns nil, and the address
// refuses connections.
func TestGroupListenerCloseSkipsALoopWhoseRunEnded(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	exiting, opened := make(chan struct{}), make(chan int, 128)
	gln, err := g.Listen("tcp4", "127.0.0.1:0", perLoop(func(i int) sock.Handler {
		if i == 0 {
			return goexitOnOpen{exiting: exiting}
		}
		return loopTagged{loop: i, opened: opened}
	}))
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr().String()
	ended := false
	for i := 0; i < 64 && !ended; i++ {
		c, err := net.DialTimeout("tcp4", addr, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case <-exiting:
			ended = true
		case <-opened:
		case <-time.After(waitLimit):
			t.Fatal("no OnOpen within waitLimit")
		}
	}
	if !ended {
		t.Fatal("64 connections missed loop 0")
	}
	if err := gln.Close(); err != nil {
		t.Fatalf("GroupListener.Close with a loop ended = %v; want nil", err)
	}
	for i := range 20 {
		c, err := net.DialTimeout("tcp4", addr, waitLimit)
		if err == nil {
			c.Close()
			t.Fatalf("dial %d after Close connected; want it refused", i)
		}
	}
	shutdownOK(t, g)
}
