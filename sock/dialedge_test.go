package sock_test

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// A Close made while the connect is still in progress must read (and
// discard) from the moment the connection opens: against an echo that
// pauses its reading while its own writes back up, a client that does not
// read never gets its queue out, and the two wait on each other for good.
// The reader used to be added only once the whole queue was sent.
func TestCloseWhileConnectingReadsSoThePeerCanDrain(t *testing.T) {
	l := newLoop(t)
	srv := &pausingEcho{}
	small := []sock.Option{sock.WithSendBufferSize(32 << 10), sock.WithRecvBufferSize(32 << 10)}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", srv, small...)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli := &recorder{}
	c, err := sock.Dial(l, "tcp", ln.Addr().String(), cli, small...)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(pattern(4 << 20)) // far more than both sides' buffers
	c.Close()                 // before the loop has seen the connect complete
	runUntil(t, l, "the closing client's OnClose", func() bool { return cli.closed })
	if cli.closeErr != nil {
		t.Errorf("OnClose(%v), want nil: everything was sent", cli.closeErr)
	}
	runUntil(t, l, "the server's OnClose", func() bool { return srv.closed })
}

// A write or idle timeout set while a Dial connects starts once the
// connection is open, and the connect timeout bounds the wait before. Both
// used to run during the connect and close the connection with a timeout
// the peer had no part in (before WithConnectTimeout's 10 s); the idle one
// was not started again at OnOpen either, and closed a slow connect's
// connection right after it opened.
func TestTimeoutsDoNotRunWhileConnecting(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(c *sock.Conn) error
	}{
		{"write", func(c *sock.Conn) error {
			if err := c.SetWriteTimeout(2 * time.Second); err != nil {
				return err
			}
			_, err := c.Write([]byte("request")) // cannot be sent until the open
			return err
		}},
		{"idle", func(c *sock.Conn) error { return c.SetIdleTimeout(2 * time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := hangingListener(t)
			l, vc := newVirtualLoop(t)
			cli := &recorder{}
			c, err := sock.Dial(l, "tcp", addr, cli, sock.WithConnectTimeout(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.set(c); err != nil {
				t.Fatal(err)
			}
			vc.Advance(3 * time.Second)
			runIteration(t, l)
			if cli.opened {
				t.Skip("the connect to the full listener completed")
			}
			if cli.closed {
				t.Fatalf("closed by %v 3 s into a connect whose timeout is 10 s", cli.closeErr)
			}
			vc.Advance(8 * time.Second)
			runUntil(t, l, "the connect timeout", func() bool { return cli.closed })
			if !errors.Is(cli.closeErr, sock.ErrTimeout) || !strings.Contains(cli.closeErr.Error(), "connect") {
				t.Errorf("OnClose(%v), want the connect timeout", cli.closeErr)
			}
		})
	}
}

// An idle timeout set while the connect is in progress, by SetIdleTimeout
// or by the Dial's WithIdleTimeout, starts when the connection opens, not
// when it was set, and closes it once it has been silent that long. (Not
// started at the open, it never ran.)
func TestIdleTimeoutStartsWhenTheConnectionOpens(t *testing.T) {
	for _, byOption := range []bool{false, true} {
		t.Run(fmt.Sprintf("WithIdleTimeout=%v", byOption), func(t *testing.T) {
			l, vc := newVirtualLoop(t)
			srv := &recorder{}
			ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", srv)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cli := &recorder{}
			var opts []sock.Option
			if byOption {
				opts = append(opts, sock.WithIdleTimeout(10*time.Second))
			}
			c, err := sock.Dial(l, "tcp", ln.Addr().String(), cli, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !byOption {
				c.SetIdleTimeout(10 * time.Second)
			}
			vc.Advance(9 * time.Second) // a slow connect, as the loop sees it
			runUntil(t, l, "the open", func() bool { return cli.opened && srv.opened })
			vc.Advance(2 * time.Second)
			runIteration(t, l)
			if cli.closed {
				t.Fatalf("a 10 s idle timeout closed the connection 2 s after OnOpen: %v", cli.closeErr)
			}
			vc.Advance(9 * time.Second)
			runUntil(t, l, "the idle timeout", func() bool { return cli.closed && srv.closed })
			if !errors.Is(cli.closeErr, sock.ErrTimeout) || !strings.Contains(cli.closeErr.Error(), "idle") {
				t.Errorf("OnClose(%v); want the idle timeout", cli.closeErr)
			}
		})
	}
}

// runIteration runs the loop until the timers due now have run.
func runIteration(t *testing.T, l *loop.Loop) {
	t.Helper()
	ran := false
	l.CallSoon(func() { l.CallSoon(func() { ran = true }) })
	runUntil(t, l, "the timers due", func() bool { return ran })
}

// RemoteAddr of a dial to an empty or unspecified host is the address
// connected to, as package net reports it, not the host as written.
func TestRemoteAddrOfADialIsTheAddressConnected(t *testing.T) {
	l := newLoop(t)
	srv := &recorder{}
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, addr := range []string{":" + port, "0.0.0.0:" + port} {
		cli := &recorder{}
		c, err := sock.Dial(l, "tcp4", addr, cli)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.RemoteAddr().String(), "127.0.0.1:"+port; got != want {
			t.Errorf("Dial(tcp4, %q): RemoteAddr %s, want %s", addr, got, want)
		}
		c.Abort()
		runUntil(t, l, "the close", func() bool { return cli.closed })
	}
	for _, network := range []string{"unix", "tcp", "tcp4", "tcp6"} {
		if _, err := sock.Dial(l, network, "", &recorder{}); err == nil || !strings.Contains(err.Error(), "missing address") {
			t.Errorf("Dial(%s, \"\"): %v, want a missing-address error from Dial itself", network, err)
		}
	}
}

// A TCP dial to a local port that nobody listens on can meet its own socket:
// when the kernel picks that very port as the socket's own, the SYN makes a
// simultaneous open with itself, and the connection reads back what it
// writes. Picked at random, that took 500 to 17,000 dials of a port in the
// ephemeral range; here the socket is bound to the port it dials, which
// makes it happen every time. The dial must fail as refused, not open.
// Dialed with a zone (lo's), it must too: the kernel gives ::1 no scope back
// (getsockname), so the comparison leaves zones out.
func TestDialNeverConnectsToItself(t *testing.T) {
	for _, c := range []struct{ network, host, zone string }{{"tcp4", "127.0.0.1", ""}, {"tcp6", "::1", ""}, {"tcp", "127.0.0.1", ""}, {"tcp6", "::1", "lo"}} {
		t.Run(c.network+c.zone, func(t *testing.T) {
			if c.zone == "lo" && runtime.GOOS != "linux" {
				t.Skip("the loopback interface is lo on Linux")
			}
			l := newLoop(t)
			// A port free now: the test binds its dialing socket to it.
			probe, err := net.Listen(c.network, net.JoinHostPort(c.host, "0"))
			if err != nil {
				t.Skipf("no %s loopback: %v", c.network, err)
			}
			addr := probe.Addr().(*net.TCPAddr)
			probe.Close()
			var bindErr error
			sock.SetTestHookDialSocket(t, func(fd int) {
				sa, err := unixSockaddr(addr)
				if err == nil {
					err = unix.Bind(fd, sa)
				}
				bindErr = err
			})
			h := &recorder{}
			target := addr.String()
			if c.zone != "" {
				target = net.JoinHostPort(c.host+"%"+c.zone, strconv.Itoa(addr.Port))
			}
			if _, err := sock.Dial(l, c.network, target, h); err != nil {
				t.Fatal(err)
			}
			if bindErr != nil {
				t.Skipf("binding the dialing socket to %v: %v", addr, bindErr)
			}
			runUntil(t, l, "the dial to end", func() bool { return h.closed || h.opened })
			if h.opened {
				t.Fatalf("the dial to %v, where nothing listens, opened: connected to itself", target)
			}
			if !errors.Is(h.closeErr, unix.ECONNREFUSED) {
				t.Errorf("OnClose(%v), want ECONNREFUSED", h.closeErr)
			}
		})
	}
}

// unixSockaddr converts a TCP address to the sockaddr of its family.
func unixSockaddr(a *net.TCPAddr) (unix.Sockaddr, error) {
	ap := a.AddrPort()
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, nil
	}
	if ap.Addr().Is6() {
		return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, nil
	}
	return nil, fmt.Errorf("%v: not an IP address", a)
}

// A Unix path longer than sun_path holds fails Dial and Listen themselves,
// with a message that says so; Dial used to return nil and report EINVAL to
// OnClose. A path or an abstract name of 107 bytes, the most that fits, gets
// as far as the kernel (nothing listens there).
func TestUnixPathTooLongFailsAtOnce(t *testing.T) {
	l := newLoop(t)
	long := "/tmp/" + strings.Repeat("x", 103) // 108 bytes
	if _, err := sock.Dial(l, "unix", long, &recorder{}); err == nil || !strings.Contains(err.Error(), "longer than a Unix socket address holds (107)") {
		t.Errorf("Dial of a %d-byte path: %v, want an error that says it is too long", len(long), err)
	}
	if ln, err := sock.Listen(l, "unix", long, &recorder{}); err == nil || !strings.Contains(err.Error(), "longer than a Unix socket address holds") {
		if ln != nil {
			ln.Close()
		}
		t.Errorf("Listen on a %d-byte path: %v, want an error that says it is too long", len(long), err)
	}
	for _, name := range []string{long[:107], "@" + long[1:107]} {
		h := &recorder{}
		if _, err := sock.Dial(l, "unix", name, h); err != nil {
			t.Fatalf("Dial of %d bytes (%.1s...): %v", len(name), name, err)
		}
		runUntil(t, l, "the dial to fail", func() bool { return h.closed })
		if !errors.Is(h.closeErr, unix.ENOENT) && !errors.Is(h.closeErr, unix.ECONNREFUSED) {
			t.Errorf("Dial of %d bytes (%.1s...): OnClose(%v), want ENOENT or ECONNREFUSED", len(name), name, h.closeErr)
		}
	}
}
