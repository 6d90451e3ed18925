package sock_test

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// corkScript answers each line as its script says: "big" is answered with
// 100 KiB (more than a cork gathers), "cw" with a CloseWrite, "abort"
// with an Abort, and any other line with itself.
type corkScript struct {
	lineHandler
	big []byte
}

func (h *corkScript) OnMessage(c *sock.Conn, msg []byte) {
	h.lineHandler.OnMessage(c, msg)
	switch string(msg) {
	case "big":
		c.Write(h.big)
	case "cw":
		c.Write([]byte("bye\n"))
		c.CloseWrite()
	case "abort":
		c.Write([]byte("sent before the abort\n"))
		c.Abort()
	default:
		c.Write(append(append([]byte(nil), msg...), '\n'))
	}
}

// TestMessagesAnswersKeepTheirOrderAroundALongOne: the answers to one
// read's messages go out together, and one too long to gather goes out in
// its place among them.
func TestMessagesAnswersKeepTheirOrderAroundALongOne(t *testing.T) {
	l := newLoop(t)
	h := &corkScript{big: bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)}
	h.big[len(h.big)-1] = '\n'
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("one\ntwo\nbig\nthree\ncw\nafter\n"))
	var got []byte
	done := false
	go func() {
		got, _ = io.ReadAll(peer) // until CloseWrite's end of stream
		l.Post(func() { done = true })
	}()
	runUntil(t, l, "the answers and the end of stream", func() bool { return done })
	want := "one\ntwo\n" + string(h.big) + "three\nbye\n"
	if string(got) != want {
		t.Fatalf("the peer read %d bytes, want %d; first difference at %d", len(got), len(want), firstByteDifference(got, []byte(want)))
	}
}

// TestMessagesAbortSendsWhatWasGatheredFirst: an answer written just
// before an Abort in OnMessage reaches the peer, as it did before writes
// were gathered (it was sent at once), and nothing after the Abort does.
func TestMessagesAbortSendsWhatWasGatheredFirst(t *testing.T) {
	l := newLoop(t)
	h := &corkScript{}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 1024, h))
	peer.SetDeadline(time.Now().Add(waitLimit))
	peer.Write([]byte("one\nabort\ntwo\n"))
	runUntil(t, l, "the close", func() bool { return h.closed })
	sameMessages(t, h.msgs, []string{"one", "abort"})
	if h.closeErr != nil {
		t.Errorf("OnClose(%v); want nil: nothing was left queued", h.closeErr)
	}
	if b, _ := io.ReadAll(peer); string(b) != "one\nsent before the abort\n" {
		t.Errorf("the peer read %q; want both answers", b)
	}
}

// BenchmarkMessagesPipelined: a client on the same loop sends 100 lines
// of 40 bytes in one write and waits for their 100 answers; ns/msg is a
// message's share of the round (a send, the server's read and its
// answers, the client's reads).
func BenchmarkMessagesPipelined(b *testing.B) {
	srv := &echoLines{}
	benchPipelined(b, sock.Messages(bufio.ScanLines, 1024, srv), func() bool { return srv.conn != nil })
}

// benchPipelined times rounds of 100 lines of 40 bytes, sent by a client on
// the same loop in one write to a server with handler h (and opts), each
// round until the client has read as many bytes back; opened says when the
// server has its connection. ns/msg is a line's share of a round.
func benchPipelined(b *testing.B, h sock.Handler, opened func() bool, opts ...sock.Option) {
	l := newLoop(b)
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", h, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cli := &countingClient{}
	c, err := sock.Dial(l, "tcp", ln.Addr().String(), cli)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	runUntil(b, l, "the connection", func() bool { return cli.opened && opened() })
	const lines = 100
	batch := bytes.Repeat([]byte("GET key:00000000 value:0000000000000000\n"), lines)
	b.ReportAllocs()
	for b.Loop() {
		want := cli.got + len(batch)
		c.Write(batch)
		for cli.got < want {
			if err := l.RunOnce(true); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/msg")
}
