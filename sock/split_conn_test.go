package sock_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// holdingShouter answers each line in upper case and, when its answers
// outrun the peer, holds the rest of its input and stops reading until
// OnResume: the pattern of Example_lines, with what it keeps measured.
type holdingShouter struct {
	sock.BaseHandler
	holds, resumes int
	maxKept        int // the splitter's and the write queue's bytes, at most
	paused         chan struct{}
	err            error
}

func (h *holdingShouter) OnOpen(c *sock.Conn) {
	c.Context = sock.NewSplitter(bufio.ScanLines, 1024)
}

func (h *holdingShouter) OnData(c *sock.Conn, p []byte) { h.answer(c, p) }

func (h *holdingShouter) OnResume(c *sock.Conn) {
	h.resumes++
	c.ResumeReading()
	h.answer(c, nil)
}

func (h *holdingShouter) answer(c *sock.Conn, p []byte) {
	s := c.Context.(*sock.Splitter)
	err := s.Feed(p, func(line []byte) error {
		c.Write(append(bytes.ToUpper(line), '\n'))
		if c.WritePaused() {
			if h.holds++; h.holds == 1 {
				close(h.paused)
			}
			c.PauseReading()
			return sock.HoldRest
		}
		return nil
	})
	if err != nil && h.err == nil {
		h.err = err
	}
	h.maxKept = max(h.maxKept, s.Buffered()+c.Buffered())
}

// TestPipelinedLinesToASlowReaderAreHeldNotQueued: a client that sends
// 20,000 pipelined lines (1.2 MB) and reads the answers only once the
// server has paused gets every answer, in order, while the server keeps at
// most about its high-water mark, one read and one line: it holds its input
// instead of queueing answers the client does not read.
func TestPipelinedLinesToASlowReaderAreHeldNotQueued(t *testing.T) {
	const lines, high = 20_000, 16 << 10
	l := newLoop(t)
	h := &holdingShouter{paused: make(chan struct{})}
	_, peer := listenAndDial(t, l, h, sock.WithHighWater(high), sock.WithLowWater(high/4), sock.WithSendBufferSize(16<<10))
	peer.SetDeadline(time.Now().Add(waitLimit))

	var sent bytes.Buffer
	for i := range lines {
		fmt.Fprintf(&sent, "line %06d of the pipelined requests, in order\n", i)
	}
	want := bytes.ToUpper(sent.Bytes())
	wrote := make(chan error, 1)
	go func() {
		_, err := peer.Write(sent.Bytes())
		wrote <- err
	}()
	got := make(chan []byte, 1)
	go func() {
		select {
		case <-h.paused: // read only once the server had to hold
		case <-time.After(waitLimit):
		}
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(want))))
		got <- b
		l.Post(func() {}) // wake the loop to see it
	}()
	var answers []byte
	runUntil(t, l, "every answer read", func() bool {
		select {
		case answers = <-got:
			return true
		default:
			return false
		}
	})
	if err := recv(t, wrote, "the client's write"); err != nil {
		t.Fatal(err)
	}
	if h.err != nil {
		t.Fatal(h.err)
	}
	if !bytes.Equal(answers, want) {
		t.Fatalf("%d bytes of answers, want %d; first difference at %d", len(answers), len(want), firstByteDifference(answers, want))
	}
	if h.holds == 0 || h.resumes == 0 {
		t.Errorf("holds %d, resumes %d: the server never had to hold", h.holds, h.resumes)
	}
	if bound := high + 64<<10 + 1024; h.maxKept > bound {
		t.Errorf("the server kept up to %d bytes; want at most %d (the high-water mark, a read and a line)", h.maxKept, bound)
	}
	t.Logf("held %d times; kept at most %d bytes", h.holds, h.maxKept)
}

func firstByteDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
