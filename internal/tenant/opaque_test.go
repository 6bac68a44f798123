package tenant_test

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"
	"testing"
)

// tenant.ID is opaque: code outside the package cannot make one from a
// string, so every ID went through Parse. The package's own source is
// type-checked together with snippets of a client package.
func TestIDCannotBeMadeOutsideParse(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var src []*ast.File
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, file)
	}
	std := importer.Default()
	const path = "github.com/tracegate/tracegate/internal/tenant"
	pkg, err := (&types.Config{Importer: std}).Check(path, fset, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	imp := importerFunc(func(p string) (*types.Package, error) {
		if p == path {
			return pkg, nil
		}
		return std.Import(p)
	})
	for _, tc := range []struct {
		expr    string
		compile bool
	}{
		{`tenant.MustParse("acme")`, true}, // the harness compiles what it should
		{`tenant.ID{}`, true},              // the zero ID: no tenant, left out of every Set
		{`tenant.ID("a|b")`, false},
		{`tenant.ID(string("acme"))`, false},
		{`tenant.ID{s: "a|b"}`, false},
		{`tenant.ID{"a|b"}`, false},
		{`[]tenant.ID{"acme"}`, false},
		{`tenant.NewSet("a|b")`, false},
	} {
		client := "package client\nimport \"" + path + "\"\nvar _ = " + tc.expr + "\n"
		file, err := parser.ParseFile(fset, "client.go", client, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&types.Config{Importer: imp}).Check("example.com/client", fset, []*ast.File{file}, nil)
		if compiles := err == nil; compiles != tc.compile {
			t.Errorf("%s: compiles %v (%v), want %v", tc.expr, compiles, err, tc.compile)
		}
	}
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
