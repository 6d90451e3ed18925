package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

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
	// drive_loop_gen.go drives package loop's type, so that every variant
	// that tags can select, a tune candidate too, is measured the same way.
	return loopSystem("tagged", "variant", params, newLoop, directSpans["loop"]), nil
}

// BenchmarkTagged runs every workload of the analysis at each of its scales
// on the build-tag-selected variant: the default benchmarks of `loopgen
// tune`. Each iteration is one repetition at scale N on a fresh loop, as in
// `go run ./bench`, so a result does not depend on how many iterations the
// benchmark ran (with N = b.N, a callback queue would be as deep as the
// benchmark is long). ns/op, cpu-ns/op, span-allocs/op and span-B/op are
// per workload op (callback, timer, post, message) over the measured spans
// only (testing's own B/op and allocs/op include making the loop); cpu-ns/op is the
// figure to tune timers on, whose wall time is mostly waiting.
func BenchmarkTagged(b *testing.B) {
	s, err := taggedSystem()
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range plans {
		b.Run(p.workload, func(b *testing.B) {
			for _, n := range p.scales {
				b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
					var wall, cpu time.Duration
					var ops, allocs, bytes uint64
					for b.Loop() {
						r, err := s.Run(p.workload, n)
						if errors.Is(err, ErrUnsupported) {
							b.Skip("not supported by this variant")
						}
						if err != nil {
							b.Fatal(err)
						}
						wall += r.Wall
						cpu += r.CPU
						ops += uint64(max(r.Ops, 1))
						allocs += r.Allocs
						bytes += r.Bytes
					}
					b.ReportMetric(float64(wall.Nanoseconds())/float64(ops), "ns/op")
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(ops), "cpu-ns/op")
					// Not allocs/op and B/op: under -benchmem, testing prints
					// metrics of those names as whole numbers (36.9 B/op came
					// out as 36, 0.003 allocs/op as 0).
					b.ReportMetric(float64(allocs)/float64(ops), "span-allocs/op")
					b.ReportMetric(float64(bytes)/float64(ops), "span-B/op")
				})
			}
		})
	}
}
