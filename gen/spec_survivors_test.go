package gen

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// specSurvivorRules are rules that a one-token change to spec.go broke
// without any row of the other tables noticing (a mutation round).
// TestParseRejectsEachRuleWithExactMessage runs them with the other tables.
var specSurvivorRules = []struct {
	name string
	yaml string
	want []string
}{
	// An anchor on an alias to itself is the one cycle YAML lets through;
	// it is refused at the value, not looped on.
	{"alias cycle", one("batch: &a", "  *a"),
		[]string{"t.yaml:4:12: variants[0].batch: aliases refer to each other in a cycle (write the value out)"}},
	// An anchor in front of a tagged key does not hide the tag: read as
	// text, the key was "!!str" and the message "unknown field".
	{"anchored tag on a key", one("&k !!str batch: 32"),
		[]string{"t.yaml:4:5: variants[0]: YAML tags such as !!str are not supported (write the plain key)"}},
	// A merge key at the top level is named as one, as it is in a variant,
	// not taken for an unknown field called "<<".
	{"top-level merge key", one() + "<<: {x: 1}\n",
		[]string{"t.yaml:4:1: <<: merge keys are not supported (write the fields out)"}},
	// Only a field where 0 means off takes a plain YAML 0: wheel.tick needs
	// a unit, and a 0 there is a type error, not a range error.
	{"tick given a plain zero", one("wheel: {tick: 0}"),
		[]string{"t.yaml:4:19: variants[0].wheel.tick: want a Go duration such as 1ms or 100us, got integer 0"}},
	// A dot becomes an underscore in the suggested name, as a hyphen does.
	{"name with a dot", "variants:\n  - name: fast.io\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "fast.io" is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$, such as fast_io)`}},
	// A suggestion is itself a valid name: lowercasing Main gives main,
	// which is reserved, so no name is suggested.
	{"name whose lowercase is reserved", "variants:\n  - name: Main\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "Main" is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$)`}},
	// A key with a space is quoted in the path, which would otherwise read
	// as two words of the message.
	{"key with a space", one("batch size: 64"),
		[]string{`t.yaml:4:5: variants[0]."batch size": unknown field (known: name, default, queue_depth, overflow, batch, inbox, wheel, poller, idle, recover, stats)`}},
}

// A poller is available exactly where handwritten/poller builds it for real:
// epoll for the linux tag (android included), kqueue for the BSDs and darwin
// (ios included), poll for Go's unix constraint. tune skips a candidate its
// GOOS cannot run, so a missing OS (hurd, illumos) skipped a poller that works.
func TestPollerAvailableOnEveryGOOS(t *testing.T) {
	unix := []string{"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "linux", "netbsd", "openbsd", "solaris"}
	kqueue := []string{"darwin", "dragonfly", "freebsd", "ios", "netbsd", "openbsd"}
	epoll := []string{"android", "linux"}
	all := append([]string{"js", "plan9", "wasip1", "windows", "zos"}, unix...)
	for _, goos := range all {
		for p, want := range map[PollerKind]bool{
			PollerAuto:   true,
			PollerNone:   true,
			PollerEpoll:  slices.Contains(epoll, goos),
			PollerKqueue: slices.Contains(kqueue, goos),
			PollerPoll:   slices.Contains(unix, goos),
		} {
			if got := p.AvailableOn(goos); got != want {
				t.Errorf("%s.AvailableOn(%q) = %v, want %v", p, goos, got, want)
			}
		}
	}
}

// Horizon is Tick × Slots^Levels for any wheel, valid or not: with no
// levels that is the tick whatever the slots (Slots^0 is 1, even for 0
// slots), and a wheel with negative slots or tick has no meaningful horizon,
// so it saturates whatever its levels rather than read as a short one.
func TestHorizonOfDegenerateWheels(t *testing.T) {
	for _, tc := range []struct {
		w    Wheel
		want time.Duration
	}{
		{Wheel{time.Millisecond, 0, 0}, time.Millisecond},
		{Wheel{time.Millisecond, 64, 0}, time.Millisecond},
		{Wheel{time.Millisecond, -4, 0}, 1<<63 - 1},
		{Wheel{time.Millisecond, -4, 3}, 1<<63 - 1},
		{Wheel{0, -4, 2}, 1<<63 - 1},
		{Wheel{-time.Millisecond, 64, 0}, 1<<63 - 1},
	} {
		if got := tc.w.Horizon(); got != tc.want {
			t.Errorf("%+v.Horizon() = %v, want %v", tc.w, got, tc.want)
		}
	}
}

// An Error on line 1 with no file still shows its position: line 1 is a
// line like any other (the empty-spec and syntax errors sit there).
func TestAnErrorOnLineOneWithoutAFileShowsItsPosition(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{Line: 1, Col: 1, Msg: "m"}, "1:1: m"},
		{Error{Line: 1, Col: 7, Path: "p", Msg: "m"}, "1:7: p: m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.e, got, tc.want)
		}
	}
}

// An anchor name may be defined again; an alias stands for the last one
// defined before it, as YAML says, not for one defined later.
func TestAnAliasTakesTheLastAnchorDefinedBeforeIt(t *testing.T) {
	src := "variants:\n" +
		"  - name: a\n" +
		"    default: true\n" +
		"    batch: &n 64\n" +
		"    inbox: {depth: *n}\n" +
		"    wheel: {slots: &n 128}\n" +
		"  - {name: b, batch: *n, queue_depth: &n 32, inbox: {depth: *n}}\n"
	spec, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a, b := spec.Variants[0], spec.Variants[1]
	if a.Batch != 64 || a.Inbox.Depth != 64 || a.Wheel.Slots != 128 {
		t.Errorf("a = %+v, want batch and inbox.depth 64, wheel.slots 128", a)
	}
	if b.Batch != 128 || b.QueueDepth != 32 || b.Inbox.Depth != 32 {
		t.Errorf("b = %+v, want batch 128 (the anchor before it on line 6), queue_depth and inbox.depth 32", b)
	}
}

// An anchor may be put on an alias (written on the next line, as the parser
// wants), and an alias may stand for that: a chain of them resolves to the
// value at its end. Only a cycle is refused.
func TestAChainOfAliasesResolves(t *testing.T) {
	src := "variants:\n" +
		"  - name: a\n" +
		"    default: true\n" +
		"    batch: &a 64\n" +
		"    queue_depth: &b\n      *a\n" +
		"    inbox:\n      depth: &c\n        *b\n" +
		"  - name: b\n" +
		"    batch: *c\n"
	spec, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a, b := spec.Variants[0], spec.Variants[1]
	if a.Batch != 64 || a.QueueDepth != 64 || a.Inbox.Depth != 64 || b.Batch != 64 {
		t.Errorf("a = %+v\nb = %+v\nwant 64 at the end of each chain", a, b)
	}
}

// Every limit is inclusive: a value at either end of a field's range is
// accepted (specRules shows only what lies past them).
func TestParseAcceptsEachFieldAtItsLimits(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   func(v Variant) bool
	}{
		{"queue_depth: 16", func(v Variant) bool { return v.QueueDepth == 16 }},
		{"queue_depth: 16777216", func(v Variant) bool { return v.QueueDepth == 1<<24 }},
		{"batch: 1", func(v Variant) bool { return v.Batch == 1 }},
		{"batch: 1048576", func(v Variant) bool { return v.Batch == 1<<20 }},
		{"inbox: {depth: 16}", func(v Variant) bool { return v.Inbox.Depth == 16 }},
		{"inbox: {depth: 16777216}", func(v Variant) bool { return v.Inbox.Depth == 1<<24 }},
		{"inbox: {gather: 0}", func(v Variant) bool { return v.Inbox.Gather == 0 }},
		{"inbox: {gather: 1ms}", func(v Variant) bool { return v.Inbox.Gather == time.Millisecond }},
		{"wheel: {tick: 1us}", func(v Variant) bool { return v.Wheel.Tick == time.Microsecond }},
		{"wheel: {tick: 1s, slots: 4, levels: 2}", func(v Variant) bool { return v.Wheel == Wheel{time.Second, 4, 2} }},
		{"wheel: {tick: 1us, slots: 4096, levels: 2}", func(v Variant) bool { return v.Wheel == Wheel{time.Microsecond, 4096, 2} }},
		{"wheel: {slots: 4, levels: 8}", func(v Variant) bool { return v.Wheel.Slots == 4 && v.Wheel.Levels == 8 }},
		{"idle: spin:1ns", func(v Variant) bool { return v.Spin == time.Nanosecond }},
		{"idle: spin:10ms", func(v Variant) bool { return v.Spin == 10*time.Millisecond }},
	} {
		s, err := Parse("t.yaml", []byte(one(tc.line)))
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if v := s.Variants[0]; !tc.ok(v) {
			t.Errorf("%s: read as %+v", tc.line, v)
		}
	}
	name := strings.Repeat("a", specMaxNameLen)
	if _, err := Parse("t.yaml", []byte("variants:\n  - {name: "+name+", default: true}\n")); err != nil {
		t.Errorf("a name of %d bytes: %v", specMaxNameLen, err)
	}
}

// Set reads a value as Parse reads a field, so a tag is refused as a tag
// would be in the file: here as text, as a value that is not one plain
// YAML value is, never as a node Parse never hands a field.
func TestSetTakesATaggedValueAsText(t *testing.T) {
	v := specDefaults()
	if got, want := errString(v.Set("batch", "!!int 64")), `batch: want an integer, got string "!!int 64"`; got != want {
		t.Errorf("Set(batch, !!int 64) = %q, want %q", got, want)
	}
}

// Unwrap gives every entry, in order, not only the first: errors.Is and
// errors.As over a spec's problems must see them all.
func TestErrorListUnwrapsEveryEntry(t *testing.T) {
	list := ErrorList{{Path: "batch", Msg: "a"}, {Path: "stats", Msg: "b"}, {Path: "idle", Msg: "c"}}
	got := list.Unwrap()
	if len(got) != len(list) {
		t.Fatalf("Unwrap() gave %d errors, want %d", len(got), len(list))
	}
	for i, e := range got {
		if e != list[i] {
			t.Errorf("Unwrap()[%d] = %v, want %v", i, e, list[i])
		}
	}
	if !errors.Is(list, list[2]) {
		t.Errorf("errors.Is(list, its last entry) = false")
	}
}
