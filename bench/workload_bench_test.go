package main

import (
	"errors"
	"testing"
)

// BenchmarkWorkload runs every workload of the analysis on every generated
// variant with N = b.N, so `go test -bench Workload -count 10` output goes
// straight into benchstat. ns/op, allocs/op and B/op are those of the
// measured span only (creating the loop is left out), per workload op.
func BenchmarkWorkload(b *testing.B) {
	for _, p := range plans {
		b.Run(p.workload, func(b *testing.B) {
			for _, s := range variantSystems() {
				b.Run(s.Name, func(b *testing.B) {
					r, err := s.Run(p.workload, b.N)
					if errors.Is(err, ErrUnsupported) {
						b.Skip("not supported by this variant")
					}
					if err != nil {
						b.Fatal(err)
					}
					ops := float64(max(r.Ops, 1))
					b.ReportMetric(float64(r.Wall.Nanoseconds())/ops, "ns/op")
					b.ReportMetric(float64(r.CPU.Nanoseconds())/ops, "cpu-ns/op")
					b.ReportMetric(float64(r.Allocs)/ops, "allocs/op")
					b.ReportMetric(float64(r.Bytes)/ops, "B/op")
				})
			}
		})
	}
}
