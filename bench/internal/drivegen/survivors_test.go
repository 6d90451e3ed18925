package main

// Tests written for changes to drivegen that a mutation round let through
// the rest of the suite: the copies in bench/ only show what the real spec
// renders to today, not which names a copy must avoid, that a variant
// dropped from the spec loses its copy, or that a copy is replaced whole.

import (
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// The names a copy must not import a variant under include package main's
// own top-level functions, types, variables and constants, and no method,
// no name of a copy (stale copies would change what the next run renders)
// and no name from a file of another package. (Catches methods taken
// instead of functions, variables and constants skipped, the copies read,
// and files of any package read.)
func TestTakenNamesAreMainsTopLevelNames(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"main.go": "package main\n\nfunc helperFunc() {}\n\ntype someType struct{}\n\nfunc (someType) methodName() {}\n\n" +
			"var someVar = 1\n\nconst someConst = 2\n",
		"drive_other_gen.go": "package main\n\nfunc onlyInACopy() {}\n",
		"other.go":           "package other\n\nfunc inAnotherPackage() {}\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	taken, err := takenNames(dir, []byte("package main\n\nfunc templateFunc(localName int) {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"helperFunc", "someType", "someVar", "someConst", "templateFunc", "localName", "len"} {
		if !taken[name] {
			t.Errorf("%s is not taken", name)
		}
	}
	for _, name := range []string{"methodName", "onlyInACopy", "inAnotherPackage"} {
		if taken[name] {
			t.Errorf("%s is taken", name)
		}
	}
}

// A variant whose name and that name with "variant" are both taken gets
// "variant" added until the name is free. (Catches one suffix only.)
func TestImportNameAddsVariantUntilFree(t *testing.T) {
	taken := map[string]bool{"x": true, "xvariant": true}
	if got := importName("x", taken); got != "xvariantvariant" {
		t.Errorf("importName = %q, want xvariantvariant", got)
	}
}

// write brings a directory's copies in line with the spec: a copy for every
// target, none for a variant that is gone, other files left alone, and no
// temporary file left. (Catches stale copies kept.)
func TestWriteRemovesTheCopiesOfVariantsThatAreGone(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(benchDir, templateFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		templateFile:          src,
		"drive_gone_gen.go":   []byte("package main\n"),
		"drive_notes.go.orig": []byte("not a copy"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := write(dir); err != nil {
		t.Fatal(err)
	}
	want := []string{templateFile, "drive_notes.go.orig"}
	pkgs, err := targets(variantNames())
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range pkgs {
		want = append(want, "drive_"+pkg+"_gen.go")
	}
	slices.Sort(want)
	var got []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("the directory holds %v, want %v", got, want)
	}
}

// The new copy is a new file renamed over the old, made beside it: a hard
// link to the old file still reads the old text (a copy rewritten in place
// would be half written if the run died), and the temporary file is not
// made in $TMPDIR (a rename from another file system fails, or is no longer
// atomic). (Catches the copy written in place, and the temporary file made
// in os.TempDir.)
func TestWriteFileAtomicallyRenamesANewFileFromTheSameDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", filepath.Join(dir, "no-such-dir"))
	path := filepath.Join(dir, "drive_x_gen.go")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Link(path, link); err != nil {
		t.Skip("no hard links here:", err)
	}
	if err := writeFileAtomically(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(link); err != nil || string(b) != "old" {
		t.Errorf("the old file reads %q, %v; want it untouched (\"old\")", b, err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "new" {
		t.Errorf("the copy reads %q, %v; want \"new\"", b, err)
	}
}

// When the rename fails (here: the path is a directory that is not empty),
// the error comes back and the temporary file is removed. (Catches the
// temporary file left behind.)
func TestWriteFileAtomicallyRemovesItsTemporaryOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "drive_x_gen.go")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomically(path, []byte("new")); err == nil {
		t.Fatal("renaming over a directory succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// A write that fails (here: past the file size limit, EFBIG) is an error,
// and the old copy stays: the short temporary file is not renamed over it.
// (Catches the write's error replaced by Close's nil.)
func TestWriteFileAtomicallyKeepsTheOldCopyWhenTheWriteFails(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RLIMIT_FSIZE and EFBIG as on Linux")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "drive_x_gen.go")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &saved); err != nil {
		t.Skip(err)
	}
	// Past the limit the kernel sends SIGXFSZ, which would end the test.
	signal.Ignore(syscall.SIGXFSZ)
	defer signal.Reset(syscall.SIGXFSZ)
	low := saved
	low.Cur = 16
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low); err != nil {
		t.Skip("cannot lower the file size limit:", err)
	}
	err := writeFileAtomically(path, []byte(strings.Repeat("new ", 100)))
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Error("a write past the file size limit succeeded")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "old" {
		t.Errorf("the copy reads %q, %v; want the old one", b, err)
	}
}
