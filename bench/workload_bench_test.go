package main

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// BenchmarkWorkload runs every workload of the analysis at each of its
// scales on every generated variant and the generic build, as `go run
// ./bench` does, so that `go test -bench Workload -count 10` output goes
// straight into benchstat: `benchstat -col /variant` puts the variants side
// by side. Names are Workload/workload=W/variant=V/N=n.
func BenchmarkWorkload(b *testing.B) {
	for _, p := range plans {
		b.Run("workload="+p.workload, func(b *testing.B) {
			for _, s := range variantSystems() {
				b.Run("variant="+s.Name, func(b *testing.B) {
					for _, n := range p.scales {
						b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchScale(b, s, p.workload, n) })
					}
				})
			}
		})
	}
}

// benchScale measures workload w at scale n on s. Each iteration is one
// repetition at scale n on a fresh system, as in `go run ./bench`, so a
// result does not depend on how many iterations the benchmark ran (with
// N = b.N, a callback queue would be as deep as the benchmark is long, and
// each variant would be measured at a different depth). ns/op, cpu-ns/op,
// span-allocs/op and span-B/op are per workload op (callback, timer, post,
// message) over the measured spans only; testing's own B/op and allocs/op
// (b.ReportAllocs) are per repetition and include making the loop. cpu-ns/op
// is the figure for timers, whose wall time is mostly waiting. A repetition
// that did fewer ops than the workload promises fails the benchmark: a
// variant that lost work must not report a fast time.
func benchScale(b *testing.B, s System, w string, n int) {
	b.ReportAllocs()
	var wall, cpu time.Duration
	var ops, allocs, bytes uint64
	for b.Loop() {
		r, err := s.Run(w, n)
		if errors.Is(err, ErrUnsupported) {
			b.Skip("not supported by this variant")
		}
		if err != nil {
			b.Fatal(err)
		}
		if want := workloadOps(w, n); r.Ops != want {
			b.Fatalf("%s at N=%d did %d ops, want %d", w, n, r.Ops, want)
		}
		wall += r.Wall
		cpu += r.CPU
		ops += uint64(r.Ops)
		allocs += r.Allocs
		bytes += r.Bytes
	}
	b.ReportMetric(float64(wall.Nanoseconds())/float64(ops), "ns/op")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(ops), "cpu-ns/op")
	// Not allocs/op and B/op: under -benchmem, testing prints metrics of
	// those names as whole numbers (36.9 B/op came out as 36, 0.003
	// allocs/op as 0), and they would replace b.ReportAllocs' own.
	b.ReportMetric(float64(allocs)/float64(ops), "span-allocs/op")
	b.ReportMetric(float64(bytes)/float64(ops), "span-B/op")
}

// workloadOps is how many ops a run of workload w at scale n does: n, and
// n per producer for the posting workloads.
func workloadOps(w string, n int) int {
	if producers, ok := postProducers(w); ok && producers > 0 {
		return producers * n
	}
	return n
}
