package sock_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// TestWithIdleTimeoutClosesSilentAcceptedConnections: a listener's
// WithIdleTimeout closes a connection that stays silent that long, as
// SetIdleTimeout in OnOpen would, and activity starts it over.
func TestWithIdleTimeoutClosesSilentAcceptedConnections(t *testing.T) {
	l, vc := newVirtualLoop(t)
	srv := &recorder{echo: true}
	_, peer := listenAndDial(t, l, srv, sock.WithIdleTimeout(5*time.Second))
	runUntil(t, l, "OnOpen", func() bool { return srv.opened })
	vc.Advance(4 * time.Second)
	if _, err := peer.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the byte", func() bool { return len(srv.got) > 0 })
	vc.Advance(4 * time.Second) // 8 s since the open, 4 since the byte
	runIteration(t, l)
	if srv.closed {
		t.Fatalf("closed 4 s after the last activity, with an idle timeout of 5 s: %v", srv.closeErr)
	}
	vc.Advance(2 * time.Second)
	runUntil(t, l, "the idle timeout", func() bool { return srv.closed })
	if !errors.Is(srv.closeErr, sock.ErrTimeout) || !strings.Contains(srv.closeErr.Error(), "idle") {
		t.Errorf("OnClose(%v); want the idle timeout", srv.closeErr)
	}
}

// idleOverride turns the listener's idle timeout off in OnOpen.
type idleOverride struct{ recorder }

func (h *idleOverride) OnOpen(c *sock.Conn) { h.opened = true; c.SetIdleTimeout(0) }

// TestOnOpenMayChangeWithIdleTimeout: the option is set before OnOpen, so
// OnOpen's SetIdleTimeout wins.
func TestOnOpenMayChangeWithIdleTimeout(t *testing.T) {
	l, vc := newVirtualLoop(t)
	srv := &idleOverride{}
	listenAndDial(t, l, srv, sock.WithIdleTimeout(time.Second))
	runUntil(t, l, "OnOpen", func() bool { return srv.opened })
	vc.Advance(time.Minute)
	runIteration(t, l)
	if srv.closed {
		t.Fatalf("closed after OnOpen turned the idle timeout off: %v", srv.closeErr)
	}
}

// TestWithIdleTimeoutRefusesANegativeDuration: the call fails, naming the
// option, before anything is opened.
func TestWithIdleTimeoutRefusesANegativeDuration(t *testing.T) {
	l := newLoop(t)
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", sock.BaseHandler{}, sock.WithIdleTimeout(-time.Second))
	if err == nil {
		ln.Close()
		t.Fatal("WithIdleTimeout(-1s) was taken")
	}
	if !strings.Contains(err.Error(), "WithIdleTimeout(-1s)") {
		t.Errorf("error %q does not name the option", err)
	}
}
