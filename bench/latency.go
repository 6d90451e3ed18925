package main

import (
	"math"
	"math/bits"
	"time"
)

// latHist counts round-trip times in buckets at most a 64th of their value
// wide, so that each value reads back (as its bucket's middle) within 0.8%,
// from 1 ns to about a minute, in fixed memory: the echo
// client gives each connection one and records into it without allocating,
// then merges them for the percentiles.
//
// Values below 128 ns have a bucket each. Above, a value v with its highest
// bit at position e (2^e <= v < 2^(e+1)) goes into the bucket of its top 7
// bits: shift = e-6, index = shift*64 + v>>shift, which continues the exact
// buckets without a gap (v>>shift is in [64, 128)).
type latHist struct {
	counts [latBuckets]uint32
	n      uint64
}

const (
	latSubBits = 6
	latSub     = 1 << latSubBits // buckets per power of two above 128 ns
	latMaxBits = 36              // 2^36 ns is 68 s; longer is counted as that
	latBuckets = (latMaxBits-latSubBits)*latSub + 2*latSub
)

func latBucket(d time.Duration) int {
	v := uint64(max(d, 0))
	if v >= 1<<latMaxBits {
		v = 1<<latMaxBits - 1
	}
	if v < 2*latSub {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - latSubBits
	return shift*latSub + int(v>>shift)
}

// latValue is the middle of bucket i, the value a percentile reports.
func latValue(i int) time.Duration {
	if i < 2*latSub {
		return time.Duration(i)
	}
	shift := i/latSub - 1
	low := uint64(i-shift*latSub) << shift
	return time.Duration(low + (uint64(1)<<shift)/2)
}

func (h *latHist) record(d time.Duration) {
	h.counts[latBucket(d)]++
	h.n++
}

func (h *latHist) merge(o *latHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile is the value at or below which a fraction q of the recorded
// values lie (the nearest-rank definition), or 0 when none were recorded.
func (h *latHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return latValue(i)
		}
	}
	return latValue(latBuckets - 1)
}
