package sock_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// fakeResolver answers Dial's lookups from the test: each lookup waits for
// an answer on its reply channel, or for its context to end.
type fakeResolver struct {
	asked chan lookup
}

type lookup struct {
	network, host string
	ctx           context.Context
	reply         chan<- answer
}

type answer struct {
	addrs []netip.Addr
	err   error
}

func newFakeResolver() *fakeResolver { return &fakeResolver{asked: make(chan lookup, 4)} }

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	reply := make(chan answer, 1)
	r.asked <- lookup{network: network, host: host, ctx: ctx, reply: reply}
	select {
	case a := <-reply:
		return a.addrs, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// next returns the lookup under way, failing the test if none comes.
func (r *fakeResolver) next(t *testing.T) lookup {
	t.Helper()
	select {
	case q := <-r.asked:
		return q
	case <-time.After(waitLimit):
		t.Fatal("Dial looked nothing up")
		return lookup{}
	}
}

// opens counts OnOpen and OnClose, and keeps what arrives.
type opens struct {
	recorder
	openCount, closeCount int
}

func (o *opens) OnOpen(c *sock.Conn) { o.openCount++; o.recorder.OnOpen(c) }
func (o *opens) OnClose(c *sock.Conn, err error) {
	o.closeCount++
	o.recorder.OnClose(c, err)
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// nameSetup returns a loop with a server listening on 127.0.0.1 (its port
// as a string) and a fake resolver for the test to answer.
func nameSetup(t *testing.T) (*loop.Loop, *recorder, string, *fakeResolver) {
	t.Helper()
	l := newLoop(t)
	srv := &recorder{}
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return l, srv, port, newFakeResolver()
}

// A host name is looked up off the loop: Dial returns at once, the loop
// runs other callbacks while the lookup waits, and what was written
// meanwhile reaches the server once an address connects.
func TestDialingAHostNameDoesNotBlockTheLoop(t *testing.T) {
	l, srv, port, res := nameSetup(t)
	cli := &opens{}
	c, err := sock.Dial(l, "tcp", "db.internal.test:"+port, cli, sock.WithResolver(res))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.RemoteAddr(); a != nil {
		t.Errorf("RemoteAddr during the lookup: %v, want nil", a)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	q := res.next(t)
	if q.network != "ip" || q.host != "db.internal.test" {
		t.Errorf("looked up %s %q, want ip %q", q.network, q.host, "db.internal.test")
	}
	// The lookup is still waiting: the loop must go on meanwhile.
	ticks := 0
	tick := l.CallEvery(time.Millisecond, func() { ticks++ })
	runUntil(t, l, "three ticks during the lookup", func() bool { return ticks >= 3 })
	l.Cancel(tick)
	if cli.openCount != 0 || cli.closeCount != 0 {
		t.Fatalf("OnOpen %d and OnClose %d times before the lookup answered", cli.openCount, cli.closeCount)
	}
	q.reply <- answer{addrs: addrs("127.0.0.1")}
	runUntil(t, l, "the server to get the early write", func() bool { return string(srv.got) == "hello" })
	if cli.openCount != 1 {
		t.Errorf("OnOpen ran %d times, want 1", cli.openCount)
	}
	if got, want := c.RemoteAddr().String(), "127.0.0.1:"+port; got != want {
		t.Errorf("RemoteAddr %s, want %s", got, want)
	}
	c.Close()
	runUntil(t, l, "the client's OnClose", func() bool { return cli.closed })
	if cli.closeErr != nil || cli.closeCount != 1 {
		t.Errorf("OnClose ran %d times, last with %v; want once with nil", cli.closeCount, cli.closeErr)
	}
}

// Dial tries a name's addresses in turn until one connects, skipping those
// that refuse and those it cannot use; if all fail, OnClose receives the
// first one's error.
func TestDialingAHostNameTriesItsAddressesInTurn(t *testing.T) {
	l, srv, port, res := nameSetup(t)

	// Nothing listens on 127.0.0.2 and 127.0.0.3 (loopback, on Linux) at
	// that port; a zoned address is refused before any socket opens.
	cli := &opens{}
	c, err := sock.Dial(l, "tcp", "svc.test:"+port, cli, sock.WithResolver(res))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("after three tries"))
	res.next(t).reply <- answer{addrs: addrs("127.0.0.2", "fe80::1%lo", "127.0.0.3", "127.0.0.1")}
	runUntil(t, l, "the write through the fourth address", func() bool {
		return string(srv.got) == "after three tries" || cli.closed
	})
	if cli.closed || cli.openCount != 1 {
		t.Fatalf("OnOpen %d times, OnClose(%v): want one open and no close", cli.openCount, cli.closeErr)
	}
	if got, want := c.RemoteAddr().String(), "127.0.0.1:"+port; got != want {
		t.Errorf("RemoteAddr %s, want %s", got, want)
	}
	c.Abort()
	runUntil(t, l, "the abort", func() bool { return cli.closed })

	for _, tc := range []struct {
		name    string
		network string
		answer  answer
		want    func(error) bool
	}{
		{"all refuse", "tcp", answer{addrs: addrs("127.0.0.2", "127.0.0.3")},
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"the first error", "tcp", answer{addrs: addrs("fe80::1%nosuchif0", "127.0.0.2")},
			func(err error) bool { return err != nil && strings.Contains(err.Error(), `IPv6 zone "nosuchif0"`) }},
		{"none of the network's family", "tcp6", answer{addrs: addrs("127.0.0.1")},
			func(err error) bool {
				var ae *net.AddrError
				return errors.As(err, &ae) && ae.Addr == "svc.test"
			}},
		{"no addresses", "tcp", answer{},
			func(err error) bool {
				var ae *net.AddrError
				return errors.As(err, &ae)
			}},
		{"the lookup fails", "tcp", answer{err: &net.DNSError{Err: "no such host", Name: "svc.test", IsNotFound: true}},
			func(err error) bool {
				var de *net.DNSError
				var ue *sock.UnsentError
				return errors.As(err, &de) && de.IsNotFound && errors.As(err, &ue) && ue.Unsent == 4
			}},
	} {
		cli := &opens{}
		c, err := sock.Dial(l, tc.network, "svc.test:"+port, cli, sock.WithResolver(res))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("lost"))
		q := res.next(t)
		if want := "ip" + tc.network[3:]; q.network != want {
			t.Errorf("%s: looked up %s, want %s", tc.name, q.network, want)
		}
		q.reply <- tc.answer
		runUntil(t, l, tc.name+": OnClose", func() bool { return cli.closed })
		if !tc.want(cli.closeErr) || cli.openCount != 0 {
			t.Errorf("%s: OnOpen %d times, OnClose(%v)", tc.name, cli.openCount, cli.closeErr)
		} else if _, ok := errors.AsType[*sock.UnsentError](cli.closeErr); !ok {
			t.Errorf("%s: OnClose(%v) does not say the 4 written bytes were not sent", tc.name, cli.closeErr)
		}
	}
}

// Closing a connection whose name is being looked up ends the lookup;
// OnClose runs once, and the answer that may still come is ignored. A
// graceful Close with bytes queued waits for the connect and sends them.
func TestClosingADialDuringItsLookup(t *testing.T) {
	l, srv, port, res := nameSetup(t)

	for _, how := range []string{"Abort", "Close"} {
		cli := &opens{}
		c, err := sock.Dial(l, "tcp", "svc.test:"+port, cli, sock.WithResolver(res))
		if err != nil {
			t.Fatal(err)
		}
		q := res.next(t)
		if how == "Abort" {
			c.Abort()
		} else {
			c.Close()
		}
		select {
		case <-q.ctx.Done():
		case <-time.After(waitLimit):
			t.Fatalf("%s did not cancel the lookup", how)
		}
		runUntil(t, l, how+": OnClose", func() bool { return cli.closed })
		// The lookup's end still reaches the loop (as an error): it must
		// change nothing.
		ran := false
		l.CallLater(5*time.Millisecond, func() { ran = true })
		runUntil(t, l, "a few rounds after", func() bool { return ran })
		if cli.closeCount != 1 || cli.closeErr != nil || cli.openCount != 0 {
			t.Errorf("%s: OnOpen %d, OnClose %d times (last %v); want one OnClose(nil)", how, cli.openCount, cli.closeCount, cli.closeErr)
		}
	}

	cli := &opens{}
	c, err := sock.Dial(l, "tcp", "svc.test:"+port, cli, sock.WithResolver(res))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("sent before closing"))
	c.Close()
	res.next(t).reply <- answer{addrs: addrs("127.0.0.1")}
	runUntil(t, l, "the client's OnClose", func() bool { return cli.closed })
	if cli.closeErr != nil {
		t.Errorf("OnClose(%v), want nil", cli.closeErr)
	}
	runUntil(t, l, "the server to see the end", func() bool { return srv.closed })
	if string(srv.got) != "sent before closing" {
		t.Errorf("the server got %q", srv.got)
	}
}

