package gen

import (
	"os"
	"strings"
	"testing"
	"time"
)

func readShippedSpec(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(shippedSpec)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustVariant(t *testing.T, data []byte, name string) Variant {
	t.Helper()
	s, err := Parse("spec.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := s.Lookup(name)
	if !ok {
		t.Fatalf("no variant %s", name)
	}
	return *v
}

// changedLines returns the lines of b that are not at the same place in a,
// for edits that change lines without adding any.
func changedLines(t *testing.T, a, b []byte) []string {
	t.Helper()
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	if len(al) != len(bl) {
		t.Fatalf("line count changed from %d to %d:\n%s", len(al), len(bl), b)
	}
	var out []string
	for i := range al {
		if al[i] != bl[i] {
			out = append(out, bl[i])
		}
	}
	return out
}

func TestPutVariantAppendsAndKeepsTheRest(t *testing.T) {
	data := readShippedSpec(t)
	v := mustVariant(t, data, "balanced")
	v.Name, v.Default = "tuned", false
	v.Batch = 64
	v.Wheel.Tick = 100 * time.Microsecond
	out, err := PutVariant("spec.yaml", data, v, "Tuned by a test.\nSecond line.")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), string(data)) {
		t.Fatalf("the original text is not kept as a prefix:\n%s", out)
	}
	added := string(out[len(data):])
	for _, want := range []string{"\n  # Tuned by a test.\n  # Second line.\n  - name: tuned\n", "    batch: 64\n", "    wheel:\n      tick: 100us\n"} {
		if !strings.Contains(added, want) {
			t.Errorf("appended text lacks %q:\n%s", want, added)
		}
	}
	if got := mustVariant(t, out, "tuned"); got != v {
		t.Errorf("read back %+v, want %+v", got, v)
	}
	if _, err := Generate(mustParse(t, out), Options{}); err != nil {
		t.Errorf("the written spec does not generate: %v", err)
	}
}

