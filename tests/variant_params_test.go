package tests

import (
	"testing"

	"github.com/loopgen/loop/generated/balanced"
	"github.com/loopgen/loop/handwritten/core"
)

// A variant's Params is a variable anyone can change; the loop is compiled
// from the spec, and Variant says what it was compiled from whatever the
// variable holds (it returned the variable: batch=1 for a loop that runs
// batches of 256). balanced stands for every variant: they share the code.
func TestVariantReportsTheSpecNotTheVariable(t *testing.T) {
	saved := balanced.Params
	t.Cleanup(func() { balanced.Params = saved })
	balanced.Params.Batch, balanced.Params.Name = 1, "edited"
	l, err := balanced.New(core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := l.Variant(); got != saved {
		t.Errorf("Variant() = %v after Params was edited, want the spec's %v", got, saved)
	}
}
