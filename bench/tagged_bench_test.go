package main

import (
	"fmt"
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
	// drive_loop_gen.go drives package loop's type, so that every variant
	// that tags can select, a tune candidate too, is measured the same way.
	return loopSystem("tagged", "variant", params, newLoop, directSpans["loop"]), nil
}

// BenchmarkTagged runs every workload of the analysis at each of its scales
// on the build-tag-selected variant: the default benchmarks of `loopgen
// tune`, which builds this package once per candidate and compares them
// under the same names (Tagged/W/N=n). Each iteration is one repetition at
// scale N on a fresh loop; see benchScale for the metrics.
func BenchmarkTagged(b *testing.B) {
	s, err := taggedSystem()
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range plans {
		b.Run(p.workload, func(b *testing.B) {
			for _, n := range p.scales {
				b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchScale(b, s, p.workload, n) })
			}
		})
	}
}
