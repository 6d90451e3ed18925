package main

import (
	"slices"
	"testing"
)

// TestRoundOrder: every round runs each candidate once, and over n rounds
// each candidate runs first once, in both directions.
func TestRoundOrder(t *testing.T) {
	for n := 2; n <= 5; n++ {
		firsts := map[int]bool{}
		for round := range n {
			order := roundOrder(round, n)
			sorted := slices.Sorted(slices.Values(order))
			for i, c := range sorted {
				if c != i {
					t.Fatalf("n=%d round %d: order %v is not a permutation", n, round, order)
				}
			}
			firsts[order[0]] = true
		}
		if len(firsts) != n {
			t.Errorf("n=%d: over %d rounds only %v run first", n, n, firsts)
		}
	}
	if got := [][]int{roundOrder(0, 2), roundOrder(1, 2)}; !slices.Equal(got[0], []int{0, 1}) || !slices.Equal(got[1], []int{1, 0}) {
		t.Errorf("two candidates: rounds 0 and 1 run %v, want [0 1] then [1 0]", got)
	}
}
