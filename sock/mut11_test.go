package sock_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// A review and mutation round over WithWriteGathering, TimeoutHandler,
// DialPacket and Conn.Closing: each test here shows a bug or kills a
// mutant the package's tests let live.

// m11Timeouts is a TimeoutHandler whose OnOpen and OnTimeout are the
// test's; it records the timeouts and the close.
type m11Timeouts struct {
	sock.BaseHandler
	conn      *sock.Conn
	open      func(c *sock.Conn)
	onTimeout func(c *sock.Conn, err error)
	timeouts  []error
	closed    bool
	closeErr  error
}

func (h *m11Timeouts) OnOpen(c *sock.Conn) {
	h.conn = c
	if h.open != nil {
		h.open(c)
	}
}

func (h *m11Timeouts) OnTimeout(c *sock.Conn, err error) {
	h.timeouts = append(h.timeouts, err)
	if h.onTimeout != nil {
		h.onTimeout(c, err)
	}
}

func (h *m11Timeouts) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }

// advanceSteps advances vc by step n times, running l's due timers after
// each, and stops early once stop holds.
func advanceSteps(t *testing.T, l *loop.Loop, vc *loop.VirtualClock, step time.Duration, n int, stop func() bool) {
	t.Helper()
	for i := 0; i < n && !stop(); i++ {
		vc.Advance(step)
		runIteration(t, l)
	}
}

// An OnTimeout that Closes a connection whose queue is sent starts
// its linger, which the linger timeout bounds (SetIdleTimeout: "the linger
// timeout bounds a closing connection once its queue is sent"; Close
// cancels the read timeout, linger the idle one); but timedOut then
// re-armed the idle or read timeout that fired (the connection was not
// closed, and it reads to discard), so a peer that has not acknowledged
// everything had the close end a timeout's period later with that
// timeout's error, not at the linger timeout with ErrLinger, as the same
// Close from anywhere else would. (Found by the round; fixed since: the
// linger is left alone, and a Close ends the read timeout.)
func TestMut11TimeoutHandlerCloseLingersForTheLingerTimeout(t *testing.T) {
	for _, which := range []string{"read", "idle"} {
		t.Run(which, func(t *testing.T) {
			l, vc := newVirtualLoop(t)
			h := &m11Timeouts{
				open: func(c *sock.Conn) {
					if which == "read" {
						c.SetReadTimeout(time.Second)
					} else {
						c.SetIdleTimeout(time.Second)
					}
					// Taken by the 4 MiB send buffer at once; the peer's
					// 4 KiB window leaves most of it unacknowledged.
					c.Write(make([]byte, 256<<10))
				},
				onTimeout: func(c *sock.Conn, _ error) { c.Close() },
			}
			listenAndDialSmall(t, l, h, sock.WithLingerTimeout(time.Minute))
			runUntil(t, l, "the open", func() bool { return h.conn != nil })
			if n := h.conn.Buffered(); n != 0 {
				t.Fatalf("%d bytes queued after the write; want the kernel to take all", n)
			}
			vc.Advance(2 * time.Second)
			runUntil(t, l, "the timeout", func() bool { return len(h.timeouts) == 1 })
			advanceSteps(t, l, vc, time.Second, 30, func() bool { return h.closed })
			if h.closed {
				t.Fatalf("30 s into a 1 min linger the connection closed with %v; want it still waiting for the peer", h.closeErr)
			}
			advanceSteps(t, l, vc, time.Second, 60, func() bool { return h.closed })
			if !h.closed || !errors.Is(h.closeErr, sock.ErrLinger) {
				t.Errorf("closed %v, OnClose(%v); want the linger timeout's ErrLinger", h.closed, h.closeErr)
			}
			if len(h.timeouts) != 1 {
				t.Errorf("OnTimeout asked %d times; want once", len(h.timeouts))
			}
		})
	}
}

