package main

import (
	"bytes"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/gen"
)

// Tests run in cmd/loopgen; these are the repository's real spec and tree.
const (
	shippedSpec = "../../spec/loop.yaml"
	shippedOut  = "../../generated"
)

// shippedCopy is a copy of spec/loop.yaml as the project ships it (package
// gen's tests read it too), for the tests that rely on the shipped
// variants' values: tune's grids around balanced's batch of 1024, say. The
// real spec is the user's to edit, with loopgen tune -write balanced for one,
// and that must not break go test ./cmd/loopgen. The tests that need the
// real spec and generated/ as a pair (-check, writing a copy of them) keep
// using shippedSpec: they hold for any spec that generated/ matches.
const shippedCopy = "../../gen/testdata/specs/shipped.yaml"

// loopgen runs the command and returns its exit status and output.
func loopgen(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// TestCheckShippedTreeIsUpToDate is the CI guarantee: generated/ is exactly
// what spec/loop.yaml gives. If it fails, run go generate ./... and commit.
func TestCheckShippedTreeIsUpToDate(t *testing.T) {
	code, stdout, stderr := loopgen(t, "-check", "-spec", shippedSpec, "-out", shippedOut)
	if code != 0 {
		t.Fatalf("loopgen -check on the repository = %d, want 0 (run go generate ./... and commit generated/)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if stdout != "" || stderr != "" {
		t.Errorf("a clean -check printed\nstdout: %q\nstderr: %q", stdout, stderr)
	}
}

// The same check from the module root, with the paths the go:generate line
// uses, agrees: headers do not depend on where loopgen runs.
func TestCheckFromModuleRoot(t *testing.T) {
	t.Chdir("../..")
	if code, _, stderr := loopgen(t, "-check", "-spec", "spec/loop.yaml", "-out", "generated"); code != 0 {
		t.Fatalf("loopgen -check from the module root = %d, want 0\n%s", code, stderr)
	}
	if code, _, stderr := loopgen(t, "-check"); code != 0 {
		t.Fatalf("loopgen -check with the default flags = %d, want 0\n%s", code, stderr)
	}
}

// The go:generate line in spec/generate.go runs loopgen from spec/ with
// paths relative to it; its output is the committed tree too.
func TestCheckFromTheGoGenerateLinesDirectory(t *testing.T) {
	t.Chdir("../../spec")
	if code, _, stderr := loopgen(t, "-check", "-spec", "loop.yaml", "-out", "../generated"); code != 0 {
		t.Fatalf("loopgen -check from spec/ = %d, want 0\n%s", code, stderr)
	}
}

// Through a symbolic link to the module, with the spec named through the link
// and -out through the real path (or the other way round), the headers are
// the same: they used to record the spec's path relative to a directory
// spelled another way, and -check called every file stale.
func TestCheckThroughASymlinkToTheModule(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "module")
	if err := os.Symlink(root, link); err != nil {
		t.Skipf("cannot make a symbolic link: %v", err)
	}
	for _, paths := range [][2]string{
		{filepath.Join(link, "spec", "loop.yaml"), filepath.Join(root, "generated")},
		{filepath.Join(root, "spec", "loop.yaml"), filepath.Join(link, "generated")},
	} {
		if code, _, stderr := loopgen(t, "-check", "-spec", paths[0], "-out", paths[1]); code != 0 {
			t.Errorf("loopgen -check -spec %s -out %s = %d, want 0\n%s", paths[0], paths[1], code, stderr)
		}
	}
}

// copyFile copies src to dst, creating dst's directory.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyShipped lays out a module-like directory: spec/loop.yaml and a copy of
// generated/. It returns the directory.
func copyShipped(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyFile(t, shippedSpec, filepath.Join(root, "spec", "loop.yaml"))
	err := filepath.WalkDir(shippedOut, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(shippedOut, p)
		if err != nil {
			return err
		}
		copyFile(t, p, filepath.Join(root, "generated", rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type fileState struct {
	data    string
	mode    fs.FileMode
	modTime time.Time
}

// snapshot records every file and directory under dir, with content, mode and
// modification time, so that a rewrite with equal bytes shows too.
func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	snap := map[string]fileState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fileState{mode: fi.Mode(), modTime: fi.ModTime()}
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			st.data = string(data)
		}
		rel, err := filepath.Rel(dir, p)
		snap[filepath.ToSlash(rel)] = st
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// contents returns the files under dir by slash path.
func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for p, st := range snapshot(t, dir) {
		if !st.mode.IsDir() {
			files[p] = st.data
		}
	}
	return files
}

func TestCheckListsStaleFiles(t *testing.T) {
	root := copyShipped(t)
	out := filepath.Join(root, "generated")
	spec := filepath.Join(root, "spec", "loop.yaml")
	if code, _, stderr := loopgen(t, "-check", "-spec", spec, "-out", out); code != 0 {
		t.Fatalf("-check on an exact copy = %d, want 0\n%s", code, stderr)
	}

	edited := filepath.Join(out, "balanced", "loop_gen.go")
	data, err := os.ReadFile(edited)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(edited, append(data, "// edited by hand\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "balanced", "extra.go"), []byte("package balanced\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// loopgen's own output from another spec: go generate removes it.
	gone := "// Code generated by \"loopgen -spec spec/old.yaml\"; DO NOT EDIT.\n\npackage balanced\n"
	if err := os.WriteFile(filepath.Join(out, "balanced", "gone_gen.go"), []byte(gone), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)

	code, stdout, stderr := loopgen(t, "-check", "-spec", spec, "-out", out)
	if code != 1 {
		t.Errorf("-check on a stale tree = %d, want 1", code)
	}
	if stdout != "" {
		t.Errorf("-check printed to stdout: %q", stdout)
	}
	want := "loopgen: " + out + " is stale (run go generate ./...):\n" +
		"\tbalanced/extra.go: is not a *_gen.go file that loopgen generated (loopgen refuses to replace a tree that holds it)\n" +
		"\tbalanced/gone_gen.go: not generated by this spec\n" +
		"\tbalanced/loop_gen.go: differs\n"
	if stderr != want {
		t.Errorf("-check stderr =\n%s\nwant\n%s", stderr, want)
	}
	if after := snapshot(t, root); !maps.Equal(after, before) {
		t.Error("-check changed files")
	}
}

func TestCheckOfMissingDirectoryListsEveryFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "generated")
	code, _, stderr := loopgen(t, "-check", "-spec", shippedSpec, "-out", out)
	if code != 1 || !strings.Contains(stderr, "\tbalanced/loop_gen.go: missing\n") || !strings.Contains(stderr, "\tselect_conflict_gen.go: missing\n") {
		t.Errorf("-check of a missing directory = %d\n%s\nwant 1, listing every file as missing", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("-check created %s", out)
	}
}

func TestBadSpecExits2AndLeavesOutUntouched(t *testing.T) {
	root := copyShipped(t)
	out := filepath.Join(root, "generated")
	spec := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(spec, []byte("variants:\n  - name: a\n    default: true\n    queue_depth: 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)

	for _, args := range [][]string{{"-spec", spec, "-out", out}, {"-check", "-spec", spec, "-out", out}} {
		code, stdout, stderr := loopgen(t, args...)
		if code != 2 {
			t.Errorf("loopgen %q = %d, want 2", args, code)
		}
		if stdout != "" {
			t.Errorf("loopgen %q printed to stdout: %q", args, stdout)
		}
		// The rule's wording belongs to gen's tests; here, the shape and the position.
		re := regexp.MustCompile(`^` + regexp.QuoteMeta(spec) + `:4:\d+: variants\[0\]\.queue_depth: .*power of two.*\n$`)
		if !re.MatchString(stderr) {
			t.Errorf("loopgen %q stderr = %q, want one line matching %s", args, stderr, re)
		}
	}
	if after := snapshot(t, root); !maps.Equal(after, before) {
		t.Error("a run with a bad spec changed the -out directory or what is beside it")
	}
}

// Under go generate, loopgen runs in spec/ with -spec loop.yaml, and its
// messages named loop.yaml:4:18, which does not open from the module root
// where go generate ./... was typed. A relative -spec is now named as the
// generated headers name it, relative to the directory that holds -out,
// from any directory, a file that cannot be read included.
func TestSpecErrorsNameTheSpecRelativeToTheModuleRoot(t *testing.T) {
	root := copyShipped(t)
	bad := "variants:\n  - name: balanced\n    default: true\n    queue_depth: 1000\n"
	if err := os.WriteFile(filepath.Join(root, "spec", "loop.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, spec, out string }{
		{"spec", "loop.yaml", "../generated"}, // the go:generate line
		{".", "spec/loop.yaml", "generated"},
		{"cmd/loopgen", "../../spec/./loop.yaml", "../../generated"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join(root, tc.dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			for _, check := range []bool{false, true} {
				args := []string{"-spec", tc.spec, "-out", tc.out}
				if check {
					args = append(args, "-check")
				}
				code, _, stderr := loopgen(t, args...)
				if want := "spec/loop.yaml:4:18: variants[0].queue_depth: "; code != 2 || !strings.HasPrefix(stderr, want) {
					t.Errorf("loopgen %q in %s = %d, stderr %q; want 2 and a line starting %q", args, tc.dir, code, stderr, want)
				}
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		t.Chdir(filepath.Join(root, "spec"))
		code, _, stderr := loopgen(t, "-spec", "nope.yaml", "-out", "../generated")
		if want := "loopgen: open spec/nope.yaml: "; code != 2 || !strings.HasPrefix(stderr, want) {
			t.Errorf("loopgen -spec nope.yaml in spec/ = %d, stderr %q; want 2 and a line starting %q", code, stderr, want)
		}
	})
}

func TestMissingSpecExits2(t *testing.T) {
	out := filepath.Join(t.TempDir(), "generated")
	code, _, stderr := loopgen(t, "-spec", filepath.Join(t.TempDir(), "nope.yaml"), "-out", out)
	if code != 2 || !strings.HasPrefix(stderr, "loopgen: ") || !strings.Contains(stderr, "nope.yaml") {
		t.Errorf("loopgen with a missing spec = %d, %q; want 2 and a message from loopgen naming the file", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run created %s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-no-such-flag"},
		{"-check", "extra-argument"},
		{"-spec"},
	} {
		code, stdout, stderr := loopgen(t, args...)
		if code != 2 {
			t.Errorf("loopgen %q = %d, want 2", args, code)
		}
		if stdout != "" || !strings.Contains(stderr, "usage: loopgen") {
			t.Errorf("loopgen %q: stdout %q, stderr %q; want the usage on stderr", args, stdout, stderr)
		}
	}
}

func TestHelpExits0(t *testing.T) {
	code, stdout, stderr := loopgen(t, "-h")
	if code != 0 || stdout != "" || !strings.Contains(stderr, "usage: loopgen") || !strings.Contains(stderr, "-check") {
		t.Errorf("loopgen -h = %d, stdout %q, stderr %q; want 0 and the usage on stderr", code, stdout, stderr)
	}
}

func TestGenerateThenCheck(t *testing.T) {
	root := t.TempDir()
	spec := filepath.Join(root, "spec", "loop.yaml")
	copyFile(t, shippedSpec, spec)
	out := filepath.Join(root, "generated")
	if code, stdout, stderr := loopgen(t, "-spec", spec, "-out", out); code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("loopgen into a fresh directory = %d, stdout %q, stderr %q; want 0 and silence", code, stdout, stderr)
	}
	if code, _, stderr := loopgen(t, "-check", "-spec", spec, "-out", out); code != 0 {
		t.Fatalf("-check right after generating = %d, want 0\n%s", code, stderr)
	}
	// The layout matches the repository's, so the output is byte for byte the
	// committed generated/: the headers record spec/loop.yaml in both.
	fresh, committed := contents(t, out), contents(t, shippedOut)
	for _, p := range slices.Sorted(maps.Keys(fresh)) {
		if c, ok := committed[p]; !ok || c != fresh[p] {
			t.Errorf("%s: generating from a copy of the spec, laid out as in the repository, does not give generated/%s byte for byte", p, p)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(committed)) {
		if _, ok := fresh[p]; !ok {
			t.Errorf("generated/%s is not generated from a copy of the spec", p)
		}
	}
	// Generating again replaces the tree with the same bytes, and drops the
	// files of a variant that is no longer in the spec.
	gone := filepath.Join(out, "gone", "loop_gen.go")
	if err := os.MkdirAll(filepath.Dir(gone), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gone, []byte("// Code generated by \"loopgen -spec spec/loop.yaml\"; DO NOT EDIT.\n\npackage gone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := loopgen(t, "-spec", spec, "-out", out); code != 0 {
		t.Fatalf("regenerating = %d\n%s", code, stderr)
	}
	if code, _, stderr := loopgen(t, "-check", "-spec", spec, "-out", out); code != 0 {
		t.Fatalf("-check after regenerating = %d, want 0\n%s", code, stderr)
	}
	if got, err := os.ReadDir(root); err != nil || len(got) != 2 {
		t.Errorf("beside generated/ and spec/ there is %v (%v): a temporary directory was left behind", got, err)
	}
}

// The new tree is in place and only the old copy could not be removed: the
// run did its work, so it exits 0, and warns where the copy was left.
func TestAnOldTreeLeftBehindIsAWarningAndExits0(t *testing.T) {
	root := t.TempDir()
	spec := filepath.Join(root, "spec", "loop.yaml")
	copyFile(t, shippedSpec, spec)
	out := filepath.Join(root, "generated")
	left := filepath.Join(root, ".generated.tmp.old")
	writeTree = func(dir string, files map[string][]byte) error {
		if err := gen.WriteTree(dir, files); err != nil {
			return err
		}
		return &gen.LeftoverError{Path: left, Err: fs.ErrPermission}
	}
	t.Cleanup(func() { writeTree = gen.WriteTree })
	code, stdout, stderr := loopgen(t, "-spec", spec, "-out", out)
	if code != 0 || stdout != "" {
		t.Fatalf("loopgen with the old tree left behind = %d, stdout %q; want 0 and nothing on stdout\n%s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stderr, "loopgen: warning: ") || !strings.Contains(stderr, left) || !strings.Contains(stderr, "the next run removes it") {
		t.Errorf("stderr %q; want a loopgen: warning naming %s and saying the next run removes it", stderr, left)
	}
	writeTree = gen.WriteTree
	if code, _, stderr := loopgen(t, "-check", "-spec", spec, "-out", out); code != 0 {
		t.Errorf("-check after the run that warned = %d, want 0: the new tree is not in place\n%s", code, stderr)
	}
}

func TestWriteFailureExits1(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "blocker")
	if err := os.WriteFile(blocker, []byte("a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := loopgen(t, "-spec", shippedSpec, "-out", filepath.Join(blocker, "generated"))
	if code != 1 || !strings.HasPrefix(stderr, "loopgen: ") {
		t.Errorf("loopgen into a path under a file = %d, %q; want 1 and a loopgen: message", code, stderr)
	}
}

// -out named whatever it was given, and loopgen replaced it: the module root
// (the repository, .git included, was lost) or a regular file. It now exits 1
// with a message that names -out and the first file it would have deleted,
// and leaves everything as it was.
func TestOutThatIsNotAGeneratedTreeIsRefused(t *testing.T) {
	root := copyShipped(t)
	copyFile(t, "main.go", filepath.Join(root, "cmd", "loopgen", "main.go"))
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notes, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ out, why string }{
		{root, filepath.Join("cmd", "loopgen", "main.go") + " is not a *_gen.go file that loopgen generated"},
		{notes, "it is not a directory"},
	} {
		before := snapshot(t, filepath.Dir(tc.out))
		code, stdout, stderr := loopgen(t, "-spec", filepath.Join(root, "spec", "loop.yaml"), "-out", tc.out)
		want := "loopgen: refusing to replace " + tc.out + ": " + tc.why + "; -out must be a directory that holds only files loopgen generated, or not exist\n"
		if code != 1 || stdout != "" || stderr != want {
			t.Errorf("loopgen -out %s = %d, stdout %q, stderr %q; want 1 and %q", tc.out, code, stdout, stderr, want)
		}
		if after := snapshot(t, filepath.Dir(tc.out)); !maps.Equal(after, before) {
			t.Errorf("loopgen -out %s changed files", tc.out)
		}
	}
}

// A spec without a variant named balanced generated, and left the bench
// unbuildable: bench/drive_balanced.go, the template of its drivers, imports
// generated/balanced. Where that template sits beside -out, loopgen now exits
// 2 before it writes; elsewhere such a spec is fine.
func TestSpecWithoutTheBenchTemplatesVariantIsRefusedBesideTheBench(t *testing.T) {
	root := copyShipped(t)
	spec := filepath.Join(root, "spec", "loop.yaml")
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	renamed := bytes.Replace(data, []byte("- name: balanced\n"), []byte("- name: general\n"), 1)
	if bytes.Equal(renamed, data) {
		t.Fatal("the shipped spec has no line - name: balanced to rename")
	}
	if err := os.WriteFile(spec, renamed, 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "../../bench/drive_balanced.go", filepath.Join(root, "bench", "drive_balanced.go"))
	out := filepath.Join(root, "generated")
	before := snapshot(t, root)
	code, stdout, stderr := loopgen(t, "-spec", spec, "-out", out)
	want := "loopgen: " + spec + ": no variant is named balanced, which the bench needs: bench/drive_balanced.go, " +
		"the template of its per-variant drivers, is written against generated/balanced (keep a variant named balanced)\n"
	if code != 2 || stdout != "" || stderr != want {
		t.Errorf("loopgen = %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, want)
	}
	if after := snapshot(t, root); !maps.Equal(after, before) {
		t.Error("the refused spec changed files")
	}
	if err := os.Remove(filepath.Join(root, "bench", "drive_balanced.go")); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := loopgen(t, "-spec", spec, "-out", out); code != 0 {
		t.Errorf("without the bench beside it the spec generates: loopgen = %d\n%s", code, stderr)
	}
}

// go generate ./... lists every package before it runs a go:generate line.
// When loopgen ran from package loop, the first listed, and the spec had
// lost a variant, loopgen removed generated/<variant> and go generate then
// failed reading that package's files ("generate: open
// .../generated/compute/inbox_gen.go: no such file or directory", exit 1).
// It now succeeds in one run, the bench's drivers included.
func TestGoGenerateAfterRemovingAVariant(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go generate in a copy of the module")
	}
	dst := wholeModuleCopy(t)
	spec := filepath.Join(dst, "spec", "loop.yaml")
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("\n  - name: compute\n"))
	if i < 0 {
		t.Fatal("the shipped spec has no variant compute to remove")
	}
	if err := os.WriteFile(spec, data[:i+1], 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "generate", "./...")
	cmd.Dir = dst
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go generate ./... after removing a variant: %v\n%s", err, out)
	}
	for _, gone := range []string{"generated/compute", "generated/select_compute_gen.go", "bench/drive_compute_gen.go"} {
		if _, err := os.Stat(filepath.Join(dst, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after go generate (%v)", gone, err)
		}
	}
	t.Chdir(dst)
	if code, _, stderr := loopgen(t, "-check"); code != 0 {
		t.Errorf("loopgen -check after go generate = %d\n%s", code, stderr)
	}
}

// wholeModuleCopy copies the module, but for .git and the bench's other
// module and output, into a temporary directory, and returns it.
func wholeModuleCopy(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch filepath.ToSlash(rel) {
			case ".git", "bench/peers", "bench/out":
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			copyFile(t, p, filepath.Join(dst, rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// What docs/variants.md tells a user to do to spec/loop.yaml, add a variant
// and tune one (loopgen tune -write balanced rewrites balanced's values),
// then go generate ./..., broke go test ./gen: its golden case and its
// checks of the shipped values read the real spec, and failed until
// go test ./gen -run TestGolden -update. They now read a copy of the
// shipped spec, and go test ./gen passes after such an edit. (This
// package's tests that tune around the shipped values read that copy too.)
func TestEditingTheSpecKeepsTheGeneratorsTestsPassing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go generate and go test ./gen in a copy of the module")
	}
	dst := wholeModuleCopy(t)
	spec := filepath.Join(dst, "spec", "loop.yaml")
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gen.Parse(spec, data)
	if err != nil {
		t.Fatal(err)
	}
	balanced, ok := s.Lookup("balanced")
	if !ok {
		t.Fatal("the spec has no variant balanced")
	}
	v := *balanced
	v.Batch = v.Batch/2 + 1 // as tune -write balanced would, a value in place
	tuned, err := gen.PutVariant(spec, data, v, "")
	if err != nil {
		t.Fatal(err)
	}
	tuned = append(tuned, "\n  - name: added_by_a_test\n    batch: 64\n    wheel:\n      tick: 10ms\n"...)
	if err := os.WriteFile(spec, tuned, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"generate", "./..."}, {"test", "-count=1", "./gen"}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dst
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s after adding a variant and tuning balanced: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
