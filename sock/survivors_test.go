package sock_test

// Tests from a mutation round on conn.go and dial.go: each fails with a
// one-line change that the rest of the suite let through.

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
	"weak"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// bulkWriter writes n bytes to the first connection at its first OnData,
// and records its flow-control calls: "P" for OnPause, "R" for OnResume,
// and the bytes queued at each OnResume. If again > 0, the first OnResume
// that finds bytes still queued writes again more bytes.
type bulkWriter struct {
	recorder
	c          *sock.Conn
	n, again   int
	events     string
	atResume   []int
	wroteAgain bool
}

func (h *bulkWriter) OnOpen(c *sock.Conn) { h.recorder.OnOpen(c); h.c = c }
func (h *bulkWriter) OnData(c *sock.Conn, p []byte) {
	h.recorder.OnData(c, p)
	if h.n > 0 {
		n := h.n
		h.n = 0
		c.Write(pattern(n))
	}
}
func (h *bulkWriter) OnPause(*sock.Conn) { h.events += "P" }
func (h *bulkWriter) OnResume(c *sock.Conn) {
	h.events += "R"
	h.atResume = append(h.atResume, c.Buffered())
	if h.again > 0 && !h.wroteAgain && c.Buffered() > 0 {
		h.wroteAgain = true
		c.Write(pattern(h.again))
	}
}

// readN reads n bytes from peer on a goroutine, then wakes l; the channel
// gets how many it read.
func readN(l *loop.Loop, peer net.Conn, n int) <-chan int64 {
	done := make(chan int64, 1)
	go func() {
		peer.SetReadDeadline(time.Now().Add(waitLimit))
		k, _ := io.CopyN(io.Discard, peer, int64(n))
		done <- k
		l.Post(func() {})
	}()
	return done
}

// waitRead runs l until done delivers, and fails unless it read n bytes.
func waitRead(t *testing.T, l *loop.Loop, done <-chan int64, n int) {
	t.Helper()
	var k int64 = -1
	runUntil(t, l, "the peer's reads", func() bool {
		select {
		case k = <-done:
			return true
		default:
			return false
		}
	})
	if k != int64(n) {
		t.Fatalf("the peer read %d bytes; want %d", k, n)
	}
}

// Once the queue has drained, the loop no longer watches the socket for
// writability: a socket with room to send is always writable, so a writer
// left registered runs on every wait, and the loop spins instead of
// sleeping. (RemoveWriter dropped from drained passed every other test.)
func TestADrainedQueueLetsTheLoopSleep(t *testing.T) {
	l := newLoop(t)
	const size = 1 << 20
	h := &bulkWriter{n: size}
	_, peer := listenAndDial(t, l, h, sock.WithSendBufferSize(16<<10))
	done := readN(l, peer, size)
	peer.Write([]byte("go"))
	waitRead(t, l, done, size)
	runUntil(t, l, "the queue to drain", func() bool { return h.c != nil && h.c.Buffered() == 0 })
	requireSleeps(t, l)
	h.c.Abort()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
}

// requireSleeps fails the test unless l, with nothing to do but a 20 ms
// timer, sleeps until it: a descriptor watched for readiness that is always
// there (a writable socket; a closed one, on poll) makes every RunOnce
// return at once.
func requireSleeps(t *testing.T, l *loop.Loop) {
	t.Helper()
	fired := false
	l.CallLater(20*time.Millisecond, func() { fired = true })
	for n := 0; !fired; n++ {
		if n == 20 {
			t.Fatalf("%d iterations ran before a 20 ms timer with nothing else to do: the loop does not sleep", n)
		}
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
		}
	}
}

// An OnResume at the low-water mark, with bytes still queued, re-arms
// OnPause: writing past the high-water mark from OnResume pauses again at
// once, and the calls keep alternating. (Left set, the paused flag swallowed
// that OnPause, and a second OnResume followed when the queue emptied.)
func TestOnPauseAgainAfterAnOnResumeAtTheLowWaterMark(t *testing.T) {
	l := newLoop(t)
	const first, again = 256 << 10, 128 << 10
	h := &bulkWriter{n: first, again: again}
	// A small send buffer: each send takes far less than the 48 KiB low-water
	// mark, so the queue passes it on its way down with bytes left.
	_, peer := listenAndDial(t, l, h, sock.WithSendBufferSize(8<<10),
		sock.WithHighWater(64<<10), sock.WithLowWater(48<<10))
	done := readN(l, peer, first+again)
	peer.Write([]byte("go"))
	waitRead(t, l, done, first+again)
	runUntil(t, l, "the queue to drain", func() bool { return h.c != nil && h.c.Buffered() == 0 })
	if !h.wroteAgain {
		t.Fatalf("no OnResume with bytes still queued (queued at each: %v)", h.atResume)
	}
	if h.events != "PRPR" {
		t.Errorf("flow control calls %q (queued at each OnResume: %v); want PRPR", h.events, h.atResume)
	}
	h.c.Abort()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
}

