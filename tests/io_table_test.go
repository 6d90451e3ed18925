package tests

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// TestWatchChurnOverManyFdsRunsOnlyCurrentCallbacks watches and unwatches,
// at random, readers and writers on 160 sockets that are always readable
// and writable, for 30 rounds, and after each round runs the loop until
// every current callback has run: none that was removed or replaced may
// run. It goes through the registration table's growth (bySeq doubles
// past 32 registrations), the reuse of freed entries and seqs, and Modify
// for an fd that keeps one direction.
func TestWatchChurnOverManyFdsRunsOnlyCurrentCallbacks(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		const fds, rounds = 160, 30
		l := newLoop(t, v, core.Config{})
		rng := rand.New(rand.NewPCG(1, 2))
		type side struct {
			gen     int  // of the callback watched now
			watched bool // a callback is watched
			ran     bool // it ran since it was watched
		}
		sides := make([][2]side, fds) // [fd index][0 reader, 1 writer]
		socks := make([]int, fds)
		for i := range socks {
			a, b := socketpair(t)
			if _, err := unix.Write(b, []byte{1}); err != nil {
				t.Fatal(err)
			}
			socks[i] = a
		}
		stale := 0
		watch := func(i, dir int) {
			s := &sides[i][dir]
			s.gen++
			s.watched, s.ran = true, false
			gen := s.gen
			fn := func() {
				if !s.watched || s.gen != gen {
					stale++
					return
				}
				s.ran = true
			}
			add := l.AddReader
			if dir == 1 {
				add = l.AddWriter
			}
			if err := add(socks[i], fn); err != nil {
				t.Fatalf("watch %d/%d: %v", i, dir, err)
			}
		}
		for round := range rounds {
			for range 60 {
				i, dir := rng.IntN(fds), rng.IntN(2)
				s := &sides[i][dir]
				switch {
				case s.watched && rng.IntN(3) == 0:
					watch(i, dir) // replaced: the old callback must not run again
				case s.watched:
					remove := l.RemoveReader
					if dir == 1 {
						remove = l.RemoveWriter
					}
					if !remove(socks[i]) {
						t.Fatalf("round %d: remove %d/%d of a watched fd returned false", round, i, dir)
					}
					s.watched = false
				default:
					watch(i, dir)
				}
			}
			done := func() bool {
				for i := range sides {
					for _, s := range sides[i] {
						if s.watched && !s.ran {
							return false
						}
					}
				}
				return true
			}
			for n := 0; !done(); n++ {
				if n == 20 {
					t.Fatalf("round %d: a watched callback has not run after 20 iterations", round)
				}
				runOnce(t, l)
			}
			if stale > 0 {
				t.Fatalf("round %d: %d calls of callbacks that were removed or replaced", round, stale)
			}
		}
	})
}

// TestWatchAndUnwatchAgainAllocateNothing adds and removes a reader 10,000
// times after a first round: a freed registration is reused, so the churn of
// short connections allocates nothing and the table does not grow.
func TestWatchAndUnwatchAgainAllocateNothing(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, b := socketpair(t)
		fn := func() {}
		cycle := func() {
			if err := l.AddReader(a, fn); err != nil {
				t.Fatal(err)
			}
			if err := l.AddWriter(b, fn); err != nil {
				t.Fatal(err)
			}
			if !l.RemoveReader(a) || !l.RemoveWriter(b) {
				t.Fatal("remove of a watched fd returned false")
			}
		}
		cycle()
		n, _ := fewestMallocs(func() func() {
			return func() {
				for range 10_000 {
					cycle()
				}
			}
		})
		if n != 0 {
			t.Errorf("10,000 watch and unwatch cycles allocated %d times", n)
		}
	})
}
