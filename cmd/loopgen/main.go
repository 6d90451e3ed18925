// Command loopgen generates the loop variants described by a spec file.
//
// Package spec of github.com/loopgen/loop (spec/generate.go) runs it through
//
//	//go:generate go run ../cmd/loopgen -spec loop.yaml -out ../generated
//
// so `go generate ./...` regenerates every variant. Usage:
//
//	loopgen [-spec spec/loop.yaml] [-out generated]   write generated/ from the spec
//	loopgen -check [-spec ...] [-out ...]             exit 1, listing stale files, when generated/ differs
//	loopgen tune -grid 'key=v1,v2 ...' [flags]         measure variants derived from one and rank them
//
// A bad spec exits with status 2 and one line per problem, as
// file:line:col: path.to.field: what is wrong, where file is a relative
// -spec as the headers record it (below), spec/loop.yaml under go generate
// too, so that it opens from the module root. Generation is all or nothing:
// the new tree is written beside the old one and swapped in, so a failed run
// leaves generated/ exactly as it was. Because -out is replaced whole, it
// must not exist or hold only *_gen.go files with loopgen's header: anything
// else (a hand-written file, the module root, a regular file) exits 1 with
// a message naming it, and nothing is written.
//
// The bench's driver template, bench/drive_balanced.go, is compiled as the
// balanced variant's driver, so where it sits beside -out a spec without a
// variant named balanced exits 2 too, before anything is written.
//
// Every generated file's header records the invocation with the spec path
// relative to the directory that holds -out, so the output, and -check, are
// the same whichever directory loopgen runs in.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/loopgen/loop/gen"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "tune" {
		// Ctrl-C (or a closed terminal, or a kill) ends the measuring;
		// runTune removes its temporary files and says how to resume.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		code := runTune(ctx, args[1:], os.Stdout, os.Stderr, tuneHooks{})
		stop()
		os.Exit(code)
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// writeTree is gen.WriteTree; a test replaces it to fail in ways a test
// cannot make a file system fail (an old tree that cannot be removed, for root).
var writeTree = gen.WriteTree

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loopgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "spec/loop.yaml", "the spec file")
	out := fs.String("out", "generated", "the directory that holds the generated packages")
	check := fs.Bool("check", false, "do not write; exit 1 and list the stale files if -out differs from what the spec gives")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loopgen [-spec FILE] [-out DIR] [-check]")
		fmt.Fprintln(stderr, "       loopgen tune -grid 'key=v1,v2 ...' [-pkg PKG] [-bench REGEXP] [flags] (loopgen tune -h)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h asked for the usage, as with the flag package's ExitOnError
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loopgen: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	shown := shownSpecPath(*specPath, *out)
	spec, err := parseSpecFile(*specPath, shown)
	if err != nil {
		// A spec's own mistakes come as file:line:col lines, as a
		// compiler's do, for editors to jump to; a file that cannot be
		// read is loopgen's to report.
		if !isSpecError(err) {
			fmt.Fprint(stderr, "loopgen: ")
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	if msg := benchTemplateMissing(spec, *out); msg != "" {
		fmt.Fprintf(stderr, "loopgen: %s: %s\n", shown, msg)
		return 2
	}
	files, err := gen.Generate(spec, gen.Options{Invocation: "loopgen -spec " + headerPath(*specPath, *out)})
	if err != nil {
		fmt.Fprintf(stderr, "loopgen: %v\n", err)
		return 1
	}
	if *check {
		stale, err := gen.Diff(*out, files)
		if err != nil {
			fmt.Fprintf(stderr, "loopgen: %v\n", err)
			return 1
		}
		if len(stale) > 0 {
			fmt.Fprintf(stderr, "loopgen: %s is stale (run go generate ./...):\n", *out)
			for _, s := range stale {
				fmt.Fprintf(stderr, "\t%s\n", s)
			}
			return 1
		}
		return 0
	}
	if err := writeTree(*out, files); err != nil {
		var left *gen.LeftoverError
		if errors.As(err, &left) {
			// generated/ is what the spec gives: the run succeeded.
			fmt.Fprintf(stderr, "loopgen: warning: %v (the next run removes it)\n", err)
			return 0
		}
		fmt.Fprintf(stderr, "loopgen: %v\n", err)
		return 1
	}
	return 0
}

// benchTemplateMissing says why spec cannot be generated into out when the
// module that holds out has the bench's driver template, bench/drive_balanced.go,
// and spec has no variant named balanced: the template imports
// generated/balanced, so the bench would stop building. Elsewhere (another
// module, a test's directory) it returns "".
func benchTemplateMissing(spec *gen.Spec, out string) string {
	name := gen.BenchTemplateVariant
	if _, ok := spec.Lookup(name); ok {
		return ""
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return ""
	}
	template := filepath.Join("bench", "drive_"+name+".go")
	if _, err := os.Stat(filepath.Join(filepath.Dir(abs), template)); err != nil {
		return ""
	}
	return fmt.Sprintf("no variant is named %s, which the bench needs: %s, the template of its per-variant drivers, "+
		"is written against generated/%s (keep a variant named %s)", name, filepath.ToSlash(template), name, name)
}

// headerPath is the spec path as the generated headers record it: relative to
// the directory that holds out (the module root, for the go:generate line) and
// slash-separated. The output, and so -check, then does not depend on the
// directory loopgen runs in or on how the path is spelled:
// `-spec spec/loop.yaml -out generated` from the root and
// `-spec ../../spec/loop.yaml -out ../../generated` from cmd/loopgen agree,
// and so do paths through a symbolic link to the module and real ones.
func headerPath(spec, out string) string {
	specDir, err := realDir(filepath.Dir(spec))
	if err != nil {
		return filepath.ToSlash(filepath.Clean(spec))
	}
	outParent, err := realDir(filepath.Dir(filepath.Clean(out)))
	if err != nil {
		return filepath.ToSlash(filepath.Clean(spec))
	}
	rel, err := filepath.Rel(outParent, filepath.Join(specDir, filepath.Base(spec)))
	if err != nil {
		return filepath.ToSlash(filepath.Clean(spec))
	}
	return filepath.ToSlash(rel)
}

// shownSpecPath is the spec path that loopgen's messages give: as the
// generated headers record it (relative to the directory that holds out, the
// module root) when spec is a relative path inside that directory. go
// generate runs loopgen in spec/ with -spec loop.yaml, and a message naming
// loop.yaml:170:5 could not be opened from the module root, where the user
// ran go generate ./...; spec/loop.yaml:170:5 can. An absolute spec stays
// absolute (it opens from anywhere: the recipe for tuning from another
// module gives absolute paths), and so does one outside out's parent, which
// a path relative to that directory would only obscure.
func shownSpecPath(spec, out string) string {
	if filepath.IsAbs(spec) {
		return spec
	}
	rel := headerPath(spec, out)
	if rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return filepath.Clean(spec)
	}
	return rel
}

// parseSpecFile reads the spec at path and parses it, naming it shown in
// every message, a failure to read it included.
func parseSpecFile(path, shown string) (*gen.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = shown
		}
		return nil, err
	}
	return gen.Parse(shown, data)
}

// realDir is dir made absolute, with symbolic links resolved in the longest
// part of it that exists. A dir not made yet (the parent of an -out that
// WriteTree is about to create) is resolved through its nearest existing
// ancestor, so that it reads the same before it is made as after: resolving
// nothing gave a header relative to the unresolved path, which -check, once
// the directory existed, called stale.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	missing := ""
	for p := abs; ; {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, missing), nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return abs, nil
		}
		missing = filepath.Join(filepath.Base(p), missing)
		p = parent
	}
}

// isSpecError reports whether err is a mistake in the spec's text (a
// positioned gen.Error or a list of them), not a failure to read it.
func isSpecError(err error) bool {
	var one *gen.Error
	var list gen.ErrorList
	return errors.As(err, &one) || errors.As(err, &list)
}
