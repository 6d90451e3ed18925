package core

import (
	"math"
	"strings"
	"testing"
	"time"
)

// Horizon is the wheel's whole span, tick × slots^levels; a shorter one
// would park timers that the wheel could hold, and the tests that schedule
// "beyond the horizon" would stay inside it.
func TestHorizonIsTickTimesSlotsToTheLevels(t *testing.T) {
	p := Params{Tick: time.Millisecond, Slots: 64, Levels: 3}
	if got, want := p.Horizon(), 64*64*64*time.Millisecond; got != want {
		t.Errorf("Horizon() = %v, want %v", got, want)
	}
	if got := (Params{Tick: time.Millisecond, Slots: 64, Levels: 1}).Horizon(); got != 64*time.Millisecond {
		t.Errorf("one level: Horizon() = %v, want 64ms", got)
	}
}

// A horizon past the largest Duration saturates there, as the spec's does:
// it wrapped, and {1s, 4096, 8} read 0s.
func TestHorizonSaturates(t *testing.T) {
	for _, p := range []Params{{Tick: time.Second, Slots: 4096, Levels: 8}, {Tick: time.Microsecond, Slots: 4096, Levels: 6}} {
		if got := p.Horizon(); got != math.MaxInt64 {
			t.Errorf("%v×%d^%d: Horizon() = %v, want the largest Duration", p.Tick, p.Slots, p.Levels, got)
		}
	}
	if got, want := (Params{Tick: time.Microsecond, Slots: 4096, Levels: 4}).Horizon(), time.Duration(1<<48)*time.Microsecond; got != want {
		t.Errorf("µs×4096^4: Horizon() = %v, want %v", got, want)
	}
}

// Spin 0 means the loop blocks at once; the spec calls that idle: block.
func TestParamsStringNamesTheIdleMode(t *testing.T) {
	block := Params{Name: "x", Tick: time.Millisecond, Slots: 64, Levels: 4}.String()
	if !strings.Contains(block, " idle=block ") {
		t.Errorf("Spin 0: %q lacks idle=block", block)
	}
	spin := Params{Name: "x", Spin: 50 * time.Microsecond}.String()
	if !strings.Contains(spin, " idle=spin:50µs ") {
		t.Errorf("Spin 50µs: %q lacks idle=spin:50µs", spin)
	}
}
