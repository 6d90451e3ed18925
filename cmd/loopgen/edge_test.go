package main

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// -check on an -out that cannot be compared is a failure to check (1), not a
// bad spec or command line (2).
func TestCheckOfAFileExits1(t *testing.T) {
	out := filepath.Join(t.TempDir(), "generated")
	if err := os.WriteFile(out, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := loopgen(t, "-check", "-spec", shippedSpec, "-out", out)
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "loopgen: ") || !strings.Contains(stderr, "not a directory") {
		t.Errorf("-check of a regular file = %d, stdout %q, stderr %q; want 1 and a loopgen: message", code, stdout, stderr)
	}
}

// A -check that finds nothing stale must not write either: rewriting the same
// bytes would still replace every file and directory. The times are set back
// first so that a rewrite shows whatever the file system's clock resolution.
func TestCleanCheckWritesNothing(t *testing.T) {
	root := copyShipped(t)
	out := filepath.Join(root, "generated")
	past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, past, past)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	code, stdout, stderr := loopgen(t, "-check", "-spec", filepath.Join(root, "spec", "loop.yaml"), "-out", out)
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("-check on an exact copy = %d, stdout %q, stderr %q; want 0 and silence", code, stdout, stderr)
	}
	if after := snapshot(t, root); !maps.Equal(after, before) {
		t.Error("a clean -check changed files")
	}
}

// tune's own command line fails before anything is read or built. The spec
// named does not exist, so a flag check that let a run through would fail on
// the spec instead, with another message.
func TestTuneFlagErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, 0, "usage: loopgen tune"},
		{"unknown flag", []string{"-no-such-flag"}, 2, "usage: loopgen tune"},
		{"extra argument", []string{"-spec", missing, "-grid", "batch=4", "extra"}, 2, `loopgen tune: unexpected argument "extra"`},
		{"zero count", []string{"-spec", missing, "-grid", "batch=4", "-count", "0"}, 2, "loopgen tune: -count 0: must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := tune(t, context.Background(), tuneHooks{}, tc.args...)
			if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("loopgen tune %q = %d, stdout %q, stderr:\n%s\nwant %d and %q on stderr", tc.args, code, stdout, stderr, tc.code, tc.want)
			}
		})
	}
}
