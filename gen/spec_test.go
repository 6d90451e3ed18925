package gen

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// shippedSpec is a copy of spec/loop.yaml as the project ships it, which the
// tests of package gen read instead of the real file: that one is the
// user's to edit (add a variant, tune one with loopgen tune -write), and
// such an edit must not break go test ./gen. loopgen -check keeps
// generated/ honest against the real spec. After changing the shipped
// variants: cp spec/loop.yaml gen/testdata/specs/shipped.yaml, then
// go test ./gen -run TestGolden -update.
const shippedSpec = "testdata/specs/shipped.yaml"

// realSpec is the spec the module generates from, for the few checks of
// what the project relies on in it, which a user's edit keeps.
const realSpec = "../spec/loop.yaml"

// one is a spec with a single valid default variant named "a", followed by the
// given lines inside it. Line k of extra (from 0) is on line 4+k of the file,
// indented 4, so its key is at column 5.
func one(extra ...string) string {
	s := "variants:\n  - name: a\n    default: true\n"
	for _, l := range extra {
		s += "    " + l + "\n"
	}
	return s
}

// specRules has one row per rule, with the exact messages Parse gives.
var specRules = []struct {
	name string
	yaml string
	want []string
}{
	// The document.
	{"syntax error", "variants: {\n",
		[]string{"t.yaml:1:11: invalid YAML: could not find flow mapping end token '}'"}},
	// A tab was shown as a space: strings.Fields, which makes the parser's
	// message one line, turned "found character '\t'" into "found character ' '".
	{"tab where YAML wants spaces", "variants:\n  - name: a\n    default: true\n\tbatch: 64\n",
		[]string{`t.yaml:4:1: invalid YAML: found character '\t' that cannot start any token (a tab: indent YAML with spaces)`}},
	{"syntax error in a nested value", "variants:\n  - name: a\n   x: [\n",
		[]string{"t.yaml:3:4: invalid YAML: value is not allowed in this context"}},
	{"empty document", "# nothing here\n",
		[]string{"t.yaml:1:1: empty spec (want a mapping with a variants list, as in spec/loop.yaml)"}},
	{"two documents", one() + "---\nvariants: []\n",
		[]string{"t.yaml:4:1: more than one YAML document (a spec is a single document: remove the extra ---)"}},
	{"top level not a mapping", "- name: a\n",
		[]string{"t.yaml:1:1: the top level must be a mapping with a variants list, got a list"}},
	{"unknown top-level key", one() + "version: 2\n",
		[]string{"t.yaml:4:1: version: unknown field (known: variants)"}},
	{"variants missing", "variant:\n  - name: a\n",
		[]string{
			"t.yaml:1:1: variant: unknown field (known: variants)",
			"t.yaml:1:1: variants: missing (add a variants list with at least one variant, as in spec/loop.yaml)",
		}},
	{"variants not a list", "variants: {name: a, default: true}\n",
		[]string{"t.yaml:1:11: variants: want a list of variants, got a mapping"}},
	{"variants null", "variants:\n",
		[]string{"t.yaml:1:1: variants: want a list of variants, got null"}},
	{"variants empty", "variants: []\n",
		[]string{"t.yaml:1:11: variants: empty list (add at least one variant, such as - {name: balanced, default: true})"}},
	{"variant not a mapping", "variants:\n  - fast\n",
		[]string{`t.yaml:2:5: variants[0]: want a mapping of fields (name, default, queue_depth, overflow, batch, inbox, wheel, poller, idle, recover, stats), got string "fast"`}},
	{"group not a mapping", one("wheel: 1ms"),
		[]string{`t.yaml:4:12: variants[0].wheel: want a mapping (fields: tick, slots, levels), got string "1ms"`}},

	// Keys.
	{"unknown key", one("wheel: {tik: 1ms}"),
		[]string{"t.yaml:4:13: variants[0].wheel.tik: unknown field (known: tick, slots, levels)"}},
	{"unknown variant key", one("batch_size: 64"),
		[]string{"t.yaml:4:5: variants[0].batch_size: unknown field (known: name, default, queue_depth, overflow, batch, inbox, wheel, poller, idle, recover, stats)"}},
	{"dotted key", one("wheel.tick: 1ms"),
		[]string{"t.yaml:4:5: variants[0].wheel.tick: unknown field (write it nested: wheel: {tick: ...})"}},
	{"duplicate key", one("batch: 64", "batch: 128"),
		[]string{"t.yaml:5:5: variants[0].batch: duplicate key (first at line 4; remove one)"}},
	{"duplicate key in a group", one("inbox:", "  kind: mpsc", "  kind: mutex"),
		[]string{"t.yaml:6:7: variants[0].inbox.kind: duplicate key (first at line 5; remove one)"}},
	{"duplicate top-level key", one() + "variants: []\n",
		[]string{"t.yaml:4:1: variants: duplicate key (first at line 1; remove one)"}},
	{"merge key", one("<<: {batch: 64}"),
		[]string{"t.yaml:4:5: variants[0].<<: merge keys are not supported (write the fields out; omitted fields take balanced's values)"}},

	// Types.
	{"integer given a word", one("batch: abc"),
		[]string{`t.yaml:4:12: variants[0].batch: want an integer, got string "abc"`}},
	{"integer given a quoted number", one(`queue_depth: "4096"`),
		[]string{`t.yaml:4:18: variants[0].queue_depth: want an integer, got string "4096"`}},
	{"integer given a float", one("batch: 256.0"),
		[]string{"t.yaml:4:12: variants[0].batch: want an integer, got float 256.0"}},
	{"integer given a null", one("batch:"),
		[]string{"t.yaml:4:5: variants[0].batch: want an integer, got null"}},
	// A leading zero or a base prefix is refused: the YAML parser followed
	// YAML 1.1, so batch: 010 was 8 with no message, queue_depth: 01024 was
	// reported as "532 is not a power of two", and inbox.depth: 08192 (not
	// octal, so read as a string) as out of range.
	{"integer with a leading zero", one("batch: 010"),
		[]string{`t.yaml:4:12: variants[0].batch: "010" has a leading zero, so YAML reads it as octal (8): write integers in decimal, such as 10`}},
	{"power of two with a leading zero", one("queue_depth: 01024"),
		[]string{`t.yaml:4:18: variants[0].queue_depth: "01024" has a leading zero, so YAML reads it as octal (532): write integers in decimal, such as 1024`}},
	{"integer with a leading zero that is not octal", one("inbox: {depth: 08192}"),
		[]string{`t.yaml:4:20: variants[0].inbox.depth: "08192" has a leading zero: write integers in decimal, such as 8192`}},
	{"negative integer with a leading zero", one("batch: -010"),
		[]string{`t.yaml:4:12: variants[0].batch: "-010" has a leading zero, so YAML reads it as octal (-8): write integers in decimal, such as -10`}},
	{"integer padded with a zero that changes nothing", one("wheel: {levels: 04}"),
		[]string{`t.yaml:4:21: variants[0].wheel.levels: "04" has a leading zero: write integers in decimal, such as 4`}},
	{"hexadecimal integer", one("batch: 0x40"),
		[]string{`t.yaml:4:12: variants[0].batch: "0x40" is hexadecimal: write integers in decimal, such as 64`}},
	{"octal integer with 0o", one("batch: 0o100"),
		[]string{`t.yaml:4:12: variants[0].batch: "0o100" is octal: write integers in decimal, such as 64`}},
	{"binary integer", one("batch: 0b1000000"),
		[]string{`t.yaml:4:12: variants[0].batch: "0b1000000" is binary: write integers in decimal, such as 64`}},
	{"integer too large for 64 bits", one("batch: 99999999999999999999"),
		[]string{"t.yaml:4:12: variants[0].batch: must be between 1 and 1048576 (got 99999999999999999999)"}},
	{"integer with underscores", one("batch: 1_000"),
		[]string{`t.yaml:4:12: variants[0].batch: "1_000" has underscores: write integers in plain decimal, such as 1000`}},
	{"duration with a fraction of a nanosecond", one("wheel: {tick: 1.5ns}"),
		[]string{`t.yaml:4:19: variants[0].wheel.tick: "1.5ns" has a fraction of a nanosecond, which a duration cannot hold (it would read as 1ns)`}},
	{"duration below a nanosecond", one("inbox: {gather: 0.9ns}"),
		[]string{`t.yaml:4:21: variants[0].inbox.gather: "0.9ns" is less than a nanosecond, the smallest duration`}},
	{"boolean given yes", one("recover: yes"),
		[]string{`t.yaml:4:14: variants[0].recover: want a boolean (true or false), got string "yes"`}},
	{"boolean given 1", one("stats: 1"),
		[]string{"t.yaml:4:12: variants[0].stats: want a boolean (true or false), got integer 1"}},
	{"boolean given a quoted true", `variants:` + "\n" + `  - {name: a, default: "true"}` + "\n",
		[]string{`t.yaml:2:24: variants[0].default: want a boolean (true or false), got string "true"`}},
	{"tag", one("batch: !!int 64"),
		[]string{"t.yaml:4:12: variants[0].batch: YAML tags such as !!int are not supported (write the plain value)"}},
	{"alias name spanning lines is quoted", "  * 000000000\n\n0",
		[]string{`t.yaml:1:3: unknown alias *"000000000\n0" (define the anchor &"000000000\n0" before using it)`}},
	{"unknown alias", one("batch: *size"),
		[]string{"t.yaml:4:12: variants[0].batch: unknown alias *size (define the anchor &size before using it)"}},

	// name.
	{"name missing", "variants:\n  - default: true\n",
		[]string{"t.yaml:2:5: variants[0].name: required (a lowercase Go package name, such as fast)"}},
	{"name empty", "variants:\n  - name: \"\"\n    default: true\n",
		[]string{"t.yaml:2:11: variants[0].name: required (a lowercase Go package name, such as fast)"}},
	{"name not a string", "variants:\n  - name: 5\n    default: true\n",
		[]string{"t.yaml:2:11: variants[0].name: want a string (a lowercase Go package name), got integer 5"}},
	{"name not a package name", "variants:\n  - name: Fast-IO\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "Fast-IO" is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$, such as fast_io)`}},
	{"name starting with a digit", "variants:\n  - name: 2fast\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "2fast" is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$, such as v2fast)`}},
	{"name a Go keyword", "variants:\n  - name: func\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "func" is a Go keyword and cannot name a package; pick another name, such as func_loop`}},
	// init and loop passed: Go does not allow importing a package as init,
	// so generated/all did not compile ("cannot import package as init"),
	// and a variant named loop would be given bench/drive_loop_gen.go, the
	// file of package loop's own driver copy.
	{"name init", "variants:\n  - name: init\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "init" is reserved (reserved: all, conflict, generic, init, internal, loop, main, select, testdata); pick another name, such as init_loop`}},
	{"name loop", "variants:\n  - name: loop\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "loop" is reserved (reserved: all, conflict, generic, init, internal, loop, main, select, testdata); pick another name, such as event_loop`}},
	// A name of 246 bytes passed, and loopgen then failed with the file
	// system's "file name too long" and no position in the spec.
	{"name too long", "variants:\n  - name: " + strings.Repeat("a", 65) + "\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: too long: 65 bytes, at most 64 (the name becomes a directory, file names and a build tag)`}},
	{"name reserved", "variants:\n  - name: generic\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "generic" is reserved (reserved: all, conflict, generic, init, internal, loop, main, select, testdata); pick another name, such as generic_loop`}},
	{"name the go command skips in ./...", "variants:\n  - name: testdata\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "testdata" is reserved (reserved: all, conflict, generic, init, internal, loop, main, select, testdata); pick another name, such as testdata_loop`}},
	{"name reserved and a keyword", "variants:\n  - name: select\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "select" is reserved (reserved: all, conflict, generic, init, internal, loop, main, select, testdata); pick another name, such as select_loop`}},
	{"name conflict, the two-tags guard's file", "variants:\n  - name: a\n    default: true\n  - name: conflict\n",
		[]string{`t.yaml:4:11: variants[1].name: "conflict" is reserved (reserved: all, conflict, generic, init, internal, loop, main, select, testdata); pick another name, such as conflict_loop`}},
	{"too many variants", "variants:\n  - {name: v0, default: true}\n  - {name: v1}\n  - {name: v2}\n  - {name: v3}\n  - {name: v4}\n  - {name: v5}\n  - {name: v6}\n  - {name: v7}\n  - {name: v8}\n  - {name: v9}\n  - {name: v10}\n  - {name: v11}\n  - {name: v12}\n  - {name: v13}\n  - {name: v14}\n  - {name: v15}\n  - {name: v16}\n  - {name: v17}\n  - {name: v18}\n  - {name: v19}\n  - {name: v20}\n  - {name: v21}\n  - {name: v22}\n  - {name: v23}\n  - {name: v24}\n  - {name: v25}\n  - {name: v26}\n",
		[]string{"t.yaml:27:5: variants: 27 variants; at most 25 (the build-tag guard against two variant tags names every pair)"}},
	{"name duplicate", one() + "  - name: b\n  - name: a\n",
		[]string{`t.yaml:5:11: variants[2].name: duplicate name "a" (first used by variants[0] at line 2; names must be unique)`}},

	// default.
	{"no default", "variants:\n  - name: a\n  - name: b\n",
		[]string{"t.yaml:1:1: variants: no variant has default: true (mark exactly one)"}},
	{"two defaults", one() + "  - name: b\n    default: false\n  - name: c\n    default: true\n",
		[]string{`t.yaml:7:14: variants[2].default: variants[0] "a" at line 3 is already the default (mark exactly one variant default: true)`}},

	// queue_depth, inbox.depth.
	{"queue_depth not a power of two", one("queue_depth: 1000"),
		[]string{"t.yaml:4:18: variants[0].queue_depth: 1000 is not a power of two (nearest: 1024)"}},
	{"queue_depth too small", one("queue_depth: 8"),
		[]string{"t.yaml:4:18: variants[0].queue_depth: must be a power of two between 16 and 16777216 (got 8)"}},
	{"queue_depth too large", one("queue_depth: 33554432"),
		[]string{"t.yaml:4:18: variants[0].queue_depth: must be a power of two between 16 and 16777216 (got 33554432)"}},
	{"queue_depth negative", one("queue_depth: -4096"),
		[]string{"t.yaml:4:18: variants[0].queue_depth: must be a power of two between 16 and 16777216 (got -4096)"}},
	{"inbox.depth not a power of two", one("inbox: {depth: 3000}"),
		[]string{"t.yaml:4:20: variants[0].inbox.depth: 3000 is not a power of two (nearest: 2048)"}},
	{"inbox.depth too small", one("inbox:", "  depth: 0"),
		[]string{"t.yaml:5:14: variants[0].inbox.depth: must be a power of two between 16 and 16777216 (got 0)"}},

	// inbox.gather.
	{"inbox.gather too long", one("inbox: {gather: 2ms}"),
		[]string{"t.yaml:4:21: variants[0].inbox.gather: must be between 0 (off) and 1ms (got 2ms)"}},
	{"inbox.gather negative", one("inbox:", "  gather: -4us"),
		[]string{"t.yaml:5:15: variants[0].inbox.gather: must be between 0 (off) and 1ms (got -4µs)"}},
	{"inbox.gather a number of microseconds", one("inbox:", "  gather: 4"),
		[]string{"t.yaml:5:15: variants[0].inbox.gather: want a Go duration such as 4us, or 0 for off, got integer 4"}},
	{"inbox.gather no unit", one("inbox:", "  gather: 4 us"),
		[]string{`t.yaml:5:15: variants[0].inbox.gather: "4 us" is not a Go duration (want a number and a unit, such as 4us, or 0 for off)`}},

	// Enumerations.
	{"overflow unknown", one("overflow: shrink"),
		[]string{`t.yaml:4:15: variants[0].overflow: unknown value "shrink" (want grow or reject)`}},
	{"overflow not a string", one("overflow: true"),
		[]string{"t.yaml:4:15: variants[0].overflow: want grow or reject, got boolean true"}},
	{"inbox.kind unknown", one("inbox: {kind: chan}"),
		[]string{`t.yaml:4:19: variants[0].inbox.kind: unknown value "chan" (want mpsc or mutex)`}},
	{"poller unknown", one("poller: select"),
		[]string{`t.yaml:4:13: variants[0].poller: unknown value "select" (want auto, epoll, poll, kqueue or none)`}},
	{"poller not a string", one("poller: [epoll]"),
		[]string{"t.yaml:4:13: variants[0].poller: want auto, epoll, poll, kqueue or none, got a list"}},

	// batch.
	{"batch zero", one("batch: 0"),
		[]string{"t.yaml:4:12: variants[0].batch: must be between 1 and 1048576 (got 0)"}},
	{"batch too large", one("batch: 1048577"),
		[]string{"t.yaml:4:12: variants[0].batch: must be between 1 and 1048576 (got 1048577)"}},

	// wheel.
	{"tick too long", one("wheel:", "  tick: 5s"),
		[]string{"t.yaml:5:13: variants[0].wheel.tick: must be between 1µs and 1s (got 5s)"}},
	{"tick too short", one("wheel:", "  tick: 500ns"),
		[]string{"t.yaml:5:13: variants[0].wheel.tick: must be between 1µs and 1s (got 500ns)"}},
	{"tick not a duration", one("wheel:", "  tick: 5 ms"),
		[]string{`t.yaml:5:13: variants[0].wheel.tick: "5 ms" is not a Go duration (want a number and a unit, such as 100us, 1ms or 1.5s)`}},
	{"tick without a unit", one("wheel:", "  tick: 1000"),
		[]string{"t.yaml:5:13: variants[0].wheel.tick: want a Go duration such as 1ms or 100us, got integer 1000"}},
	{"slots not a power of two", one("wheel:", "  slots: 48"),
		[]string{"t.yaml:5:14: variants[0].wheel.slots: 48 is not a power of two (nearest: 64)"}},
	{"slots too few", one("wheel:", "  slots: 2"),
		[]string{"t.yaml:5:14: variants[0].wheel.slots: must be a power of two between 4 and 4096 (got 2)"}},
	{"slots too many", one("wheel:", "  slots: 8192"),
		[]string{"t.yaml:5:14: variants[0].wheel.slots: must be a power of two between 4 and 4096 (got 8192)"}},
	{"levels zero", one("wheel:", "  levels: 0"),
		[]string{"t.yaml:5:15: variants[0].wheel.levels: must be between 2 and 8 (got 0)"}},
	{"levels too many", one("wheel:", "  levels: 9"),
		[]string{"t.yaml:5:15: variants[0].wheel.levels: must be between 2 and 8 (got 9)"}},
	{"horizon overflows nanoseconds", one("wheel:", "  tick: 1s", "  slots: 4096"),
		[]string{"t.yaml:6:14: variants[0].wheel: horizon tick×slots^levels overflows int64 nanoseconds (use fewer levels or slots)"}},
	{"horizon over 56 bits", one("wheel: {tick: 1us, slots: 4096, levels: 5}"),
		[]string{"t.yaml:4:45: variants[0].wheel: horizon tick×slots^levels overflows int64 nanoseconds (use fewer levels or slots)"}},

	// idle.
	{"idle unknown", one("idle: sleep"),
		[]string{`t.yaml:4:11: variants[0].idle: unknown value "sleep" (want block or spin:<duration>, such as spin:50us)`}},
	{"idle spin too long", one("idle: spin:20ms"),
		[]string{"t.yaml:4:11: variants[0].idle: spin duration must be greater than 0 and at most 10ms (got 20ms)"}},
	{"idle spin zero", one("idle: spin:0s"),
		[]string{"t.yaml:4:11: variants[0].idle: spin duration must be greater than 0 and at most 10ms (got 0s)"}},
	{"idle spin not a duration", one("idle: spin:soon"),
		[]string{`t.yaml:4:11: variants[0].idle: "soon" is not a Go duration (want spin:<duration>, such as spin:50us)`}},
	{"idle not a string", one("idle: 5"),
		[]string{"t.yaml:4:11: variants[0].idle: want block or spin:<duration>, got integer 5"}},

	// Every problem is reported, in file order.
	{"all problems, sorted", "variants:\n" +
		"  - name: b\n    batch: 0\n    wheel: {levels: 9, slots: 3}\n" +
		"  - {name: B, default: true, stats: no}\n",
		[]string{
			"t.yaml:3:12: variants[0].batch: must be between 1 and 1048576 (got 0)",
			"t.yaml:4:21: variants[0].wheel.levels: must be between 2 and 8 (got 9)",
			"t.yaml:4:31: variants[0].wheel.slots: must be a power of two between 4 and 4096 (got 3)",
			`t.yaml:5:12: variants[1].name: "B" is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$, such as b)`,
			`t.yaml:5:37: variants[1].stats: want a boolean (true or false), got string "no"`,
		}},
}

func TestParseRejectsEachRuleWithExactMessage(t *testing.T) {
	for _, tc := range slices.Concat(specRules, specEdgeRules, specKeyRules, specSurvivorRules) {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded (%d variants); want:\n%s", len(spec.Variants), strings.Join(tc.want, "\n"))
			}
			if spec != nil {
				t.Errorf("Parse returned a spec along with an error")
			}
			got := strings.Split(err.Error(), "\n")
			if !slices.Equal(got, tc.want) {
				t.Errorf("YAML:\n%s\ngot:\n%s\nwant:\n%s", tc.yaml, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			var list ErrorList
			var one *Error
			switch {
			case errors.As(err, &list):
				if len(list) != len(tc.want) {
					t.Errorf("ErrorList has %d entries, want %d", len(list), len(tc.want))
				}
			case errors.As(err, &one):
				if len(tc.want) != 1 {
					t.Errorf("got a single *Error, want %d", len(tc.want))
				}
			default:
				t.Errorf("error is %T, want ErrorList or *Error", err)
			}
		})
	}
}

func TestErrorListIsSortedAndUnwraps(t *testing.T) {
	_, err := Parse("t.yaml", []byte(specRules[len(specRules)-1].yaml))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want ErrorList", err)
	}
	if !slices.IsSortedFunc(list, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	}) {
		t.Errorf("not sorted by position: %v", err)
	}
	var first *Error
	if !errors.As(err, &first) || first != list[0] {
		t.Errorf("errors.As(*Error) = %v, want the first entry %v", first, list[0])
	}
	if first.File != "t.yaml" || first.Line != 3 || first.Col != 12 || first.Path != "variants[0].batch" {
		t.Errorf("first = %+v", *first)
	}
}

func TestShippedSpecParses(t *testing.T) {
	spec, err := ParseFile(shippedSpec)
	if err != nil {
		t.Fatal(err)
	}
	if spec.File != shippedSpec {
		t.Errorf("File = %q, want %q", spec.File, shippedSpec)
	}
	for _, v := range spec.Variants {
		if err := v.Validate(); err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
	}
	if got := specDefaults().Poller; got != PollerAuto {
		t.Errorf("default poller = %q, want auto", got)
	}
	want := map[string]Variant{
		"balanced": {Name: "balanced", Default: true, QueueDepth: 4096, Overflow: OverflowGrow, Batch: 1024,
			Inbox: Inbox{InboxMPSC, 4096, 4 * time.Microsecond}, Wheel: Wheel{time.Millisecond, 64, 4}, Poller: PollerAuto, Recover: true},
		"latency": {Name: "latency", QueueDepth: 1024, Overflow: OverflowGrow, Batch: 32,
			Inbox: Inbox{InboxMPSC, 1024, 0}, Wheel: Wheel{100 * time.Microsecond, 256, 3}, Poller: PollerEpoll,
			Spin: 50 * time.Microsecond, Recover: true},
		"throughput": {Name: "throughput", QueueDepth: 65536, Overflow: OverflowGrow, Batch: 1024,
			Inbox: Inbox{InboxMPSC, 16384, 8 * time.Microsecond}, Wheel: Wheel{time.Millisecond, 64, 4}, Poller: PollerPoll,
			Recover: true, Stats: true},
		"compute": {Name: "compute", QueueDepth: 16384, Overflow: OverflowGrow, Batch: 512,
			Inbox: Inbox{InboxMutex, 4096, 0}, Wheel: Wheel{time.Millisecond, 64, 4}, Poller: PollerNone, Recover: true},
	}
	for name, w := range want {
		v, ok := spec.Lookup(name)
		if !ok {
			t.Errorf("Lookup(%q) found nothing", name)
			continue
		}
		w.Default = v.Default // which one is default is the user's choice
		if *v != w {
			t.Errorf("%s =\n%+v\nwant\n%+v", name, *v, w)
		}
	}
	if _, ok := spec.Lookup("nope"); ok {
		t.Errorf("Lookup(nope) found a variant")
	}
}

// TestRealSpecKeepsWhatTheProjectReliesOn reads spec/loop.yaml itself, for
// what the project relies on in it, not its exact variants: a variant added
// by hand (docs/variants.md, "Adding a variant"), tuned or moved to default
// must not fail this test.
func TestRealSpecKeepsWhatTheProjectReliesOn(t *testing.T) {
	spec, err := ParseFile(realSpec)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	pollers := map[PollerKind]bool{}
	for _, v := range spec.Variants {
		names = append(names, v.Name)
		pollers[v.Poller] = true
	}
	if !slices.Contains(names, BenchTemplateVariant) {
		t.Errorf("variants = %v: the bench's driver template needs one named %s", names, BenchTemplateVariant)
	}
	if !pollers[PollerEpoll] || !pollers[PollerPoll] {
		t.Errorf("pollers used = %v, want both epoll and poll (the tests run on both)", pollers)
	}
}

func TestOmittedFieldsTakeBalancedValues(t *testing.T) {
	spec, err := Parse("t.yaml", []byte("variants:\n  - name: mine\n    default: true\n  - name: other\n"))
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := ParseFile(shippedSpec)
	if err != nil {
		t.Fatal(err)
	}
	balanced, _ := shipped.Lookup("balanced")
	want := *balanced
	want.Name = "mine"
	if got := spec.Variants[0]; got != want {
		t.Errorf("mine =\n%+v\nwant balanced's values\n%+v", got, want)
	}
	want.Name, want.Default = "other", false
	if got := spec.Variants[1]; got != want {
		t.Errorf("other =\n%+v\nwant balanced's values, not default\n%+v", got, want)
	}
}

func TestParseAcceptsEquivalentYAML(t *testing.T) {
	// Flow style, anchors and aliases, block scalars, a sign on an integer
	// and other spellings of true all read as the plain form does.
	src := `variants:
  - {name: a, default: true, batch: &b +64, wheel: &w {tick: 2ms, slots: 128, levels: 2}}
  - name: b
    batch: *b
    wheel: *w
    overflow: |-
      reject
    idle: "spin:10ms"
    stats: TRUE
`
	spec, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	w := Wheel{2 * time.Millisecond, 128, 2}
	a, b := spec.Variants[0], spec.Variants[1]
	if a.Batch != 64 || b.Batch != 64 || a.Wheel != w || b.Wheel != w {
		t.Errorf("a = %+v\nb = %+v", a, b)
	}
	if b.Overflow != OverflowReject || b.Spin != 10*time.Millisecond || !b.Stats {
		t.Errorf("b = %+v", b)
	}
}

func TestParseFileReportsMissingFile(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
}

func TestParseFileFixture(t *testing.T) {
	_, err := ParseFile("testdata/specs/many_errors.yaml")
	want := []string{
		`testdata/specs/many_errors.yaml:7:15: variants[0].overflow: unknown value "drop" (want grow or reject)`,
		`testdata/specs/many_errors.yaml:9:13: variants[0].inbox.kind: unknown value "chan" (want mpsc or mutex)`,
		`testdata/specs/many_errors.yaml:10:14: variants[0].inbox.depth: want an integer, got string "4096"`,
		`testdata/specs/many_errors.yaml:12:7: variants[0].wheel.tik: unknown field (known: tick, slots, levels)`,
		`testdata/specs/many_errors.yaml:13:14: variants[0].wheel.slots: 100 is not a power of two (nearest: 128)`,
		`testdata/specs/many_errors.yaml:14:13: variants[0].poller: unknown value "iouring" (want auto, epoll, poll, kqueue or none)`,
		`testdata/specs/many_errors.yaml:15:11: variants[0].idle: spin duration must be greater than 0 and at most 10ms (got 1s)`,
		`testdata/specs/many_errors.yaml:16:14: variants[0].recover: want a boolean (true or false), got string "on"`,
		`testdata/specs/many_errors.yaml:18:11: variants[1].name: duplicate name "fast" (first used by variants[0] at line 5; names must be unique)`,
		`testdata/specs/many_errors.yaml:19:14: variants[1].default: variants[0] "fast" at line 6 is already the default (mark exactly one variant default: true)`,
	}
	if got := strings.Split(errString(err), "\n"); !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "spec/loop.yaml", Line: 12, Col: 5, Path: "variants[1].wheel.tick", Msg: "must be between 1µs and 1s (got 5s)"},
			"spec/loop.yaml:12:5: variants[1].wheel.tick: must be between 1µs and 1s (got 5s)"},
		{Error{Path: "batch", Msg: "m"}, "batch: m"},
		{Error{File: "f", Msg: "m"}, "f: m"},
		{Error{File: "f", Line: 1, Col: 2, Msg: "m"}, "f:1:2: m"},
		{Error{Line: 3, Col: 4, Path: "p", Msg: "m"}, "3:4: p: m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	valid := specDefaults()
	valid.Name = "ok"
	if err := valid.Validate(); err != nil {
		t.Fatalf("defaults with a name: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(v *Variant)
		want   string
	}{
		{"name empty", func(v *Variant) { v.Name = "" }, "name: required (a lowercase Go package name, such as fast)"},
		{"name keyword", func(v *Variant) { v.Name = "go" }, `name: "go" is a Go keyword and cannot name a package; pick another name, such as go_loop`},
		{"queue_depth", func(v *Variant) { v.QueueDepth = 1000 }, "queue_depth: 1000 is not a power of two (nearest: 1024)"},
		{"overflow", func(v *Variant) { v.Overflow = "" }, `overflow: unknown value "" (want grow or reject)`},
		{"batch", func(v *Variant) { v.Batch = -1 }, "batch: must be between 1 and 1048576 (got -1)"},
		{"inbox.kind", func(v *Variant) { v.Inbox.Kind = "chan" }, `inbox.kind: unknown value "chan" (want mpsc or mutex)`},
		{"inbox.depth", func(v *Variant) { v.Inbox.Depth = 1 << 25 }, "inbox.depth: must be a power of two between 16 and 16777216 (got 33554432)"},
		{"wheel.tick", func(v *Variant) { v.Wheel.Tick = 5 * time.Second }, "wheel.tick: must be between 1µs and 1s (got 5s)"},
		{"wheel.slots", func(v *Variant) { v.Wheel.Slots = 3 }, "wheel.slots: must be a power of two between 4 and 4096 (got 3)"},
		{"wheel.levels", func(v *Variant) { v.Wheel.Levels = 0 }, "wheel.levels: must be between 2 and 8 (got 0)"},
		{"horizon", func(v *Variant) { v.Wheel = Wheel{time.Second, 4096, 4} },
			"wheel: horizon tick×slots^levels overflows int64 nanoseconds (use fewer levels or slots)"},
		{"poller", func(v *Variant) { v.Poller = "iouring" }, `poller: unknown value "iouring" (want auto, epoll, poll, kqueue or none)`},
		{"inbox.gather", func(v *Variant) { v.Inbox.Gather = time.Second }, "inbox.gather: must be between 0 (off) and 1ms (got 1s)"},
		{"idle negative", func(v *Variant) { v.Spin = -time.Millisecond }, "idle: spin duration must be greater than 0 and at most 10ms (got -1ms)"},
		{"idle too long", func(v *Variant) { v.Spin = time.Second }, "idle: spin duration must be greater than 0 and at most 10ms (got 1s)"},
		{"two problems, in field order", func(v *Variant) { v.Batch, v.QueueDepth = 0, 0 },
			"queue_depth: must be a power of two between 16 and 16777216 (got 0)\nbatch: must be between 1 and 1048576 (got 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := valid
			tc.change(&v)
			if got := errString(v.Validate()); got != tc.want {
				t.Errorf("Validate() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		check      func(v Variant) bool
	}{
		{"name", "fast", func(v Variant) bool { return v.Name == "fast" }},
		{"default", "true", func(v Variant) bool { return v.Default }},
		{"queue_depth", "65536", func(v Variant) bool { return v.QueueDepth == 65536 }},
		{"overflow", "reject", func(v Variant) bool { return v.Overflow == OverflowReject }},
		{"batch", "32", func(v Variant) bool { return v.Batch == 32 }},
		{"inbox.kind", "mutex", func(v Variant) bool { return v.Inbox.Kind == InboxMutex }},
		{"inbox.depth", "1024", func(v Variant) bool { return v.Inbox.Depth == 1024 }},
		{"inbox.gather", "10us", func(v Variant) bool { return v.Inbox.Gather == 10*time.Microsecond }},
		{"inbox.gather", "0", func(v Variant) bool { return v.Inbox.Gather == 0 }},
		{"inbox.gather", "0s", func(v Variant) bool { return v.Inbox.Gather == 0 }},
		{"wheel.tick", "100us", func(v Variant) bool { return v.Wheel.Tick == 100*time.Microsecond }},
		{"wheel.slots", "256", func(v Variant) bool { return v.Wheel.Slots == 256 }},
		{"wheel.levels", "3", func(v Variant) bool { return v.Wheel.Levels == 3 }},
		{"poller", "kqueue", func(v Variant) bool { return v.Poller == PollerKqueue }},
		{"idle", "spin:50us", func(v Variant) bool { return v.Spin == 50*time.Microsecond }},
		{"idle", "block", func(v Variant) bool { return v.Spin == 0 }},
		{"recover", "false", func(v Variant) bool { return !v.Recover }},
		{"stats", "true", func(v Variant) bool { return v.Stats }},
	} {
		v := specDefaults()
		v.Spin = time.Millisecond
		if err := v.Set(tc.key, tc.value); err != nil {
			t.Errorf("Set(%q, %q): %v", tc.key, tc.value, err)
			continue
		}
		if !tc.check(v) {
			t.Errorf("Set(%q, %q) gave %+v", tc.key, tc.value, v)
		}
	}
}

func TestSetRejectsWithParseMessages(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"batch", "abc", `batch: want an integer, got string "abc"`},
		{"batch", `"4096"`, `batch: want an integer, got string "4096"`},
		{"batch", "256.0", "batch: want an integer, got float 256.0"},
		{"batch", "", "batch: want an integer, got null"},
		{"batch", "0", "batch: must be between 1 and 1048576 (got 0)"},
		{"batch", "{a: 1}", "batch: want an integer, got a mapping"},
		{"batch", "[", `batch: want an integer, got string "["`},
		{"queue_depth", "1000", "queue_depth: 1000 is not a power of two (nearest: 1024)"},
		{"queue_depth", "01024", `queue_depth: "01024" has a leading zero, so YAML reads it as octal (532): write integers in decimal, such as 1024`},
		{"stats", "yes", `stats: want a boolean (true or false), got string "yes"`},
		{"wheel.tick", "5s", "wheel.tick: must be between 1µs and 1s (got 5s)"},
		{"wheel.tick", "fast", `wheel.tick: "fast" is not a Go duration (want a number and a unit, such as 100us, 1ms or 1.5s)`},
		{"inbox.kind", "chan", `inbox.kind: unknown value "chan" (want mpsc or mutex)`},
		{"inbox.gather", "1", "inbox.gather: want a Go duration such as 4us, or 0 for off, got integer 1"},
		{"inbox.gather", "1.5ms", "inbox.gather: must be between 0 (off) and 1ms (got 1.5ms)"},
		{"idle", "spin:0s", "idle: spin duration must be greater than 0 and at most 10ms (got 0s)"},
		{"idle", "*x", `idle: unknown value "*x" (want block or spin:<duration>, such as spin:50us)`},
		{"name", "Fast", `name: "Fast" is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$, such as fast)`},
		{"wheel", "1ms", "wheel: unknown field (known: name, default, queue_depth, overflow, batch, inbox.kind, inbox.depth, inbox.gather, wheel.tick, wheel.slots, wheel.levels, poller, idle, recover, stats)"},
		{"tick", "1ms", "tick: unknown field (known: name, default, queue_depth, overflow, batch, inbox.kind, inbox.depth, inbox.gather, wheel.tick, wheel.slots, wheel.levels, poller, idle, recover, stats)"},
	} {
		v := specDefaults()
		before := v
		if got := errString(v.Set(tc.key, tc.value)); got != tc.want {
			t.Errorf("Set(%q, %q) = %q, want %q", tc.key, tc.value, got, tc.want)
		}
		if v != before {
			t.Errorf("Set(%q, %q) changed the variant on error", tc.key, tc.value)
		}
	}
}

func TestSetLeavesHorizonToValidate(t *testing.T) {
	v := specDefaults()
	v.Name = "x"
	if err := v.Set("wheel.tick", "1s"); err != nil {
		t.Fatal(err)
	}
	if err := v.Set("wheel.slots", "4096"); err != nil {
		t.Fatal(err)
	}
	if got, want := errString(v.Validate()), "wheel: horizon tick×slots^levels overflows int64 nanoseconds (use fewer levels or slots)"; got != want {
		t.Errorf("Validate() = %q, want %q", got, want)
	}
	if err := v.Set("wheel.levels", "2"); err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(); err != nil {
		t.Errorf("Validate() after levels 2: %v", err)
	}
}

func TestGetRoundTripsThroughSet(t *testing.T) {
	spec, err := ParseFile(shippedSpec)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range spec.Variants {
		var w Variant
		for _, k := range Keys() {
			s, err := v.Get(k)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Set(k, s); err != nil {
				t.Errorf("%s: Set(%q, Get = %q): %v", v.Name, k, s, err)
			}
		}
		if w != v {
			t.Errorf("rebuilt from Get/Set:\n%+v\nwant\n%+v", w, v)
		}
	}
	var v Variant
	if _, err := v.Get("nope"); err == nil {
		t.Errorf("Get(nope) gave no error")
	}
}

func TestWheel(t *testing.T) {
	for _, tc := range []struct {
		w       Wheel
		horizon time.Duration
		bits    int
	}{
		{Wheel{time.Millisecond, 64, 4}, time.Millisecond << 24, 6},
		{Wheel{100 * time.Microsecond, 256, 3}, 100 * time.Microsecond << 24, 8},
		{Wheel{time.Microsecond, 4, 1}, 4 * time.Microsecond, 2},
		{Wheel{time.Second, 4096, 4}, 1<<63 - 1, 12}, // overflows: saturates
		{Wheel{time.Second, 0, 4}, 0, 0},
	} {
		if got := tc.w.Horizon(); got != tc.horizon {
			t.Errorf("%+v.Horizon() = %v, want %v", tc.w, got, tc.horizon)
		}
		if got := tc.w.SlotBits(); got != tc.bits {
			t.Errorf("%+v.SlotBits() = %d, want %d", tc.w, got, tc.bits)
		}
	}
}

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(shippedSpec); err == nil {
		f.Add(data)
	}
	for _, tc := range specRules {
		f.Add([]byte(tc.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := Parse("f.yaml", data)
		if err != nil {
			var list ErrorList
			var one *Error
			switch {
			case errors.As(err, &list):
				if len(list) == 0 {
					t.Fatalf("empty ErrorList")
				}
				for _, e := range list {
					checkPositioned(t, e)
				}
			case errors.As(err, &one):
				checkPositioned(t, one)
			default:
				t.Fatalf("error is %T, want ErrorList or *Error: %v", err, err)
			}
			return
		}
		defaults := 0
		for i := range spec.Variants {
			v := &spec.Variants[i]
			if err := v.Validate(); err != nil {
				t.Fatalf("Parse accepted variants[%d] but Validate says: %v", i, err)
			}
			if w, ok := spec.Lookup(v.Name); !ok || w != v {
				t.Fatalf("names are not unique: %q", v.Name)
			}
			if v.Default {
				defaults++
			}
		}
		if defaults != 1 || len(spec.Variants) == 0 {
			t.Fatalf("Parse accepted %d variants with %d defaults", len(spec.Variants), defaults)
		}
	})
}

func checkPositioned(t *testing.T, e *Error) {
	t.Helper()
	if e.File != "f.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" || strings.Contains(e.Error(), "\n") {
		t.Fatalf("badly formed error %+v", *e)
	}
}

// A spec saved with a UTF-8 byte order mark parses as without one.
func TestParseIgnoresAByteOrderMark(t *testing.T) {
	s, err := Parse("spec.yaml", []byte("\ufeffvariants:\n  - name: a\n    default: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Variants) != 1 || s.Variants[0].Name != "a" {
		t.Fatalf("parsed %+v", s.Variants)
	}
}

// TestPollerAvailableOn: a poller is available where handwritten/poller
// builds it for real (its stubs elsewhere make New fail).
func TestPollerAvailableOn(t *testing.T) {
	cases := []struct {
		poller PollerKind
		goos   string
		want   bool
	}{
		{PollerEpoll, "linux", true},
		{PollerEpoll, "android", true},
		{PollerEpoll, "darwin", false},
		{PollerKqueue, "darwin", true},
		{PollerKqueue, "freebsd", true},
		{PollerKqueue, "linux", false},
		{PollerPoll, "linux", true},
		{PollerPoll, "openbsd", true},
		{PollerPoll, "windows", false},
		{PollerAuto, "windows", true},
		{PollerNone, "js", true},
	}
	for _, c := range cases {
		if got := c.poller.AvailableOn(c.goos); got != c.want {
			t.Errorf("%s.AvailableOn(%q) = %v; want %v", c.poller, c.goos, got, c.want)
		}
	}
}

// A %YAML directive line and the document markers are plain YAML,
// and a spec written with them reads, and is edited in place, as one without.
func TestParseAcceptsDirectivesAndDocumentMarkers(t *testing.T) {
	for _, src := range []string{
		"%YAML 1.2\n---\nvariants:\n  - name: a\n    default: true\n",
		"---\nvariants:\n  - name: a\n    default: true\n...\n",
	} {
		s, err := Parse("spec.yaml", []byte(src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if len(s.Variants) != 1 || s.Variants[0].Name != "a" {
			t.Errorf("%q: parsed %+v", src, s.Variants)
		}
		v := s.Variants[0]
		v.Name, v.Default = "b", false
		out, err := PutVariant("spec.yaml", []byte(src), v, "")
		if err != nil {
			t.Errorf("%q: PutVariant: %v", src, err)
			continue
		}
		if s2, err := Parse("spec.yaml", out); err != nil || len(s2.Variants) != 2 {
			t.Errorf("%q: after PutVariant: %v\n%s", src, err, out)
		}
	}
}

// The fields a variant leaves out take specDefaults, which the README and
// spec/loop.yaml describe as the values the shipped balanced variant has.
// A change to either must change both (and the copy, shippedSpec). It reads
// the copy: a user who tunes balanced (loopgen tune -write balanced) changes
// the real spec, not the built-in defaults, as docs/variants.md says.
func TestLeftOutFieldsTakeTheShippedBalancedValues(t *testing.T) {
	s, err := ParseFile(shippedSpec)
	if err != nil {
		t.Fatal(err)
	}
	balanced, ok := s.Lookup("balanced")
	if !ok {
		t.Fatalf("%s has no balanced variant", shippedSpec)
	}
	want := specDefaults()
	want.Name, want.Default = balanced.Name, balanced.Default
	if *balanced != want {
		t.Errorf("the shipped balanced is\n%+v\nthe built-in defaults are\n%+v", *balanced, want)
	}
}

func TestSpecSubNanosecond(t *testing.T) {
	for s, want := range map[string]bool{
		"4us": false, "1.5ms": false, "1.25us": false, "1h0.5m": false, "0.000000001s": false, "1.000000000s": false,
		"1.5ns": true, "0.0000000015s": true, "1.0000000001s": true, "1.2345us": true, "2.000000000000000001h": true,
	} {
		if _, err := time.ParseDuration(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := specSubNanosecond(s); got != want {
			t.Errorf("specSubNanosecond(%q) = %v, want %v", s, got, want)
		}
	}
}
