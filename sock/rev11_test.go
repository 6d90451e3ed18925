package sock_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// A short timeout replaced in the same callback must not fire: restart's
// CallAt(l.Now().Add(d)) turned a d shorter than the time between its two
// readings of the clock into a CallSoon that no Cancel stops, where
// CallLater(d) made a timer that the next Set*Timeout cancelled (fixed:
// timerAfter schedules a d under a millisecond with CallLater).
func TestRev11ShortTimeoutReplacedDoesNotFire(t *testing.T) {
	for _, kind := range []string{"idle", "read"} {
		t.Run(kind, func(t *testing.T) {
			l := newLoop(t)
			h := &opener{}
			listenAndDial(t, l, h)
			runUntil(t, l, "the connection", func() bool { return h.opened })
			set := h.conn.SetIdleTimeout
			if kind == "read" {
				set = h.conn.SetReadTimeout
			}
			done := false
			l.CallSoon(func() {
				for range 1000 {
					set(time.Nanosecond) // a deadline nearly reached
					set(time.Hour)       // replaced at once
				}
				done = true
			})
			runUntil(t, l, "the callback", func() bool { return done })
			for range 10 {
				if err := l.RunOnce(false); err != nil {
					t.Fatal(err)
				}
			}
			if h.closed {
				t.Fatalf("a 1 ns %s timeout replaced by a 1 h one in the same callback closed the connection: OnClose(%v)", kind, h.closeErr)
			}
			if err := set(0); err != nil {
				t.Fatal(err)
			}
			if n := l.Pending(); n != 0 {
				t.Errorf("l.Pending() = %d with the timeout turned off; want 0", n)
			}
		})
	}
}

// rev11Server checks that each connection's lines arrive whole and in
// order ("<conn> <seq> <padding>"), and pauses reading at pseudo-random
// lines, resuming from a later turn of the loop, and sometimes answers
// with enough to pass the high-water mark, so that messages wait in the
// loop's spare buffer on several connections at once. It passes: a guard
// for the spare, which found no aliasing.
type rev11Server struct {
	sock.BaseHandler
	rng       *rand.Rand
	next      map[*sock.Conn]int
	id        map[*sock.Conn]string
	lines     int
	bad       []string
	answer    []byte
	every     int
	closeErrs []error
}

func (h *rev11Server) OnOpen(c *sock.Conn) {}

func (h *rev11Server) OnMessage(c *sock.Conn, msg []byte) {
	f := strings.Fields(string(msg))
	if len(f) != 3 {
		h.bad = append(h.bad, fmt.Sprintf("malformed line %.60q", msg))
		return
	}
	if id, ok := h.id[c]; !ok {
		h.id[c] = f[0]
	} else if id != f[0] {
		h.bad = append(h.bad, fmt.Sprintf("connection %s got a line of connection %s", id, f[0]))
		return
	}
	seq, _ := strconv.Atoi(f[1])
	if seq != h.next[c] {
		h.bad = append(h.bad, fmt.Sprintf("connection %s got line %d; want %d", f[0], seq, h.next[c]))
	}
	if want := strings.Repeat(string(rune('a'+seq%26)), len(f[2])); f[2] != want {
		h.bad = append(h.bad, fmt.Sprintf("connection %s line %d: padding corrupted", f[0], seq))
	}
	h.next[c] = seq + 1
	h.lines++
	switch h.rng.IntN(h.every) {
	case 0:
		c.PauseReading()
		l := c.Loop()
		l.CallSoon(func() { c.ResumeReading() })
	case 1:
		c.PauseReading()
		l := c.Loop()
		l.CallLater(time.Millisecond, func() { c.ResumeReading() })
	case 2:
		c.Write(h.answer)
	}
}

func (h *rev11Server) OnClose(c *sock.Conn, err error) {
	if err != nil {
		h.closeErrs = append(h.closeErrs, err)
	}
}

// rev11Line is connection id's line seq, of n bytes of padding.
func rev11Line(id, seq, n int) string {
	return fmt.Sprintf("%d %d %s\n", id, seq, strings.Repeat(string(rune('a'+seq%26)), n))
}

func TestRev11MessagesSpareKeepsConnectionsApart(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		cutIn, longIn, every int
	}{{"mixed", 3, 40, 8}, {"whole", 50, 400, 40}, {"mixed-sparse", 3, 40, 40}} {
		t.Run(tc.name, func(t *testing.T) { rev11SpareStress(t, tc.cutIn, tc.longIn, tc.every) })
	}
}

