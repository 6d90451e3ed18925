package sock_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/loopgen/loop/sock"
)

// fuzzWriter is the sock side of FuzzWritesArriveWholeAndInOrder: it writes
// what the fuzz input says and checks the flow-control calls as they come.
type fuzzWriter struct {
	sock.BaseHandler
	c          *sock.Conn
	high, low  int
	paused     bool
	closed     bool
	closeErr   error
	violations []string
}

func (w *fuzzWriter) OnOpen(c *sock.Conn) { w.c = c }
func (w *fuzzWriter) OnPause(c *sock.Conn) {
	if w.paused {
		w.violations = append(w.violations, "OnPause while paused")
	}
	if b := c.Buffered(); b <= w.high {
		w.violations = append(w.violations, fmt.Sprintf("OnPause with %d bytes queued, not above the high-water mark %d", b, w.high))
	}
	w.paused = true
}
func (w *fuzzWriter) OnResume(c *sock.Conn) {
	if !w.paused {
		w.violations = append(w.violations, "OnResume without an OnPause")
	}
	if b := c.Buffered(); b > w.low {
		w.violations = append(w.violations, fmt.Sprintf("OnResume with %d bytes queued, above the low-water mark %d", b, w.low))
	}
	w.paused = false
}
func (w *fuzzWriter) OnClose(_ *sock.Conn, err error) { w.closed, w.closeErr = true, err }

// fuzzSizes are the write and read sizes the input picks from: empty, odd,
// around the chunk and segment sizes, and above the high-water mark.
var fuzzSizes = [...]int{0, 1, 7, 1000, 4096, 16<<10 + 3, 64 << 10, 200 << 10}

// FuzzWritesArriveWholeAndInOrder: whatever mix of Write and Writev calls,
// of sizes empty to above the high-water mark, made while the peer reads in
// spurts or not at all, and whether or not the writer heeds OnPause, every
// byte reaches the peer once and in order, the queue empties, OnPause and
// OnResume alternate at their marks, and Close ends with OnClose(nil). The
// send buffer is small, so that most writes queue. Each pair of input bytes
// is an operation: a Write, a Writev of up to five buffers, a go-ahead to the
// peer to read some bytes, or a few turns of the loop.
func FuzzWritesArriveWholeAndInOrder(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{0, 0, 7, 1, 5, 2, 7, 3, 3})
	f.Add([]byte{1, 0, 6, 0, 7, 0, 7, 0, 7, 3, 0, 2, 1, 2, 7})
	f.Add([]byte{0, 1, 0x45, 1, 0x47, 2, 4, 3, 2, 0, 5, 1, 0x23})
	f.Add([]byte{1, 0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 2, 7, 2, 7, 3, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || len(in) > 64 {
			return
		}
		heed := in[0]&1 == 1 // the writer stops while paused, as it should
		ops := in[1:]

		const high, low = 32 << 10, 8 << 10
		l := newLoop(t)
		w := &fuzzWriter{high: high, low: low}
		_, peer := listenAndDial(t, l, w, sock.WithHighWater(high), sock.WithLowWater(low), sock.WithSendBufferSize(8<<10))
		runUntil(t, l, "OnOpen", func() bool { return w.c != nil })

		// The peer reads what it is allowed to, in order, then the rest
		// once told to, until the end of the stream.
		allow := make(chan int, len(ops))
		defer close(allow) // a test that fails early leaves no reader waiting for orders
		type result struct {
			got []byte
			err error
		}
		done := make(chan result, 1)
		finish := func(r result) {
			done <- r
			l.Post(func() {}) // wakes the loop, which may have nothing else to do
		}
		go func() {
			var got bytes.Buffer
			for n := range allow {
				if n < 0 {
					_, err := io.Copy(&got, peer)
					finish(result{got.Bytes(), err})
					return
				}
				if _, err := io.CopyN(&got, peer, int64(n)); err != nil {
					finish(result{got.Bytes(), err})
					return
				}
			}
		}()

		var want []byte
		next := func(n int) []byte { // the next n bytes of a pattern that shows reordering
			start := len(want)
			for i := range n {
				want = append(want, byte((start+i)*7+(start+i)/251))
			}
			return want[start:]
		}
		allowed := 0
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%4, int(ops[i+1])
			canWrite := !(heed && w.paused) && len(want) < 1<<20
			switch op {
			case 0:
				if !canWrite {
					continue
				}
				p := next(fuzzSizes[arg%len(fuzzSizes)] + arg/len(fuzzSizes))
				if n, err := w.c.Write(p); n != len(p) || err != nil {
					t.Fatalf("Write of %d bytes = %d, %v", len(p), n, err)
				}
			case 1:
				if !canWrite {
					continue
				}
				var bufs [][]byte
				total := 0
				for k := range arg%5 + 1 {
					b := next(fuzzSizes[(arg+k*3)%len(fuzzSizes)])
					bufs = append(bufs, b)
					total += len(b)
				}
				if n, err := w.c.Writev(bufs...); n != total || err != nil {
					t.Fatalf("Writev of %d buffers, %d bytes = %d, %v", len(bufs), total, n, err)
				}
			case 2:
				// Never more than is written: the peer would wait for bytes
				// that never come.
				if n := min(fuzzSizes[arg%len(fuzzSizes)], len(want)-allowed); n > 0 {
					allowed += n
					allow <- n
				}
			case 3:
				for range arg%4 + 1 {
					if err := l.RunOnce(false); err != nil {
						t.Fatal(err)
					}
				}
			}
			if b := w.c.Buffered(); b < 0 || b > len(want) {
				t.Fatalf("Buffered() = %d with %d bytes written", b, len(want))
			}
		}
		if err := w.c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		allow <- -1
		var res result
		got := false
		runUntil(t, l, "the peer to read to the end and OnClose", func() bool {
			if !got {
				select {
				case res = <-done:
					got = true
				default:
				}
			}
			return got && w.closed
		})
		if res.err != nil {
			t.Fatalf("the peer's read: %v", res.err)
		}
		if !bytes.Equal(res.got, want) {
			i := 0
			for i < min(len(res.got), len(want)) && res.got[i] == want[i] {
				i++
			}
			t.Fatalf("the peer read %d bytes, %d were written; they differ from byte %d", len(res.got), len(want), i)
		}
		if w.closeErr != nil {
			t.Fatalf("OnClose after a Close whose bytes all arrived: %v", w.closeErr)
		}
		if len(w.violations) > 0 {
			t.Fatalf("flow control: %q", w.violations)
		}
		peer.Close()
	})
}
