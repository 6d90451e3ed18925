package sock_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// rawFD returns the descriptor of a net listener or connection without
// os.File's Fd, which would make the socket blocking.
func rawFD(t *testing.T, x syscall.Conn) uintptr {
	t.Helper()
	rc, err := x.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd uintptr
	if err := rc.Control(func(d uintptr) { fd = d }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// activatedTools returns sh and the test binary, or skips the test.
func activatedTools(t *testing.T) (sh, exe string) {
	t.Helper()
	if os.Getenv("REV13_ACTIVATED") != "" {
		t.Skip("in the activated child")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("no sh to set LISTEN_PID with: %v", err)
	}
	exe, err = os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary to run again: %v", err)
	}
	return sh, exe
}

// startActivated starts the test binary for TestRev13ActivatedChild with
// tcpfd and udpfd as its descriptors 3 and 4 (LISTEN_FDS=2, LISTEN_PID its
// own), as systemd does, and returns what ends it: it closes the child's
// standard input, waits for it (killed past 3*waitLimit), and returns its
// status and output. finish may be called more than once. ready is closed
// once the child has taken both sockets.
func startActivated(t *testing.T, sh, exe string, tcpfd, udpfd uintptr) (ready <-chan struct{}, finish func() (syscall.WaitStatus, string)) {
	t.Helper()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		t.Fatal(err)
	}
	env := append(os.Environ(), "REV13_ACTIVATED=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=tcp:udp")
	pid, err := syscall.ForkExec(sh, []string{"sh", "-c", `LISTEN_PID=$$ exec "$0" -test.run='^TestRev13ActivatedChild$' -test.count=1 -test.v`, exe}, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{stdinR.Fd(), outW.Fd(), outW.Fd(), tcpfd, udpfd},
	})
	stdinR.Close()
	outW.Close()
	if err != nil {
		stdinW.Close()
		outR.Close()
		t.Skipf("cannot start the server: %v", err)
	}
	var out bytes.Buffer
	copied, started := make(chan struct{}), make(chan struct{})
	ready = started
	go func() {
		sc := bufio.NewScanner(outR)
		for seen := false; sc.Scan(); {
			out.WriteString(sc.Text() + "\n")
			if !seen && sc.Text() == "REV13 READY" {
				seen = true
				close(started)
			}
		}
		io.Copy(&out, outR)
		close(copied)
	}()
	exited := make(chan syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		exited <- ws
	}()
	kill := time.AfterFunc(3*waitLimit, func() { syscall.Kill(pid, syscall.SIGKILL) })
	var ws syscall.WaitStatus
	var once sync.Once
	finish = func() (syscall.WaitStatus, string) {
		once.Do(func() {
			stdinW.Close()
			ws = <-exited
			<-copied
			kill.Stop()
			outR.Close()
		})
		return ws, out.String()
	}
	t.Cleanup(func() { finish() })
	return ready, finish
}

// rev13Echo writes msg to c, unless it is empty, and returns what comes back
// in one read.
func rev13Echo(c net.Conn, msg string) string {
	if msg != "" {
		c.Write([]byte(msg))
	}
	c.SetReadDeadline(time.Now().Add(waitLimit))
	b := make([]byte, 64)
	n, _ := c.Read(b)
	return string(b[:n])
}

