package sock_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// A mutation round over Group.ListenPacket, GroupPacketConn, loopErr, the
// options' kinds and sendAfterGathered: each test here kills mutants the
// package's tests let live.

// mut10Drop drops every datagram.
type mut10Drop struct{}

func (mut10Drop) OnPacket(*sock.PacketConn, []byte, netip.AddrPort) {}

func mut10Handler(*loop.Loop) sock.PacketHandler { return mut10Drop{} }

// When the group's first loop cannot open its socket, the error is that
// loop's own, as loopErr's doc says: it names neither a loop nor "sock: "
// twice. Kills the mutant of loopErr that drops i == 0 (it wrapped loop
// 0's error as "sock: Group.ListenPacket ...: loop 0: sock: listen ...").
func TestMut10GroupFirstLoopErrorIsItsOwn(t *testing.T) {
	g := newPacketGroup(t, 2)
	taken, err := net.ListenPacket("udp4", "127.0.0.1:0") // no SO_REUSEPORT: the port is held
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, err = g.ListenPacket("udp4", taken.LocalAddr().String(), mut10Handler)
	if err == nil {
		t.Fatal("Group.ListenPacket on a port another socket holds succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "loop 0") || strings.Count(msg, "sock: ") != 1 {
		t.Errorf("Group.ListenPacket failing on its first loop: %q; want the loop's own error, naming no loop and saying sock once", msg)
	}
}

// A group closed while Group.ListenPacket goes from loop to loop fails it
// with the closed group's error as it is, as loopErr's doc says, not one
// that names the loop that met it. Kills the mutant of loopErr that drops
// the closedError test (it said "...: loop 1: sock: Group.ListenPacket
// ...: the group is closed").
func TestMut10GroupClosedDuringListenPacketKeepsItsError(t *testing.T) {
	g := newPacketGroup(t, 2)
	closed := make(chan error, 1)
	_, err := g.ListenPacket("udp4", "127.0.0.1:0", func(l *loop.Loop) sock.PacketHandler {
		if g.Index(l) == 0 {
			go func() { closed <- g.Close() }()
			deadline := time.Now().Add(waitLimit)
			for !g.Closing() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
		return mut10Drop{}
	})
	if !g.Closing() {
		t.Fatal("the group's Close did not begin")
	}
	if err == nil || !errors.Is(err, sock.ErrClosed) {
		t.Fatalf("Group.ListenPacket on a group closed after its first loop: %v; want an error wrapping ErrClosed", err)
	}
	if msg := err.Error(); strings.Contains(msg, "loop 1") || strings.Count(msg, "Group.ListenPacket") != 1 {
		t.Errorf("Group.ListenPacket on a group closed after its first loop: %q; want the closed group's error as it is", msg)
	}
	select {
	case <-closed:
	case <-time.After(waitLimit):
		t.Fatal("the group's Close did not return")
	}
}

// onLoop runs fn on l's goroutine and returns its result.
func onLoop(t *testing.T, l *loop.Loop, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	if err := l.Post(func() { done <- fn() }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		return err
	case <-time.After(waitLimit):
		t.Fatal("a callback posted to a group's loop did not run")
		return nil
	}
}

// A second GroupPacketConn.Close waits for the first, as documented: here
// the first is held up on loop 1, and the second returns only once it is
// done. Kills the mutant that drops the wait on done (the second returned
// at once, with the sockets still open).
func TestMut10GroupPacketConnSecondCloseWaitsForTheFirst(t *testing.T) {
	g := newPacketGroup(t, 2)
	gpc, err := g.ListenPacket("udp4", "127.0.0.1:0", mut10Handler)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	if err := g.Loops()[1].Post(func() { <-release }); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- gpc.Close() }()
	// The first Close has begun once it has closed loop 0's socket.
	pc0 := gpc.PacketConns()[0]
	deadline := time.Now().Add(waitLimit)
	for onLoop(t, g.Loops()[0], func() error { return pc0.Control(func(uintptr) {}) }) == nil {
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("the first Close did not close loop 0's socket")
		}
		time.Sleep(time.Millisecond)
	}
	second := make(chan error, 1)
	go func() { second <- gpc.Close() }()
	select {
	case err := <-second:
		close(release)
		t.Fatalf("the second Close returned (%v) while the first still waited for loop 1", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for _, c := range []struct {
		name string
		ch   chan error
		want error
	}{{"first", first, nil}, {"second", second, sock.ErrClosed}} {
		select {
		case err := <-c.ch:
			if (c.want == nil) != (err == nil) || c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("the %s Close: %v; want %v", c.name, err, c.want)
			}
		case <-time.After(waitLimit):
			t.Fatalf("the %s Close did not return", c.name)
		}
	}
}

// A socket of the group closed by hand on its loop is closed already for
// GroupPacketConn.Close, which returns nil. Kills the mutant that drops
// Close's !errors.Is(err, ErrClosed) (it returned "loop 0: ... closed").
func TestMut10GroupPacketConnCloseAfterASocketWasClosed(t *testing.T) {
	g := newPacketGroup(t, 2)
	gpc, err := g.ListenPacket("udp4", "127.0.0.1:0", mut10Handler)
	if err != nil {
		t.Fatal(err)
	}
	pc0 := gpc.PacketConns()[0]
	if err := onLoop(t, g.Loops()[0], pc0.Close); err != nil {
		t.Fatal(err)
	}
	if err := gpc.Close(); err != nil {
		t.Errorf("GroupPacketConn.Close with loop 0's socket closed already: %v; want nil", err)
	}
}

// A loop whose goroutine ended closed its socket with it: the group's
// Close counts it as closed and returns nil. Kills the mutant that drops
// Close's loop.ErrClosed case (it returned "loop 1: loop: closed").
func TestMut10GroupPacketConnCloseAfterALoopEnded(t *testing.T) {
	g := newPacketGroup(t, 2)
	gpc, err := g.ListenPacket("udp4", "127.0.0.1:0", mut10Handler)
	if err != nil {
		t.Fatal(err)
	}
	killLoop(t, g, 1)
	if err := gpc.Close(); err != nil {
		t.Errorf("GroupPacketConn.Close with loop 1's goroutine ended: %v; want nil", err)
	}
}

// After the group's Close, GroupPacketConn.Close returns one error wrapping
// ErrClosed, the group's, not one per loop. Kills the mutant that goes on
// to the other loops after the closed group's error (errors.Join of one
// for each loop).
func TestMut10GroupPacketConnCloseAfterTheGroupsIsOneError(t *testing.T) {
	g := newPacketGroup(t, 2)
	gpc, err := g.ListenPacket("udp4", "127.0.0.1:0", mut10Handler)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	err = gpc.Close()
	if !errors.Is(err, sock.ErrClosed) || strings.Count(err.Error(), "GroupPacketConn.Close") != 1 || strings.Contains(err.Error(), "loop ") {
		t.Errorf("GroupPacketConn.Close after the group's Close: %v; want the closed group's error, once", err)
	}
}

// PacketConns returns a copy: a caller that changes it does not change
// what Close closes. Kills the mutant that returns the group's own slice
// (Close then closed nil on loop 0: a panic on the loop).
func TestMut10PacketConnsIsACopy(t *testing.T) {
	g := newPacketGroup(t, 2)
	gpc, err := g.ListenPacket("udp4", "127.0.0.1:0", mut10Handler)
	if err != nil {
		t.Fatal(err)
	}
	pcs := gpc.PacketConns()
	pcs[0], pcs[1] = nil, nil
	if again := gpc.PacketConns(); again[0] == nil || again[1] == nil {
		t.Fatal("PacketConns changed by a change to the slice it returned before")
	}
	if err := gpc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// Of an option given a value it refuses and, after it, one that does not
// apply to the call, the call's error names the first, as Option's doc
// says. Kills the mutant of only that drops c.err == nil (the later
// option's "applies to" replaced the refusal).
func TestMut10TheFirstRefusedOptionIsReported(t *testing.T) {
	l := newLoop(t)
	_, err := sock.ListenPacket(l, "udp4", "127.0.0.1:0", mut10Drop{}, sock.WithReadBufferSize(-4096), sock.WithIdleTimeout(time.Second))
	if err == nil || !strings.Contains(err.Error(), "WithReadBufferSize") || strings.Contains(err.Error(), "WithIdleTimeout") {
		t.Errorf("ListenPacket with WithReadBufferSize(-4096), then WithIdleTimeout: %v; want the first refused, WithReadBufferSize", err)
	}
	_, err = sock.ListenPacket(l, "udp4", "127.0.0.1:0", mut10Drop{}, sock.WithIdleTimeout(time.Second), sock.WithReadBufferSize(-4096))
	if err == nil || !strings.Contains(err.Error(), "WithIdleTimeout") || strings.Contains(err.Error(), "WithReadBufferSize") {
		t.Errorf("ListenPacket with WithIdleTimeout, then WithReadBufferSize(-4096): %v; want the first refused, WithIdleTimeout", err)
	}
}

// Group.Listen refuses an option that does not apply to it itself, naming
// Group.Listen, before any loop is asked. Kills the mutant whose early
// check took Dial's options too (loop 0's Listen refused it, naming
// "listen tcp" and not the call made).
func TestMut10GroupListenRefusesADialOptionItself(t *testing.T) {
	g := newPacketGroup(t, 2)
	_, err := g.Listen("tcp4", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return sock.BaseHandler{} }, sock.WithConnectTimeout(time.Second))
	if err == nil || !strings.Contains(err.Error(), "Group.Listen") || !strings.Contains(err.Error(), "WithConnectTimeout") {
		t.Errorf("Group.Listen with WithConnectTimeout: %v; want an error naming Group.Listen and the option", err)
	}
}

// A Write too long to gather, sent with what was gathered
// (sendAfterGathered), is not kept alive by the loop's scratch once sent.
// Kills the mutant that drops clear(all) (the loop's vec kept the written
// buffer, which might be large, until a later flush overwrote it).
func TestMut10LongWriteIsNotKeptByTheLoop(t *testing.T) {
	l := newLoop(t)
	var wp weak.Pointer[[20 << 10]byte]
	answered := false
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		c.Write([]byte("gathered\n"))
		big := new([20 << 10]byte)
		wp = weak.Make(big)
		if n, err := c.Write(big[:]); n != len(big) || err != nil {
			t.Errorf("the long write: %d, %v", n, err)
		}
		if c.Buffered() != 0 {
			t.Errorf("Buffered() = %d after a long write with room in the kernel; want 0, all sent", c.Buffered())
		}
		answered = true
	}}
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h))
	peer := dialPeer(t, ln)
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the answer", func() bool { return answered })
	if !collected(wp) {
		t.Error("the buffer given to a long Write under Messages is still reachable after it was sent: the loop keeps it")
	}
	want := append([]byte("gathered\n"), make([]byte, 20<<10)...)
	got := make([]byte, len(want))
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the peer read %d bytes (%v); want the gathered line, then the long write", len(got), err)
	}
}
