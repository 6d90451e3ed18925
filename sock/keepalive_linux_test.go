package sock_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// keepAliveOpts is a socket's SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL
// and TCP_KEEPCNT.
type keepAliveOpts [4]int

func keepAliveOf(t testing.TB, fd int) keepAliveOpts {
	t.Helper()
	var k keepAliveOpts
	for i, o := range [...]struct{ level, opt int }{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE}, {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}, {unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
	} {
		v, err := unix.GetsockoptInt(fd, o.level, o.opt)
		if err != nil {
			t.Fatalf("getsockopt: %v", err)
		}
		k[i] = v
	}
	return k
}

// systemKeepAlive is what a new TCP socket has.
func systemKeepAlive(t testing.TB) keepAliveOpts {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return keepAliveOf(t, fd)
}

// keepAliveProbe reads, at OnOpen, the connection's keep-alive options.
type keepAliveProbe struct {
	sock.BaseHandler
	t   testing.TB
	got *keepAliveOpts
	ok  *bool
}

func (h keepAliveProbe) OnOpen(c *sock.Conn) {
	*h.got, *h.ok = keepAliveOf(h.t, sock.ConnFD(c)), true
}

// acceptedKeepAlive returns the keep-alive options of a connection that a
// listener made with opts accepted.
func acceptedKeepAlive(t *testing.T, opts ...sock.Option) keepAliveOpts {
	t.Helper()
	l := newLoop(t)
	var got keepAliveOpts
	var ok bool
	listenAndDial(t, l, keepAliveProbe{t: t, got: &got, ok: &ok}, opts...)
	runUntil(t, l, "OnOpen", func() bool { return ok })
	return got
}

// TestKeepAliveOnAcceptedConnections: WithKeepAlive sets the times it is
// given, package net's defaults for zero fields (15 s, 15 s, 9), whole
// seconds rounded up, and the system's values for negative fields; without
// it, or with Enable false given last, keep-alive stays off.
func TestKeepAliveOnAcceptedConnections(t *testing.T) {
	sys := systemKeepAlive(t)
	if sys[0] != 0 {
		t.Fatalf("a new socket here has SO_KEEPALIVE %d", sys[0])
	}
	on := func(idle, interval time.Duration, count int) sock.Option {
		return sock.WithKeepAlive(net.KeepAliveConfig{Enable: true, Idle: idle, Interval: interval, Count: count})
	}
	for _, tc := range []struct {
		name string
		opts []sock.Option
		want keepAliveOpts
	}{
		{"given", []sock.Option{on(30*time.Second, 5*time.Second, 4)}, keepAliveOpts{1, 30, 5, 4}},
		{"defaults", []sock.Option{on(0, 0, 0)}, keepAliveOpts{1, 15, 15, 9}},
		{"rounded up", []sock.Option{on(1500*time.Millisecond, time.Nanosecond, 0)}, keepAliveOpts{1, 2, 1, 9}},
		{"largest", []sock.Option{on(32767*time.Second, 32767*time.Second, 127)}, keepAliveOpts{1, 32767, 32767, 127}},
		{"system's", []sock.Option{on(-1, -1, -1)}, keepAliveOpts{1, sys[1], sys[2], sys[3]}},
		{"no option", nil, sys},
		{"turned off again", []sock.Option{on(0, 0, 0), sock.WithKeepAlive(net.KeepAliveConfig{})}, sys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := acceptedKeepAlive(t, tc.opts...); got != tc.want {
				t.Errorf("SO_KEEPALIVE, idle, interval, count = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestKeepAliveOnDialedConnections: a dialed TCP connection gets
// WithKeepAlive's times too.
func TestKeepAliveOnDialedConnections(t *testing.T) {
	l := newLoop(t)
	pl := peerListener(t)
	var got keepAliveOpts
	var ok bool
	c, err := sock.Dial(l, "tcp", pl.Addr().String(), keepAliveProbe{t: t, got: &got, ok: &ok},
		sock.WithKeepAlive(net.KeepAliveConfig{Enable: true, Idle: 20 * time.Second, Interval: 3 * time.Second, Count: 5}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	runUntil(t, l, "OnOpen", func() bool { return ok })
	if want := (keepAliveOpts{1, 20, 3, 5}); got != want {
		t.Errorf("SO_KEEPALIVE, idle, interval, count = %v, want %v", got, want)
	}
}

// TestKeepAliveRefusesWhatTheKernelWould: values above Linux's limits fail
// the call that was given them, with an error that names the option and
// the field, before anything is opened.
func TestKeepAliveRefusesWhatTheKernelWould(t *testing.T) {
	l := newLoop(t)
	for _, tc := range []struct {
		ka   net.KeepAliveConfig
		want string
	}{
		{net.KeepAliveConfig{Enable: true, Idle: 32768 * time.Second}, "Idle must be at most 32767s"},
		{net.KeepAliveConfig{Enable: true, Idle: 32767*time.Second + 1}, "Idle must be at most 32767s"},
		{net.KeepAliveConfig{Enable: true, Interval: 24 * time.Hour}, "Interval must be at most 32767s"},
		{net.KeepAliveConfig{Enable: true, Count: 128}, "Count must be at most 127"},
	} {
		ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", sock.BaseHandler{}, sock.WithKeepAlive(tc.ka))
		if err == nil {
			ln.Close()
			t.Errorf("WithKeepAlive(%+v) was taken", tc.ka)
			continue
		}
		if !strings.Contains(err.Error(), "WithKeepAlive(") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WithKeepAlive(%+v): %v; want it named, and %q", tc.ka, err, tc.want)
		}
	}
}