// Socket activation as systemd does it: the parent opens a listening TCP
// socket and a UDP socket, a client connects and a datagram is sent before
// the server runs at all, and the server, started with the two sockets as
// descriptors 3 and 4, takes them with FileListener and FilePacketConn and
// answers what waited for it, then what comes after. The server is this
// test binary, run again for TestRev13ActivatedChild.
func TestRev13SocketActivation(t *testing.T) {
	newLoop(t) // skips on a variant without a poller: the server would have no sockets
	sh, exe := activatedTools(t)
	checkFDs(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	nu, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nu.Close()

	// What comes before the server starts waits in the kernel's queues.
	early, err := net.Dial("tcp", nl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	early.Write([]byte("before"))
	uc, err := net.Dial("udp", nu.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.Write([]byte("datagram before"))

	started := time.Now()
	_, finish := startActivated(t, sh, exe, rawFD(t, nl.(*net.TCPListener)), rawFD(t, nu.(*net.UDPConn)))
	if got := rev13Echo(early, ""); got != "before" {
		ws, out := finish()
		t.Fatalf("the connection made before the server started: echoed %q; the server (%v) said:\n%s", got, ws, out)
	}
	t.Logf("a connection and a datagram queued before the start answered %v after it", time.Since(started))
	if got := rev13Echo(uc, ""); got != "datagram before" {
		t.Errorf("the datagram sent before the server started: echoed %q", got)
	}
	late, err := net.Dial("tcp", nl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if got := rev13Echo(late, "after"); got != "after" {
		t.Errorf("a connection after the start: echoed %q", got)
	}
	if got := rev13Echo(uc, "datagram after"); got != "datagram after" {
		t.Errorf("a datagram after the start: echoed %q", got)
	}
	// The parent's own descriptors stay as they were: non-blocking.
	for name, fd := range map[string]uintptr{"tcp": rawFD(t, nl.(*net.TCPListener)), "udp": rawFD(t, nu.(*net.UDPConn))} {
		if fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
			t.Errorf("the parent's %s socket: flags %#x, %v; want O_NONBLOCK", name, fl, err)
		}
	}
	if ws, out := finish(); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("the server ended with %v; it said:\n%s", ws, out)
	}
}

// A graceful restart: the old server's Listener hands its socket (through
// Control, to syscall.ForkExec, as the doc advises) to a new process that
// takes it with FileListener; both accept for a while, then the old one
// closes, and every connection is served throughout, the last ones by the
// new server alone.
func TestRev13GracefulRestart(t *testing.T) {
	sh, exe := activatedTools(t)
	l := newLoop(t)
	old := &echoServer{}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", old)
	if err != nil {
		t.Fatal(err)
	}
	nu, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nu.Close()
	var lfd uintptr
	ln.Control(func(fd uintptr) { lfd = fd })
	ready, finish := startActivated(t, sh, exe, lfd, rawFD(t, nu.(*net.UDPConn)))
	select {
	case <-ready:
	case <-time.After(waitLimit):
		ws, out := finish()
		t.Fatalf("the new server did not start (%v); it said:\n%s", ws, out)
	}
	addr := ln.Addr().String()
	// serve connects n clients one after the other, each echoed, while l
	// runs, and reports how many were echoed.
	serve := func(n int) int {
		echoed := make(chan int, 1)
		go func() {
			ok := 0
			for i := range n {
				c, err := net.DialTimeout("tcp", addr, waitLimit)
				if err != nil {
					break
				}
				if rev13Echo(c, "r"+strconv.Itoa(i)) == "r"+strconv.Itoa(i) {
					ok++
				}
				c.Close()
			}
			echoed <- ok
			l.Post(func() {})
		}()
		got := -1
		runUntil(t, l, "the clients", func() bool {
			select {
			case got = <-echoed:
				return true
			default:
				return false
			}
		})
		return got
	}
	const n = 40
	if got := serve(n); got != n {
		ws, out := finish()
		t.Fatalf("both serving: %d of %d echoed; the new server (%v) said:\n%s", got, n, ws, out)
	}
	byOld := old.opened
	t.Logf("both accepting: the old server took %d of %d connections, the new one the rest", byOld, n)
	old.closeAll(t, l, ln)
	if got := serve(n); got != n {
		t.Errorf("the new server alone: %d of %d echoed", got, n)
	}
	if old.opened != byOld {
		t.Errorf("the old server accepted %d after its Close", old.opened-byOld)
	}
	if ws, out := finish(); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("the new server ended with %v; it said:\n%s", ws, out)
	}
}

// TestRev13ActivatedChild is the server TestRev13SocketActivation starts:
// it serves echo on descriptors 3 (TCP) and 4 (UDP) until its standard
// input ends.
func TestRev13ActivatedChild(t *testing.T) {
	if os.Getenv("REV13_ACTIVATED") != "1" {
		t.Skip("run by TestRev13SocketActivation")
	}
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) || os.Getenv("LISTEN_FDS") != "2" {
		t.Fatalf("LISTEN_PID=%q (pid %d), LISTEN_FDS=%q", os.Getenv("LISTEN_PID"), os.Getpid(), os.Getenv("LISTEN_FDS"))
	}
	l := newLoop(t)
	tf, uf := os.NewFile(3, "tcp"), os.NewFile(4, "udp")
	srv := &echoServer{}
	ln, err := sock.FileListener(l, tf, srv)
	tf.Close()
	if err != nil {
		uf.Close()
		t.Fatal(err)
	}
	pc, err := sock.FilePacketConn(l, uf, packetFunc(func(pc *sock.PacketConn, p []byte, from netip.AddrPort) { pc.WriteTo(p, from) }))
	uf.Close()
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	defer pc.Close()
	fmt.Println("REV13 READY")
	done := false
	go func() {
		io.Copy(io.Discard, os.Stdin)
		l.Post(func() { done = true })
	}()
	runUntil(t, l, "the parent to close standard input", func() bool { return done })
	srv.closeAll(t, l, ln)
}

