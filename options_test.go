package loop_test

import (
	"strings"
	"testing"

	"github.com/loopgen/loop"
)

// A nil clock or a nil Option is a mistake that New reports, instead of a
// loop on real time (a test meant to pass a clock) or a nil-func panic.
func TestNewRefusesANilClockAndANilOption(t *testing.T) {
	if l, err := loop.New(loop.WithClock(nil)); err == nil || !strings.Contains(err.Error(), "WithClock(nil)") {
		if l != nil {
			l.Close()
		}
		t.Errorf("New(WithClock(nil)): %v, want an error naming WithClock(nil)", err)
	}
	if l, err := loop.New(loop.WithPanicHandler(func(any) {}), nil); err == nil || !strings.Contains(err.Error(), "option 1 is nil") {
		if l != nil {
			l.Close()
		}
		t.Errorf("New with a nil Option: %v, want an error naming it", err)
	}
	// nil means the default handler, as documented.
	l, err := loop.New(loop.WithPanicHandler(nil))
	if err != nil {
		t.Fatalf("New(WithPanicHandler(nil)): %v", err)
	}
	l.Close()
}

// Given twice, an option's later value wins, as Option's doc says (a
// user's trial read loop.go to learn it).
func TestTheLaterOfTwoOptionsWins(t *testing.T) {
	var got []string
	l, err := loop.New(
		loop.WithPanicHandler(func(any) { got = append(got, "first") }),
		loop.WithPanicHandler(func(any) { got = append(got, "second") }),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.CallSoon(func() { panic("boom") })
	if err := l.RunOnce(false); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "second" {
		t.Fatalf("panic handlers ran: %v, want the second alone", got)
	}
}