// A low-water mark above the high-water mark is lowered to it: OnResume
// comes only once the queue is back at or under the high-water mark.
func TestALowWaterMarkAboveTheHighWaterMarkIsLoweredToIt(t *testing.T) {
	l := newLoop(t)
	const size, high = 512 << 10, 64 << 10
	h := &bulkWriter{n: size}
	_, peer := listenAndDial(t, l, h, sock.WithSendBufferSize(8<<10),
		sock.WithHighWater(high), sock.WithLowWater(1<<20))
	done := readN(l, peer, size)
	peer.Write([]byte("go"))
	waitRead(t, l, done, size)
	runUntil(t, l, "the queue to drain", func() bool { return h.c != nil && h.c.Buffered() == 0 })
	if h.events != "PR" || h.atResume[0] > high {
		t.Errorf("flow control calls %q, with %v bytes queued at OnResume; want PR, at most %d", h.events, h.atResume, high)
	}
	h.c.Abort()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
}

// keepOpenOnEOF keeps the connection open at the peer's end of stream, and
// counts its OnEOF calls.
type keepOpenOnEOF struct {
	recorder
	c    *sock.Conn
	eofs int
}

func (h *keepOpenOnEOF) OnOpen(c *sock.Conn)   { h.recorder.OnOpen(c); h.c = c }
func (h *keepOpenOnEOF) OnEOF(*sock.Conn) bool { h.eofs++; return true }

// OnEOF returning true keeps the connection open for writing after it
// returns, not only during the call: an answer written later still goes
// out. (A Close made whatever OnEOF said passed every other test, whose
// handlers wrote from inside OnEOF.)
func TestOnEOFKeepsTheConnectionOpenAfterItReturns(t *testing.T) {
	l := newLoop(t)
	h := &keepOpenOnEOF{}
	_, peer := listenAndDial(t, l, h)
	got := writeHalfCloseAndRead(peer, "question")
	runUntil(t, l, "OnEOF", func() bool { return h.eofs == 1 })
	if _, err := h.c.Write([]byte("late answer")); err != nil {
		t.Fatalf("Write after an OnEOF that kept the connection open: %v", err)
	}
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if b := <-got; string(b) != "late answer" || h.closeErr != nil {
		t.Errorf("the peer read %q, OnClose(%v); want %q, nil", b, h.closeErr, "late answer")
	}
}

// ResumeReading after the peer's end of stream does nothing: there is
// nothing left to read, and OnEOF is not called a second time. (Letting it
// add the reader back made the end of stream read again, and OnEOF run
// again.)
func TestResumeReadingAfterThePeersEndDoesNotRepeatOnEOF(t *testing.T) {
	l := newLoop(t)
	h := &keepOpenOnEOF{}
	_, peer := listenAndDial(t, l, h)
	got := writeHalfCloseAndRead(peer, "question")
	runUntil(t, l, "OnEOF", func() bool { return h.eofs == 1 })
	if err := h.c.PauseReading(); err != nil {
		t.Fatal(err)
	}
	if err := h.c.ResumeReading(); err != nil {
		t.Fatal(err)
	}
	// The end of stream is readable at once: a reader added back would run
	// in the wait before this timer.
	fired := false
	l.CallLater(10*time.Millisecond, func() { fired = true })
	runUntil(t, l, "a timer", func() bool { return fired })
	if h.eofs != 1 {
		t.Errorf("%d OnEOF calls; want 1", h.eofs)
	}
	h.c.Write([]byte("answer"))
	h.c.Close()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if b := <-got; string(b) != "answer" || h.closeErr != nil {
		t.Errorf("the peer read %q, OnClose(%v); want %q, nil", b, h.closeErr, "answer")
	}
}

// PauseReading while a Dial connects holds reading back once it has
// connected: what the peer sent waits in the kernel until ResumeReading.
// (A connect that added the reader anyway, or a PauseReading that did not
// note the pause, passed every other test.) Unix sockets, so that the
// peer's bytes are in the kernel's queue by the time its write returns.
func TestPauseReadingWhileConnectingHoldsReadingBack(t *testing.T) {
	l := newLoop(t)
	path := filepath.Join(t.TempDir(), "s")
	pl, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		s, _ := pl.Accept() // nil once the listener is closed
		accepted <- s
	}()
	cli := &recorder{}
	c, err := sock.Dial(l, "unix", path, cli)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort() // if the test fails
	if err := c.PauseReading(); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnOpen", func() bool { return cli.opened })
	s := <-accepted
	if s == nil {
		t.Fatal("the peer's accept failed")
	}
	defer s.Close()
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// The bytes are readable now: a reader would run in the wait before
	// this timer.
	fired := false
	l.CallLater(10*time.Millisecond, func() { fired = true })
	runUntil(t, l, "a timer", func() bool { return fired })
	if len(cli.got) != 0 {
		t.Fatalf("OnData(%q) while reading was paused", cli.got)
	}
	if err := c.ResumeReading(); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the data", func() bool { return string(cli.got) == "hello" })
	c.Abort()
	runUntil(t, l, "OnClose", func() bool { return cli.closed })
}

