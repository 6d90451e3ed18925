package gen

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// specEdgeRules are rules whose edges the rows of specRules sit away from:
// each row here fails with a one-token change to spec.go that specRules lets
// through. TestParseRejectsEachRuleWithExactMessage runs both tables.
var specEdgeRules = []struct {
	name string
	yaml string
	want []string
}{
	// A plain integer in [2^63, 2^64) reaches decode as a uint64: the message
	// must quote it as written, not as the int64 it would wrap to.
	{"integer above int64", one("batch: 9223372036854775808"),
		[]string{"t.yaml:4:12: variants[0].batch: must be between 1 and 1048576 (got 9223372036854775808)"}},

	// The horizon's overflow check has two halves: a product that passes 2^64
	// (here exactly 2^64, whose low word is 0) and one that lands in
	// (2^63, 2^64) with no high word. Both wheels pass the 56-bit rule.
	{"horizon wraps to exactly 2^64", one("wheel: {tick: 1048576ns, slots: 2048, levels: 4}"),
		[]string{"t.yaml:4:51: variants[0].wheel: horizon tick×slots^levels overflows int64 nanoseconds (use fewer levels or slots)"}},
	{"horizon between 2^63 and 2^64", one("wheel: {tick: 500ms, slots: 128, levels: 5}"),
		[]string{"t.yaml:4:46: variants[0].wheel: horizon tick×slots^levels overflows int64 nanoseconds (use fewer levels or slots)"}},

	// The pattern is anchored at both ends: a valid start is not enough.
	{"name valid up to a hyphen", "variants:\n  - name: fast-io\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "fast-io" is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$, such as fast_io)`}},
	// Every reserved name is refused, not only the ones that are also
	// keywords or that specRules happens to try.
	{"name all", "variants:\n  - name: all\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "all" is reserved (reserved: all, conflict, generic, init, internal, loop, main, select, testdata); pick another name, such as all_loop`}},
	{"name internal", "variants:\n  - name: internal\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "internal" is reserved (reserved: all, conflict, generic, init, internal, loop, main, select, testdata); pick another name, such as internal_loop`}},
	{"name main", "variants:\n  - name: main\n    default: true\n",
		[]string{`t.yaml:2:11: variants[0].name: "main" is reserved (reserved: all, conflict, generic, init, internal, loop, main, select, testdata); pick another name, such as main_loop`}},

	// The duplicate message names the variant that first used the name, which
	// specRules only ever has at index 0.
	{"name duplicate of a later variant", one() + "  - name: b\n  - name: c\n  - name: b\n",
		[]string{`t.yaml:6:11: variants[3].name: duplicate name "b" (first used by variants[1] at line 4; names must be unique)`}},
	// A name that is already wrong is reported once per variant; repeating it
	// is not a second problem.
	{"invalid name twice", "variants:\n  - {name: Fast, default: true}\n  - {name: Fast}\n",
		[]string{
			`t.yaml:2:12: variants[0].name: "Fast" is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$, such as fast)`,
			`t.yaml:3:12: variants[1].name: "Fast" is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$, such as fast)`,
		}},

	// One variant alone still needs default: true.
	{"single variant without default", "variants:\n  - name: a\n",
		[]string{"t.yaml:1:1: variants: no variant has default: true (mark exactly one)"}},

	// Extra documents are one problem, however many there are.
	{"three documents", one() + "---\nvariants: []\n---\nvariants: []\n",
		[]string{"t.yaml:4:1: more than one YAML document (a spec is a single document: remove the extra ---)"}},

	// The horizon is checked after the wheel's fields are read, so its error
	// is found after a later field's on the same line: the sort must order
	// by column too.
	{"two problems on one line, sorted by column", "variants:\n  - {name: a, default: true, wheel: {tick: 1s, slots: 4096, junk: 1}}\n",
		[]string{
			"t.yaml:2:55: variants[0].wheel: horizon tick×slots^levels overflows int64 nanoseconds (use fewer levels or slots)",
			"t.yaml:2:61: variants[0].wheel.junk: unknown field (known: tick, slots, levels)",
		}},
}

// The limits are inclusive: specRules only shows what lies past them.
func TestParseAcceptsLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("variants:\n  - {name: v0, default: true}\n")
	for i := 1; i < specMaxVariants; i++ {
		fmt.Fprintf(&b, "  - {name: v%d}\n", i)
	}
	if s, err := Parse("t.yaml", []byte(b.String())); err != nil {
		t.Errorf("%d variants: %v", specMaxVariants, err)
	} else if len(s.Variants) != specMaxVariants {
		t.Errorf("%d variants read, want %d", len(s.Variants), specMaxVariants)
	}

	// 1s × 2048^3 is about 8.6e18 ns: above 2^62, below 2^63.
	s, err := Parse("t.yaml", []byte(one("wheel: {tick: 1s, slots: 2048, levels: 3}")))
	if err != nil {
		t.Fatalf("a horizon just under int64's limit: %v", err)
	}
	if got, want := s.Variants[0].Wheel.Horizon(), time.Second*2048*2048*2048; got != want {
		t.Errorf("Horizon() = %v, want %v", got, want)
	}
}

// Validate, like Parse, leaves the horizon alone while any one wheel field is
// bad: a wheel whose horizon would overflow gets only the field's message.
func TestValidateSkipsHorizonWhenAWheelFieldIsBad(t *testing.T) {
	for _, tc := range []struct {
		wheel Wheel
		want  string
	}{
		{Wheel{2 * time.Second, 4096, 4}, "wheel.tick: must be between 1µs and 1s (got 2s)"},
		{Wheel{time.Second, 8192, 4}, "wheel.slots: must be a power of two between 4 and 4096 (got 8192)"},
		{Wheel{time.Second, 4096, 9}, "wheel.levels: must be between 2 and 8 (got 9)"},
	} {
		v := specDefaults()
		v.Name = "ok"
		v.Wheel = tc.wheel
		if got := errString(v.Validate()); got != tc.want {
			t.Errorf("Validate(%+v) = %q, want %q", tc.wheel, got, tc.want)
		}
	}
}

// A value the variant spells out is rewritten only when it changes: an
// integer with a plus sign that still reads the same keeps its spelling, and a quoted value
// that changes is replaced quotes and all.
func TestPutVariantKeepsSpellingOfUnchangedValues(t *testing.T) {
	data := []byte("variants:\n  - name: a\n    default: true\n    batch: +64\n    idle: \"spin:10ms\" # quoted\n")
	a := mustVariant(t, data, "a")
	a.Spin = 50 * time.Microsecond
	out, err := PutVariant("spec.yaml", data, a, "")
	if err != nil {
		t.Fatal(err)
	}
	want := "variants:\n  - name: a\n    default: true\n    batch: +64\n    idle: spin:50us # quoted\n"
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// Bytes, not lengths, decide whether a file differs: a one-character edit
// that keeps the size is stale all the same.
func TestDiffSeesASameLengthEdit(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"a/loop_gen.go": []byte("package a\n")}
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "loop_gen.go"), []byte("package b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Diff(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/loop_gen.go: differs"}; !slices.Equal(got, want) {
		t.Errorf("Diff = %q, want %q", got, want)
	}
}

// Generated files are readable by everyone, as a file written with 0644
// under the same umask is; the umask is whatever the test runs with, so the
// reference file is written beside the tree rather than a mode assumed.
func TestWriteTreeFilesHaveTheModeOfA0644File(t *testing.T) {
	parent := t.TempDir()
	ref := filepath.Join(parent, "ref")
	if err := os.WriteFile(ref, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rfi, err := os.Stat(ref)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "generated")
	if err := WriteTree(dir, map[string][]byte{"a/loop_gen.go": []byte("package a\n")}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "a", "loop_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != rfi.Mode().Perm() {
		t.Errorf("a/loop_gen.go has mode %v, want %v (0644 under this umask)", fi.Mode().Perm(), rfi.Mode().Perm())
	}
}
