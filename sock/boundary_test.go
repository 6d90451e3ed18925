package sock_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// These tests pin down boundaries that the rest of the suite passed through
// without checking: each was written against a deliberate one-line change
// to package sock that every other test let through.

// boundaryHandler records one connection's events, and what the queue held at
// each OnResume.
type boundaryHandler struct {
	sock.BaseHandler
	c              *sock.Conn
	onOpen         func(*sock.Conn)
	opened, closed bool
	closeErr       error
	got            []byte
	pauses         int
	resumeBuffered []int
}

func (h *boundaryHandler) OnOpen(c *sock.Conn) {
	h.c, h.opened = c, true
	if h.onOpen != nil {
		h.onOpen(c)
	}
}
func (h *boundaryHandler) OnData(_ *sock.Conn, p []byte)   { h.got = append(h.got, p...) }
func (h *boundaryHandler) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }
func (h *boundaryHandler) OnPause(*sock.Conn)              { h.pauses++ }
func (h *boundaryHandler) OnResume(c *sock.Conn) {
	h.resumeBuffered = append(h.resumeBuffered, c.Buffered())
}

// dialUnixSmall dials a Unix listener of package net from l with a tiny send
// buffer. On a Unix socket the send buffer bounds what one send takes (a few
// KiB here), so every Write of more leaves most of it queued, every flush is
// short, and a 16 KiB chunk is sent in several pieces: what TCP on loopback,
// which takes tens of KiB per send, rarely does.
func dialUnixSmall(t *testing.T, l *loop.Loop, h *boundaryHandler, opts ...sock.Option) net.Conn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	pl, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	opts = append([]sock.Option{sock.WithSendBufferSize(4096)}, opts...)
	c, err := sock.Dial(l, "unix", path, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Abort()
		runUntil(t, l, "the client's OnClose", func() bool { return h.closed })
	})
	peer, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	return peer
}

// readAllThenClose reads peer to end of stream, closes it, and wakes l.
func readAllThenClose(l *loop.Loop, peer net.Conn) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		peer.SetReadDeadline(time.Now().Add(waitLimit))
		b, _ := io.ReadAll(peer)
		peer.Close()
		got <- b
		l.Post(func() {})
	}()
	return got
}

// received reports whether got has delivered, keeping what it delivered.
func received(got <-chan []byte, into *[]byte) func() bool {
	done := false
	return func() bool {
		if !done {
			select {
			case *into = <-got:
				done = true
			default:
			}
		}
		return done
	}
}

// OnPause is for a queue above the high-water mark: one exactly at it is
// within bounds. A Dial still connecting queues every byte, so the queue
// length is exact.
func TestHighWaterMarkItselfDoesNotPause(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	h := &boundaryHandler{}
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), h, sock.WithHighWater(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Abort()
		runUntil(t, l, "OnClose", func() bool { return h.closed })
	}()
	c.Write(pattern(1000))
	if h.pauses != 0 {
		t.Fatalf("OnPause with %d bytes queued; the high-water mark is 1000", c.Buffered())
	}
	c.Write([]byte{1})
	if h.pauses != 1 {
		t.Fatalf("%d OnPause with %d bytes queued; want 1 above the high-water mark of 1000", h.pauses, c.Buffered())
	}
}

// A Writev that the kernel takes only part of, then more queued, then
// CloseWrite: the peer must get every byte in order, then end of stream.
// The short first send ends inside the first buffer, so the second must be
// queued whole; the later flushes are short too, so they end inside chunks
// that are then sent from where the last one stopped; and the shutdown must
// wait for the queue, or the flush after it fails with EPIPE.
func TestShortSendsThenCloseWriteDeliverEveryByte(t *testing.T) {
	l := newLoop(t)
	h := &boundaryHandler{}
	peer := dialUnixSmall(t, l, h, sock.WithHighWater(16<<20))
	want := pattern(512 << 10)
	a, b, rest := want[:100_000], want[100_000:200_000], want[200_000:]
	if n, err := h.c.Writev(a, b); n != len(a)+len(b) || err != nil {
		t.Fatalf("Writev = %d, %v", n, err)
	}
	if q := h.c.Buffered(); q <= len(b) || q >= len(a)+len(b) {
		t.Skipf("the kernel took %d of %d bytes; the test needs a send that ends inside the first buffer", len(a)+len(b)-q, len(a)+len(b))
	}
	h.c.Write(rest)
	if err := h.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got := readAllThenClose(l, peer)
	var b2 []byte
	gotAll := received(got, &b2)
	runUntil(t, l, "the peer to read to the end and OnClose", func() bool { return gotAll() && h.closed })
	if h.closeErr != nil {
		t.Errorf("OnClose(%v); want nil", h.closeErr)
	}
	if !bytes.Equal(b2, want) {
		t.Fatalf("the peer got %d bytes; want the %d written, in order", len(b2), len(want))
	}
}

