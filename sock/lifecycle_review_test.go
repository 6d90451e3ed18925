package sock_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"syscall"
	"testing"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// goexitOnOpen ends the loop goroutine (as t.Fatal in a handler does) when
// its first connection opens, and says so.
type goexitOnOpen struct {
	sock.BaseHandler
	exiting chan<- struct{}
}

func (h goexitOnOpen) OnOpen(*sock.Conn) {
	close(h.exiting)
	runtime.Goexit()
}

// A Group loop whose Run ends without the group closing it (a callback
// called runtime.Goexit, as t.Fatal in a handler does; or Run returned the
// error of a failing poller) must not leave the group unable to stop:
// Shutdown used to wait for that loop's drain, which nothing would ever run,
// until its ctx ended (for good, with context.Background()), and the loop's
// listener stayed open and bound, taking connections nobody would accept,
// with the loop's poller descriptors.
func TestGroupStopsALoopWhoseRunEndedOnItsOwn(t *testing.T) {
	g, _, _ := newGroup(t, 1)
	exiting := make(chan struct{})
	gln, err := g.Listen("tcp4", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return goexitOnOpen{exiting: exiting} })
	if err != nil {
		t.Fatal(err)
	}
	addr := gln.Addr()
	c, err := net.DialTimeout("tcp4", addr.String(), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-exiting
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil || ctx.Err() != nil {
		t.Errorf("Shutdown = %v, with its ctx ended (%v); want nil before it ends", err, ctx.Err())
	}
	// The listener is closed: the port refuses connections.
	c2, err := net.DialTimeout("tcp4", addr.String(), waitLimit)
	if err == nil {
		c2.Close()
		t.Fatal("a dial to the group's address connected after Shutdown: its listener is still open")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Shutdown: %v, want ECONNREFUSED", err)
	}
}