// idleThenClose answers the first data with n bytes and Close, with an idle
// timeout set just before.
type idleThenClose struct {
	recorder
	n    int
	idle time.Duration
}

func (h *idleThenClose) OnData(c *sock.Conn, p []byte) {
	h.recorder.OnData(c, p)
	if h.n > 0 {
		c.SetIdleTimeout(h.idle)
		c.Write(make([]byte, h.n))
		c.Close()
		h.n = 0
	}
}

// The idle timeout stops at Close's wait for the peer (the linger timeout
// bounds it): a peer that acknowledges slowly makes OnClose report the
// linger timeout, not an idle one. (An idle timer left running fired during
// the wait, and OnClose got the idle timeout.)
func TestAnIdleTimeoutDoesNotCutCloseShort(t *testing.T) {
	l := newLoop(t)
	const size = 512 << 10
	h := &idleThenClose{n: size, idle: 20 * time.Millisecond}
	// The kernel takes the whole response; the peer acknowledges little.
	peer := listenAndDialSmall(t, l, h, sock.WithLingerTimeout(300*time.Millisecond))
	if _, err := peer.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	if !errors.Is(h.closeErr, sock.ErrLinger) || errors.Is(h.closeErr, sock.ErrTimeout) {
		t.Fatalf("OnClose(%v); want the linger timeout (the peer acknowledges nothing)", h.closeErr)
	}
}

// An Abort with bytes queued stops watching the socket before closing it:
// on poll(2), a closed descriptor left in the set is reported on every wait,
// and the loop spins. (Run with -tags loop_throughput, the poll variant;
// epoll forgets a closed descriptor by itself.)
func TestAbortWithBytesQueuedLetsTheLoopSleep(t *testing.T) {
	l := newLoop(t)
	h := &bulkWriter{n: 4 << 20} // more than the kernel takes: bytes stay queued
	_, peer := listenAndDial(t, l, h, sock.WithSendBufferSize(16<<10))
	peer.Write([]byte("go"))
	runUntil(t, l, "the write", func() bool { return h.c != nil && h.c.Buffered() > 0 })
	h.c.Abort()
	runUntil(t, l, "OnClose", func() bool { return h.closed })
	requireSleeps(t, l)
}

// A dial to a name whose first address refuses and whose last fails before
// any socket opens (a zone) stops watching the first address's socket
// before closing it: on poll(2) the closed descriptor otherwise made the
// loop spin. (Run with -tags loop_throughput, the poll variant.)
func TestADialThatRunsOutOfAddressesLetsTheLoopSleep(t *testing.T) {
	l, _, port, res := nameSetup(t)
	cli := &opens{}
	if _, err := sock.Dial(l, "tcp", "svc.test:"+port, cli, sock.WithResolver(res)); err != nil {
		t.Fatal(err)
	}
	res.next(t).reply <- answer{addrs: addrs("127.0.0.2", "fe80::1%lo")}
	runUntil(t, l, "OnClose", func() bool { return cli.closed })
	if !errors.Is(cli.closeErr, syscall.ECONNREFUSED) {
		t.Fatalf("OnClose(%v); want the first address's ECONNREFUSED", cli.closeErr)
	}
	requireSleeps(t, l)
}

// A dialed connection is forgotten once its OnClose has run: the loop
// keeps no reference to it. (The loop's list of dialed connections kept its
// first one for good, so a client that dials and closes one connection at a
// time kept every one of them.)
func TestAClosedDialedConnectionIsCollected(t *testing.T) {
	l := newLoop(t)
	srv := &echoServer{}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var gone []weak.Pointer[sock.Conn]
	for range 3 { // each the newest, and so the list's first, when it closes
		cli := &recorder{}
		c, err := sock.Dial(l, "tcp", ln.Addr().String(), cli)
		if err != nil {
			t.Fatal(err)
		}
		gone = append(gone, weak.Make(c))
		runUntil(t, l, "the open", func() bool { return cli.opened })
		c.Abort()
		runUntil(t, l, "OnClose", func() bool { return cli.closed })
	}
	srv.closeAll(t, l, nil)
	runtime.GC()
	runtime.GC()
	for i, w := range gone {
		if w.Value() != nil {
			t.Errorf("dialed connection %d is still reachable after its OnClose", i)
		}
	}
}
