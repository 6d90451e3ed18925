package sock_test

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// dropPackets is a PacketHandler that ignores what it gets.
type dropPackets struct{}

func (dropPackets) OnPacket(*sock.PacketConn, []byte, netip.AddrPort) {}

// refusedOptions are options given values they do not take, each with the
// name its error must carry, and the calls it applies to (the others refuse
// it for that: TestMisappliedOptionsAreRefused).
var refusedOptions = []struct {
	name  string
	opt   sock.Option
	calls string
}{
	{"WithHighWater(-1)", sock.WithHighWater(-1), stream},
	{"WithLowWater(-1)", sock.WithLowWater(-1), stream},
	{"WithReadBufferSize(-4096)", sock.WithReadBufferSize(-4096), every},
	{"WithBacklog(-1)", sock.WithBacklog(-1), listen},
	{"WithSendBufferSize(-1)", sock.WithSendBufferSize(-1), every},
	{"WithRecvBufferSize(-1)", sock.WithRecvBufferSize(-1), every},
	{"WithConnectTimeout(-1s)", sock.WithConnectTimeout(-time.Second), "Dial"},
	{"WithLingerTimeout(-1ns)", sock.WithLingerTimeout(-1), stream},
	// Sizes above 1 GiB: the read buffer's used to panic in makeslice once
	// the socket was open, and leak it.
	{"WithReadBufferSize(4611686018427387904)", sock.WithReadBufferSize(1 << 62), every},
	{"WithHighWater(1073741825)", sock.WithHighWater(1<<30 + 1), stream},
	{"WithBacklog(2147483648)", sock.WithBacklog(1 << 31), listen},
	{"WithSendBufferSize(2147483648)", sock.WithSendBufferSize(1 << 31), every},
	{"WithRecvBufferSize(1073741825)", sock.WithRecvBufferSize(1<<30 + 1), every},
	// A nil Option (an unset variable, say) panicked inside the constructor.
	{"option 0 is nil", nil, every},
}

// The calls of optionCalls an option applies to.
const (
	listen = "Listen tcp, Listen unix"
	accept = listen + ", FileListener"
	stream = accept + ", Dial"
	every  = stream + ", ListenPacket, FilePacketConn"
)

// optionCalls makes the calls an option can be given to, on l, with path
// for the Unix listener.
func optionCalls(l *loop.Loop, path string, opt sock.Option) map[string]func() error {
	return map[string]func() error{
		"Listen tcp": func() error {
			ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", sock.BaseHandler{}, opt)
			if err == nil {
				ln.Close()
			}
			return err
		},
		"Listen unix": func() error {
			ln, err := sock.Listen(l, "unix", path, sock.BaseHandler{}, opt)
			if err == nil {
				ln.Close()
			}
			return err
		},
		"Dial": func() error {
			c, err := sock.Dial(l, "tcp", "127.0.0.1:9", sock.BaseHandler{}, opt)
			if err == nil {
				c.Abort()
			}
			return err
		},
		"ListenPacket": func() error {
			pc, err := sock.ListenPacket(l, "udp", "127.0.0.1:0", dropPackets{}, opt)
			if err == nil {
				pc.Close()
			}
			return err
		},
		"FileListener": func() error {
			nl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("the test's own listener: %w", err)
			}
			defer nl.Close()
			f, err := nl.(*net.TCPListener).File()
			if err != nil {
				return fmt.Errorf("the test's own listener: %w", err)
			}
			defer f.Close()
			ln, err := sock.FileListener(l, f, sock.BaseHandler{}, opt)
			if err == nil {
				ln.Close()
			}
			return err
		},
		"FilePacketConn": func() error {
			nc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("the test's own socket: %w", err)
			}
			defer nc.Close()
			f, err := nc.(*net.UDPConn).File()
			if err != nil {
				return fmt.Errorf("the test's own socket: %w", err)
			}
			defer f.Close()
			pc, err := sock.FilePacketConn(l, f, dropPackets{}, opt)
			if err == nil {
				pc.Close()
			}
			return err
		},
	}
}

