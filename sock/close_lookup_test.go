package sock_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// TestCloseEndsADialWhoseLookupJustAnsweredAsTheOthers: the loop's Close
// ends a dial to a host name whose lookup answered just before it as it
// ends a dial still connecting and one still looking up: OnClose(nil),
// no OnOpen. (It got "dial tcp 127.0.0.1:…: loop: closed": the answer
// ran in Close's last callbacks, and connected to a loop that refused the
// descriptor. A user's trial of a health checker saw 94 dials of a round
// end so, and the rest with nil.)
func TestCloseEndsADialWhoseLookupJustAnsweredAsTheOthers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // never accepts; connects complete
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	l := newLoop(t)
	answered, looking := newFakeResolver(), newFakeResolver()
	literal, name, pending := &recorder{}, &recorder{}, &recorder{}
	l.CallSoon(func() {
		for _, d := range []struct {
			addr string
			h    *recorder
			r    *fakeResolver
		}{{"127.0.0.1:" + port, literal, nil}, {"answered.test:" + port, name, answered}, {"looking.test:" + port, pending, looking}} {
			opts := []sock.Option{}
			if d.r != nil {
				opts = append(opts, sock.WithResolver(d.r))
			}
			if _, err := sock.Dial(l, "tcp", d.addr, d.h, opts...); err != nil {
				t.Error(err)
			}
		}
		// The answer is posted before the Close: it runs among Close's
		// last callbacks.
		before := l.Pending()
		answered.next(t).reply <- answer{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
		for deadline := time.Now().Add(waitLimit); l.Pending() == before && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if l.Pending() == before {
			t.Error("the lookup's answer was not posted")
		}
		looking.next(t)
		l.Close()
	})
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	for what, r := range map[string]*recorder{"a literal address": literal, "a name whose lookup answered": name, "a name being looked up": pending} {
		if r.opened || !r.closed || r.closeErr != nil {
			t.Errorf("a dial to %s, at the loop's Close: opened %v, closed %v, OnClose(%v); want OnClose(nil) alone", what, r.opened, r.closed, r.closeErr)
		}
	}
}

// panickyResolver panics in every lookup.
type panickyResolver struct{}

func (panickyResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	panic("the resolver's bug")
}

// TestResolverPanicFailsTheDialAndReachesTheLoop: a resolver's panic, on
// the lookup's goroutine, ended the program, out of reach of the loop's
// panic handler (a user's trial); it now fails the dial, and the loop's
// panic handler gets it.
func TestResolverPanicFailsTheDialAndReachesTheLoop(t *testing.T) {
	var recovered any
	l := newLoop(t, loop.WithPanicHandler(func(v any) { recovered = v }))
	r := &recorder{}
	if _, err := sock.Dial(l, "tcp", "buggy.test:80", r, sock.WithResolver(panickyResolver{})); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the dial to end", func() bool { return r.closed && recovered != nil })
	if r.opened || r.closeErr == nil || !strings.Contains(r.closeErr.Error(), "the resolver panicked: the resolver's bug") {
		t.Errorf("opened %v, OnClose(%v); want an error that says the resolver panicked", r.opened, r.closeErr)
	}
	if recovered != "the resolver's bug" {
		t.Errorf("the loop's panic handler got %v; want the resolver's panic value", recovered)
	}
}
