package sock_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// The tests in this file stand a long computation in a callback for the
// virtual clock's Advance, made after the callback's first timer (where
// the loop reads the clock for CallLater): a timeout that a handler asks
// for after it must count from the call, not from that reading. A user's
// trial dialed 2,000 targets in one callback with a 500 ms connect
// timeout, and saw the last ones time out after 430 ms.

// settle runs l's iterations that the present's due timers need.
func settle(t *testing.T, l *loop.Loop) {
	t.Helper()
	for range 4 {
		if err := l.RunOnce(false); err != nil {
			t.Fatal(err)
		}
	}
}

// lateInACallback runs call in a callback on l, after the callback
// scheduled a timer and the clock moved on 2 s.
func lateInACallback(t *testing.T, l *loop.Loop, vc *loop.VirtualClock, call func()) {
	t.Helper()
	done := false
	l.CallSoon(func() {
		tm := l.CallLater(time.Hour, func() {}) // CallLater reads the clock here
		vc.Advance(2 * time.Second)
		call()
		l.Cancel(tm)
		done = true
	})
	runUntil(t, l, "the callback", func() bool { return done })
}

func TestConnectTimeoutCountsFromTheDial(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux dropping SYNs to a full accept queue")
	}
	l, vc := newVirtualLoop(t)
	addr := hangingListener(t)
	r := &recorder{}
	lateInACallback(t, l, vc, func() {
		if _, err := sock.Dial(l, "tcp", addr, r, sock.WithConnectTimeout(3*time.Second)); err != nil {
			t.Error(err)
		}
	})
	vc.Advance(2500 * time.Millisecond)
	settle(t, l)
	if r.opened {
		t.Fatal("the dial to a full accept queue connected; the test needs it to hang")
	}
	if r.closed {
		t.Fatalf("a 3 s connect timeout ended the dial 2.5 s after it: %v", r.closeErr)
	}
	vc.Advance(time.Second)
	runUntil(t, l, "the connect timeout", func() bool { return r.closed })
	if !errors.Is(r.closeErr, sock.ErrConnectTimeout) || !errors.Is(r.closeErr, sock.ErrTimeout) {
		t.Errorf("OnClose(%v); want ErrConnectTimeout, an ErrTimeout", r.closeErr)
	}
}

// opener is a recorder that keeps its connection.
type opener struct {
	recorder
	conn *sock.Conn
}

func (h *opener) OnOpen(c *sock.Conn) { h.conn, h.opened = c, true }

func TestReadTimeoutCountsFromTheCall(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &opener{}
	listenAndDial(t, l, h)
	runUntil(t, l, "the connection", func() bool { return h.opened })
	lateInACallback(t, l, vc, func() { h.conn.SetReadTimeout(3 * time.Second) })
	vc.Advance(2500 * time.Millisecond)
	settle(t, l)
	if h.closed {
		t.Fatalf("a 3 s read timeout ended the connection 2.5 s after it was set: %v", h.closeErr)
	}
	vc.Advance(time.Second)
	runUntil(t, l, "the read timeout", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrReadTimeout) || errors.Is(h.closeErr, sock.ErrIdleTimeout) {
		t.Errorf("OnClose(%v); want ErrReadTimeout", h.closeErr)
	}
}

// keeper is a TimeoutHandler that keeps the connection at each timeout,
// after it scheduled a timer and worked a while (the clock moved on 2 s).
type keeper struct {
	opener
	vc       *loop.VirtualClock
	timeouts int
}

func (h *keeper) OnTimeout(c *sock.Conn, err error) {
	if err != sock.ErrIdleTimeout {
		panic(fmt.Sprintf("OnTimeout(%v); want ErrIdleTimeout", err))
	}
	h.timeouts++
	l := c.Loop()
	l.Cancel(l.CallLater(time.Hour, func() {}))
	h.vc.Advance(2 * time.Second)
}

func TestTimeoutAfterOnTimeoutCountsFromItsEnd(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &keeper{vc: vc}
	listenAndDial(t, l, h, sock.WithIdleTimeout(3*time.Second))
	runUntil(t, l, "the connection", func() bool { return h.opened })
	vc.Advance(3500 * time.Millisecond)
	runUntil(t, l, "the first timeout", func() bool { return h.timeouts == 1 })
	// OnTimeout ended 2 s after it began: the next comes 3 s after that.
	vc.Advance(2 * time.Second)
	settle(t, l)
	if h.timeouts != 1 {
		t.Fatalf("OnTimeout came again %d times 2 s after the first returned; want after 3 s", h.timeouts-1)
	}
	vc.Advance(1500 * time.Millisecond)
	runUntil(t, l, "the second timeout", func() bool { return h.timeouts == 2 })
	if h.closed {
		t.Errorf("OnClose(%v) on a connection OnTimeout kept", h.closeErr)
	}
}

func TestWriteTimeoutCountsFromTheWriteThatQueues(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &opener{}
	listenAndDialSmall(t, l, h, sock.WithSendBufferSize(16<<10)) // a peer that reads nothing
	runUntil(t, l, "the connection", func() bool { return h.opened })
	h.conn.SetWriteTimeout(3 * time.Second)
	fillKernelBuffers(t, h.conn)
	lateInACallback(t, l, vc, func() { h.conn.Write(make([]byte, 1<<10)) })
	if h.conn.Buffered() != 1<<10 {
		t.Fatalf("%d of the 1 KiB written queued; the test needs it all queued", h.conn.Buffered())
	}
	vc.Advance(2500 * time.Millisecond)
	settle(t, l)
	if h.closed {
		t.Fatalf("a 3 s write timeout ended the connection 2.5 s after the write that queued: %v", h.closeErr)
	}
	vc.Advance(time.Second)
	runUntil(t, l, "the write timeout", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrWriteTimeout) || !errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Errorf("OnClose(%v); want ErrWriteTimeout, an ErrTimeout", h.closeErr)
	}
}
