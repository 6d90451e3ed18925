package sock_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// pattern returns n bytes that differ from any shift of themselves within
// a chunk, so that lost, repeated or reordered bytes show.
func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	return p
}

// streamer writes want in chunks while it is not paused: what a
// well-behaved producer does with OnPause and OnResume.
type streamer struct {
	sock.BaseHandler
	c               *sock.Conn
	want            []byte
	sent            int
	chunk           int
	paused          bool
	pauses, resumes int
	maxBuffered     int
	closed          bool
	closeErr        error
	closeAfterwards bool // Close once everything is written
}

func (s *streamer) OnOpen(c *sock.Conn) { s.c = c; s.pump() }
func (s *streamer) OnPause(*sock.Conn)  { s.paused = true; s.pauses++ }
func (s *streamer) OnResume(*sock.Conn) { s.paused = false; s.resumes++; s.pump() }
func (s *streamer) OnClose(_ *sock.Conn, err error) {
	s.closed, s.closeErr = true, err
}

func (s *streamer) pump() {
	for !s.paused && s.sent < len(s.want) {
		end := min(s.sent+s.chunk, len(s.want))
		if _, err := s.c.Write(s.want[s.sent:end]); err != nil {
			return
		}
		s.sent = end
		s.maxBuffered = max(s.maxBuffered, s.c.Buffered())
	}
	if s.sent == len(s.want) && s.closeAfterwards {
		s.c.Close()
	}
}

// TestSlowReaderIsBoundedByHighWater writes 1 MiB to a peer that does not
// read: the writer is paused, what waits in memory stays within the
// high-water mark plus one chunk, and once the peer reads, OnResume lets
// the rest through, every byte in order.
func TestSlowReaderIsBoundedByHighWater(t *testing.T) {
	const total, high, chunk = 1 << 20, 64 << 10, 8 << 10
	l := newLoop(t)
	s := &streamer{want: pattern(total), chunk: chunk, closeAfterwards: true}
	_, peer := listenAndDial(t, l, s, sock.WithHighWater(high), sock.WithLowWater(high/4), sock.WithSendBufferSize(64<<10))
	// The listener's small send buffer keeps the kernel from taking the
	// whole megabyte. (A tiny receive buffer on the peer would not do: below
	// one loopback segment, 64 KiB, TCP crawls on retransmission timers.)

	runUntil(t, l, "OnPause", func() bool { return s.pauses > 0 })
	if s.sent >= total {
		t.Fatalf("all %d bytes went out before any pause; the test needs a peer that does not read", total)
	}
	if s.maxBuffered > high+chunk {
		t.Fatalf("%d bytes buffered; the high-water mark is %d and a chunk %d", s.maxBuffered, high, chunk)
	}

	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	runUntil(t, l, "the stream to be written and closed", func() bool { return s.closed })
	if s.closeErr != nil {
		t.Errorf("OnClose(%v); want nil", s.closeErr)
	}
	if s.resumes == 0 {
		t.Error("OnResume never ran")
	}
	if s.maxBuffered > high+chunk {
		t.Errorf("%d bytes buffered at most; the high-water mark is %d and a chunk %d", s.maxBuffered, high, chunk)
	}
	var b []byte
	select {
	case b = <-got:
	case <-time.After(waitLimit):
		t.Fatal("the peer did not get end of stream")
	}
	if !bytes.Equal(b, s.want) {
		t.Fatalf("the peer got %d bytes, not the %d written in order", len(b), total)
	}
	t.Logf("1 MiB to a slow reader: %d pauses, %d resumes, at most %d bytes buffered", s.pauses, s.resumes, s.maxBuffered)
}

// writeHalfCloseAndRead has peer send msg and close its sending side, then
// read to end of stream; what it read comes on the channel.
func writeHalfCloseAndRead(peer net.Conn, msg string) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		peer.Write([]byte(msg))
		peer.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	return got
}