// A read timeout's OnTimeout that writes a goodbye the peer does not read
// and closes: the Close ends the read timeout (as a Close anywhere does),
// and the write timeout bounds the flush.
// Kills: timedOut re-arming a read timeout on a connection closing.
func TestMut11ReadTimeoutEndsWithOnTimeoutsClose(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &m11Timeouts{
		open: func(c *sock.Conn) {
			c.SetReadTimeout(time.Second)
			c.SetWriteTimeout(3 * time.Second)
		},
		onTimeout: func(c *sock.Conn, _ error) {
			c.Write(make([]byte, 64<<10)) // queued: the peer reads nothing
			c.Close()
		},
	}
	listenAndDial(t, l, h, sock.WithSendBufferSize(4<<10))
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	fillKernelBuffers(t, h.conn)
	vc.Advance(1500 * time.Millisecond)
	runUntil(t, l, "the timeout", func() bool { return len(h.timeouts) == 1 })
	advanceSteps(t, l, vc, 500*time.Millisecond, 10, func() bool { return h.closed })
	if !h.closed || !errors.Is(h.closeErr, sock.ErrWriteTimeout) {
		t.Errorf("closed %v, OnClose(%v); want the write timeout's error, 3 s into the flush", h.closed, h.closeErr)
	}
	if len(h.timeouts) != 1 {
		t.Errorf("OnTimeout asked %d times; want once", len(h.timeouts))
	}
}

// A read timeout's OnTimeout that pauses reading and keeps the connection
// is not asked again while reading stays paused: the read timeout does not
// run then (SetReadTimeout).
// Kills: timedOut re-arming a read timeout whatever fReading says.
func TestMut11ReadTimeoutNotRestartedWhileOnTimeoutPausedReading(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &m11Timeouts{
		open:      func(c *sock.Conn) { c.SetReadTimeout(time.Second) },
		onTimeout: func(c *sock.Conn, _ error) { c.PauseReading() },
	}
	listenAndDial(t, l, h)
	runUntil(t, l, "the open", func() bool { return h.conn != nil })
	vc.Advance(1500 * time.Millisecond)
	runUntil(t, l, "the timeout", func() bool { return len(h.timeouts) == 1 })
	advanceSteps(t, l, vc, time.Second, 5, func() bool { return len(h.timeouts) > 1 || h.closed })
	if len(h.timeouts) != 1 || h.closed {
		t.Fatalf("%d timeouts, closed %v (%v) with reading paused since the first; want one and open", len(h.timeouts), h.closed, h.closeErr)
	}
	h.conn.Abort()
	runUntil(t, l, "the close", func() bool { return h.closed })
}

// m11Pair is a plain Handler for two connections of one listener: OnData
// answers on its own connection and writes a note on the other one, with
// Write or, with vectored, Writev.
type m11Pair struct {
	sock.BaseHandler
	conns    []*sock.Conn
	vectored bool
}

func (h *m11Pair) OnOpen(c *sock.Conn) { h.conns = append(h.conns, c) }

func (h *m11Pair) OnData(c *sock.Conn, p []byte) {
	c.Write([]byte(strings.ToUpper(string(p))))
	other := h.conns[0]
	if other == c {
		other = h.conns[1]
	}
	if h.vectored {
		other.Writev([]byte("no"), []byte("te\n"))
	} else {
		other.Write([]byte("note\n"))
	}
}

// Under WithWriteGathering, an OnData that writes to another connection
// of the loop while its own answer is gathered sends that connection only
// its own bytes: the gathered answer is its connection's, sent when OnData
// returns (the gather buffer is the loop's, and must go to its peer alone).
// Kills: Write and Writev sending what was gathered ahead of their bytes
// on a connection that is not the corked one (fGathering dropped from their
// sendAfterGathered test).
func TestMut11GatheredAnswerGoesOnlyToItsOwnConnection(t *testing.T) {
	for _, vectored := range []bool{false, true} {
		l := newLoop(t)
		h := &m11Pair{vectored: vectored}
		ln, first := listenAndDial(t, l, h, sock.WithWriteGathering())
		runUntil(t, l, "the first connection", func() bool { return len(h.conns) == 1 })
		second, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		runUntil(t, l, "the second connection", func() bool { return len(h.conns) == 2 })
		if _, err := first.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		var got [2][]byte
		done := 0
		for i, peer := range []net.Conn{first, second} {
			go func() {
				b := make([]byte, 5)
				peer.SetReadDeadline(time.Now().Add(waitLimit))
				n, _ := io.ReadFull(peer, b)
				l.Post(func() { got[i], done = b[:n], done+1 })
			}()
		}
		runUntil(t, l, "the peers' reads", func() bool { return done == 2 })
		if string(got[0]) != "PING\n" || string(got[1]) != "note\n" {
			t.Errorf("vectored %v: the first peer read %q and the second %q; want %q and %q", vectored, got[0], got[1], "PING\n", "note\n")
		}
		for _, c := range h.conns {
			c.Abort()
		}
		runIteration(t, l)
	}
}

