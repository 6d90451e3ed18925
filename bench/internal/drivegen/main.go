// Command drivegen writes bench/drive_<variant>_gen.go: one copy of
// bench/drive_balanced.go for every other variant of spec/loop.yaml, for the
// generic build, and for package loop itself (drive_loop_gen.go, which the
// build-tag-selected "tagged" system of `loopgen tune` uses: its candidates
// are variants that have no copy of their own), so that the bench drives
// each variant through direct calls on its concrete type, as package loop
// does, and not through the core.Loop interface. Generics do not give that: a method called on a type
// parameter goes through the instantiation's dictionary, an indirect call
// the compiler does not inline (checked with go tool objdump on Go 1.26).
//
// `go generate ./...` runs it after loopgen, from the go:generate lines in
// spec/generate.go (after generated/ is written, since it compiles
// generated/all):
//
//	go run ../bench/internal/drivegen -dir ../bench
//
// The copies are made by replacing the word "balanced" with the variant's
// package name and the suffix "Balanced" with its capitalized form (for
// package loop, the import path becomes the module's); the
// template's leading comment is replaced by a "Code generated" line. Copies
// for variants no longer in the spec are removed. A variant whose name is
// an identifier the template uses (time, sync, core, a local variable), a
// predeclared one (int, len) or one that package main declares is imported
// under the name <name>variant, so that the copy compiles.
//
// The template itself is compiled as balanced's driver, so the spec must
// keep a variant named balanced: drivegen says so and writes nothing when it
// has none (and loopgen refuses such a spec before it touches generated/).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/loopgen/loop/gen"
	"github.com/loopgen/loop/generated/all"
)

// templatePkg is the variant the template is written for.
const templatePkg = gen.BenchTemplateVariant

// templateFile is the template's file name in the bench directory.
const templateFile = "drive_" + templatePkg + ".go"

func main() {
	dir := flag.String("dir", ".", "the bench directory (where "+templateFile+" is)")
	flag.Parse()
	if err := write(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "drivegen:", err)
		os.Exit(1)
	}
}

// publicPkg is package loop, the public API, which also gets a copy.
const publicPkg = "loop"

// variantNames are the names of generated/all's variants and the generic build.
func variantNames() []string {
	var names []string
	for _, v := range append(slices.Clone(all.Variants), all.Generic) {
		names = append(names, v.Name)
	}
	return names
}

// targets are the package names that get a copy, given the variants'. The
// template's own variant must be among them: the template is its driver.
func targets(variants []string) ([]string, error) {
	if !slices.Contains(variants, templatePkg) {
		return nil, fmt.Errorf("the spec has no variant named %s, and %s, the template of the drivers, is written against generated/%s: "+
			"the bench does not build without it; keep a variant named %s in spec/loop.yaml", templatePkg, templateFile, templatePkg, templatePkg)
	}
	out := []string{publicPkg}
	for _, v := range variants {
		if v != templatePkg {
			out = append(out, v)
		}
	}
	return out, nil
}

// outputs renders every copy from the template in dir, by file name.
func outputs(dir string) (map[string][]byte, error) {
	pkgs, err := targets(variantNames())
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(filepath.Join(dir, templateFile))
	if err != nil {
		return nil, err
	}
	taken, err := takenNames(dir, src)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, pkg := range pkgs {
		b, err := render(src, pkg, taken)
		if err != nil {
			return nil, fmt.Errorf("%s for %s: %w", templateFile, pkg, err)
		}
		out["drive_"+pkg+"_gen.go"] = b
	}
	return out, nil
}

// write brings dir's copies up to date and removes those of variants that
// are gone.
func write(dir string) error {
	want, err := outputs(dir)
	if err != nil {
		return err
	}
	have, err := filepath.Glob(filepath.Join(dir, "drive_*_gen.go"))
	if err != nil {
		return err
	}
	for _, p := range have {
		if _, ok := want[filepath.Base(p)]; !ok {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	for name, b := range want {
		if err := writeFileAtomically(filepath.Join(dir, name), b); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomically writes b to path through a temporary file renamed
// into place, so that a run that dies on the way leaves each copy whole, the
// old one or the new one, never half of it: a truncated copy stops package
// main from building.
func writeFileAtomically(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// takenNames are the names a copy cannot import a variant's package under:
// every identifier in the template (its imports, such as time and core, and
// its local variables), the predeclared ones (int, len), and those declared
// at the top level of package main in dir (other than in the copies). A
// variant named time made drive_time_gen.go import two packages as time.
func takenNames(dir string, template []byte) (map[string]bool, error) {
	taken := map[string]bool{}
	for _, name := range types.Universe.Names() {
		taken[name] = true
	}
	fset := token.NewFileSet()
	var sc scanner.Scanner
	sc.Init(fset.AddFile(templateFile, -1, len(template)), template, nil, scanner.ScanComments)
	for {
		_, tok, lit := sc.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.IDENT {
			taken[lit] = true
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	for _, p := range files {
		if copyFile.MatchString(filepath.Base(p)) {
			continue
		}
		// A file that does not parse (one being edited) still gives the
		// declarations before the error; the bench's build reports the rest.
		f, _ := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if f == nil || f.Name == nil || f.Name.Name != "main" {
			continue
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					taken[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						taken[spec.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							taken[n.Name] = true
						}
					}
				}
			}
		}
	}
	return taken, nil
}

// importName is the name a copy imports package pkg under: pkg itself, or
// pkg+"variant" when pkg is taken.
func importName(pkg string, taken map[string]bool) string {
	name := pkg
	for taken[name] {
		name += "variant"
	}
	return name
}

var (
	word      = regexp.MustCompile(`\b` + templatePkg + `\b`)
	qualifier = regexp.MustCompile(`\b` + templatePkg + `\.`)
	suffix    = regexp.MustCompile(strings.ToUpper(templatePkg[:1]) + templatePkg[1:] + `\b`)
	copyFile  = regexp.MustCompile(`^drive_.*_gen\.go$`)
)

// render is the template's copy for package pkg, which it imports under
// pkg's own name unless taken holds it.
func render(src []byte, pkg string, taken map[string]bool) ([]byte, error) {
	i := bytes.Index(src, []byte("\npackage "))
	if i < 0 {
		return nil, fmt.Errorf("no package clause")
	}
	body := src[i+1:]
	path := `"` + gen.Module + "/generated/" + pkg + `"`
	if pkg == publicPkg {
		path = `"` + gen.Module + `"`
	}
	name := importName(pkg, taken)
	if name != pkg {
		path = name + " " + path
	}
	body = bytes.ReplaceAll(body, []byte(`"`+gen.Module+"/generated/"+templatePkg+`"`), []byte(path))
	body = qualifier.ReplaceAll(body, []byte(name+"."))
	body = word.ReplaceAll(body, []byte(pkg))
	body = suffix.ReplaceAll(body, []byte(strings.ToUpper(pkg[:1])+pkg[1:]))
	head := fmt.Sprintf("// Code generated by bench/internal/drivegen from %s; DO NOT EDIT.\n\n", templateFile)
	return format.Source(append([]byte(head), body...))
}
