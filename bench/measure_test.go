package main

import (
	"testing"
)

// The chan baseline's channel (4,096 func values: 32 KiB) is made in setup
// and live through the span, so its peak heap cannot be below 32 KiB, also
// when measured, as the warm-up round measures it, right after another
// system: what that one left for a second collection to free must not count
// in the base the peak is taken from (it read 0 in 5 of 5 tries).
func TestPeakHeapAfterAnotherSystemCountsTheLiveBuffer(t *testing.T) {
	all, _ := allSystems()
	by := map[string]System{}
	for _, s := range all {
		by[s.Name] = s
	}
	const n = 100_000
	t.Cleanup(func() { peakSampling = false })
	for i := range 3 {
		if _, err := runSpan(by["balanced"], WorkPosts1, n); err != nil {
			t.Fatal(err)
		}
		peakSampling = true
		r, err := runSpan(by["chan"], WorkPosts1, n)
		peakSampling = false
		if err != nil {
			t.Fatal(err)
		}
		if r.PeakHeap < baselineQueueCap*8 {
			t.Errorf("try %d: chan posts1 N=%d: peak heap %d B, below its live 32 KiB channel buffer", i, n, r.PeakHeap)
		}
	}
}