// m11NoErrors is a PacketHandler that is not a PacketErrorHandler.
type m11NoErrors struct{ got int }

func (h *m11NoErrors) OnPacket(*sock.PacketConn, []byte, netip.AddrPort) { h.got++ }

// A DialPacket socket whose handler is not a PacketErrorHandler reads the
// refusal of a peer that does not listen and drops it: no panic, and the
// socket stays usable.
// Kills: onReadable calling OnPacketError without checking that the
// handler is one (a nil interface call).
func TestMut11PacketRefusalWithoutErrorHandler(t *testing.T) {
	panics := 0
	l := newLoop(t, loop.WithPanicHandler(func(any) { panics++ }))
	pc := dialRefused(t, l, &m11NoErrors{})
	// The loop reads the refusal, which clears it.
	runUntil(t, l, "the refusal read", func() bool { return !refusalPending(pc) || panics > 0 })
	if panics != 0 {
		t.Fatalf("%d panics reading the refusal with a handler that is no PacketErrorHandler", panics)
	}
}

// An OnTimeout that Aborts leaves nothing of the connection scheduled on
// the loop: the timeout that fired is not started again on a closed
// connection.
// Kills: timedOut re-arming the timeout whatever runs says (if true).
func TestMut11TimeoutHandlerAbortLeavesNoTimer(t *testing.T) {
	for _, which := range []string{"read", "idle"} {
		t.Run(which, func(t *testing.T) {
			l, vc := newVirtualLoop(t)
			h := &m11Timeouts{
				open: func(c *sock.Conn) {
					if which == "read" {
						c.SetReadTimeout(time.Second)
					} else {
						c.SetIdleTimeout(time.Second)
					}
				},
				onTimeout: func(c *sock.Conn, _ error) { c.Abort() },
			}
			listenAndDial(t, l, h)
			runUntil(t, l, "the open", func() bool { return h.conn != nil })
			vc.Advance(1500 * time.Millisecond)
			runUntil(t, l, "the close", func() bool { return h.closed })
			runIteration(t, l)
			if n := l.Pending(); n != 0 {
				t.Errorf("%d callbacks or timers pending on the loop after OnTimeout aborted the connection; want none", n)
			}
			if len(h.timeouts) != 1 || h.closeErr != nil {
				t.Errorf("%d timeouts, OnClose(%v); want one and nil", len(h.timeouts), h.closeErr)
			}
		})
	}
}

// dialRefused returns a DialPacket socket on l, with h, whose peer's host
// has answered that nothing listens there: the refusal is pending on the
// socket, which the loop has not run to read.
func dialRefused(t *testing.T, l *loop.Loop, h sock.PacketHandler) *sock.PacketConn {
	t.Helper()
	gone, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := gone.LocalAddr().String()
	gone.Close()
	pc, err := sock.DialPacket(l, "udp4", addr, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	if _, err := pc.Write([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(waitLimit); !refusalPending(pc); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no refusal came back from a port nothing listens on")
		}
	}
	return pc
}

// refusalPending reports whether poll sees an error pending on pc's
// socket (POLLERR), without reading it.
func refusalPending(pc *sock.PacketConn) bool {
	var ev int16
	pc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, 0); n > 0 {
			ev = fds[0].Revents
		}
	})
	return ev&unix.POLLERR != 0
}

// A Write after the peer's host refused an earlier datagram, before a
// read took the refusal, fails with an error wrapping ECONNREFUSED, as
// PacketConn.Write's doc says.
// Kills: Write returning nil for a send error other than EAGAIN.
func TestMut11PacketWriteReportsTheRefusal(t *testing.T) {
	l := newLoop(t)
	pc := dialRefused(t, l, &m11NoErrors{})
	n, err := pc.Write([]byte("again?"))
	if n != 0 || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Write after a refusal = %d, %v; want 0 and an error wrapping ECONNREFUSED", n, err)
	}
}

