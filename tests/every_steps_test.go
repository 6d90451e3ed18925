package tests

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
)

// TestCallEverySeesEveryRunWhenStepsAreShortEnough pins the rule
// CallEvery's doc gives tests on a virtual clock: with an iteration after
// each Advance, steps of at most a tick, or at most d less a tick, see
// every run (a run is then never so late that the next period's deadline
// falls in the tick being run). A user's trial had stepped by ticks
// through 40 virtual minutes, the only rule the doc gave, and found it
// slow. Steps are random up to the bound; periods are shorter than a
// tick, odd multiples of it and long.
func TestCallEverySeesEveryRunWhenStepsAreShortEnough(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		tick := v.Params.Tick
		rng := rand.New(rand.NewPCG(7, uint64(tick)))
		for _, d := range []time.Duration{tick / 3, tick, 183 * tick / 100, 50 * tick, 7*tick + tick/2} {
			l, vc := newVirtual(t, v)
			runs := 0
			l.CallEvery(d, func() { runs++ })
			step := max(d-tick, tick)
			period := max(d, tick) // a d under a tick runs once a tick
			for vc.Elapsed() < 200*period {
				vc.Advance(time.Duration(rng.Int64N(int64(step))) + 1)
				runOnce(t, l)
			}
			// The last period's run may wait for its deadline's tick to end.
			want := int(vc.Elapsed() / period)
			if runs < want-1 || runs > want {
				t.Errorf("CallEvery(%v) stepped by at most %v: %d runs in %v, want %d or %d", d, step, runs, vc.Elapsed(), want-1, want)
			}
			// One Advance past several periods sees one run: the rest are skipped.
			before := runs
			vc.Advance(5 * period)
			runOnce(t, l)
			if got := runs - before; got != 1 {
				t.Errorf("CallEvery(%v): one Advance of 5 periods ran it %d times, want 1", d, got)
			}
		}
	})
}
