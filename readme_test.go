package loop_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeGoBlock matches a fenced Go block of README.md.
var readmeGoBlock = regexp.MustCompile("(?ms)^```go\n(.*?)^```\n")

// readmeSnippetPrelude makes a program of a README block that is "the body
// of a main package" (the sock echo server): the README names its imports.
const readmeSnippetPrelude = `package main

import (
	"log"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

`

// TestREADMEProgramsBuildAndTheQuickStartRuns: every Go block of README.md
// is vetted as a program of its own against this checkout (an API renamed
// or a signature changed without the README breaks it), and the quick
// start, which stops itself, runs and prints what it says. It builds
// offline from the module cache, as the rest of the tests do.
func TestREADMEProgramsBuildAndTheQuickStartRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs with the go command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeGoBlock.FindAllSubmatch(readme, -1)
	if len(blocks) < 2 {
		t.Fatalf("found %d Go blocks in README.md; want the quick start and the echo server at least", len(blocks))
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The checkout's own requirements, so that nothing needs fetching.
	req := regexp.MustCompile(`(?ms)^require \(.*?^\)\n`).FindAll(mod, -1)
	gomod := fmt.Sprintf("module readmecheck\n\ngo 1.26\n\nrequire github.com/loopgen/loop v0.0.0\n\nreplace github.com/loopgen/loop => %s\n\n%s", root, bytes.Join(req, []byte("\n")))
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	quickStart := ""
	for i, b := range blocks {
		src := string(b[1])
		if !strings.HasPrefix(src, "package ") {
			src = readmeSnippetPrelude + src
		} else if quickStart == "" {
			quickStart = fmt.Sprintf("./block%d", i)
		}
		pkg := filepath.Join(dir, fmt.Sprintf("block%d", i))
		must(t, os.Mkdir(pkg, 0o755))
		must(t, os.WriteFile(filepath.Join(pkg, "main.go"), []byte(src), 0o644))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("vet", "./...")
	if quickStart == "" {
		t.Fatal("no README block is a whole program (the quick start)")
	}
	out := run("run", quickStart)
	// Not the posted line: a goroutine the scheduler starts after Close
	// (on a loaded machine) gets ErrClosed, as the program allows for.
	for _, want := range []string{"runs first, on the loop goroutine", "10ms later: stopping"} {
		if !strings.Contains(out, want) {
			t.Errorf("the quick start printed %q; want a line %q", out, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
