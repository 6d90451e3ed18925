package sock_test

// Tests from the second mutation round (see survivors2_test.go) that need
// Linux: they run the process out of descriptors (starveDescriptors), or
// read what the kernel holds for a socket (procfs, sock_diag).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// emfileListener listens on l, counting the accept failures and noting the
// clock reading of the last, and connects a client to it once no
// descriptor is left, so that its accept fails with EMFILE until the test
// ends.
func emfileListener(t *testing.T, l *loop.Loop) (ln *sock.Listener, failures *int, last *time.Time) {
	t.Helper()
	failures, last = new(int), new(time.Time)
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", &echoServer{}, sock.WithAcceptErrorHandler(func(error) {
		*failures++
		*last = l.Now()
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	fd, err := rawSocket()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	release := starveDescriptors(t, fd) // given back before the two above run
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		release()
		t.Fatal(err)
	}
	runUntil(t, l, "the first accept failure", func() bool { return *failures == 1 })
	return ln, failures, last
}

// The accept back-off doubles up to a second and stays there: on a virtual
// clock, the eighth and ninth retries come a second (and a wheel tick)
// after the failure before each, where a back-off left to grow would wait
// 1.28 s, then 2.56 s. Only a failing test waits in real time (runUntil's
// watchdog). (Without the cap at maxBackoff, the retries never came.)
func TestAcceptBackoffStopsGrowingAtOneSecond(t *testing.T) {
	l, vc := newVirtualLoop(t)
	tick := l.Variant().Tick
	_, failures, last := emfileListener(t, l)
	backoff := 10 * time.Millisecond
	for n := 2; n <= 10; n++ {
		wait := min(backoff, time.Second)
		vc.AdvanceTo(last.Add(wait + tick))
		runUntil(t, l, fmt.Sprintf("accept failure %d, %v after the one before", n, wait), func() bool { return *failures >= n })
		backoff *= 2
	}
}

// Closing a listener that waits out an accept back-off cancels its retry:
// nothing of it is left scheduled on the loop. (Left scheduled, the retry
// kept the closed listener until it fired, up to a second later.)
func TestClosingAListenerDuringItsBackoffCancelsTheRetry(t *testing.T) {
	l, _ := newVirtualLoop(t)
	ln, _, _ := emfileListener(t, l)
	before := l.Pending()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if after := l.Pending(); after != before-1 {
		t.Errorf("%d callbacks and timers pending after Close, %d before; want one fewer (the retry)", after, before)
	}
}

// acceptQueue returns how many connections wait in the accept queue of the
// listener on 127.0.0.1:port, as /proc/net/tcp reports it (a listening
// socket's rx_queue).
func acceptQueue(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("cannot read the kernel's socket table: %v", err)
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[1] == local && f[3] == "0A" { // 0A: TCP_LISTEN
			_, rx, _ := strings.Cut(f[4], ":")
			n, err := strconv.ParseInt(rx, 16, 64)
			if err != nil {
				t.Fatalf("/proc/net/tcp: %q: %v", line, err)
			}
			return int(n)
		}
	}
	t.Fatalf("no listener on 127.0.0.1:%d in /proc/net/tcp", port)
	return 0
}

// One readiness accepts exactly acceptBatch (64) connections when more
// wait, as the README says: the test waits until the kernel's accept queue
// holds all 100, then runs one iteration. (A batch of 65 passed the test
// this one replaced, which asked only for more than one and fewer than
// all.)
func TestOneReadinessAcceptsSixtyFour(t *testing.T) {
	const dials = 100
	raiseFDLimit(t, 4*dials+100)
	l := newLoop(t)
	srv := &echoServer{}
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.closeAll(t, l, ln)
	port := ln.Addr().(*net.TCPAddr).Port
	for range dials {
		p, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
	}
	for deadline := time.Now().Add(waitLimit); acceptQueue(t, port) < dials; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections in the accept queue after %v", acceptQueue(t, port), dials, waitLimit)
		}
	}
	if err := l.RunOnce(true); err != nil {
		t.Fatal(err)
	}
	if srv.opened != 64 {
		t.Errorf("one readiness accepted %d of %d queued connections; want 64", srv.opened, dials)
	}
	runUntil(t, l, "every connection", func() bool { return srv.opened == dials })
}

// Every socket sock opens is close-on-exec, so that a child process the
// server starts does not inherit them (and keep a port bound, or a
// connection open, after the server closed it): the listening socket, the
// accepted connection, the dialed one and a UDP socket. The test checks
// every socket the process has open, package net's included (Go opens them
// close-on-exec too). (Without SOCK_CLOEXEC in accept4's flags, or in
// socket's, the accepted connection, or every other socket, was inherited.)
func TestEverySocketIsCloseOnExec(t *testing.T) {
	l := newLoop(t)
	srv := &echoServer{}
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.closeAll(t, l, ln)
	pc, err := sock.ListenPacket(l, "udp4", "127.0.0.1:0", packetFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cli := &recorder{}
	c, err := sock.Dial(l, "tcp4", ln.Addr().String(), cli)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Abort(); runUntil(t, l, "the client's OnClose", func() bool { return cli.closed }) }()
	runUntil(t, l, "the accept", func() bool { return srv.opened == 1 && cli.opened })
	sockets := 0
	for fd := range openFDs(t) {
		link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil || !strings.HasPrefix(link, "socket:") {
			continue // gone (the directory openFDs read), or not a socket
		}
		sockets++
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatalf("fcntl(%d, F_GETFD): %v", fd, err)
		}
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("socket %d (%s) is not close-on-exec", fd, link)
		}
	}
	if sockets < 4 {
		t.Errorf("%d sockets open; want at least 4 (listener, accepted, dialed, UDP)", sockets)
	}
}

