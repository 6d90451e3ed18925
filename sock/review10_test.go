package sock_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// killLoop ends the goroutine of the group's loop i (a callback calls
// runtime.Goexit, as t.Fatal in a handler would), and waits until the
// group's goroutine has closed the loop.
func killLoop(t *testing.T, g *sock.Group, i int) {
	t.Helper()
	l := g.Loops()[i]
	if err := l.Post(runtime.Goexit); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for !l.Closed() {
		if time.Now().After(deadline) {
			t.Fatalf("loop %d is still open %v after its goroutine was ended", i, waitLimit)
		}
		time.Sleep(time.Millisecond)
	}
}

// When a loop after the first cannot open its socket, Group.ListenPacket's
// error says which call failed and on which loop, as Each's errors do. It
// returned the loop's bare error: "loop: closed" for a loop whose goroutine
// had ended (read as if the group were closed, though errors.Is(err,
// sock.ErrClosed) is false and the group serves on), and "sock: listen
// udp4 0.0.0.0:38951: nil PacketHandler", naming an address the caller
// never gave, for a newHandler that returned nil on loop 1.
func TestReview10GroupListenPacketLaterLoopErrorNamesTheCallAndLoop(t *testing.T) {
	t.Run("loop goroutine ended", func(t *testing.T) {
		g := newPacketGroup(t, 2)
		killLoop(t, g, 1)
		_, err := g.ListenPacket("udp4", "127.0.0.1:0", func(*loop.Loop) sock.PacketHandler { return dropPackets{} })
		if err == nil {
			t.Fatal("ListenPacket succeeded on a group whose loop 1 is closed")
		}
		if msg := err.Error(); !strings.Contains(msg, "Group.ListenPacket") || !strings.Contains(msg, "loop 1") {
			t.Errorf("ListenPacket with loop 1's goroutine ended: %q; want an error naming Group.ListenPacket and loop 1", msg)
		}
	})
	t.Run("nil handler on loop 1", func(t *testing.T) {
		g := newPacketGroup(t, 2)
		_, err := g.ListenPacket("udp4", ":0", func(l *loop.Loop) sock.PacketHandler {
			if g.Index(l) == 1 {
				return nil
			}
			return dropPackets{}
		})
		if err == nil {
			t.Fatal("ListenPacket succeeded with a nil handler on loop 1")
		}
		if msg := err.Error(); !strings.Contains(msg, "Group.ListenPacket") || !strings.Contains(msg, "loop 1") {
			t.Errorf("ListenPacket with newHandler nil on loop 1: %q; want an error naming Group.ListenPacket and loop 1", msg)
		}
	})
}

// The same for Group.Listen, whose later loops go through the same path.
func TestReview10GroupListenLaterLoopErrorNamesTheCallAndLoop(t *testing.T) {
	g := newPacketGroup(t, 2)
	killLoop(t, g, 1)
	_, err := g.Listen("tcp4", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return &recorder{} })
	if err == nil {
		t.Fatal("Listen succeeded on a group whose loop 1 is closed")
	}
	if msg := err.Error(); !strings.Contains(msg, "Group.Listen") || !strings.Contains(msg, "loop 1") {
		t.Errorf("Listen with loop 1's goroutine ended: %q; want an error naming Group.Listen and loop 1", msg)
	}
}
