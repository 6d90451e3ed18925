package gen_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"strconv"
	"testing"

	"github.com/loopgen/loop/gen"
)

// A variant's name is also a package name that generated/all imports: no
// identifier that all_gen.go declares may shadow one (a variant named c
// broke the build when each entry's parameter was called c).
func TestRegistryDeclaresNoNameAVariantCouldHave(t *testing.T) {
	s, err := gen.Parse("spec.yaml", []byte("variants:\n  - name: a\n    default: true\n  - name: c\n  - name: l\n  - name: err\n"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := gen.Generate(s, gen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src, ok := files["all/all_gen.go"]
	if !ok {
		t.Fatalf("no all/all_gen.go among %v", gen.Paths(files))
	}
	f, err := parser.ParseFile(token.NewFileSet(), "all_gen.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]bool{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := path.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		imported[name] = true
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Obj != nil && imported[id.Name] {
			t.Errorf("all_gen.go declares %s, which shadows the imported package %s", id.Name, id.Name)
		}
		return true
	})
}
