package sock_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// lineAnswerer is a plain Handler that answers each line of a read with
// one Write, as a hand-written pipelining server does, and notes Buffered
// after each.
type lineAnswerer struct {
	sock.BaseHandler
	conn     *sock.Conn
	buffered []int
	panicAt  string // a line that makes OnData panic after its answer
	noNotes  bool   // keep no Buffered notes (a benchmark's)
}

func (h *lineAnswerer) OnOpen(c *sock.Conn) { h.conn = c }

func (h *lineAnswerer) OnData(c *sock.Conn, p []byte) {
	for line := range bytes.Lines(p) {
		c.Write(bytes.ToUpper(line))
		if !h.noNotes {
			h.buffered = append(h.buffered, c.Buffered())
		}
		if string(line) == h.panicAt {
			panic("answered, then failed")
		}
	}
}

// With WithWriteGathering the answers a plain OnData writes are gathered
// (Buffered grows with each, the kernel having room) and go out when it
// returns, in order; without it each is sent at once.
func TestWithWriteGatheringGathersWhatOnDataWrites(t *testing.T) {
	for _, gather := range []bool{false, true} {
		l := newLoop(t)
		h := &lineAnswerer{}
		var opts []sock.Option
		if gather {
			opts = append(opts, sock.WithWriteGathering())
		}
		_, peer := listenAndDial(t, l, h, opts...)
		if _, err := peer.Write([]byte("one\ntwo\nthree\n")); err != nil {
			t.Fatal(err)
		}
		want := "ONE\nTWO\nTHREE\n"
		got := make([]byte, len(want))
		done := false
		go func() {
			peer.SetReadDeadline(time.Now().Add(waitLimit))
			io.ReadFull(peer, got)
			l.Post(func() { done = true })
		}()
		runUntil(t, l, "the answers", func() bool { return done })
		if string(got) != want {
			t.Errorf("gathering %v: the peer read %q, want %q", gather, got, want)
		}
		wantBuffered := []int{0, 0, 0}
		if gather {
			wantBuffered = []int{4, 8, 14}
		}
		if !equalInts(h.buffered, wantBuffered) {
			t.Errorf("gathering %v: Buffered after each Write %v, want %v", gather, h.buffered, wantBuffered)
		}
	}
}

// A panic in a gathered OnData sends what it wrote before the panic, and
// leaves the connection uncorked: a Write from a timer afterwards is sent
// at once.
func TestWithWriteGatheringSurvivesAPanic(t *testing.T) {
	panics := 0
	l := newLoop(t, loop.WithPanicHandler(func(any) { panics++ }))
	h := &lineAnswerer{panicAt: "boom\n"}
	_, peer := listenAndDial(t, l, h, sock.WithWriteGathering())
	if _, err := peer.Write([]byte("boom\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the panic", func() bool { return panics > 0 })
	uncorkedAfterThePanic(t, l, peer, h.conn, "BOOM\n", nil)
}

// A dialed connection gathers too.
func TestWithWriteGatheringOnADial(t *testing.T) {
	l := newLoop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := &lineAnswerer{}
	c, err := sock.Dial(l, "tcp", ln.Addr().String(), h, sock.WithWriteGathering())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	runUntil(t, l, "the connection", func() bool { return h.conn != nil })
	peer.Write([]byte("a\nb\n"))
	runUntil(t, l, "the answers", func() bool { return len(h.buffered) == 2 })
	if !equalInts(h.buffered, []int{2, 4}) {
		t.Errorf("Buffered after each Write %v, want [2 4] (gathered)", h.buffered)
	}
	got := make([]byte, 4)
	peer.SetReadDeadline(time.Now().Add(waitLimit))
	done := false
	go func() {
		io.ReadFull(peer, got)
		l.Post(func() { done = true })
	}()
	runUntil(t, l, "the peer's read", func() bool { return done })
	if string(got) != "A\nB\n" {
		t.Errorf("the peer read %q, want %q", got, "A\nB\n")
	}
}

// BenchmarkWriteGathering: a plain handler answers 100 pipelined lines of
// 40 bytes one Write each, with and without WithWriteGathering; ns/msg is a
// line's share of the round, as in BenchmarkMessagesPipelined.
func BenchmarkWriteGathering(b *testing.B) {
	for _, gather := range []bool{false, true} {
		name, opts := "off", []sock.Option(nil)
		if gather {
			name, opts = "on", []sock.Option{sock.WithWriteGathering()}
		}
		b.Run(name, func(b *testing.B) {
			srv := &lineAnswerer{noNotes: true}
			benchPipelined(b, srv, func() bool { return srv.conn != nil }, opts...)
		})
	}
}
