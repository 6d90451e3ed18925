package sock_test

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// TestMut12FullListenerResumedOnceKeepsItsBackoff: a listener that was at
// WithMaxConns's limit, and resumed when a connection closed, is not full
// any more: when accept then fails (EMFILE) and it backs off, another
// connection's end does not cut the backoff short. On a virtual clock
// that is not advanced, the queued connection waits for the retry. Kills
// forget leaving full set after it resumed accepting.
func TestMut12FullListenerResumedOnceKeepsItsBackoff(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &mutOpens{}
	var acceptErrs []error
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", h, sock.WithMaxConns(2),
		sock.WithAcceptErrorHandler(func(err error) { acceptErrs = append(acceptErrs, err) }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range h.conns {
			c.Abort()
		}
		ln.Close()
		runUntil(t, l, "the connections' OnClose", func() bool { return ln.Conns() == 0 })
	}()
	for range 2 {
		peer, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
	}
	runUntil(t, l, "two connections", func() bool { return len(h.conns) == 2 })
	// Full; one closes, and accepting resumes with nothing queued.
	h.conns[0].Abort()
	runUntil(t, l, "the first connection's OnClose", func() bool { return ln.Conns() == 1 })

	fd, err := rawSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	release := starveDescriptors(t, fd)
	defer release()
	sa := &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Connect(fd, sa); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the accept failure", func() bool { return len(acceptErrs) == 1 })
	if !errors.Is(acceptErrs[0], syscall.EMFILE) {
		t.Fatalf("accept error %v; want EMFILE", acceptErrs[0])
	}
	// The listener backs off for 10ms of a clock that does not move. The
	// second connection's end frees a descriptor, but it is not a reason
	// to accept again before the retry.
	h.conns[1].Abort()
	runUntil(t, l, "the second connection's OnClose", func() bool { return ln.Conns() == 0 })
	for range 5 {
		runIteration(t, l)
	}
	if len(h.conns) != 2 || len(acceptErrs) != 1 {
		t.Fatalf("during the backoff: %d connections opened, %d accept errors; want 2 and 1 (the retry is due in 10ms, and the clock has not moved)", len(h.conns), len(acceptErrs))
	}
	release()
	vc.Advance(20 * time.Millisecond)
	runUntil(t, l, "the retry to accept the queued connection", func() bool { return len(h.conns) == 3 })
}

// TestMut12UnixListenOnAnEmptyNameAutobinds: Listen on "unix" with an
// empty address binds an abstract name the kernel picks (Linux's
// autobind), as package net's Listen does: only a Dial needs a name. Addr
// reports the name, which a client can dial. Kills resolve refusing an
// empty Unix name to listen on as it refuses one to dial.
func TestMut12UnixListenOnAnEmptyNameAutobinds(t *testing.T) {
	l := newLoop(t)
	h := &m12Conns{}
	ln, err := sock.Listen(l, "unix", "", h)
	if err != nil {
		t.Fatalf("Listen unix \"\": %v", err)
	}
	defer ln.Close()
	name := ln.Addr().String()
	if !strings.HasPrefix(name, "@") || len(name) < 2 {
		t.Fatalf("Addr() = %q; want the abstract name the kernel picked", name)
	}
	peer, err := net.Dial("unix", name)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "the connection's OnOpen", func() bool { return len(h.conns) == 1 })
	h.conns[0].Abort()
	runUntil(t, l, "the connection's OnClose", func() bool { return ln.Conns() == 0 })
}