// OnResume comes when the queue drains to the low-water mark, while bytes
// are still queued, so that a producer refills it before the socket goes
// idle; and after Close it does not come at all (the handler has no more to
// write). Unix with a tiny send buffer: each flush takes a few KiB, so the
// queue passes through the low-water mark rather than jumping to empty.
func TestOnResumeAtTheLowWaterMark(t *testing.T) {
	const high, low = 64 << 10, 32 << 10
	want := pattern(256 << 10)
	t.Run("with bytes still queued", func(t *testing.T) {
		l := newLoop(t)
		h := &boundaryHandler{}
		peer := dialUnixSmall(t, l, h, sock.WithHighWater(high), sock.WithLowWater(low))
		h.c.Write(want)
		if h.pauses != 1 {
			t.Fatalf("%d OnPause with %d bytes queued", h.pauses, h.c.Buffered())
		}
		got := readAllThenClose(l, peer)
		runUntil(t, l, "OnResume", func() bool { return len(h.resumeBuffered) > 0 })
		if q := h.resumeBuffered[0]; q == 0 || q > low {
			t.Errorf("OnResume with %d bytes queued; want some, and at most the low-water mark %d", q, low)
		}
		h.c.Close()
		var b []byte
		runUntil(t, l, "the peer to read to the end", received(got, &b))
		if !bytes.Equal(b, want) {
			t.Fatalf("the peer got %d of %d bytes", len(b), len(want))
		}
	})
	t.Run("not after Close", func(t *testing.T) {
		l := newLoop(t)
		h := &boundaryHandler{}
		peer := dialUnixSmall(t, l, h, sock.WithHighWater(high), sock.WithLowWater(low))
		h.c.Write(want)
		h.c.Close()
		got := readAllThenClose(l, peer)
		var b []byte
		gotAll := received(got, &b)
		runUntil(t, l, "the peer to read to the end and OnClose", func() bool { return gotAll() && h.closed })
		if len(h.resumeBuffered) != 0 || h.closeErr != nil {
			t.Errorf("OnResume with %v bytes queued, OnClose(%v); want no OnResume after Close, and nil", h.resumeBuffered, h.closeErr)
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("the peer got %d of %d bytes", len(b), len(want))
		}
	})
}

