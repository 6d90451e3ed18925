package sock_test

import (
	"errors"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/loopgen/loop/sock"
)

// A send that fails when a corked connection sends what it holds (past the
// limit, from a Write; or at Uncork) fails the connection at once: the
// Write returns the error, Closing reports true before the loop runs
// again, and OnClose counts every held byte as not delivered. The peer is
// a Unix socket that has closed: the send fails with EPIPE at once. Kills
// M16 (hold dropping release's error: the Write returns nil) and M21
// (release not failing the connection).
func TestRev13CorkedSendThatFailsFailsTheConnection(t *testing.T) {
	for _, past := range []bool{true, false} {
		name := "uncork"
		if past {
			name = "pastTheLimit"
		}
		t.Run(name, func(t *testing.T) {
			l := newLoop(t)
			h := &corkConn{}
			ln, err := sock.Listen(l, "unix", filepath.Join(t.TempDir(), "s"), h)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			peer, err := net.Dial("unix", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			runUntil(t, l, "the connection", func() bool { return h.opened })
			c := h.c
			c.Cork()
			c.Write([]byte("held"))
			peer.Close() // the loop does not run: c has not read the end
			size := 4
			if past {
				n, err := c.Write(make([]byte, 16<<10))
				size += 16 << 10
				if n != 0 || !errors.Is(err, syscall.EPIPE) {
					t.Errorf("a corked Write past the limit to a closed peer = %d, %v; want 0, EPIPE", n, err)
				}
			} else {
				c.Uncork()
			}
			if !c.Closing() {
				t.Errorf("Closing() false after the send failed")
			}
			runUntil(t, l, "OnClose", func() bool { return h.closed })
			var unsent *sock.UnsentError
			if !errors.As(h.closeErr, &unsent) || unsent.Unsent != size || !errors.Is(h.closeErr, syscall.EPIPE) {
				t.Errorf("OnClose(%v); want an *UnsentError of %d bytes wrapping EPIPE", h.closeErr, size)
			}
		})
	}
}
