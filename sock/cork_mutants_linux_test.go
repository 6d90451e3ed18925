package sock_test

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/loopgen/loop/sock"
)

// TestCorkMutantNoSendAfterAFailedSpill: a Write too long to gather sends
// what was gathered first; that send fails (EPIPE) and the connection is
// torn down, its descriptor closed. OnData's deferred sendGathered must then send
// nothing: here a socket opened meanwhile has the descriptor's number, and
// would receive the gathered bytes.
//
// Kills: teardown without its dropGathered (the connection stays corked, and
// sendGathered sends the gather buffer on the closed descriptor).
func TestCorkMutantNoSendAfterAFailedSpill(t *testing.T) {
	l := newLoop(t)
	thief := newFDThief(t)
	h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
		fd := sock.ConnFD(c)
		c.Write(bytes.Repeat([]byte("a"), 100)) // gathered
		if _, err := c.Write(make([]byte, 20<<10)); err == nil {
			t.Errorf("the long Write succeeded; want its spill's EPIPE")
			return
		}
		thief.steal(t, fd) // the number the teardown freed
	}}
	ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h))
	peer := dialPeer(t, ln)
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	peer.Close() // the server reads "go\n", and its sends fail with EPIPE
	runUntil(t, l, "the close", func() bool { return h.closed })
	if k := thief.stray(); k > 0 {
		t.Errorf("%d bytes went to descriptor %d after the failed send closed it, into another socket", k, thief.stolen)
	}
}
