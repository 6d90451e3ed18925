// These tests pin behaviour of the generic build's NewWithParams that a
// mutation round on gen/emit_generic.go found the rest of the suite let
// through: changes to its validation (an inclusive limit made exclusive, a
// rule dropped, a problem reported that is not one) that no test noticed.

package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/generic"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
)

// TestGenericAcceptsEveryLimitTheSpecAllows: the spec's ranges are
// inclusive, so a user who sets a number to the documented bound (batch 1,
// two wheel levels, a 1µs or 1s tick, a 1ms gather) must get a loop, and one
// that runs, not a refusal that contradicts the spec.
func TestGenericAcceptsEveryLimitTheSpecAllows(t *testing.T) {
	for name, change := range map[string]func(p *core.Params){
		"batch 1":       func(p *core.Params) { p.Batch = 1 },
		"batch 1048576": func(p *core.Params) { p.Batch = 1 << 20 },
		"levels 2":      func(p *core.Params) { p.Levels = 2 },
		"levels 8":      func(p *core.Params) { p.Slots, p.Levels = 4, 8 },
		"slots 4":       func(p *core.Params) { p.Slots = 4 },
		"slots 4096":    func(p *core.Params) { p.Slots, p.Tick = 4096, time.Microsecond },
		"tick 1us":      func(p *core.Params) { p.Tick = time.Microsecond },
		"tick 1s":       func(p *core.Params) { p.Tick = time.Second },
		"gather 1ms": func(p *core.Params) {
			if p.Gather > 0 { // the compiled-in switch allows a gather
				p.Gather = time.Millisecond
			}
		},
		"queue_depth 16": func(p *core.Params) { p.QueueDepth = 16 },
		"inbox.depth 16": func(p *core.Params) { p.InboxDepth = 16 },
	} {
		t.Run(name, func(t *testing.T) {
			p := generic.Params
			change(&p)
			l, err := generic.NewWithParams(p, core.Config{Clock: clock.NewVirtual(epoch)})
			if err != nil {
				t.Fatalf("NewWithParams(%v): %v", p, err)
			}
			defer l.Close()
			ran := false
			l.CallSoon(func() { ran = true })
			runOnce(t, l)
			if !ran {
				t.Error("a callback did not run on the loop made with these parameters")
			}
		})
	}
}

// TestGenericRefusesAnotherInboxKind: the inbox kind is compiled in, so a
// Params asking for the mutex inbox must be refused; accepting it would run
// the mpsc inbox while Variant reports mutex, and a benchmark of "mutex"
// would measure the wrong code.
func TestGenericRefusesAnotherInboxKind(t *testing.T) {
	p := generic.Params
	p.Inbox = map[string]string{"mpsc": "mutex", "mutex": "mpsc"}[p.Inbox]
	_, err := generic.NewWithParams(p, core.Config{})
	if err == nil || !strings.Contains(err.Error(), "generic: inbox.kind:") {
		t.Fatalf("NewWithParams with inbox %q: %v, want a generic: inbox.kind: error", p.Inbox, err)
	}
}

// TestGenericRefusesAWheelWhoseHorizonWrapsPast64Bits: the default numbers
// with eight levels (tick 1ms x 64^8, about 2^68 ns) overflow int64, yet the
// product wraps to a small positive number in 64 bits; such a wheel would
// place far timers in the wrong slots, so it must be refused like any other
// horizon that does not fit.
func TestGenericRefusesAWheelWhoseHorizonWrapsPast64Bits(t *testing.T) {
	p := generic.Params
	p.Tick, p.Slots, p.Levels = time.Millisecond, 64, 8
	_, err := generic.NewWithParams(p, core.Config{})
	if err == nil || !strings.Contains(err.Error(), "generic: wheel: horizon") {
		t.Fatalf("NewWithParams with a %v x %d^%d wheel: %v, want the horizon refused", p.Tick, p.Slots, p.Levels, err)
	}
}

// TestGenericNamesOnlyTheProblemsThereAre: a wheel with too many levels is
// one mistake; the error must not add a horizon complaint computed from the
// invalid number, which would send the user to fix slots or tick as well.
// Each problem is one line, so the count of lines is the count of problems.
func TestGenericNamesOnlyTheProblemsThereAre(t *testing.T) {
	p := generic.Params
	p.Slots, p.Levels = 4096, 9
	_, err := generic.NewWithParams(p, core.Config{})
	if err == nil {
		t.Fatal("NewWithParams accepted nine wheel levels")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "generic: wheel.levels:") {
		t.Errorf("NewWithParams with nine levels listed %d problems, want only wheel.levels:\n%v", len(lines), err)
	}
}

// TestGenericRefusesJustPastEachLimit: one past each bound is refused and
// named, so that the inclusive limits above are limits and not accidents.
func TestGenericRefusesJustPastEachLimit(t *testing.T) {
	for field, change := range map[string]func(p *core.Params){
		"batch":        func(p *core.Params) { p.Batch = 1<<20 + 1 },
		"wheel.levels": func(p *core.Params) { p.Slots, p.Levels = 4, 9 },
		"wheel.tick":   func(p *core.Params) { p.Tick = time.Microsecond - 1 },
		"wheel.slots":  func(p *core.Params) { p.Slots, p.Tick = 8192, time.Microsecond },
		"inbox.gather": func(p *core.Params) { p.Gather = time.Millisecond + 1 }, // past the limit whether gathering is compiled in or not
	} {
		p := generic.Params
		change(&p)
		if _, err := generic.NewWithParams(p, core.Config{}); err == nil || !strings.Contains(err.Error(), "generic: "+field+":") {
			t.Errorf("NewWithParams(%v): %v, want %s refused", p, err, field)
		}
	}
}