// TestHalfClose checks both directions of a half-close: the peer's end of
// stream (the server sends what it has, then closes), our CloseWrite (the
// peer sees end of stream, we still read), and EOFHandler keeping a
// connection open to answer after the peer has finished.
func TestHalfClose(t *testing.T) {
	t.Run("peer closes its side, server flushes and closes", func(t *testing.T) {
		l := newLoop(t)
		srv := &echoServer{}
		_, peer := listenAndDial(t, l, srv)
		got := writeHalfCloseAndRead(peer, "half a conversation")
		runUntil(t, l, "the server to close", func() bool { return srv.closed == 1 })
		if len(srv.errs) > 0 {
			t.Errorf("server OnClose(%v); want nil", srv.errs)
		}
		if b := <-got; string(b) != "half a conversation" {
			t.Errorf("peer read %q before end of stream", b)
		}
	})

	t.Run("we close our side and keep reading", func(t *testing.T) {
		l := newLoop(t)
		srv := &echoServer{}
		ln, err := sock.Listen(l, "unix", filepath.Join(t.TempDir(), "s"), srv)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		cli := &recorder{}
		c, err := sock.Dial(l, "unix", ln.Addr().String(), cli)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("ask"))
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("more")); !errors.Is(err, sock.ErrClosed) {
			t.Errorf("Write after CloseWrite = %v; want ErrClosed", err)
		}
		runUntil(t, l, "both to close", func() bool { return cli.closed && srv.closed == 1 })
		if string(cli.got) != "ask" || cli.closeErr != nil {
			t.Errorf("client got %q, OnClose(%v); want \"ask\", nil", cli.got, cli.closeErr)
		}
	})

	t.Run("EOFHandler answers after the peer finished", func(t *testing.T) {
		l := newLoop(t)
		srv := &lateAnswer{}
		_, peer := listenAndDial(t, l, srv)
		got := writeHalfCloseAndRead(peer, "count these")
		runUntil(t, l, "the server to close", func() bool { return srv.closed })
		if b := <-got; string(b) != "11 bytes" {
			t.Errorf("peer read %q; want the answer sent after its end of stream, %q", b, "11 bytes")
		}
	})
}

// lateAnswer counts what it reads and answers once the peer has finished.
type lateAnswer struct {
	sock.BaseHandler
	n      int
	closed bool
}

func (h *lateAnswer) OnData(_ *sock.Conn, p []byte) { h.n += len(p) }
func (h *lateAnswer) OnEOF(c *sock.Conn) bool {
	c.Write([]byte(itoa(h.n) + " bytes"))
	c.Close()
	return true
}
func (h *lateAnswer) OnClose(*sock.Conn, error) { h.closed = true }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestResetByPeer: a peer that resets (SO_LINGER 0) is an error for
// OnClose that says so; one that resets in the middle of a large write
// makes OnClose report the bytes that never left.
func TestResetByPeer(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		l := newLoop(t)
		srv := &echoServer{}
		ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", srv)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		peer, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		runUntil(t, l, "the accept", func() bool { return srv.opened == 1 })
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close()
		runUntil(t, l, "the server to see the reset", func() bool { return srv.closed == 1 })
		if len(srv.errs) != 1 || !errors.Is(srv.errs[0], syscall.ECONNRESET) {
			t.Errorf("server OnClose errors %v; want ECONNRESET", srv.errs)
		}
	})
	t.Run("mid-write", func(t *testing.T) {
		l := newLoop(t)
		s := &streamer{want: pattern(4 << 20), chunk: 64 << 10}
		// A high-water mark above the whole stream: the writer never pauses,
		// so megabytes wait in the Conn when the peer goes.
		ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", s, sock.WithHighWater(8<<20), sock.WithSendBufferSize(64<<10))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		peer, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		runUntil(t, l, "bytes to queue", func() bool { return s.c != nil && s.c.Buffered() > 0 })
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close()
		runUntil(t, l, "the writer to see the reset", func() bool { return s.closed })
		var ue *sock.UnsentError
		if !errors.As(s.closeErr, &ue) || ue.Unsent <= 0 {
			t.Fatalf("OnClose(%v); want an UnsentError", s.closeErr)
		}
		if !errors.Is(s.closeErr, syscall.ECONNRESET) && !errors.Is(s.closeErr, syscall.EPIPE) {
			t.Errorf("OnClose(%v); want ECONNRESET or EPIPE inside", s.closeErr)
		}
		if _, err := s.c.Write([]byte("x")); !errors.Is(err, sock.ErrClosed) {
			t.Errorf("Write after the reset = %v; want ErrClosed", err)
		}
	})
}

