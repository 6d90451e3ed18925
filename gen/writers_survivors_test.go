package gen_test

// These tests pin behaviour of the spec and tree writers (PutVariant,
// WriteTree, Diff) that a mutation round found the rest of the suite did not:
// each was written against a one-line change to specwrite.go or tree.go that
// every other test let through, and fails with that change in place.

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loopgen/loop/gen"
)

// variantNamed parses data and returns a copy of its variant name.
func variantNamed(t *testing.T, data []byte, name string) gen.Variant {
	t.Helper()
	s, err := gen.Parse("spec.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := s.Lookup(name)
	if !ok {
		t.Fatalf("no variant %s in\n%s", name, data)
	}
	return *v
}

// TestPutVariantFillsTwoGroupsAndChangesALaterValue: one edit that adds a key
// to each of two groups and changes a value below both must put every key in
// its own group and change the right line. Edits at several lines are applied
// bottom up and kept apart per line; a tune that wrote its winner into the
// wrong group, or over the wrong line, would corrupt the user's spec.
func TestPutVariantFillsTwoGroupsAndChangesALaterValue(t *testing.T) {
	data := []byte(`variants:
  - name: a
    default: true
    inbox:
      kind: mutex
    wheel:
      tick: 1ms
    stats: true
`)
	a := variantNamed(t, data, "a")
	a.Inbox.Depth = 64 // into inbox, which is not the last group
	a.Wheel.Slots = 256
	a.Stats = false
	out, err := gen.PutVariant("spec.yaml", data, a, "")
	if err != nil {
		t.Fatal(err)
	}
	want := `variants:
  - name: a
    default: true
    inbox:
      kind: mutex
      depth: 64
    wheel:
      tick: 1ms
      slots: 256
    stats: false
`
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// TestPutVariantEndsAnUnterminatedLastLineBeforeAppending: a spec saved
// without a final newline still gets its appended variant on lines of its
// own, set off by a blank line as in a file that had the newline.
func TestPutVariantEndsAnUnterminatedLastLineBeforeAppending(t *testing.T) {
	data := []byte("variants:\n  - name: a\n    default: true")
	b := variantNamed(t, data, "a")
	b.Name, b.Default, b.Batch = "b", false, 8
	out, err := gen.PutVariant("spec.yaml", data, b, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := string(data) + "\n\n  - name: b\n"; !strings.HasPrefix(string(out), want) {
		t.Errorf("got:\n%q\nwant it to begin %q", out, want)
	}
	if got := variantNamed(t, out, "b"); got != b {
		t.Errorf("read back %+v, want %+v", got, b)
	}
}

// TestPutVariantReplacesAValueThatEndsTheFile: the last byte of a file
// without a final newline can be the value to replace; it is inside the
// file, and refusing it as "outside the file" would block a tune's write.
func TestPutVariantReplacesAValueThatEndsTheFile(t *testing.T) {
	data := []byte("variants:\n  - name: a\n    default: true\n    batch: 4")
	a := variantNamed(t, data, "a")
	a.Batch = 8
	out, err := gen.PutVariant("spec.yaml", data, a, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "variants:\n  - name: a\n    default: true\n    batch: 8\n"; string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// TestPutVariantSkipsBlankLinesOfTheComment: a comment with blank lines (a
// tune's summary, say) becomes comment lines with text, not "#" lines with
// nothing after them.
func TestPutVariantSkipsBlankLinesOfTheComment(t *testing.T) {
	data := []byte("variants:\n  - name: a\n    default: true\n")
	b := variantNamed(t, data, "a")
	b.Name, b.Default = "b", false
	out, err := gen.PutVariant("spec.yaml", data, b, "First line.\n\n   \nSecond line.\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "\n  # First line.\n  # Second line.\n  - name: b\n"; !strings.Contains(string(out), want) {
		t.Errorf("got:\n%s\nwant it to contain %q", out, want)
	}
}

// TestPutVariantSaysAFlowListIsWhatItCannotEdit: a flow-style variants list
// is refused with a message about the list, which is what the user has to
// rewrite, rather than about its first variant.
func TestPutVariantSaysAFlowListIsWhatItCannotEdit(t *testing.T) {
	data := []byte("variants: [{name: a, default: true}]\n")
	b := variantNamed(t, data, "a")
	b.Name, b.Default = "b", false
	_, err := gen.PutVariant("spec.yaml", data, b, "")
	if err == nil || !strings.Contains(err.Error(), "the variants list is not a plain block list") {
		t.Errorf("PutVariant into a flow list: %v, want an error saying the list is not a plain block list", err)
	}
}

// TestWriteTreeRefusalNamesOutAsGiven: through a symbolic link the refusal
// names -out as the user typed it, not the link's target, which the user
// may never have heard of.
func TestWriteTreeRefusalNamesOutAsGiven(t *testing.T) {
	parent := t.TempDir()
	target := filepath.Join(parent, "real")
	writeFiles(t, target, map[string]string{"notes.txt": "mine\n"})
	link := filepath.Join(parent, "generated")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	err := gen.WriteTree(link, treeFiles)
	if want := "refusing to replace " + link + ": notes.txt is not"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("WriteTree through a link = %v, want an error beginning %q", err, want)
	}
}

// TestWriteTreeDirectoriesHaveTheModeOfAnOrdinaryDirectory: the directories
// WriteTree creates, the parents of -out and the packages inside it, are
// readable and searchable by everyone, as one made with 0755 under the same
// umask is; a 0700 package directory breaks builds by other users (a CI
// cache, a shared checkout).
func TestWriteTreeDirectoriesHaveTheModeOfAnOrdinaryDirectory(t *testing.T) {
	parent := t.TempDir()
	ref := filepath.Join(parent, "ref")
	if err := os.Mkdir(ref, 0o755); err != nil {
		t.Fatal(err)
	}
	rfi, err := os.Stat(ref)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "x", "generated")
	if err := gen.WriteTree(dir, treeFiles); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(parent, "x"), dir, filepath.Join(dir, "a"), filepath.Join(dir, "all")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != rfi.Mode().Perm() {
			t.Errorf("%s has mode %v, want %v (0755 under this umask)", p, fi.Mode().Perm(), rfi.Mode().Perm())
		}
	}
}

// TestWriteTreeLeftoverErrorNamesTheOldTree: when the old tree cannot be
// removed, the error's Path is where that old tree now is, so a user who
// reads the warning can find it (and the next run can remove it).
func TestWriteTreeLeftoverErrorNamesTheOldTree(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "generated")
	old := map[string]string{"old/loop_gen.go": hdr + "package old\n"}
	writeFiles(t, dir, old)
	restore := gen.FailOldTreeRemoval(errors.New("injected"))
	err := gen.WriteTree(dir, treeFiles)
	restore()
	var left *gen.LeftoverError
	if !errors.As(err, &left) {
		t.Fatalf("WriteTree = %v, want a LeftoverError", err)
	}
	if filepath.Dir(left.Path) != parent {
		t.Errorf("the old tree is said to be at %s, not beside %s", left.Path, dir)
	}
	if got, want := readTree(t, left.Path), map[string]string{"old/": "", "old/loop_gen.go": hdr + "package old\n"}; !maps.Equal(got, want) {
		t.Errorf("%s holds %v, want the old tree %v", left.Path, got, want)
	}
}

// TestWriteTreeKeepsTheLeftoversOfAnotherTree: two trees side by side
// ("generated" and "generated_v2") each clean up only their own leftovers;
// one run must not delete the other's work in progress.
func TestWriteTreeKeepsTheLeftoversOfAnotherTree(t *testing.T) {
	parent := t.TempDir()
	other := filepath.Join(parent, ".generated_v2.new-1")
	writeFiles(t, other, map[string]string{"a/loop_gen.go": hdr + "package a\n"})
	if err := gen.WriteTree(filepath.Join(parent, "generated"), treeFiles); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, parent); !slices.Equal(got, []string{".generated_v2.new-1", "generated"}) {
		t.Errorf("after WriteTree of generated, %s holds %v; want the other tree's leftover kept", parent, got)
	}
}

