package gen_test

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loopgen/loop/gen"
)

// readTree returns every regular file under dir, keyed by slash path, and
// every directory (as "path/") so that leftover empty directories show.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			tree[rel+"/"] = ""
			return nil
		}
		data, err := os.ReadFile(p)
		tree[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var treeFiles = map[string][]byte{
	"select_a_gen.go": []byte("package generated\n"),
	"a/loop_gen.go":   []byte("package a\n"),
	"a/io_gen.go":     []byte("package a // io\n"),
	"all/all_gen.go":  []byte("package all\n"),
}

func wantTree() map[string]string {
	return map[string]string{
		"select_a_gen.go": "package generated\n",
		"a/":              "",
		"a/loop_gen.go":   "package a\n",
		"a/io_gen.go":     "package a // io\n",
		"all/":            "",
		"all/all_gen.go":  "package all\n",
	}
}

func TestWriteTreeReplacesDirectoryExactly(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "generated")
	writeFiles(t, dir, map[string]string{
		"a/loop_gen.go":       "stale\n",
		"a/extra_gen.go":      "stale: not generated any more\n",
		"gone/loop_gen.go":    "a variant that was removed from the spec\n",
		"select_gone_gen.go":  "stale\n",
		"hand/notes.txt":      "anything else in the directory goes too\n",
		"deep/er/still/x.txt": "x\n",
	})
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	if err := gen.WriteTree(dir, treeFiles); err != nil {
		t.Fatal(err)
	}
	if got, want := readTree(t, dir), wantTree(); !maps.Equal(got, want) {
		t.Errorf("after WriteTree the directory holds\n%v\nwant exactly\n%v", got, want)
	}
	if got := entries(t, parent); !slices.Equal(got, []string{"generated"}) {
		t.Errorf("WriteTree left %v beside the tree, want only [generated] (no temporary siblings)", got)
	}
	if fi, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o755 {
		t.Errorf("the new directory has mode %v, want 0755 (not the 0700 of a temporary directory)", fi.Mode().Perm())
	}
	stale, err := gen.Diff(dir, treeFiles)
	if err != nil || len(stale) != 0 {
		t.Errorf("Diff right after WriteTree = %q, %v; want nothing", stale, err)
	}
}

func TestWriteTreeCreatesMissingDirectories(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "x", "y", "generated")
	if err := gen.WriteTree(dir, treeFiles); err != nil {
		t.Fatal(err)
	}
	if got, want := readTree(t, dir), wantTree(); !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := entries(t, filepath.Dir(dir)); !slices.Equal(got, []string{"generated"}) {
		t.Errorf("WriteTree left %v beside the tree, want only [generated]", got)
	}
}

// A symlinked tree is written where the link points, and the link stays: it
// was renamed aside and replaced with a plain directory, leaving its target stale.
func TestWriteTreeThroughASymlinkWritesItsTarget(t *testing.T) {
	parent := t.TempDir()
	target := filepath.Join(parent, "real")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(parent, "generated")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteTree(link, treeFiles); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a symlink (%v, %v)", link, fi.Mode(), err)
	}
	if got, want := readTree(t, target), wantTree(); !maps.Equal(got, want) {
		t.Errorf("the link's target holds %v, want %v", got, want)
	}
}

func TestWriteTreeIntoPathUnderAFileFails(t *testing.T) {
	parent := t.TempDir()
	blocker := filepath.Join(parent, "blocker")
	if err := os.WriteFile(blocker, []byte("a file, not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := readTree(t, parent)
	if err := gen.WriteTree(filepath.Join(blocker, "generated"), treeFiles); err == nil {
		t.Fatal("WriteTree under a regular file succeeded")
	}
	if got := readTree(t, parent); !maps.Equal(got, before) {
		t.Errorf("after the failed WriteTree the parent holds %v, want it as it was: %v", got, before)
	}
}

// A failure while the new tree is being written (here: one name is both a
// file and a directory) leaves the old tree exactly as it was, and no
// temporary directory behind.
func TestWriteTreeFailureLeavesOriginalIntact(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "generated")
	old := map[string]string{"a/loop_gen.go": "old\n", "keep.txt": "old\n"}
	writeFiles(t, dir, old)
	before := readTree(t, dir)

	bad := maps.Clone(treeFiles)
	bad["a"] = []byte("a file where a directory must be\n")
	if err := gen.WriteTree(dir, bad); err == nil {
		t.Fatal("WriteTree with a name that is both a file and a directory succeeded")
	}
	if got := readTree(t, dir); !maps.Equal(got, before) {
		t.Errorf("after the failed WriteTree the directory holds %v, want it as it was: %v", got, before)
	}
	if got := entries(t, parent); !slices.Equal(got, []string{"generated"}) {
		t.Errorf("the failed WriteTree left %v beside the tree, want only [generated]", got)
	}
}

func TestDiffReportsEveryKindOfDifference(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"select_a_gen.go": "package generated\n", // same
		"a/loop_gen.go":   "package a // edited by hand\n",
		"a/old_gen.go":    "package a\n",
		"hand.go":         "package generated\n",
	})
	// a/io_gen.go and all/all_gen.go are missing.
	got, err := gen.Diff(dir, treeFiles)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a/io_gen.go: missing",
		"a/loop_gen.go: differs",
		"a/old_gen.go: not generated by this spec",
		"all/all_gen.go: missing",
		"hand.go: not generated by this spec",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Diff =\n%q\nwant\n%q", got, want)
	}
}

func TestDiffOfMissingDirectoryListsEverythingMissing(t *testing.T) {
	got, err := gen.Diff(filepath.Join(t.TempDir(), "nope"), treeFiles)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/io_gen.go: missing", "a/loop_gen.go: missing", "all/all_gen.go: missing", "select_a_gen.go: missing"}
	if !slices.Equal(got, want) {
		t.Errorf("Diff =\n%q\nwant\n%q", got, want)
	}
}

func TestDiffIgnoresEmptyDirectories(t *testing.T) {
	dir := t.TempDir()
	if err := gen.WriteTree(dir, treeFiles); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := gen.Diff(dir, treeFiles); err != nil || len(got) != 0 {
		t.Errorf("Diff = %q, %v; want nothing (an empty directory is no generated file)", got, err)
	}
}

func TestDiffFollowsASymlinkedDirectory(t *testing.T) {
	parent := t.TempDir()
	target := filepath.Join(parent, "target")
	if err := gen.WriteTree(target, treeFiles); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(parent, "generated")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if got, err := gen.Diff(link, treeFiles); err != nil || len(got) != 0 {
		t.Errorf("Diff through a symbolic link = %q, %v; want nothing", got, err)
	}
}

func TestDiffOfAFileIsAnError(t *testing.T) {
	f := filepath.Join(t.TempDir(), "generated")
	if err := os.WriteFile(f, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := gen.Diff(f, treeFiles); err == nil {
		t.Errorf("Diff of a regular file = %q, nil; want an error", got)
	}
}
