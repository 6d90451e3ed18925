package tests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopgen/loop/generated/all"
)

// TestGeneratedDocsSummarizeTheVariantAsVariantDoes: the package doc of
// generated/<name>, the doc of its Loop and the doc of Loop in its select
// file give every value that Variant().String() gives, in its words. They
// had a summary of their own that left out overflow, recover and stats, so
// go doc did not show that Post can fail under overflow: reject.
func TestGeneratedDocsSummarizeTheVariantAsVariantDoes(t *testing.T) {
	for _, v := range all.Variants {
		t.Run(v.Name, func(t *testing.T) {
			summary := strings.TrimPrefix(v.Params.String(), v.Name+": ")
			dir := filepath.Join("..", "generated", v.Name)
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var pkgDoc, loopDoc string
			for _, e := range entries {
				f := parseGenerated(t, filepath.Join(dir, e.Name()))
				if f.Doc != nil {
					pkgDoc += f.Doc.Text()
				}
				loopDoc += typeDoc(f, "Loop")
			}
			selectDoc := typeDoc(parseGenerated(t, filepath.Join("..", "generated", "select_"+v.Name+"_gen.go")), "Loop")
			for what, doc := range map[string]string{"package doc": pkgDoc, "Loop's doc": loopDoc, "the select file's Loop doc": selectDoc} {
				if !strings.Contains(doc, summary) {
					t.Errorf("%s:\n%s\nlacks Variant().String()'s %q", what, doc, summary)
				}
			}
		})
	}
}

// parseGenerated parses a generated file with its comments.
func parseGenerated(t *testing.T, path string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// typeDoc is the doc comment of type name in f, or "".
func typeDoc(f *ast.File, name string) string {
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			if ts := s.(*ast.TypeSpec); ts.Name.Name == name {
				if ts.Doc != nil {
					return ts.Doc.Text()
				}
				if g.Doc != nil {
					return g.Doc.Text()
				}
			}
		}
	}
	return ""
}
