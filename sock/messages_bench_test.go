//go:build unix

package sock

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

// countMessages is a MessageHandler that counts what it is handed.
type countMessages struct {
	BaseHandler
	n int
}

func (h *countMessages) OnMessage(*Conn, []byte) { h.n++ }

// BenchmarkMessages is BenchmarkSplitter's stream (1 MiB of 40-byte lines,
// in reads cut at line ends or 64 KiB - 7 bytes long) through a Messages
// handler's OnData, for what it adds to a Splitter of the handler's own.
// The connection is not a socket: nothing is written.
func BenchmarkMessages(b *testing.B) {
	var stream bytes.Buffer
	for i := 0; stream.Len() < 1<<20; i++ {
		fmt.Fprintf(&stream, "SET key:%08d value:%016d\n", i, i)
	}
	data := stream.Bytes()
	lines := bytes.Count(data, []byte("\n"))
	var whole, cut [][]byte
	for p := data; len(p) > 0; {
		n := bytes.LastIndexByte(p[:min(64<<10, len(p))], '\n') + 1
		whole = append(whole, p[:n])
		p = p[n:]
	}
	for p := data; len(p) > 0; {
		n := min(64<<10-7, len(p))
		cut = append(cut, p[:n])
		p = p[n:]
	}
	for _, tc := range []struct {
		name  string
		reads [][]byte
	}{{"whole", whole}, {"cut", cut}} {
		b.Run(tc.name, func(b *testing.B) {
			h := &countMessages{}
			m := Messages(bufio.ScanLines, 4096, h)
			c := &Conn{fd: -1, cfg: &config{ls: &loopState{}}}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range tc.reads {
					m.OnData(c, p)
				}
			}
			if h.n != b.N*lines {
				b.Fatalf("%d messages, want %d", h.n, b.N*lines)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
		})
	}
}
