package sock_test

import (
	"errors"
	"testing"

	"github.com/loopgen/loop/sock"
)

// abortAfterWrite writes n bytes at OnOpen and aborts at once.
type abortAfterWrite struct {
	sock.BaseHandler
	n               int
	bufferedAtAbort int
	closed          bool
	closeErr        error
}

func (a *abortAfterWrite) OnOpen(c *sock.Conn) {
	c.Write(make([]byte, a.n))
	a.bufferedAtAbort = c.Buffered()
	c.Abort()
}
func (a *abortAfterWrite) OnClose(_ *sock.Conn, err error) { a.closed, a.closeErr = true, err }

// An Abort with nothing queued, but with bytes the kernel took and the
// peer has not acknowledged, says they may be lost: closing does not
// discard them, but the peer's first write after the close is answered
// with a reset that does (a trial's server, paused, read 40 KiB of 1 MiB
// and then a reset, where the client's OnClose had said nil).
func TestAbortCountsWhatThePeerHasNotAcknowledged(t *testing.T) {
	l := newLoop(t)
	pl := smallRcvbufListener(t) // accepts, and never reads
	h := &abortAfterWrite{n: 1 << 20}
	if _, err := sock.Dial(l, "tcp", pl.Addr().String(), h, sock.WithSendBufferSize(4<<20)); err != nil {
		t.Fatal(err)
	}
	peer, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.bufferedAtAbort != 0 {
		t.Skipf("the kernel left %d bytes queued: the premise is that it took them all", h.bufferedAtAbort)
	}
	ue, ok := errors.AsType[*sock.UnsentError](h.closeErr)
	if !ok || !errors.Is(h.closeErr, sock.ErrAborted) || ue.Unsent < 512<<10 {
		t.Errorf("OnClose(%v) after aborting with 1 MiB unacknowledged by a peer that reads nothing; want an *UnsentError wrapping ErrAborted counting most of it", h.closeErr)
	}
}