// Each deadline watches one activity and only that: these cases separate
// what the suite's idle, read and write tests exercise together (an echo
// both reads and writes, so either alone kept the idle timeout going).
func TestDeadlinesFollowTheirOwnActivity(t *testing.T) {
	setup := func(t *testing.T, onOpen func(*sock.Conn), opts ...sock.Option) (*loop.Loop, *loop.VirtualClock, *boundaryHandler, net.Conn) {
		l, vc := newVirtualLoop(t)
		h := &boundaryHandler{onOpen: onOpen}
		_, peer := listenAndDial(t, l, h, opts...)
		runUntil(t, l, "the accept", func() bool { return h.opened })
		t.Cleanup(func() {
			h.c.Abort()
			runUntil(t, l, "OnClose", func() bool { return h.closed })
		})
		return l, vc, h, peer
	}
	advance := func(t *testing.T, l *loop.Loop, vc *loop.VirtualClock, d time.Duration) {
		vc.Advance(d)
		runIteration(t, l)
	}
	open := func(t *testing.T, h *boundaryHandler, when string) {
		t.Helper()
		if h.closed {
			t.Fatalf("%s: closed by %v", when, h.closeErr)
		}
	}
	timedOut := func(t *testing.T, l *loop.Loop, h *boundaryHandler) {
		t.Helper()
		runUntil(t, l, "the timeout", func() bool { return h.closed })
		if !errors.Is(h.closeErr, sock.ErrTimeout) {
			t.Fatalf("OnClose(%v); want ErrTimeout", h.closeErr)
		}
	}
	// peerRead reads n bytes on the peer, failing the test if they do not come.
	peerRead := func(t *testing.T, peer net.Conn, n int) {
		t.Helper()
		peer.SetReadDeadline(time.Now().Add(waitLimit))
		if _, err := io.ReadFull(peer, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("idle: writing alone is activity", func(t *testing.T) {
		l, vc, h, peer := setup(t, func(c *sock.Conn) { c.SetIdleTimeout(10 * time.Second) })
		advance(t, l, vc, 6*time.Second)
		h.c.Write([]byte("x")) // the kernel takes it at once
		peerRead(t, peer, 1)
		advance(t, l, vc, 6*time.Second)
		open(t, h, "6 s after a write, with a 10 s idle timeout")
		advance(t, l, vc, 5*time.Second)
		timedOut(t, l, h)
	})
	t.Run("idle: reading alone is activity", func(t *testing.T) {
		l, vc, h, peer := setup(t, func(c *sock.Conn) { c.SetIdleTimeout(10 * time.Second) })
		advance(t, l, vc, 6*time.Second)
		peer.Write([]byte("x"))
		runUntil(t, l, "the read", func() bool { return len(h.got) == 1 })
		advance(t, l, vc, 6*time.Second)
		open(t, h, "6 s after a read, with a 10 s idle timeout")
		advance(t, l, vc, 5*time.Second)
		timedOut(t, l, h)
	})
	t.Run("read: data starts it over", func(t *testing.T) {
		l, vc, h, peer := setup(t, func(c *sock.Conn) { c.SetReadTimeout(3 * time.Second) })
		advance(t, l, vc, 2*time.Second)
		peer.Write([]byte("x"))
		runUntil(t, l, "the read", func() bool { return len(h.got) == 1 })
		advance(t, l, vc, 2*time.Second)
		open(t, h, "2 s after a read, with a 3 s read timeout")
		advance(t, l, vc, 2*time.Second)
		timedOut(t, l, h)
	})
	t.Run("read: stopped while paused, started over on resume", func(t *testing.T) {
		l, vc, h, _ := setup(t, func(c *sock.Conn) {
			c.SetReadTimeout(3 * time.Second)
			c.PauseReading()
		})
		advance(t, l, vc, 10*time.Second)
		open(t, h, "10 s with reading paused")
		if err := h.c.ResumeReading(); err != nil {
			t.Fatal(err)
		}
		advance(t, l, vc, 2*time.Second)
		open(t, h, "2 s after ResumeReading, with a 3 s read timeout")
		advance(t, l, vc, 2*time.Second)
		timedOut(t, l, h)
	})
	t.Run("read: stopped by Close while the queue is sent", func(t *testing.T) {
		l, vc, h, peer := setup(t, func(c *sock.Conn) { c.SetReadTimeout(3 * time.Second) },
			sock.WithSendBufferSize(64<<10))
		want := pattern(4 << 20)
		h.c.Write(want) // the peer does not read yet
		if h.c.Buffered() == 0 {
			t.Skip("the kernel took 4 MiB at once")
		}
		h.c.Close()
		advance(t, l, vc, 5*time.Second)
		open(t, h, "5 s into a Close's flush, with a 3 s read timeout")
		got := readAllThenClose(l, peer)
		var b []byte
		gotAll := received(got, &b)
		runUntil(t, l, "the peer to read to the end and OnClose", func() bool { return gotAll() && h.closed })
		if h.closeErr != nil || !bytes.Equal(b, want) {
			t.Fatalf("OnClose(%v), the peer got %d of %d bytes; want nil and all", h.closeErr, len(b), len(want))
		}
	})
	t.Run("write: runs only while bytes are queued", func(t *testing.T) {
		l, vc, h, peer := setup(t, func(c *sock.Conn) { c.SetWriteTimeout(5 * time.Second) },
			sock.WithSendBufferSize(64<<10))
		advance(t, l, vc, 10*time.Second)
		open(t, h, "10 s with nothing queued, with a 5 s write timeout")
		const n = 4 << 20
		h.c.Write(pattern(n))
		if h.c.Buffered() == 0 {
			t.Skip("the kernel took 4 MiB at once")
		}
		read := make(chan error, 1)
		go func() {
			peer.SetReadDeadline(time.Now().Add(waitLimit))
			_, err := io.ReadFull(peer, make([]byte, n))
			read <- err
		}()
		runUntil(t, l, "the queue to drain", func() bool { return h.c.Buffered() == 0 })
		if err := <-read; err != nil {
			t.Fatal(err)
		}
		advance(t, l, vc, 10*time.Second)
		open(t, h, "10 s after the queue drained, with a 5 s write timeout")
	})
	t.Run("write: progress starts it over", func(t *testing.T) {
		l, vc, h, peer := setup(t, func(c *sock.Conn) { c.SetWriteTimeout(5 * time.Second) },
			sock.WithSendBufferSize(64<<10))
		h.c.Write(pattern(4 << 20))
		before := h.c.Buffered()
		if before == 0 {
			t.Skip("the kernel took 4 MiB at once")
		}
		advance(t, l, vc, 4*time.Second)
		// What the kernel took can be read without the loop's help; reading
		// it makes room for more.
		taken := 4<<20 - before
		read := make(chan error, 1)
		go func() {
			peer.SetReadDeadline(time.Now().Add(waitLimit))
			_, err := io.ReadFull(peer, make([]byte, taken))
			read <- err
		}()
		runUntil(t, l, "progress", func() bool { return h.c.Buffered() < before })
		if err := <-read; err != nil {
			t.Fatal(err)
		}
		advance(t, l, vc, 4*time.Second)
		open(t, h, "8 s after the write, 4 s after the kernel took more, with a 5 s write timeout")
	})
	t.Run("write: more writes are not progress", func(t *testing.T) {
		l, vc, h, _ := setup(t, func(c *sock.Conn) { c.SetWriteTimeout(5 * time.Second) },
			sock.WithSendBufferSize(64<<10))
		h.c.Write(pattern(4 << 20)) // and the peer never reads
		if h.c.Buffered() == 0 {
			t.Skip("the kernel took 4 MiB at once")
		}
		// Each write adds to a queue that does not move; the kernel may take
		// a little now and then (window updates), which postpones the
		// timeout a bounded number of times.
		for i := 0; !h.closed; i++ {
			if i == 20 {
				t.Fatalf("no write timeout after %d virtual seconds of writes to a peer that does not read", 2*i)
			}
			h.c.Write([]byte("more"))
			advance(t, l, vc, 2*time.Second)
		}
		timedOut(t, l, h)
	})
}

// eofCloseWrite answers the peer's end of stream and shuts down its own
// sending side, keeping the connection open to do so.
type eofCloseWrite struct{ boundaryHandler }

func (h *eofCloseWrite) OnEOF(c *sock.Conn) bool {
	c.Write([]byte("bye"))
	c.CloseWrite()
	return true
}

// A CloseWrite after the peer has finished leaves both directions done: the
// connection must close then, since nothing else will (it reads no more and
// has nothing to send).
func TestCloseWriteAfterThePeersEndCloses(t *testing.T) {
	l := newLoop(t)
	h := &eofCloseWrite{}
	_, peer := listenAndDial(t, l, h)
	got := writeHalfCloseAndRead(peer, "hi")
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if h.closeErr != nil {
		t.Errorf("OnClose(%v); want nil", h.closeErr)
	}
	if b := <-got; string(b) != "bye" {
		t.Errorf("the peer read %q; want %q", b, "bye")
	}
}

// Shutdown waits for every loop's connections, not only the first loop to
// drain: here one loop has nothing to flush and drains at once, while the
// other still sends 4 MiB to a client that starts reading only after that.
func TestGroupShutdownWaitsForEveryLoop(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	loops := g.Loops()
	const size = 4 << 20
	idleClosed := make(chan error, 1)
	busyClosed := make(chan error, 1)
	opened := make(chan struct{}, 2)
	listen := func(l *loop.Loop, name string, write int, closed chan error) string {
		path := filepath.Join(t.TempDir(), name)
		h := &funcHandler{
			open: func(c *sock.Conn) {
				if write > 0 {
					c.Write(make([]byte, write))
				}
				opened <- struct{}{}
			},
			close: func(_ *sock.Conn, err error) { closed <- err },
		}
		listened := make(chan error, 1)
		l.Post(func() {
			_, err := sock.Listen(l, "unix", path, h, sock.WithSendBufferSize(16<<10))
			listened <- err
		})
		if err := <-listened; err != nil {
			t.Fatal(err)
		}
		return path
	}
	idlePath := listen(loops[0], "idle", 0, idleClosed)
	busyPath := listen(loops[1], "busy", size, busyClosed)
	var clients []net.Conn
	for _, p := range []string{idlePath, busyPath} {
		c, err := net.Dial("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		<-opened
	}
	got := make(chan int64, 1)
	var idleErr error
	go func() {
		idleErr = <-idleClosed
		// A head start for a Shutdown that would return now: the loops
		// would be stopped, and the busy connection aborted, long before
		// 4 MiB could be read.
		time.Sleep(100 * time.Millisecond)
		clients[1].SetReadDeadline(time.Now().Add(waitLimit))
		n, _ := io.Copy(io.Discard, clients[1])
		got <- n
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	serr := g.Shutdown(ctx)
	var busyErr error
	select {
	case busyErr = <-busyClosed:
	case <-time.After(waitLimit):
		t.Fatal("no OnClose for the busy connection")
	}
	n := <-got
	if serr != nil || idleErr != nil || busyErr != nil || n != size {
		t.Fatalf("Shutdown = %v; OnClose(%v) and OnClose(%v); the client read %d of %d bytes; want nil, nil, nil and all",
			serr, idleErr, busyErr, n, size)
	}
}

// OnResume comes at the low-water mark itself, not only below it. Which
// queue lengths a flush leaves depends on how much the kernel takes, so the
// peer here reads in lockstep with the loop: on Linux a Unix socket with a
// tiny send buffer then takes the same amount, K, in every send that starts
// with nothing in flight, and the queue steps down by exactly K. K is
// measured on a first connection; the test skips where sends do not behave
// so.
func TestOnResumeAtExactlyTheLowWaterMark(t *testing.T) {
	const high, low = 64 << 10, 16 << 10
	l := newLoop(t)
	probe := &boundaryHandler{}
	dialUnixSmall(t, l, probe, sock.WithHighWater(16<<20))
	probe.c.Write(pattern(32 << 10))
	k := 32<<10 - probe.c.Buffered()
	if k <= 0 || k >= low {
		t.Skipf("the first send took %d bytes; the test needs a few KiB", k)
	}

	h := &boundaryHandler{}
	peer := dialUnixSmall(t, l, h, sock.WithHighWater(high), sock.WithLowWater(low))
	level := low + (high/k+1)*k // above the high-water mark, low plus whole sends
	h.c.Write(pattern(k + level))
	if h.pauses != 1 || h.c.Buffered() != level {
		t.Skipf("the first send took %d bytes, the probe's %d", k+level-h.c.Buffered(), k)
	}
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	for len(h.resumeBuffered) == 0 {
		if level <= low {
			t.Fatalf("no OnResume with %d bytes queued; the low-water mark is %d", level, low)
		}
		// Read what the last send put in flight, so that the next send starts
		// with nothing there.
		if _, err := io.ReadFull(peer, make([]byte, k)); err != nil {
			t.Fatal(err)
		}
		runUntil(t, l, "the next send", func() bool { return h.c.Buffered() < level })
		if level -= k; h.c.Buffered() != level {
			t.Skipf("a send took %d bytes, not %d", level+k-h.c.Buffered(), k)
		}
	}
	if h.resumeBuffered[0] != low {
		t.Fatalf("OnResume with %d bytes queued; want it as the queue reached the low-water mark, %d", h.resumeBuffered[0], low)
	}
}
