package sock_test

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// DialPacket applies WithSendBufferSize and WithRecvBufferSize, as its doc
// says (Linux doubles what it is given).
// Kills: DialPacket not calling setBufferSizes.
func TestMut11DialPacketSetsItsBufferSizes(t *testing.T) {
	l := newLoop(t)
	pc, err := sock.DialPacket(l, "udp4", "127.0.0.1:9", &m11NoErrors{}, sock.WithSendBufferSize(8<<10), sock.WithRecvBufferSize(12<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var snd, rcv int
	var serr, rerr error
	if err := pc.Control(func(fd uintptr) {
		snd, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		rcv, rerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil || serr != nil || rerr != nil {
		t.Fatal(err, serr, rerr)
	}
	if snd != 16<<10 || rcv != 24<<10 {
		t.Errorf("SO_SNDBUF %d, SO_RCVBUF %d; want %d and %d", snd, rcv, 16<<10, 24<<10)
	}
}

// m11Upper answers each read with one Write of it in capitals, and
// records the close.
type m11Upper struct {
	sock.BaseHandler
	closed   bool
	closeErr error
}

func (h *m11Upper) OnData(c *sock.Conn, p []byte)   { c.Write(bytes.ToUpper(p)) }
func (h *m11Upper) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }

// Under WithWriteGathering, an answer gathered in OnData whose send fails
// when OnData returns (the peer has closed: EPIPE) fails the connection,
// and counts as unsent (WithWriteGathering: "as unsent if the connection
// fails"), instead of being dropped with the connection left to end
// cleanly at the peer's end of stream.
// Kills: spill returning its send's error without failing the connection.
func TestMut11GatheredAnswerFailingAtUncorkCountsAsUnsent(t *testing.T) {
	l := newLoop(t)
	h := &m11Upper{}
	ln := listenUnix(t, l, h, sock.WithWriteGathering())
	peer := dialPeer(t, ln)
	if _, err := peer.Write(bytes.Repeat([]byte("a"), 100)); err != nil {
		t.Fatal(err)
	}
	peer.Close() // the server reads the 100 bytes; its send fails with EPIPE
	runUntil(t, l, "the close", func() bool { return h.closed })
	var ue *sock.UnsentError
	if !errors.As(h.closeErr, &ue) || ue.Unsent != 100 || !errors.Is(h.closeErr, syscall.EPIPE) {
		t.Errorf("OnClose(%v); want an *UnsentError counting the 100 gathered bytes, wrapping EPIPE", h.closeErr)
	}
}
