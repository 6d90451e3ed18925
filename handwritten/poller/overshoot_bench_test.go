//go:build unix

package poller

import (
	"testing"
	"time"
)

// BenchmarkTimedWait measures how late each backend's Wait(d) returns for a
// sub-tick d with nothing to wake it: the overshoot-ns/op metric is what a
// loop's timers add to their rounding up to a tick. On a 2-core VM the
// kernel waits overshot by about 80 µs (timer slack and the wake-up); a
// time.Timer, which None used to wait on, by 545 µs (the runtime's
// netpoller sleeps in whole milliseconds). Wall time only, so it belongs in
// a benchmark and not in a test.
func BenchmarkTimedWait(b *testing.B) {
	const d = 300 * time.Microsecond
	for _, m := range backends() {
		b.Run(m.name, func(b *testing.B) {
			p := m.new()
			if err := p.Open(); err != nil {
				b.Skip(err)
			}
			defer p.Close()
			b.ReportAllocs()
			var over time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := p.Wait(int64(d)); err != nil {
					b.Fatal(err)
				}
				over += time.Since(start) - d
			}
			b.ReportMetric(float64(over.Nanoseconds())/float64(b.N), "overshoot-ns/op")
		})
	}
}
