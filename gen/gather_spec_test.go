package gen

import (
	"testing"
	"time"
)

// TestInboxGatherEdges pins the inbox.gather field at its edges: the longest
// gather (1ms) is allowed, a duration finer than a microsecond is kept as
// written, and Get writes the spec's ASCII spelling ("4us", not "4µs"), which
// Set reads back.
func TestInboxGatherEdges(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want time.Duration
	}{
		{"1ms", time.Millisecond},
		{"1000us", time.Millisecond},
		{"1500ns", 1500 * time.Nanosecond},
		{"1ns", 1},
		{"0", 0},
		{"0s", 0},
	} {
		s, err := Parse("t.yaml", []byte(one("inbox: {gather: "+tc.yaml+"}")))
		if err != nil {
			t.Errorf("gather: %s: %v", tc.yaml, err)
			continue
		}
		if got := s.Variants[0].Inbox.Gather; got != tc.want {
			t.Errorf("gather: %s parsed as %v, want %v", tc.yaml, got, tc.want)
		}
		v := specDefaults()
		if err := v.Set("inbox.gather", tc.yaml); err != nil || v.Inbox.Gather != tc.want {
			t.Errorf("Set(inbox.gather, %s): %v, Gather %v, want %v", tc.yaml, err, v.Inbox.Gather, tc.want)
		}
	}

	for _, tc := range []struct {
		gather time.Duration
		want   string
	}{
		{4 * time.Microsecond, "4us"},
		{1500 * time.Nanosecond, "1.5us"},
		{time.Millisecond, "1ms"},
		{0, "0s"},
	} {
		v := specDefaults()
		v.Inbox.Gather = tc.gather
		got, err := v.Get("inbox.gather")
		if err != nil || got != tc.want {
			t.Errorf("Get(inbox.gather) with %v = %q, %v; want %q", tc.gather, got, err, tc.want)
			continue
		}
		w := specDefaults()
		if err := w.Set("inbox.gather", got); err != nil || w.Inbox.Gather != tc.gather {
			t.Errorf("Set(inbox.gather, %q): %v, Gather %v, want %v", got, err, w.Inbox.Gather, tc.gather)
		}
	}
}