// TestAbortReportsUnsentBytes: Abort with queued bytes tells OnClose how
// many were dropped: those queued, and what the reset that the Abort then
// is took from the kernel (at most what was written).
func TestAbortReportsUnsentBytes(t *testing.T) {
	l := newLoop(t)
	s := &streamer{want: pattern(1 << 20), chunk: 64 << 10}
	listenAndDial(t, l, s, sock.WithHighWater(4<<20), sock.WithSendBufferSize(64<<10))
	runUntil(t, l, "bytes to queue", func() bool { return s.c != nil && s.c.Buffered() > 0 })
	queued := s.c.Buffered()
	s.c.Abort()
	runUntil(t, l, "OnClose", func() bool { return s.closed })
	var ue *sock.UnsentError
	if !errors.As(s.closeErr, &ue) || ue.Unsent < queued || ue.Unsent > len(s.want) || !errors.Is(s.closeErr, sock.ErrAborted) {
		t.Errorf("OnClose(%v); want an UnsentError of %d to %d bytes wrapping ErrAborted", s.closeErr, queued, len(s.want))
	}
}

// TestTimeouts runs the deadlines on a virtual clock: they fire when the
// watched activity stops for their duration, and activity postpones them.
func TestTimeouts(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	setup := func(t *testing.T, onOpen func(c *sock.Conn)) (*loop.Loop, *loop.VirtualClock, *timeoutServer, *sock.Conn, *recorder) {
		vc := loop.NewVirtualClock(start)
		l := newLoop(t, loop.WithClock(vc))
		srv := &timeoutServer{onOpen: onOpen}
		ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", srv)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		cli := &recorder{}
		c, err := sock.Dial(l, "tcp", ln.Addr().String(), cli)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.Abort()
			runUntil(t, l, "the client to close", func() bool { return cli.closed })
		})
		runUntil(t, l, "the connection", func() bool { return srv.c != nil && cli.opened })
		return l, vc, srv, c, cli
	}
	// advance moves the clock and runs the loop until it has seen that.
	advance := func(t *testing.T, l *loop.Loop, vc *loop.VirtualClock, d time.Duration) {
		vc.Advance(d)
		fired := false
		l.CallSoon(func() { l.CallSoon(func() { fired = true }) })
		runUntil(t, l, "the loop to run its due timers", func() bool { return fired })
	}

	t.Run("idle", func(t *testing.T) {
		l, vc, srv, c, cli := setup(t, func(c *sock.Conn) { c.SetIdleTimeout(10 * time.Second) })
		advance(t, l, vc, 6*time.Second)
		c.Write([]byte("still here"))
		runUntil(t, l, "the echo", func() bool { return len(cli.got) == len("still here") })
		advance(t, l, vc, 6*time.Second) // 12s since open, 6s since activity
		if srv.closed {
			t.Fatalf("idle timeout fired though the connection was active 6s ago (%v)", srv.err)
		}
		advance(t, l, vc, 5*time.Second)
		runUntil(t, l, "the idle timeout", func() bool { return srv.closed })
		if !errors.Is(srv.err, sock.ErrTimeout) {
			t.Errorf("OnClose(%v); want ErrTimeout", srv.err)
		}
		var ne net.Error
		if !errors.As(srv.err, &ne) || !ne.Timeout() {
			t.Errorf("OnClose(%v) is not a net.Error with Timeout", srv.err)
		}
	})
	t.Run("read", func(t *testing.T) {
		l, vc, srv, _, _ := setup(t, func(c *sock.Conn) {
			c.SetReadTimeout(3 * time.Second)
			c.Write([]byte("writing does not count as reading"))
		})
		advance(t, l, vc, 2*time.Second)
		if srv.closed {
			t.Fatal("read timeout fired early")
		}
		advance(t, l, vc, 2*time.Second)
		runUntil(t, l, "the read timeout", func() bool { return srv.closed })
		if !errors.Is(srv.err, sock.ErrTimeout) {
			t.Errorf("OnClose(%v); want ErrTimeout", srv.err)
		}
	})
	t.Run("write", func(t *testing.T) {
		vc := loop.NewVirtualClock(start)
		l := newLoop(t, loop.WithClock(vc))
		srv := &timeoutServer{onOpen: func(c *sock.Conn) { c.SetWriteTimeout(5 * time.Second) }}
		listenAndDial(t, l, srv, sock.WithSendBufferSize(64<<10)) // and never read
		runUntil(t, l, "the connection", func() bool { return srv.c != nil })
		srv.c.Write(pattern(4 << 20))
		if srv.c.Buffered() == 0 {
			t.Fatal("the kernel took 4 MiB at once; the test needs bytes to wait")
		}
		advance(t, l, vc, 4*time.Second)
		if srv.closed {
			t.Fatal("write timeout fired early")
		}
		// The kernel may take a little more after a while (window updates);
		// each bit of progress starts the timeout over, so the clock moves
		// on until it fires, a bounded number of times.
		for i := 0; !srv.closed; i++ {
			if i == 20 {
				t.Fatalf("no write timeout after %d more virtual seconds; %d bytes still queued", 2*i, srv.c.Buffered())
			}
			advance(t, l, vc, 2*time.Second)
		}
		var ue *sock.UnsentError
		if !errors.Is(srv.err, sock.ErrTimeout) || !errors.As(srv.err, &ue) {
			t.Errorf("OnClose(%v); want an UnsentError wrapping ErrTimeout", srv.err)
		}
	})
}