// A negative size or duration, a size above 1 GiB, or a nil Option is a
// mistake, not a request for the default:
// every constructor fails with an error naming the option, before it opens
// anything (newLoop checks that no descriptor is left open, and the Unix
// listener must leave no file behind).
func TestRefusedOptionFailsTheCallBeforeOpening(t *testing.T) {
	for _, ro := range refusedOptions {
		t.Run(ro.name, func(t *testing.T) {
			l := newLoop(t)
			path := filepath.Join(t.TempDir(), "s")
			for what, call := range optionCalls(l, path, ro.opt) {
				if !strings.Contains(ro.calls, what) {
					continue // TestMisappliedOptionsAreRefused's
				}
				err := call()
				if err == nil || !strings.Contains(err.Error(), ro.name) {
					t.Errorf("%s with %s: error %v, want one naming %s", what, ro.name, err, ro.name)
				}
			}
			if m, _ := filepath.Glob(path); len(m) > 0 {
				t.Errorf("a refused Listen left %s behind", path)
			}
		})
	}
}

func TestGroupListenRefusesAnOptionBeforeAskingItsLoops(t *testing.T) {
	g, err := sock.NewGroup(2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	called := 0
	_, err = g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { called++; return sock.BaseHandler{} }, sock.WithBacklog(-5))
	if err == nil || !strings.Contains(err.Error(), "WithBacklog(-5)") {
		t.Fatalf("Group.Listen with WithBacklog(-5): error %v, want one naming the option", err)
	}
	if called != 0 {
		t.Errorf("newHandler ran %d times for a refused Listen", called)
	}
	if _, err := g.Listen("tcp", "127.0.0.1:0", nil); err == nil {
		t.Error("Group.Listen with a nil newHandler succeeded")
	}
}

func TestNilHandlerIsRefused(t *testing.T) {
	l := newLoop(t)
	if _, err := sock.Listen(l, "tcp", "127.0.0.1:0", nil); err == nil || !strings.Contains(err.Error(), "nil Handler") {
		t.Errorf("Listen with a nil Handler: %v", err)
	}
	if _, err := sock.Dial(l, "tcp", "127.0.0.1:9", nil); err == nil || !strings.Contains(err.Error(), "nil Handler") {
		t.Errorf("Dial with a nil Handler: %v", err)
	}
	if _, err := sock.ListenPacket(l, "udp", "127.0.0.1:0", nil); err == nil || !strings.Contains(err.Error(), "nil PacketHandler") {
		t.Errorf("ListenPacket with a nil PacketHandler: %v", err)
	}
}

// A nil loop is refused with an error before any socket is opened (it once
// panicked holding the package's lock, with a bound descriptor leaked, and
// every later Listen in the process hung).
func TestNilLoopIsRefused(t *testing.T) {
	before := countFDs(t)
	if _, err := sock.Listen(nil, "tcp", "127.0.0.1:0", sock.BaseHandler{}); err == nil || !strings.Contains(err.Error(), "nil *loop.Loop") {
		t.Errorf("Listen on a nil loop: %v", err)
	}
	if _, err := sock.Dial(nil, "tcp", "127.0.0.1:9", sock.BaseHandler{}); err == nil || !strings.Contains(err.Error(), "nil *loop.Loop") {
		t.Errorf("Dial on a nil loop: %v", err)
	}
	if _, err := sock.ListenPacket(nil, "udp", "127.0.0.1:0", dropPackets{}); err == nil || !strings.Contains(err.Error(), "nil *loop.Loop") {
		t.Errorf("ListenPacket on a nil loop: %v", err)
	}
	if after := countFDs(t); after != before {
		t.Errorf("open descriptors went from %d to %d", before, after)
	}
	ln, err := sock.Listen(newLoop(t), "tcp", "127.0.0.1:0", sock.BaseHandler{})
	if err != nil {
		t.Fatalf("Listen on a loop after the nil ones: %v", err)
	}
	ln.Close()
}

