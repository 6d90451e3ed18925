package sock_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// respondThenClose writes a response of n bytes to the first data it gets,
// then closes, and says so on closed.
type respondThenClose struct {
	recorder
	n        int
	closeNow chan struct{} // closed once Close was called
}

func (h *respondThenClose) OnData(c *sock.Conn, p []byte) {
	h.recorder.OnData(c, p)
	if h.closeNow == nil {
		return
	}
	c.Write(make([]byte, h.n))
	c.Close()
	close(h.closeNow)
	h.closeNow = nil
}

// A peer that sends again after the server's Close (a pipelined request)
// must still receive the whole response and a clean end of stream: a
// descriptor closed while input arrives makes the kernel reset the
// connection, and the reset discards what the peer had not read yet.
func TestCloseDeliversEverythingToAPeerStillSending(t *testing.T) {
	for _, size := range []int{200 << 10, 4 << 20} { // taken by the kernel at once; queued
		t.Run(fmt.Sprintf("%dKiB", size>>10), func(t *testing.T) {
			l := newLoop(t)
			h := &respondThenClose{n: size, closeNow: make(chan struct{})}
			closeNow := h.closeNow
			_, peer := listenAndDial(t, l, h)
			type result struct {
				n   int64
				err error
			}
			done := make(chan result, 1)
			go func() {
				peer.Write([]byte("first request"))
				<-closeNow
				peer.Write([]byte("second request, never read"))
				time.Sleep(20 * time.Millisecond) // let it arrive before the server is done
				peer.SetReadDeadline(time.Now().Add(waitLimit))
				n, err := io.Copy(io.Discard, peer)
				peer.Close()
				done <- result{n, err}
				l.Post(func() {})
			}()
			var r result
			runUntil(t, l, "the peer to read to the end", func() bool {
				select {
				case r = <-done:
					return true
				default:
					return false
				}
			})
			if r.err != nil || r.n != int64(size) {
				t.Fatalf("peer read %d of %d bytes, then %v", r.n, size, r.err)
			}
			runUntil(t, l, "OnClose", func() bool { return h.closed })
			if h.closeErr != nil {
				t.Fatalf("OnClose(%v), want nil", h.closeErr)
			}
		})
	}
}

// A peer that reads everything but never closes its end holds a closing
// connection only for the linger timeout; everything was acknowledged, so
// OnClose gets nil.
func TestCloseLingersOnlyUntilTheTimeout(t *testing.T) {
	l := newLoop(t)
	h := &respondThenClose{n: 1000, closeNow: make(chan struct{})}
	_, peer := listenAndDial(t, l, h, sock.WithLingerTimeout(50*time.Millisecond))
	if _, err := peer.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil {
		t.Fatalf("OnClose(%v), want nil", h.closeErr)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Fatalf("closed after %v, before the linger timeout", waited)
	}
	buf := make([]byte, 2000)
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	n, err := io.ReadFull(peer, buf[:1000])
	if err != nil || n != 1000 {
		t.Fatalf("peer read %d of 1000 bytes: %v", n, err)
	}
	if _, err := peer.Read(buf); err != io.EOF {
		t.Fatalf("after the response the peer read %v, want EOF", err)
	}
}

// After Close the handler hears nothing more of what arrives, even while
// the queue is still being sent.
func TestNoDataAfterClose(t *testing.T) {
	l := newLoop(t)
	h := &respondThenClose{n: 4 << 20, closeNow: make(chan struct{})}
	closeNow := h.closeNow
	_, peer := listenAndDial(t, l, h)
	go func() {
		peer.Write([]byte("x"))
		<-closeNow
		peer.Write([]byte("more"))
		io.Copy(io.Discard, peer)
		peer.Close()
		l.Post(func() {})
	}()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if string(h.got) != "x" {
		t.Fatalf("OnData got %q, want only what came before Close", h.got)
	}
	if h.closeErr != nil {
		t.Fatalf("OnClose(%v), want nil", h.closeErr)
	}
}