// timeoutServer records its one connection's end.
type timeoutServer struct {
	sock.BaseHandler
	onOpen func(*sock.Conn)
	c      *sock.Conn
	closed bool
	err    error
}

func (s *timeoutServer) OnOpen(c *sock.Conn) { s.c = c; s.onOpen(c) }
func (s *timeoutServer) OnData(c *sock.Conn, p []byte) {
	c.Write(p)
}
func (s *timeoutServer) OnClose(_ *sock.Conn, err error) { s.closed, s.err = true, err }

// pausingEcho echoes and passes back-pressure on: it stops reading while
// its writes are paused.
type pausingEcho struct {
	sock.BaseHandler
	c           *sock.Conn
	readPauses  int
	maxBuffered int
	closed      bool
	closeErr    error
}

func (h *pausingEcho) OnOpen(c *sock.Conn) { h.c = c }
func (h *pausingEcho) OnData(c *sock.Conn, p []byte) {
	c.Write(p)
	h.maxBuffered = max(h.maxBuffered, c.Buffered())
}
func (h *pausingEcho) OnPause(c *sock.Conn)  { h.readPauses++; c.PauseReading() }
func (h *pausingEcho) OnResume(c *sock.Conn) { c.ResumeReading() }
func (h *pausingEcho) OnClose(_ *sock.Conn, err error) {
	h.closed, h.closeErr = true, err
}

// TestEchoPassesBackPressureOn: a client sends 1 MiB and reads nothing for
// a while. The echo server, pausing its reads while its writes are
// paused, holds no more than the high-water mark plus one read; once the
// client reads, all of it comes back in order.
func TestEchoPassesBackPressureOn(t *testing.T) {
	const total, high, readBuf = 1 << 20, 32 << 10, 16 << 10
	l := newLoop(t)
	srv := &pausingEcho{}
	_, peer := listenAndDial(t, l, srv, sock.WithHighWater(high), sock.WithReadBufferSize(readBuf), sock.WithSendBufferSize(64<<10))
	want := pattern(total)
	wrote := make(chan error, 1)
	go func() {
		_, err := peer.Write(want) // blocks while the server holds back
		wrote <- err
	}()
	runUntil(t, l, "the server to pause reading", func() bool { return srv.readPauses > 0 })

	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, total)
		_, err := io.ReadFull(peer, b)
		if err != nil {
			b = nil
		}
		peer.Close() // the server sees the end and closes, which ends the wait below
		got <- b
	}()
	runUntil(t, l, "the server to close", func() bool { return srv.closed })
	if err := <-wrote; err != nil {
		t.Fatalf("client write: %v", err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the echo of %d bytes differs (got %d)", total, len(b))
	}
	if limit := high + readBuf; srv.maxBuffered > limit {
		t.Errorf("the server buffered %d bytes; with reads paused it should stay within %d", srv.maxBuffered, limit)
	}
	t.Logf("1 MiB echoed to a late reader: %d read pauses, at most %d bytes buffered", srv.readPauses, srv.maxBuffered)
}

