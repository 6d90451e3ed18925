//go:build linux

package sock_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// respondAndClose answers the first data with n bytes and Closes.
type respondAndClose struct {
	boundaryHandler
	n        int
	buffered int
	closing  bool
}

func (h *respondAndClose) OnData(c *sock.Conn, _ []byte) {
	if !h.closing {
		h.closing = true
		c.Write(make([]byte, h.n))
		h.buffered = c.Buffered()
		c.Close()
	}
}

// When a Close's wait ends early (the linger timeout, or Abort), the
// UnsentError counts exactly the bytes the peer had not acknowledged: what
// it had, plus Unsent, is everything written. The kernel's count of
// unacknowledged sequence numbers includes the FIN that shutdown queued,
// which is no byte of the handler's. The peer's 4 KiB receive buffer stops
// the transfer early; its own queue, which it never reads, is what it
// acknowledged.
func TestUnsentAfterACutLingerCountsOnlyData(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(t *testing.T, l *loop.Loop, vc *loop.VirtualClock, h *respondAndClose)
		want error
	}{
		{"linger timeout", func(t *testing.T, l *loop.Loop, vc *loop.VirtualClock, h *respondAndClose) {
			for i := 0; !h.closed; i++ {
				if i == 200 {
					t.Fatal("no OnClose 20 virtual seconds into a 10 s linger timeout")
				}
				vc.Advance(100 * time.Millisecond)
				runIteration(t, l)
			}
		}, sock.ErrLinger},
		{"Abort", func(t *testing.T, l *loop.Loop, _ *loop.VirtualClock, h *respondAndClose) {
			h.c.Abort()
			runUntil(t, l, "OnClose", func() bool { return h.closed })
		}, sock.ErrAborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const size = 512 << 10
			l, vc, h, peer := lingeringClose(t, size)
			settled := waitForSettledInq(t, peer)
			tc.cut(t, l, vc, h)
			inq := peerInq(t, peer)
			var ue *sock.UnsentError
			if !errors.As(h.closeErr, &ue) || !errors.Is(h.closeErr, tc.want) {
				t.Fatalf("OnClose(%v); want an *UnsentError wrapping %v", h.closeErr, tc.want)
			}
			if ue.Unsent+inq != size {
				t.Fatalf("the peer holds %d bytes (%d before the cut) and Unsent is %d; they should add up to the %d written",
					inq, settled, ue.Unsent, size)
			}
		})
	}
}

// lingeringClose has a connection on a virtual-clock loop answer a request
// with size bytes, which the kernel takes whole (a 4 MiB send buffer), and
// Close, so that it waits for a peer with a 4 KiB receive buffer that never
// reads: the peer has acknowledged only what its queue holds.
func lingeringClose(t *testing.T, size int) (*loop.Loop, *loop.VirtualClock, *respondAndClose, net.Conn) {
	t.Helper()
	l, vc := newVirtualLoop(t)
	h := &respondAndClose{n: size}
	peer := listenAndDialSmall(t, l, h, sock.WithLingerTimeout(10*time.Second))
	t.Cleanup(func() {
		if !h.closed && h.c != nil {
			h.c.Abort()
		}
	})
	peer.Write([]byte("request"))
	runUntil(t, l, "the response and Close", func() bool { return h.closing })
	if h.buffered != 0 {
		t.Skipf("the kernel did not take all %d bytes", size)
	}
	return l, vc, h, peer
}

// peerInq returns how many received bytes wait in peer's kernel.
func peerInq(t *testing.T, peer net.Conn) int {
	t.Helper()
	rc, err := peer.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		t.Fatal(err)
	}
	if ierr != nil {
		t.Skipf("SIOCINQ: %v", ierr)
	}
	return n
}

// waitForSettledInq waits until peer's queue has not grown for 300 ms (past
// a delayed ACK's 200 ms at most), so that what it holds is what it has
// acknowledged, and returns it.
func waitForSettledInq(t *testing.T, peer net.Conn) int {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	last, since := peerInq(t, peer), time.Now()
	for time.Since(since) < 300*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("the peer's queue still changing after %v", waitLimit)
		}
		time.Sleep(10 * time.Millisecond)
		if n := peerInq(t, peer); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

// A peer's reset during a Close's wait ends it with an *UnsentError counting
// what the peer had not acknowledged at the loop's last look, wrapping
// ECONNRESET. The reset empties the kernel's queue, so that count can only
// come from before it; here the last look follows the peer's queue settling,
// so it is exact.
func TestResetDuringCloseCountsWhatThePeerHadNotAcknowledged(t *testing.T) {
	const size = 512 << 10
	l, vc, h, peer := lingeringClose(t, size)
	settled := waitForSettledInq(t, peer)
	// The linger's first look, 1 ms after the Close, comes after the
	// settling; a timer fires within a tick of its deadline, and a variant's
	// tick may be coarser than 1 ms.
	vc.Advance(time.Millisecond + l.Variant().Tick)
	runIteration(t, l)
	if h.closed {
		t.Fatalf("closed before the reset: %v", h.closeErr)
	}
	if err := peer.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	peer.Close() // with 4 KiB unread and a linger of 0: a reset
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	var ue *sock.UnsentError
	if !errors.As(h.closeErr, &ue) || !errors.Is(h.closeErr, syscall.ECONNRESET) {
		t.Fatalf("OnClose(%v); want an *UnsentError wrapping ECONNRESET", h.closeErr)
	}
	if ue.Unsent != size-settled {
		t.Errorf("Unsent is %d; the peer had acknowledged %d of the %d written, so %d were lost", ue.Unsent, settled, size, size-settled)
	}
}

// An Abort of an open TCP connection with received bytes it has not read
// resets it, so what the peer had not acknowledged is lost and counted. The
// same Abort with nothing unread counts it too: the kernel goes on sending
// it only until the peer writes to the closed socket, whose reset discards
// it (this case wanted nil, until a trial's peer lost 1 MiB that way).
func TestAbortWithUnreadInputCountsWhatTheResetDiscards(t *testing.T) {
	for _, unread := range []bool{true, false} {
		t.Run(map[bool]string{true: "unread input", false: "nothing unread"}[unread], func(t *testing.T) {
			const size = 512 << 10
			l := newLoop(t)
			h := &boundaryHandler{}
			peer := listenAndDialSmall(t, l, h)
			runUntil(t, l, "the accept", func() bool { return h.opened })
			if unread {
				h.c.PauseReading()
				peer.Write([]byte("unread"))
			}
			h.c.Write(make([]byte, size))
			if b := h.c.Buffered(); b != 0 {
				t.Skipf("the kernel did not take all %d bytes (%d queued)", size, b)
			}
			settled := waitForSettledInq(t, peer)
			h.c.Abort()
			runUntil(t, l, "OnClose", func() bool { return h.closed })
			var ue *sock.UnsentError
			switch {
			case !errors.As(h.closeErr, &ue) || !errors.Is(h.closeErr, sock.ErrAborted):
				t.Errorf("OnClose(%v); want an *UnsentError wrapping ErrAborted", h.closeErr)
			case ue.Unsent != size-settled:
				t.Errorf("Unsent is %d; the peer had acknowledged %d of the %d written, so %d may be lost", ue.Unsent, settled, size, size-settled)
			}
		})
	}
}
