package sock_test

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// l4Bye is a TimeoutHandler that does what TimeoutHandler's doc suggests:
// at a timeout it writes a last line and Closes.
type l4Bye struct {
	sock.BaseHandler
	conn     *sock.Conn
	timeouts []error
	closed   bool
	closeErr error
}

func (h *l4Bye) OnOpen(c *sock.Conn) { h.conn = c }

func (h *l4Bye) OnTimeout(c *sock.Conn, err error) {
	h.timeouts = append(h.timeouts, err)
	c.Write([]byte("BYE\n"))
	c.Close()
}

func (h *l4Bye) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }

// A peer that stops reading: the write (or idle) timeout fires, OnTimeout
// writes its goodbye and Closes, as TimeoutHandler's doc suggests. The
// timer that fired is spent, nothing re-arms it (no progress is made), and
// the linger timeout starts only once the queue is sent: the connection
// must still end (as it would without the handler, or had Close come
// before the timeout), not stay open for ever.
func TestLast4TimeoutHandlerCloseWithAStalledPeerEnds(t *testing.T) {
	for _, which := range []string{"write", "idle"} {
		t.Run(which, func(t *testing.T) {
			l, vc := newVirtualLoop(t)
			h := &l4Bye{}
			listenAndDial(t, l, h, sock.WithSendBufferSize(4<<10))
			runUntil(t, l, "the open", func() bool { return h.conn != nil })
			if which == "write" {
				h.conn.SetWriteTimeout(time.Second)
			} else {
				h.conn.SetIdleTimeout(time.Second)
			}
			fillKernelBuffers(t, h.conn)
			h.conn.Write(make([]byte, 64<<10)) // queued: the peer reads nothing
			vc.Advance(2 * time.Second)
			runUntil(t, l, "the timeout", func() bool { return len(h.timeouts) == 1 })
			for i := 0; i < 60 && !h.closed; i++ {
				vc.Advance(time.Minute)
				runIteration(t, l)
			}
			if !h.closed {
				t.Fatalf("an hour after OnTimeout closed it (%v), the connection is still open, %d bytes queued", h.timeouts[0], h.conn.Buffered())
			}
			if !errors.Is(h.closeErr, sock.ErrTimeout) {
				t.Errorf("OnClose(%v); want the timeout's error", h.closeErr)
			}
		})
	}
}

// Closing is true from Close on while the connection still waits to send
// what is queued (it is not closed yet): kills Closing testing fClosed
// alone.
func TestLast4ClosingDuringAClosesFlush(t *testing.T) {
	l := newLoop(t)
	h := &l4Bye{}
	listenAndDial(t, l, h, sock.WithSendBufferSize(4<<10))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	// Until nothing moves: after one fill, acknowledgements can make room,
	// and the flush then sent the whole queue in a CI run.
	fillKernelBuffers(t, h.conn)
	h.conn.Write(make([]byte, 64<<10)) // queued: the peer reads nothing
	h.conn.Close()
	runIteration(t, l)
	if h.closed || h.conn.Buffered() == 0 {
		t.Fatalf("closed %v, %d queued; want the close waiting on its queue", h.closed, h.conn.Buffered())
	}
	if !h.conn.Closing() {
		t.Error("Closing false after Close, with its queue still unsent")
	}
	h.conn.Abort()
}

// l4Packets records a DialPacket socket's datagrams and errors.
type l4Packets struct {
	got  []string
	errs []error
}

func (h *l4Packets) OnPacket(_ *sock.PacketConn, p []byte, _ netip.AddrPort) {
	h.got = append(h.got, string(p))
}
func (h *l4Packets) OnPacketError(_ *sock.PacketConn, err error) { h.errs = append(h.errs, err) }

// A read that finds no more datagrams (EAGAIN) is no error: OnPacketError
// must not hear of it after each readiness.
func TestLast4PacketErrorHandlerNotToldOfEAGAIN(t *testing.T) {
	l := newLoop(t)
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := &l4Packets{}
	pc, err := sock.DialPacket(l, "udp4", srv.LocalAddr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := srv.WriteToUDP([]byte("hello"), pc.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the datagram", func() bool { return len(h.got) == 1 })
	runIteration(t, l)
	if len(h.errs) != 0 {
		t.Errorf("OnPacketError heard %v after a datagram; want nothing", h.errs)
	}
}

// DialPacket sets SO_BROADCAST, as its comment says package net does: a
// broadcast peer can be dialed (Linux refuses the connect without it).
func TestLast4DialPacketToABroadcastAddress(t *testing.T) {
	l := newLoop(t)
	pc, err := sock.DialPacket(l, "udp4", "255.255.255.255:9", &l4Packets{})
	if errors.Is(err, syscall.ENETUNREACH) {
		t.Skip("no route to the broadcast address here")
	}
	if err != nil {
		t.Fatalf("DialPacket to the broadcast address: %v (EACCES: SO_BROADCAST not set)", err)
	}
	pc.Close()
}