// OnPacketError gets the read's error named as the package names system
// errors (an *os.SyscallError for recvfrom), wrapping ECONNREFUSED.
// Kills: onReadable handing OnPacketError the bare errno.
func TestMut11PacketErrorIsASyscallError(t *testing.T) {
	l := newLoop(t)
	h := &udpClient{}
	dialRefused(t, l, h)
	runUntil(t, l, "the refusal", func() bool { return len(h.errors) > 0 })
	var se *os.SyscallError
	if err := h.errors[0]; !errors.As(err, &se) || se.Syscall != "recvfrom" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("OnPacketError(%#v); want an *os.SyscallError for recvfrom wrapping ECONNREFUSED", err)
	}
}

// An OnTimeout that keeps the connection is asked again after another
// such stretch with nothing happening (TimeoutHandler): the read timeout
// while reading, the idle timeout also with reading paused (it runs then).
// Kills: timedOut not re-arming the read timeout (runs = false), and
// applying the write or the read timeout's condition to the idle one.
func TestMut11KeptTimeoutIsAskedAgain(t *testing.T) {
	for _, which := range []string{"read", "idle with reading paused"} {
		t.Run(which, func(t *testing.T) {
			l, vc := newVirtualLoop(t)
			h := &m11Timeouts{open: func(c *sock.Conn) {
				if which == "read" {
					c.SetReadTimeout(time.Second)
				} else {
					c.PauseReading()
					c.SetIdleTimeout(time.Second)
				}
			}}
			listenAndDial(t, l, h)
			runUntil(t, l, "the open", func() bool { return h.conn != nil })
			for i := 1; i <= 3; i++ {
				vc.Advance(1100 * time.Millisecond)
				runUntil(t, l, "the timeout", func() bool { return len(h.timeouts) == i || h.closed })
			}
			if len(h.timeouts) != 3 || h.closed {
				t.Fatalf("%d timeouts in 3.3 s of a 1 s timeout kept each time, closed %v (%v); want 3 and open", len(h.timeouts), h.closed, h.closeErr)
			}
			h.conn.Abort()
			runUntil(t, l, "the close", func() bool { return h.closed })
		})
	}
}

// DialPacket applies WithReadBufferSize, as its doc says: on a loop where
// no other socket asked for more, a datagram longer than the buffer is
// cut to fit (PacketHandler).
// Kills: DialPacket making the loop's state without the size it was
// given.
func TestMut11DialPacketAppliesItsReadBufferSize(t *testing.T) {
	l := newLoop(t)
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := &udpClient{}
	pc, err := sock.DialPacket(l, "udp4", srv.LocalAddr().String(), h, sock.WithReadBufferSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := srv.WriteToUDP(make([]byte, 100), pc.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the datagram", func() bool { return len(h.got) == 1 })
	if n := len(h.got[0]); n != 16 {
		t.Errorf("a 100-byte datagram read with a 16-byte buffer arrived as %d bytes; want it cut to 16", n)
	}
}

// DialPacket refuses a nil loop with an error, and, from another
// goroutine on a loop that waits (a Group's, from the test), fails with an
// error wrapping loop.ErrWrongGoroutine, as Listen, Dial and ListenPacket
// do, instead of touching the loop's state from there.
// Kills: DialPacket without its nil-loop check (a panic). (Without its
// loopUsable check it still fails here: the loop's AddReader refuses too.)
func TestMut11DialPacketRefusesANilOrForeignLoop(t *testing.T) {
	if _, err := sock.DialPacket(nil, "udp4", "127.0.0.1:9", &udpClient{}); err == nil || !strings.Contains(err.Error(), "nil *loop.Loop") {
		t.Errorf("DialPacket on a nil loop: %v; want an error saying so", err)
	}
	g, l := waitingGroupLoop(t)
	pc, err := sock.DialPacket(l, "udp4", "127.0.0.1:9", &udpClient{})
	if err == nil {
		g.Each(func(int, *loop.Loop) error { return pc.Close() })
	}
	if !errors.Is(err, loop.ErrWrongGoroutine) {
		t.Errorf("DialPacket from another goroutine: %v; want an error wrapping loop.ErrWrongGoroutine", err)
	}
}