// The connect timeout counts the lookup, and cancels it.
func TestTheConnectTimeoutCountsTheLookup(t *testing.T) {
	l, vc := newVirtualLoop(t)
	res := newFakeResolver()
	cli := &opens{}
	if _, err := sock.Dial(l, "tcp", "slow.test:80", cli, sock.WithResolver(res), sock.WithConnectTimeout(time.Second)); err != nil {
		t.Fatal(err)
	}
	q := res.next(t)
	vc.Advance(time.Second + l.Variant().Tick) // a timer fires at the first tick at or after its deadline
	runUntil(t, l, "the connect timeout", func() bool { return cli.closed })
	if !errors.Is(cli.closeErr, sock.ErrTimeout) {
		t.Errorf("OnClose(%v), want a timeout", cli.closeErr)
	}
	select {
	case <-q.ctx.Done():
	case <-time.After(waitLimit):
		t.Fatal("the timeout did not cancel the lookup")
	}
}

// A loop closed while a Dial looks its name up aborts the connection and
// ends the lookup; the lookup's answer, refused by the closed loop, goes
// nowhere.
func TestClosingTheLoopDuringALookup(t *testing.T) {
	checkFDs(t)
	l, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() }) // if the test ends before its own Close
	requirePoller(t, l)
	res := newFakeResolver()
	cli := &opens{}
	if _, err := sock.Dial(l, "tcp", "svc.test:80", cli, sock.WithResolver(res)); err != nil {
		t.Fatal(err)
	}
	q := res.next(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-q.ctx.Done():
	case <-time.After(waitLimit):
		t.Fatal("closing the loop did not cancel the lookup")
	}
	if cli.openCount != 0 || cli.closeCount != 1 {
		t.Errorf("OnOpen %d, OnClose %d times; want one OnClose", cli.openCount, cli.closeCount)
	}
}

