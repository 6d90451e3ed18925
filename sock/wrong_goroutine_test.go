package sock_test

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// TestSocketsMadeFromAnotherGoroutineAreRefused: Listen, Dial and
// ListenPacket called from main on a Group's loop, which runs (and waits)
// on a goroutine of its own, fail with an error wrapping
// loop.ErrWrongGoroutine that names the call, open nothing, and leave the
// loop serving what Group.Each sets up on it: a trial's broker made this
// mistake, which used to return nil and leave a listener that never served.
func TestSocketsMadeFromAnotherGoroutineAreRefused(t *testing.T) {
	g, l := waitingGroupLoop(t)
	for name, call := range map[string]func() error{
		"listen tcp": func() error { _, err := sock.Listen(l, "tcp", "127.0.0.1:0", &echoServer{}); return err },
		"listen unix": func() error {
			_, err := sock.Listen(l, "unix", filepath.Join(t.TempDir(), "s"), &echoServer{})
			return err
		},
		"dial tcp": func() error { _, err := sock.Dial(l, "tcp", "127.0.0.1:9", &recorder{}); return err },
		"listen udp": func() error {
			_, err := sock.ListenPacket(l, "udp", "127.0.0.1:0", packetSink{})
			return err
		},
	} {
		err := call()
		if !errors.Is(err, loop.ErrWrongGoroutine) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s from another goroutine: %v; want an error naming it and wrapping loop.ErrWrongGoroutine", name, err)
		}
	}
	// The same calls made where they belong work.
	if err := g.Each(func(_ int, l *loop.Loop) error {
		_, err := sock.Listen(l, "tcp", "127.0.0.1:0", &echoServer{})
		return err
	}); err != nil {
		t.Fatalf("Listen from Group.Each: %v", err)
	}
}

// waitingGroupLoop returns a Group of one loop, closed at the test's end,
// and its loop once it waits for work on its own goroutine: a call made
// from the test then comes from another goroutine. It skips the test on a
// variant without a poller.
func waitingGroupLoop(t *testing.T) (*sock.Group, *loop.Loop) {
	t.Helper()
	checkFDs(t)
	g, err := sock.NewGroup(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	l := g.Loops()[0]
	if l.Variant().Poller == "none" { // not requirePoller: it would add a reader from here
		t.Skipf("this loop variant (%s) has no poller, so it has no sockets", l.Variant().Name)
	}
	for deadline := time.Now().Add(waitLimit); !l.Waiting(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("the group's loop did not wait within %v", waitLimit)
		}
	}
	return g, l
}