// Zero keeps the default rather than being refused: a listener with every
// size option at 0 accepts and echoes as one without them.
func TestZeroOptionsKeepTheDefaults(t *testing.T) {
	l := newLoop(t)
	zero := []sock.Option{sock.WithHighWater(0), sock.WithLowWater(0), sock.WithReadBufferSize(0),
		sock.WithBacklog(0), sock.WithSendBufferSize(0), sock.WithRecvBufferSize(0),
		sock.WithLingerTimeout(0)}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", sock.BaseHandler{}, zero...)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	c, err := sock.Dial(l, "tcp", "127.0.0.1:9", sock.BaseHandler{}, sock.WithConnectTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	c.Abort()
}

// An option given to a call it does not apply to (WithIdleTimeout to
// ListenPacket, which looked like a per-peer timeout; WithBacklog to Dial)
// fails the call with an error that names it and where it applies, before
// anything is opened: such options were ignored without a word.
func TestMisappliedOptionsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		opt   sock.Option
		calls string // where it applies
		want  string
	}{
		{sock.WithHighWater(1), stream, "WithHighWater applies to Listen, Group.Listen, FileListener and Dial only"},
		{sock.WithLowWater(1), stream, "WithLowWater applies to Listen, Group.Listen, FileListener and Dial only"},
		{sock.WithReusePort(), listen + ", ListenPacket", "WithReusePort applies to Listen, Group.Listen, ListenPacket and Group.ListenPacket only"},
		{sock.WithExclusiveAddress(), listen + ", ListenPacket", "WithExclusiveAddress applies to Listen, Group.Listen, ListenPacket and Group.ListenPacket only"},
		{sock.WithBacklog(1), listen, "WithBacklog applies to Listen and Group.Listen only"},
		{sock.WithMaxConns(1), accept, "WithMaxConns applies to Listen, Group.Listen and FileListener only"},
		{sock.WithIdleTimeout(time.Second), stream, "WithIdleTimeout applies to Listen, Group.Listen, FileListener and Dial only"},
		{sock.WithNoDelay(false), stream, "WithNoDelay applies to Listen, Group.Listen, FileListener and Dial only"},
		{sock.WithWriteGathering(), stream, "WithWriteGathering applies to Listen, Group.Listen, FileListener and Dial only"},
		{sock.WithKeepAlive(net.KeepAliveConfig{Enable: true}), stream, "WithKeepAlive applies to Listen, Group.Listen, FileListener and Dial only"},
		{sock.WithConnectTimeout(time.Second), "Dial", "WithConnectTimeout applies to Dial only"},
		{sock.WithLingerTimeout(time.Second), stream, "WithLingerTimeout applies to Listen, Group.Listen, FileListener and Dial only"},
		{sock.WithAcceptErrorHandler(func(error) {}), accept, "WithAcceptErrorHandler applies to Listen, Group.Listen and FileListener only"},
		{sock.WithResolver(net.DefaultResolver), "Dial", "WithResolver applies to Dial only"},
	} {
		l := newLoop(t)
		path := filepath.Join(t.TempDir(), "s")
		for what, call := range optionCalls(l, path, tc.opt) {
			err := call()
			switch applies := strings.Contains(tc.calls, what); {
			case applies && err != nil:
				t.Errorf("%s: %v; want %q to apply", what, err, tc.want[:strings.Index(tc.want, " ")])
			case !applies && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%s: error %v; want one saying %q", what, err, tc.want)
			}
		}
		if m, _ := filepath.Glob(path); len(m) > 0 {
			t.Errorf("a refused Listen left %s behind", path)
		}
	}
	g, err := sock.NewGroup(1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	_, err = g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return sock.BaseHandler{} }, sock.WithResolver(net.DefaultResolver))
	if err == nil || !strings.Contains(err.Error(), "WithResolver applies to Dial only") {
		t.Errorf("Group.Listen with WithResolver: error %v, want one saying it applies to Dial only", err)
	}
}