// inetDiagSkmeminfo is INET_DIAG_SKMEMINFO, an attribute of a sock_diag
// reply (golang.org/x/sys/unix does not name it).
const inetDiagSkmeminfo = 7

// listenerDiag returns what the kernel holds for the TCP listener on
// 127.0.0.1:port, from a sock_diag (netlink) dump: its backlog (a listening
// socket's idiag_wqueue, the Send-Q that ss -l shows) and its receive and
// send buffer sizes (INET_DIAG_SKMEMINFO's rcvbuf and sndbuf, as the
// kernel keeps them: twice what setsockopt asked).
func listenerDiag(t *testing.T, port int) (backlog, rcvbuf, sndbuf int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		t.Skipf("no sock_diag here: %v", err)
	}
	defer unix.Close(fd)
	// struct nlmsghdr, then struct inet_diag_req_v2 (its sockid zero: a dump).
	req := make([]byte, unix.SizeofNlMsghdr+56)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	req[16], req[17] = unix.AF_INET, unix.IPPROTO_TCP
	req[18] = 1 << (inetDiagSkmeminfo - 1)         // idiag_ext
	binary.NativeEndian.PutUint32(req[20:], 1<<10) // idiag_states: TCP_LISTEN
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Skipf("sock_diag request: %v", err)
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("sock_diag reply: %v", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			t.Fatalf("sock_diag reply: %v", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				t.Fatalf("no listener on 127.0.0.1:%d in the sock_diag dump", port)
			case unix.NLMSG_ERROR:
				t.Skipf("sock_diag refused the dump")
			}
			// struct inet_diag_msg (72 bytes): the source port (big-endian)
			// at 4, the source address at 8, idiag_wqueue at 60; then
			// attributes, each a length, a type and the value.
			d := m.Data
			if len(d) < 72 || int(binary.BigEndian.Uint16(d[4:])) != port || [4]byte(d[8:12]) != [4]byte{127, 0, 0, 1} {
				continue
			}
			backlog = int(binary.NativeEndian.Uint32(d[60:]))
			for a := d[72:]; len(a) >= 4; {
				alen, atype := int(binary.NativeEndian.Uint16(a)), binary.NativeEndian.Uint16(a[2:])
				if alen < 4 || alen > len(a) {
					break
				}
				if v := a[4:alen]; atype == inetDiagSkmeminfo && len(v) >= 16 {
					// SK_MEMINFO_RCVBUF is the second value, SK_MEMINFO_SNDBUF the fourth.
					return backlog, int(binary.NativeEndian.Uint32(v[4:])), int(binary.NativeEndian.Uint32(v[12:]))
				}
				a = a[min((alen+3)&^3, len(a)):]
			}
			t.Fatalf("no INET_DIAG_SKMEMINFO for the listener on 127.0.0.1:%d", port)
		}
	}
}

// WithBacklog sets the listen backlog, and without it the backlog is
// DefaultBacklog (or the kernel's cap on it, net.core.somaxconn, if
// lower). (Listen passed DefaultBacklog whatever the option said.)
func TestWithBacklogSetsTheListenBacklog(t *testing.T) {
	l := newLoop(t)
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		t.Skipf("cannot read somaxconn: %v", err)
	}
	somaxconn, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opts []sock.Option
		want int
	}{{nil, min(sock.DefaultBacklog, somaxconn)}, {[]sock.Option{sock.WithBacklog(7)}, 7}} {
		ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", &echoServer{}, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _ := listenerDiag(t, ln.Addr().(*net.TCPAddr).Port); got != c.want {
			t.Errorf("listen backlog %d with %d options; want %d", got, len(c.opts), c.want)
		}
		ln.Close()
	}
}

// WithRecvBufferSize and WithSendBufferSize set a TCP listener's SO_RCVBUF
// and SO_SNDBUF (which its connections inherit), each its own: Linux keeps
// twice what was asked. (The receive buffer's size set SO_SNDBUF, and the
// receive buffer kept its default.)
func TestBufferSizeOptionsSetTheirOwnBuffers(t *testing.T) {
	l := newLoop(t)
	const recv, send = 48 << 10, 24 << 10
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", &echoServer{}, sock.WithRecvBufferSize(recv), sock.WithSendBufferSize(send))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, rcvbuf, sndbuf := listenerDiag(t, ln.Addr().(*net.TCPAddr).Port); rcvbuf != 2*recv || sndbuf != 2*send {
		t.Errorf("SO_RCVBUF %d, SO_SNDBUF %d; want %d and %d (twice what was asked)", rcvbuf, sndbuf, 2*recv, 2*send)
	}
}

// A NewGroup whose second loop cannot be made (no descriptor left for its
// poller) fails, and stops the loop it had started: no goroutine and no
// descriptor of it is left. The test frees exactly as many descriptors as
// one loop takes. (Without the Close on that path, the first loop ran on
// for good, its descriptors open.)
func TestNewGroupThatFailsStopsTheLoopsItStarted(t *testing.T) {
	checkFDs(t) // registered first, so that it runs after release
	before := len(openFDs(t))
	probe, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	requirePoller(t, probe)
	perLoop := len(openFDs(t)) - before
	probe.Close()
	fd, err := rawSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var spare []int
	for range perLoop {
		s, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		spare = append(spare, s)
	}
	release := starveDescriptors(t, fd)
	defer release()
	for _, s := range spare {
		unix.Close(s) // the only free descriptors: one loop's worth
	}
	g, err := sock.NewGroup(2)
	if err == nil {
		g.Close()
		t.Fatalf("NewGroup(2) with descriptors for one loop succeeded; want EMFILE")
	}
	if !errors.Is(err, syscall.EMFILE) {
		t.Errorf("NewGroup(2) with descriptors for one loop: %v; want EMFILE", err)
	}
}