func mustParse(t *testing.T, data []byte) *Spec {
	t.Helper()
	s, err := Parse("spec.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPutVariantReplacesValuesInPlace(t *testing.T) {
	data := readShippedSpec(t)
	v := mustVariant(t, data, "latency")
	v.Batch = 128
	v.Wheel.Levels = 2 // the line carries a comment, which must stay
	v.Wheel.Slots = 4096
	out, err := PutVariant("spec.yaml", data, v, "ignored when replacing")
	if err != nil {
		t.Fatal(err)
	}
	got := changedLines(t, data, out)
	want := []string{"    batch: 128", "      slots: 4096", "      levels: 2          # horizon 100us x 256^3, about 28 minutes"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changed lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if mustVariant(t, out, "latency") != v {
		t.Error("latency not read back as written")
	}
}

func TestPutVariantAddsWhatAVariantLeftOut(t *testing.T) {
	data := []byte(`# head comment
variants:
  - name: a   # the default
    default: true
    wheel:
      tick: 1ms
  - name: b
# tail comment
`)
	a := mustVariant(t, data, "a")
	a.Wheel.Slots = 256 // into the existing wheel group
	a.Inbox.Depth = 64  // a new group
	a.Stats = true      // a new top-level field
	out, err := PutVariant("spec.yaml", data, a, "")
	if err != nil {
		t.Fatal(err)
	}
	want := `# head comment
variants:
  - name: a   # the default
    default: true
    wheel:
      tick: 1ms
      slots: 256
    inbox:
      depth: 64
    stats: true
  - name: b
# tail comment
`
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}

	b := mustVariant(t, data, "b") // a one-entry mapping
	b.Batch = 8
	out, err = PutVariant("spec.yaml", data, b, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "  - name: b\n    batch: 8\n# tail comment\n") {
		t.Errorf("batch not added under b:\n%s", out)
	}
}

func TestPutVariantRefusesWhatItCannotEditInPlace(t *testing.T) {
	data := []byte("variants:\n  - {name: a, default: true, batch: 4}\n")
	a := mustVariant(t, data, "a")
	a.Batch = 8
	if _, err := PutVariant("spec.yaml", data, a, ""); err == nil || !strings.Contains(err.Error(), "cannot be edited in place") {
		t.Errorf("flow-style variant: err = %v, want 'cannot be edited in place'", err)
	}
	bad := a
	bad.Batch = 0
	if _, err := PutVariant("spec.yaml", data, bad, ""); err == nil || !strings.Contains(err.Error(), "batch") {
		t.Errorf("invalid variant: err = %v, want a batch error", err)
	}
	if _, err := PutVariant("spec.yaml", []byte("variants: 3\n"), a, ""); err == nil {
		t.Error("an invalid spec was accepted")
	}
	twoDefaults := a
	twoDefaults.Name = "c"
	if _, err := PutVariant("spec.yaml", []byte("variants:\n  - name: a\n    default: true\n"), twoDefaults, ""); err == nil {
		t.Error("a second default variant was accepted")
	}
}

// TestPutVariantKeepsCommentAfterTab: a comment separated from the value by
// a tab is a comment all the same, and stays.
func TestPutVariantKeepsCommentAfterTab(t *testing.T) {
	data := []byte("variants:\n  - name: a\n    default: true\n  - name: b\n    batch: 4\t# keep me\n")
	b := mustVariant(t, data, "b")
	b.Batch = 16
	out, err := PutVariant("spec.yaml", data, b, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := changedLines(t, data, out); len(got) != 1 || got[0] != "    batch: 16\t# keep me" {
		t.Errorf("changed lines %q, want the value replaced and the comment kept", got)
	}
}

// TestPutVariantTabAfterColon: a value after "key:<tab>" is replaced, not
// refused as a bug.
func TestPutVariantTabAfterColon(t *testing.T) {
	data := []byte("variants:\n  - name: a\n    default: true\n  - name: b\n    batch:\t4 # c\n")
	b := mustVariant(t, data, "b")
	b.Batch = 16
	out, err := PutVariant("spec.yaml", data, b, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := changedLines(t, data, out); len(got) != 1 || got[0] != "    batch:\t16 # c" {
		t.Errorf("changed lines %q", got)
	}
}

// TestPutVariantCRLF: in a file with CRLF line ends, the lines added use
// CRLF too, so the file does not end up with mixed line ends.
func TestPutVariantCRLF(t *testing.T) {
	data := []byte("variants:\r\n  - name: a\r\n    default: true\r\n  - name: b\r\n    batch: 4\r\n")
	b := mustVariant(t, data, "b")
	b.Batch = 16
	b.Wheel.Tick = 100 * time.Microsecond
	for _, v := range []Variant{b, func() Variant { c := b; c.Name = "c"; return c }()} {
		out, err := PutVariant("spec.yaml", data, v, "a comment")
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(out), "\n"); strings.Count(string(out), "\r\n") != n {
			t.Errorf("putting %s: %d of %d line ends are CRLF:\n%q", v.Name, strings.Count(string(out), "\r\n"), n, out)
		}
		if got := mustVariant(t, out, v.Name); got != v {
			t.Errorf("read back %+v, want %+v", got, v)
		}
	}
}

// TestPutVariantAppendsWithTheListsIndentation: the dash of the variant
// added lines up with the others' dashes, and its fields with their fields,
// however far apart the list puts them.
func TestPutVariantAppendsWithTheListsIndentation(t *testing.T) {
	for _, data := range []string{
		"variants:\n    -   name: a\n        default: true\n    -   name: b\n        batch: 4\n",
		"variants:\n- name: a\n  default: true\n",
	} {
		a := mustVariant(t, []byte(data), "a")
		a.Name, a.Default, a.Batch = "c", false, 16
		out, err := PutVariant("spec.yaml", []byte(data), a, "a comment")
		if err != nil {
			t.Errorf("%q: %v", data, err)
			continue
		}
		dash, _, _ := strings.Cut(strings.Split(data, "\n")[1], "name:")
		field := strings.Repeat(" ", len(dash))
		if want := dash + "name: c\n" + field + "queue_depth: 4096\n"; !strings.Contains(string(out), want) {
			t.Errorf("appended to %q:\n%s\nwant it to contain %q", data, out, want)
		}
		if got := mustVariant(t, out, "c"); got != a {
			t.Errorf("read back %+v, want %+v", got, a)
		}
	}
}
