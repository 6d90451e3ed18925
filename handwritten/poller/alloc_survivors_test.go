//go:build unix

package poller

import (
	"runtime"
	"testing"
)

// TestTheFirstWaitAfterTheRegistrationsGrewDoesNotAllocate pins that Wait
// never allocates, not even the first one after many fds were added and all
// became ready at once: the result's room keeps up with the registrations at
// Add. (testing.AllocsPerRun warms up with one run, which hides an allocation
// made only by the first Wait after the set grew.) (Catches: poll's Add
// growing the result slice too late, so that Wait's append grows it.)
func TestTheFirstWaitAfterTheRegistrationsGrewDoesNotAllocate(t *testing.T) {
	for _, m := range backends() {
		if !m.fds {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			b := m.new()
			must(t, b.Open())
			t.Cleanup(func() { b.Close() })
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			var before, after runtime.MemStats
			for n := 1; n <= 40; n++ {
				r, w := pipe(t)
				must(t, b.Add(r.fd, uint32(n), Readable))
				write(t, w)
				runtime.ReadMemStats(&before)
				evs, err := b.Wait(0)
				runtime.ReadMemStats(&after)
				must(t, err)
				if len(evs) != n {
					t.Fatalf("with %d ready fds registered, Wait(0) reported %d", n, len(evs))
				}
				if a := after.Mallocs - before.Mallocs; a != 0 {
					t.Fatalf("the first Wait(0) after the %dth Add made %d allocations, want 0", n, a)
				}
			}
		})
	}
}