// The file stays the caller's, and its Fd, which the caller may well call
// after FileListener (to hand the socket on with exec.Cmd's ExtraFiles at
// the next restart), makes the shared socket blocking. The listener's
// accept loop, which accepts until EAGAIN, then blocked the loop after
// every connection until the next one came (with one process, not only
// when another took a connection first); keepNonblocking now makes the
// socket non-blocking again at each readiness event. Here a 20 ms timer
// would wait for a second connection 2 s later; the test unblocks the
// loop itself after 2 s.
func TestRev13FileListenerAfterTheCallersFd(t *testing.T) {
	l := newLoop(t)
	_, f := tcpListenerFile(t)
	srv := &echoServer{}
	ln, err := sock.FileListener(l, f, srv)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd()) // the caller's file, as ExtraFiles would use it
	dialN(t, "tcp", ln.Addr().String(), 1)
	// A blocked loop is unblocked after 2 s, unless the timer fired: a
	// bound far from both the 20 ms timer and the 2 s, so that a busy
	// machine does not fail the test.
	unblocked, timerFired := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(unblocked)
		select {
		case <-timerFired:
			return
		case <-time.After(2 * time.Second):
		}
		unix.SetNonblock(fd, true)
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), waitLimit); err == nil {
			c.Close()
		}
	}()
	start := time.Now()
	fired := time.Duration(0)
	l.CallLater(20*time.Millisecond, func() { fired = time.Since(start) })
	runUntil(t, l, "the timer", func() bool { return fired > 0 })
	close(timerFired)
	<-unblocked
	if fired > time.Second {
		t.Errorf("a 20ms timer fired after %v: the loop was blocked in accept", fired)
	}
	srv.closeAll(t, l, ln)
}

// At the descriptor limit, FileListener and FilePacketConn cannot make
// their duplicate, and say so with EMFILE.
func TestRev13FileAtTheDescriptorLimit(t *testing.T) {
	l := newLoop(t)
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	nu, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nu.Close()
	tf, uf := fileOf(t, nl.(*net.TCPListener)), fileOf(t, nu.(*net.UDPConn))
	release := starveDescriptors(t, int(rawFD(t, nl.(*net.TCPListener))))
	_, lerr := sock.FileListener(l, tf, &echoServer{})
	_, perr := sock.FilePacketConn(l, uf, packetFunc(func(*sock.PacketConn, []byte, netip.AddrPort) {}))
	release()
	if !errors.Is(lerr, syscall.EMFILE) {
		t.Errorf("FileListener at the limit: %v; want EMFILE", lerr)
	}
	if !errors.Is(perr, syscall.EMFILE) {
		t.Errorf("FilePacketConn at the limit: %v; want EMFILE", perr)
	}
}
