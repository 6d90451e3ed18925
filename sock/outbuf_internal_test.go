package sock

import (
	"testing"

	"github.com/loopgen/loop"
)

// A queue that grew past one chunk and was sent keeps no reference to its
// chunks: they went back to the loop's free list, which drops those beyond
// its bound for the collector, and an idle connection must not keep one
// (16 KiB) alive through the array its queue starts from again.
func TestAnEmptiedQueueHoldsNoChunk(t *testing.T) {
	l, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg, err := newConfig(forDial, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.l, cfg.ls, cfg.h = l, stateOf(l, cfg.readBufferSize), BaseHandler{}
	c := newConn(cfg, -1) // nothing is sent: the queue alone is tested
	for _, size := range []int{100, chunkSize + 1, 3 * chunkSize} {
		c.appendOut(make([]byte, size))
		if len(c.out.chunks) == 0 {
			t.Fatalf("%d bytes queued in no chunk", size)
		}
		c.consume(size)
		if c.out.n != 0 || len(c.out.chunks) != 0 {
			t.Fatalf("after consuming all %d bytes: n = %d, %d chunks", size, c.out.n, len(c.out.chunks))
		}
		if c.out.one[0] != nil {
			t.Errorf("after %d bytes queued and sent, the emptied queue still holds a chunk", size)
		}
	}
	// One chunk again, from the queue's own array: no allocation.
	p := make([]byte, 10)
	if allocs := testing.AllocsPerRun(100, func() {
		c.appendOut(p)
		c.consume(len(p))
	}); allocs != 0 {
		t.Errorf("queueing and sending 10 bytes allocates %v times; want 0", allocs)
	}
}
