package sock_test

import (
	"cmp"
	"errors"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// waitLimit bounds every wait in these tests. It is a failure bound, never
// a pause: each wait ends as soon as what it waits for has happened.
const waitLimit = 10 * time.Second

func TestMain(m *testing.M) {
	// Open and close a socket with package net first, so that the runtime's
	// own poller descriptors exist before any test counts descriptors.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	goleak.VerifyTestMain(m)
}

// newLoop returns a loop closed at the end of the test, and skips the test
// on a variant without a poller (loop_compute), where sockets cannot work.
// It also checks that the test leaves no descriptor open.
func newLoop(t testing.TB, opts ...loop.Option) *loop.Loop {
	t.Helper()
	checkFDs(t)
	l, err := loop.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	requirePoller(t, l)
	return l
}

// newVirtualLoop is newLoop on a virtual clock, which the test advances.
func newVirtualLoop(t testing.TB) (*loop.Loop, *loop.VirtualClock) {
	t.Helper()
	vc := loop.NewVirtualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return newLoop(t, loop.WithClock(vc)), vc
}

// requirePoller skips the test when l cannot watch descriptors.
func requirePoller(t testing.TB, l *loop.Loop) {
	t.Helper()
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	err := l.AddReader(fds[0], func() {})
	if errors.Is(err, loop.ErrNoPoller) {
		t.Skipf("this loop variant (%s) has no poller, so it has no sockets: %v", l.Variant().Name, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	l.RemoveReader(fds[0])
}

// checkFDs fails the test if it ends with more descriptors open than it
// started with. Package net closes a descriptor only once no goroutine uses
// it, so the count is given a moment to settle.
func checkFDs(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	before := countFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLimit)
		for {
			after := countFDs(t)
			if after <= before {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("descriptors leaked: %d open before the test, %d after", before, after)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // the directory itself
}

// runUntil runs l on the calling goroutine until cond holds (checked on the
// loop goroutine after each iteration) and fails the test if that takes
// longer than waitLimit. A real-time watchdog posts the failure, so that it
// also works under a virtual clock.
func runUntil(t testing.TB, l *loop.Loop, what string, cond func() bool) {
	t.Helper()
	expired := false
	w := time.AfterFunc(waitLimit, func() { l.Post(func() { expired = true }) })
	defer w.Stop()
	for !cond() {
		if expired {
			t.Fatalf("timed out after %v waiting for %s", waitLimit, what)
		}
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
		}
	}
}

// recorder is a Handler that records what happens to one connection.
type recorder struct {
	sock.BaseHandler
	opened, closed bool
	closeErr       error
	got            []byte
	pauses         int
	resumes        int
	echo           bool // write back what arrives
}

func (r *recorder) OnOpen(*sock.Conn) { r.opened = true }
func (r *recorder) OnData(c *sock.Conn, p []byte) {
	r.got = append(r.got, p...)
	if r.echo {
		c.Write(p)
	}
}
func (r *recorder) OnClose(_ *sock.Conn, err error) { r.closed, r.closeErr = true, err }
func (r *recorder) OnPause(*sock.Conn)              { r.pauses++ }
func (r *recorder) OnResume(*sock.Conn)             { r.resumes++ }

// echoServer echoes on every connection and counts them; conns holds the
// open ones.
type echoServer struct {
	sock.BaseHandler
	opened, closed int
	conns          map[*sock.Conn]bool
	errs           []error // OnClose errors that were not nil
}

func (e *echoServer) OnOpen(c *sock.Conn) {
	e.opened++
	if e.conns == nil {
		e.conns = map[*sock.Conn]bool{}
	}
	e.conns[c] = true
}
func (e *echoServer) OnData(c *sock.Conn, p []byte) { c.Write(p) }
func (e *echoServer) OnClose(c *sock.Conn, err error) {
	e.closed++
	delete(e.conns, c)
	if err != nil {
		e.errs = append(e.errs, err)
	}
}

// closeAll aborts every open connection of e and closes ln, then runs l
// until their OnClose calls are done, so that the test leaves nothing open.
func (e *echoServer) closeAll(t testing.TB, l *loop.Loop, ln *sock.Listener) {
	t.Helper()
	if ln != nil {
		ln.Close()
	}
	for c := range e.conns {
		c.Abort()
	}
	runUntil(t, l, "the server's connections to close", func() bool { return len(e.conns) == 0 })
}

// hasIPv6Loopback reports whether ::1 can be bound here.
func hasIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// raiseFDLimit raises the soft descriptor limit to the hard one if it is
// below need, restoring it afterwards, and skips the test if even the hard
// limit is too low.
func raiseFDLimit(t testing.TB, need uint64) {
	t.Helper()
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if uint64(rl.Cur) >= need { // Rlimit's fields are int64 on some BSDs
		return
	}
	if uint64(rl.Max) < need {
		t.Skipf("needs %d descriptors; the hard limit is %d", need, rl.Max)
	}
	old := rl
	rl.Cur = rl.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Skipf("needs %d descriptors; raising the soft limit failed: %v", need, err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })
}

// rawSocket opens a plain blocking IPv4 TCP socket, outside package sock
// and the Go runtime's poller. (SOCK_CLOEXEC is not on every platform.)
func rawSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}

// peerListener returns a loopback TCP listener of Go's net package, for a
// peer that sock dials; it is closed when the test ends. Call it after
// newLoop, so that it is closed before the descriptors are counted.
func peerListener(t testing.TB) net.Listener {
	t.Helper()
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	return pl
}

// listenAndDial listens on loopback TCP on l with h and opts, and connects
// a plain net.Conn to it: the peer that most tests drive or starve. Both
// are closed when the test ends.
func listenAndDial(t testing.TB, l *loop.Loop, h sock.Handler, opts ...sock.Option) (*sock.Listener, net.Conn) {
	t.Helper()
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return ln, peer
}

// smallRcvbuf gives a socket a 4 KiB receive buffer, so that most of what
// is sent to it stays unacknowledged: a net.Dialer's or a
// net.ListenConfig's Control.
func smallRcvbuf(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	return cmp.Or(err, serr)
}

// smallRcvbufDialer dials with a 4 KiB receive buffer.
func smallRcvbufDialer() *net.Dialer { return &net.Dialer{Control: smallRcvbuf} }

// listenAndDialSmall listens on l with h and a 4 MiB send buffer (and opts),
// and dials it from a peer with a 4 KiB receive buffer; both close at the
// end of the test.
func listenAndDialSmall(t *testing.T, l *loop.Loop, h sock.Handler, opts ...sock.Option) net.Conn {
	t.Helper()
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", h, append([]sock.Option{sock.WithSendBufferSize(4 << 20)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	peer, err := smallRcvbufDialer().Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return peer
}

// smallRcvbufListener is a Go listener whose accepted sockets have a 4 KiB
// receive buffer.
func smallRcvbufListener(t *testing.T) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: smallRcvbuf}
	pl, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	return pl
}