func rev11SpareStress(t *testing.T, cutIn, longIn, every int) {
	l := newLoop(t)
	srv := &rev11Server{
		rng:    rand.New(rand.NewPCG(1, 2)),
		next:   map[*sock.Conn]int{},
		id:     map[*sock.Conn]string{},
		answer: make([]byte, 48<<10),
		every:  every,
	}
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", sock.Messages(bufio.ScanLines, 64<<10, srv),
		sock.WithHighWater(32<<10), sock.WithLowWater(8<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const conns, perConn = 16, 2000
	rng := rand.New(rand.NewPCG(3, 4))
	var clients []*sock.Conn
	var sent [conns]int
	var want int
	for range conns {
		c, err := sock.Dial(l, "tcp", ln.Addr().String(), &countingClient{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Abort()
		clients = append(clients, c)
	}
	for round := 0; round < 40; round++ {
		for i, c := range clients {
			var b strings.Builder
			for range rng.IntN(120) {
				if sent[i] == perConn {
					break
				}
				n := 1 + rng.IntN(100)
				if rng.IntN(longIn) == 0 {
					n = 3000 + rng.IntN(12000)
				}
				b.WriteString(rev11Line(i, sent[i], n))
				sent[i]++
				want++
			}
			s := b.String()
			// Cut at a random point, so that lines are split across reads.
			cut := 0
			if len(s) > 0 && rng.IntN(cutIn) == 0 {
				cut = rng.IntN(len(s))
			}
			c.Write([]byte(s[:cut]))
			l.CallSoon(func() { c.Write([]byte(s[cut:])) })
		}
		for range 20 {
			if err := l.RunOnce(false); err != nil {
				t.Fatal(err)
			}
		}
	}
	runUntil(t, l, "every line", func() bool { return srv.lines == want || len(srv.bad) > 0 })
	for i, b := range srv.bad {
		if i == 10 {
			break
		}
		t.Error(b)
	}
	if len(srv.closeErrs) > 0 {
		t.Errorf("OnClose errors: %v", srv.closeErrs)
	}
}

// rev11Dialer records whether OnClose came after OnOpen, and with what.
type rev11Dialer struct {
	sock.BaseHandler
	opened, closed, closedOpen bool
	err                        error
}

func (h *rev11Dialer) OnOpen(*sock.Conn) { h.opened = true }
func (h *rev11Dialer) OnClose(_ *sock.Conn, err error) {
	h.closed, h.err, h.closedOpen = true, err, h.opened
}

// A connect timeout cannot end a connection that opened: Dial's
// CallAt(l.Now().Add(d)) of a d shorter than the time between its two
// readings of the clock was a CallSoon that connected's Cancel cannot stop,
// and it failed the open connection with ErrConnectTimeout after OnOpen
// (CallLater(d) made a timer that connected cancelled; fixed: timerAfter,
// and the timeout's callback checks the connection still connects).
func TestRev11ConnectTimeoutAfterOpen(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			l := newLoop(t)
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "s")
			}
			ln, err := sock.Listen(l, network, addr, &recorder{})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			for range 20 {
				h := &rev11Dialer{}
				var c *sock.Conn
				l.CallSoon(func() {
					if c, err = sock.Dial(l, network, ln.Addr().String(), h, sock.WithConnectTimeout(time.Nanosecond)); err != nil {
						t.Error(err)
					}
				})
				runUntil(t, l, "the dial's end", func() bool { return h.opened || h.closed })
				for range 4 {
					if err := l.RunOnce(false); err != nil {
						t.Fatal(err)
					}
				}
				if h.closedOpen && errors.Is(h.err, sock.ErrConnectTimeout) {
					t.Fatalf("OnOpen, then OnClose(%v): a connect timeout ended an open connection", h.err)
				}
				if c != nil {
					c.Abort()
				}
			}
		})
	}
}

// ResumeReading restarts the read timeout, as SetReadTimeout starts it: a
// handler's call, which may come late in a long callback (after work, or
// from a timer that resumes after some), and should not count from the
// loop's earlier reading of the clock either (restart's reason). It used
// rearm's Reschedule, which does (fixed: restart).
func TestRev11ReadTimeoutAfterLateResumeReading(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &opener{}
	listenAndDial(t, l, h)
	runUntil(t, l, "the connection", func() bool { return h.opened })
	h.conn.SetReadTimeout(3 * time.Second)
	h.conn.PauseReading()
	lateInACallback(t, l, vc, func() { h.conn.ResumeReading() })
	vc.Advance(2500 * time.Millisecond)
	settle(t, l)
	if h.closed {
		t.Fatalf("a 3 s read timeout ended the connection 2.5 s after the ResumeReading that restarted it: %v", h.closeErr)
	}
	vc.Advance(time.Second)
	runUntil(t, l, "the read timeout", func() bool { return h.closed })
}

// A Write that the kernel takes restarts the idle timeout; made late in a
// long callback, it counted from the loop's earlier reading of the clock
// (fixed: wrote restarts it from the clock's present).
func TestRev11IdleTimeoutAfterLateWrite(t *testing.T) {
	l, vc := newVirtualLoop(t)
	h := &opener{}
	listenAndDial(t, l, h)
	runUntil(t, l, "the connection", func() bool { return h.opened })
	h.conn.SetIdleTimeout(3 * time.Second)
	lateInACallback(t, l, vc, func() { h.conn.Write([]byte("x")) })
	vc.Advance(2500 * time.Millisecond)
	settle(t, l)
	if h.closed {
		t.Fatalf("a 3 s idle timeout ended the connection 2.5 s after a Write the kernel took: %v", h.closeErr)
	}
	vc.Advance(time.Second)
	runUntil(t, l, "the idle timeout", func() bool { return h.closed })
}