// With the default resolver, "localhost" is looked up as the system says
// (on Linux, /etc/hosts) and connected to.
func TestDialingLocalhost(t *testing.T) {
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", "localhost")
	if err != nil || len(ips) == 0 {
		t.Skipf("localhost does not resolve here: %v", err)
	}
	l := newLoop(t)
	srv := &echoServer{}
	// Listening on every address, so that whichever localhost gives first
	// is served.
	ln, err := sock.Listen(l, "tcp", ":0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cli := &recorder{}
	c, err := sock.Dial(l, "tcp", "localhost:"+port, cli)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("ping"))
	runUntil(t, l, "the echo", func() bool { return string(cli.got) == "ping" || cli.closed })
	if cli.closed {
		t.Fatalf("OnClose(%v)", cli.closeErr)
	}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err != nil || !ap.Addr().IsLoopback() {
		t.Errorf("RemoteAddr %v: not a loopback address", c.RemoteAddr())
	}
	c.Abort()
	runUntil(t, l, "the abort", func() bool { return cli.closed })
}

func TestWithResolverRefusesNil(t *testing.T) {
	l := newLoop(t)
	_, err := sock.Dial(l, "tcp", "svc.test:80", &recorder{}, sock.WithResolver(nil))
	if err == nil || !strings.Contains(err.Error(), "WithResolver") {
		t.Errorf("Dial with WithResolver(nil): %v, want an error naming the option", err)
	}
}

// A zero netip.Addr from a resolver is skipped: dialled, it meant the local
// system, and the queued bytes went to whatever listened on 127.0.0.1.
func TestAZeroAddressFromTheResolverIsNotDialled(t *testing.T) {
	l, srv, port, res := nameSetup(t)
	cli := &opens{}
	c, err := sock.Dial(l, "tcp", "remote.test:"+port, cli, sock.WithResolver(res))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("secret"))
	res.next(t).reply <- answer{addrs: []netip.Addr{{}}}
	runUntil(t, l, "OnOpen or OnClose", func() bool { return cli.openCount > 0 || cli.closed })
	var ae *net.AddrError
	if cli.openCount > 0 || !errors.As(cli.closeErr, &ae) {
		t.Errorf("OnOpen %d times (to %v), OnClose(%v); want no open and an AddrError", cli.openCount, c.RemoteAddr(), cli.closeErr)
	}
	if len(srv.got) > 0 {
		t.Errorf("the local server got %q", srv.got)
	}
	if !cli.closed {
		c.Abort()
		runUntil(t, l, "OnClose", func() bool { return cli.closed })
	}
}

// Dial in a callback that Close runs (queued before it) fails with
// ErrClosed, for a literal address and a host name alike: the loop will not
// run what it would start. It returned a Conn whose OnClose said "loop:
// closed", or, for a name, nil.
func TestDialWhileTheLoopClosesFails(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:1", "svc.test:80"} {
		checkFDs(t)
		l, err := loop.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() }) // if requirePoller skips
		requirePoller(t, l)
		// sock has used the loop already, so its state exists and is
		// marked closed only when Close reaches its AtClose hook.
		ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", &recorder{})
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		var dialErr error
		h := &opens{}
		l.CallSoon(func() {
			_, dialErr = sock.Dial(l, "tcp", addr, h, sock.WithResolver(newFakeResolver()))
		})
		l.Close()
		if !errors.Is(dialErr, loop.ErrClosed) || h.closeCount != 0 {
			t.Errorf("Dial %s while the loop closes: %v, OnClose %d times (%v); want ErrClosed and no OnClose", addr, dialErr, h.closeCount, h.closeErr)
		}
	}
}
