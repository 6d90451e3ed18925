package sock_test

import (
	"testing"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// handsOffOnShutdown is a listener's ShutdownHandler that, told of the
// Shutdown, has another loop dial the upload it still owes (up), and
// closes once that loop says the Dial is made.
type handsOffOnShutdown struct {
	sock.BaseHandler
	other    *loop.Loop
	to       string
	up       *uploader
	dialErr  chan<- error
	accepted chan<- struct{}
}

func (d *handsOffOnShutdown) OnOpen(*sock.Conn) { d.accepted <- struct{}{} }
func (d *handsOffOnShutdown) OnShutdown(c *sock.Conn) {
	d.other.Post(func() {
		_, err := sock.Dial(d.other, "tcp", d.to, d.up, sock.WithSendBufferSize(16<<10), sock.WithHighWater(32<<10))
		d.dialErr <- err
		c.Loop().Post(func() { c.Close() })
	})
}

// TestShutdownWaitsForAShutdownHandlerDialedOnALoopThatHadDrained: a
// connection dialed, while Shutdown drains, on a loop that had nothing
// left to drain when Shutdown began is waited for too. Before, that loop
// had reported itself drained for good: once the other loop's connection
// closed, Shutdown stopped the loops and aborted the upload.
func TestShutdownWaitsForAShutdownHandlerDialedOnALoopThatHadDrained(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	ls := g.Loops()
	payload := make([]byte, 2<<20)
	sinkAddr, sunk, got := slowSink(t, len(payload))
	told, closeErr := make(chan struct{}, 1), make(chan error, 1)
	dialErr, accepted := make(chan error, 1), make(chan struct{}, 1)
	h := &handsOffOnShutdown{other: ls[0], to: sinkAddr, up: &uploader{payload: payload, told: told, closeErr: closeErr}, dialErr: dialErr, accepted: accepted}
	listened := make(chan error, 1)
	var addr string
	ls[1].Post(func() {
		ln, err := sock.Listen(ls[1], "tcp", "127.0.0.1:0", h)
		if err == nil {
			addr = ln.Addr().String()
		}
		listened <- err
	})
	if err := recv(t, listened, "Listen"); err != nil {
		t.Fatal(err)
	}
	client := dialAndAsk(t, addr, "", nil)
	recv(t, accepted, "OnOpen")
	shutdownOK(t, g)
	if err := recv(t, dialErr, "the Dial on the other loop"); err != nil {
		t.Fatal(err)
	}
	checkUploadArrived(t, told, closeErr, sunk, got, len(payload))
	readToEOF(t, client)
}

// TestShutdownWaitsForADialedShutdownHandlerBesideAnIdleListener: a loop
// with a listener that has no connection, and a dialed ShutdownHandler,
// waits for the dialed one. Before, closing the idle listener reported the
// loop drained before the dialed connections were looked at, and the
// upload was aborted.
func TestShutdownWaitsForADialedShutdownHandlerBesideAnIdleListener(t *testing.T) {
	g, _, newHandler := newGroup(t, 1)
	if _, err := g.Listen("tcp", "127.0.0.1:0", newHandler); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 2<<20)
	addr, sunk, got := slowSink(t, len(payload))
	told, closeErr := make(chan struct{}, 1), make(chan error, 1)
	dialOn(t, g.Loops()[0], addr, &uploader{payload: payload, told: told, closeErr: closeErr}, sock.WithSendBufferSize(16<<10), sock.WithHighWater(32<<10))
	shutdownOK(t, g)
	checkUploadArrived(t, told, closeErr, sunk, got, len(payload))
}