// TestWriteTreeRefusesADanglingSymlink: an -out that is a symbolic link to
// nothing is not replaced by a directory; the link is the user's, and
// replacing it would silently cut it off from where it was meant to point.
func TestWriteTreeRefusesADanglingSymlink(t *testing.T) {
	parent := t.TempDir()
	link := filepath.Join(parent, "generated")
	if err := os.Symlink(filepath.Join(parent, "nowhere"), link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if err := gen.WriteTree(link, treeFiles); err == nil || !strings.Contains(err.Error(), "it is not a directory") {
		t.Errorf("WriteTree onto a dangling link = %v, want a refusal", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symbolic link (%v)", link, err)
	}
}

// TestWriteTreeRefusesASymlinkedGenFile: a symbolic link in the tree is not
// loopgen's (loopgen writes only regular files), even when it is named
// *_gen.go and points at a file with loopgen's header.
func TestWriteTreeRefusesASymlinkedGenFile(t *testing.T) {
	parent := t.TempDir()
	elsewhere := filepath.Join(parent, "elsewhere_gen.go")
	if err := os.WriteFile(elsewhere, []byte(hdr+"package a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "generated")
	writeFiles(t, dir, map[string]string{"a/loop_gen.go": hdr + "package a\n"})
	if err := os.Symlink(elsewhere, filepath.Join(dir, "a", "io_gen.go")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	err := gen.WriteTree(dir, treeFiles)
	if want := filepath.Join("a", "io_gen.go") + " is not a regular file"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("WriteTree over a tree with a symbolic link = %v, want a refusal naming %q", err, want)
	}
}

// TestWriteTreeRefusesAHeaderWithoutDoNotEdit: the header must be loopgen's
// whole line, "; DO NOT EDIT." included: a file whose header someone changed
// to say it is now maintained by hand is theirs, not loopgen's to delete.
func TestWriteTreeRefusesAHeaderWithoutDoNotEdit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "generated")
	writeFiles(t, dir, map[string]string{"a/loop_gen.go": "// Code generated by \"loopgen -spec spec/loop.yaml\", now edited by hand.\n\npackage a\n"})
	err := gen.WriteTree(dir, treeFiles)
	if err == nil || !strings.Contains(err.Error(), "does not start with loopgen's \"Code generated\" header") {
		t.Errorf("WriteTree = %v, want a refusal for the changed header", err)
	}
}

// TestWriteTreeReplacesItsOwnOutputWithCRLFLineEnds: a checkout that turned
// the generated files' line ends into CRLF (git's autocrlf) still holds
// loopgen's files, and go generate must be able to replace them.
func TestWriteTreeReplacesItsOwnOutputWithCRLFLineEnds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "generated")
	writeFiles(t, dir, map[string]string{"a/loop_gen.go": strings.ReplaceAll(hdr+"package a\n", "\n", "\r\n")})
	if err := gen.WriteTree(dir, treeFiles); err != nil {
		t.Fatalf("WriteTree over CRLF output: %v", err)
	}
	if got, want := readTree(t, dir), wantTree(); !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestWriteTreeRefusesAGenFileOfOnlyComments: a *_gen.go file without
// loopgen's header is not loopgen's, even when it holds nothing but
// comments (notes kept beside the generated code, say).
func TestWriteTreeRefusesAGenFileOfOnlyComments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "generated")
	writeFiles(t, dir, map[string]string{"notes_gen.go": "// Notes on the generated code.\n\n// Keep these.\n"})
	err := gen.WriteTree(dir, treeFiles)
	if want := "notes_gen.go does not start with loopgen's \"Code generated\" header"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("WriteTree = %v, want a refusal containing %q", err, want)
	}
}
