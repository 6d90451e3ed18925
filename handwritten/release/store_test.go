package release

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestStoreSetsTheValue(t *testing.T) {
	var x atomic.Uint64
	for _, v := range []uint64{1, 0, 1 << 63, ^uint64(0), 42} {
		Store(&x, v)
		if got := x.Load(); got != v {
			t.Fatalf("after Store(%#x) Load gives %#x", v, got)
		}
	}
}

// TestStorePublishesEarlierWrites passes messages through a ring of slots the
// way the loop's inbox does: the writer fills a slot's payload with plain
// stores, then publishes its sequence number with Store; the reader waits for
// the number with an atomic load and must then see the whole payload. It frees
// the slot with Store too, and the writer must see the payload cleared.
func TestStorePublishesEarlierWrites(t *testing.T) {
	const rounds = 200_000
	type slot struct {
		seq     atomic.Uint64
		a, b, c uint64
	}
	var ring [64]slot
	for i := range ring {
		ring[i].seq.Store(uint64(i))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pos := uint64(0); pos < rounds; pos++ {
			s := &ring[pos%uint64(len(ring))]
			for s.seq.Load() != pos {
				runtime.Gosched()
			}
			if s.a != 0 || s.b != 0 || s.c != 0 {
				t.Errorf("slot freed for message %d still holds %d, %d, %d", pos, s.a, s.b, s.c)
			}
			s.a, s.b, s.c = pos+1, pos+2, pos+3
			Store(&s.seq, pos+1)
		}
	}()
	for pos := uint64(0); pos < rounds; pos++ {
		s := &ring[pos%uint64(len(ring))]
		for s.seq.Load() != pos+1 {
			runtime.Gosched()
		}
		if s.a != pos+1 || s.b != pos+2 || s.c != pos+3 {
			t.Errorf("message %d read as %d, %d, %d", pos, s.a, s.b, s.c)
		}
		s.a, s.b, s.c = 0, 0, 0
		Store(&s.seq, pos+uint64(len(ring)))
	}
	<-done
}

func BenchmarkStore(b *testing.B) {
	b.ReportAllocs()
	var x atomic.Uint64
	for i := range b.N {
		Store(&x, uint64(i))
	}
}

func BenchmarkAtomicStore(b *testing.B) {
	b.ReportAllocs()
	var x atomic.Uint64
	for i := range b.N {
		x.Store(uint64(i))
	}
}
