package sock_test

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// panicOnBang echoes each line it is sent, and panics on a line "!".
type panicOnBang struct{ sock.BaseHandler }

func (panicOnBang) OnData(c *sock.Conn, p []byte) {
	if bytes.Equal(p, []byte("!\n")) {
		panic("bang")
	}
	c.Write(p)
}

// TestAPanicInOnDataLeavesTheConnectionServed: the loop's panic handler
// gets the panic, and the connection stays open and is served on, as
// Handler's doc says.
func TestAPanicInOnDataLeavesTheConnectionServed(t *testing.T) {
	var panics []any
	l := newLoop(t, loop.WithPanicHandler(func(v any) { panics = append(panics, v) }))
	_, peer := listenAndDial(t, l, panicOnBang{})
	in := bufio.NewReader(peer)
	if _, err := peer.Write([]byte("!\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the panic", func() bool { return len(panics) > 0 })
	if panics[0] != "bang" {
		t.Fatalf("the panic handler got %v", panics[0])
	}
	if _, err := peer.Write([]byte("after\n")); err != nil {
		t.Fatal(err)
	}
	var line string
	read := false
	go func() {
		s, _ := in.ReadString('\n')
		l.Post(func() { line, read = s, true }) // wakes the loop, which waits in RunOnce
	}()
	runUntil(t, l, "the echo after the panic", func() bool { return read })
	if line != "after\n" {
		t.Fatalf("after the panic the peer read %q, want the echo", line)
	}
}
