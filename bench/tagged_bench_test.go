package main

import (
	"errors"
	"testing"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/handwritten/core"
)

// taggedSystem is the loop behind package loop's public API: the variant the
// build tags select (the default without one). `loopgen tune` builds this
// package once per candidate variant, each with its own tag, and compares
// the candidates on BenchmarkTagged.
func taggedSystem() (System, error) {
	probe, err := loop.New()
	if err != nil {
		return System{}, err
	}
	params := probe.Variant()
	probe.Close()
	newLoop := func(core.Config) (core.Loop, error) { return loop.New() }
	return loopSystem("tagged", "variant", params, newLoop), nil
}

// BenchmarkTagged runs every workload of the analysis with N = b.N on the
// build-tag-selected variant; the default benchmarks of `loopgen tune`.
// ns/op is wall time per workload op; cpu-ns/op the process CPU time per op,
// the figure to tune timers on, whose wall time is mostly waiting.
func BenchmarkTagged(b *testing.B) {
	s, err := taggedSystem()
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range plans {
		b.Run(p.workload, func(b *testing.B) {
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
}