// TestConnectTimeout dials a listener whose accept queue is full (it never
// accepts), so that the kernel drops the SYNs and connects hang: past the
// connect timeout, each of those ends in OnClose with ErrTimeout.
func TestConnectTimeout(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux dropping SYNs to a full accept queue")
	}
	l, vc := newVirtualLoop(t)
	lfd, err := rawSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)

	const dials = 6
	var recs []*recorder
	var conns []*sock.Conn
	for range dials {
		r := &recorder{}
		c, err := sock.Dial(l, "tcp", addr, r, sock.WithConnectTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		recs, conns = append(recs, r), append(conns, c)
	}
	// Let the handshakes that can complete do so, then move past the timeout.
	runUntil(t, l, "a first connection", func() bool { return recs[0].opened })
	vc.Advance(6 * time.Second)
	timedOut := 0
	runUntil(t, l, "every dial to open or time out", func() bool {
		timedOut = 0
		for _, r := range recs {
			if !r.opened && !r.closed {
				return false
			}
			if r.closed {
				timedOut++
			}
		}
		return true
	})
	if timedOut == 0 {
		t.Fatalf("all %d dials connected to a listener with backlog 0; the test needs some to hang", dials)
	}
	for i, r := range recs {
		if r.closed && (r.opened || !errors.Is(r.closeErr, sock.ErrTimeout)) {
			t.Errorf("dial %d: opened %v, OnClose(%v); a hung connect should end with ErrTimeout and no OnOpen", i, r.opened, r.closeErr)
		}
	}
	for _, c := range conns {
		c.Abort()
	}
	runUntil(t, l, "the connections to close", func() bool {
		for _, r := range recs {
			if !r.closed {
				return false
			}
		}
		return true
	})
	t.Logf("%d of %d dials timed out", timedOut, dials)
}

// TestBrokenPipeIsAnErrorNotASignal checks what the non-Linux send path
// relies on (it has no MSG_NOSIGNAL): a plain write to a socket whose peer
// is gone fails with EPIPE, and the Go runtime, which ignores SIGPIPE for
// descriptors other than 1 and 2, keeps the process alive.
func TestBrokenPipeIsAnErrorNotASignal(t *testing.T) {
	checkFDs(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	unix.Close(fds[1])
	if _, err := unix.Write(fds[0], []byte("to nobody")); err != unix.EPIPE {
		t.Fatalf("write to a closed peer = %v; want EPIPE", err)
	}
}

// writevServer writes want on open, cut into pieces of varied sizes and
// handed alternately to Write and to Writev, then closes.
type writevServer struct {
	sock.BaseHandler
	want     []byte
	closed   bool
	closeErr error
	maxQueue int
}

func (h *writevServer) OnOpen(c *sock.Conn) {
	p := h.want
	for i := 0; len(p) > 0; i++ {
		n := min(len(p), 1+(i*7919)%40000)
		if i%2 == 0 {
			c.Write(p[:n])
		} else {
			third := n / 3
			c.Writev(p[:third], nil, p[third:2*third], p[2*third:n])
		}
		p = p[n:]
		h.maxQueue = max(h.maxQueue, c.Buffered())
	}
	c.Close()
}
func (h *writevServer) OnClose(_ *sock.Conn, err error) { h.closed, h.closeErr = true, err }

// TestQueuedWritesKeepTheirOrder queues 4 MiB in pieces through Write and
// Writev to a peer that reads late, so that the queue spans far more than
// the 64 chunks one gathered send takes; the peer must get every byte in
// order, and Close must send them all before closing.
func TestQueuedWritesKeepTheirOrder(t *testing.T) {
	l := newLoop(t)
	srv := &writevServer{want: pattern(4 << 20)}
	_, peer := listenAndDial(t, l, srv, sock.WithHighWater(16<<20), sock.WithSendBufferSize(64<<10))
	runUntil(t, l, "the server to queue", func() bool { return srv.maxQueue > 0 })
	if srv.maxQueue < 64*16<<10 {
		t.Fatalf("only %d bytes queued; the test needs more than 64 chunks", srv.maxQueue)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	runUntil(t, l, "the server to send everything and close", func() bool { return srv.closed })
	if srv.closeErr != nil {
		t.Errorf("OnClose(%v); want nil", srv.closeErr)
	}
	if b := <-got; !bytes.Equal(b, srv.want) {
		t.Fatalf("the peer got %d bytes, not the %d queued, in order", len(b), len(srv.want))
	}
}

// hangingListener returns the address of a listener whose accept queue is
// full, so that a further connect hangs (its SYNs are dropped).
func hangingListener(t *testing.T) string {
	t.Helper()
	lfd, err := rawSocket()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(lfd) })
	if err := syscall.Bind(lfd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(lfd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 2 { // fill the accept queue
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}
