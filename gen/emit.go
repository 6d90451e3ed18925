package gen

// Emission. Generate, below, lists every file of the generated/ tree and the
// emitter that writes it. Each variant's package is written by one
// variantEmitter, one file per method:
//
//	<variant>/params_gen.go  emitParams  emit_variant.go (generic build: emitGenericParams, emit_generic.go)
//	<variant>/loop_gen.go    emitLoop    emit_variant.go
//	<variant>/ready_gen.go   emitReady   emit_queues.go
//	<variant>/inbox_gen.go   emitInbox   emit_queues.go
//	<variant>/wheel_gen.go   emitWheel   emit_wheel.go
//	<variant>/io_gen.go      emitIO      emit_io.go
//
// The generic build, generated/generic, is the default variant emitted once
// more with variantEmitter.generic set. This file writes the rest, once per
// spec: select_<variant>_gen.go (emitSelect), select_conflict_gen.go
// (emitConflict), all/all_gen.go (emitAll) and doc_gen.go (emitDoc).
//
// A new spec parameter goes through these places: in spec.go, its Variant
// field, its row in specFields, its limits and its value in specDefaults
// (Parse, Validate, Set, Get, PutVariant and tune then know it); in
// handwritten/core, its Params field and its place in Params.String (which
// describe reuses for the generated docs); in variantParams, its field; in
// emitParams, a constant (for a number) and its entry in specParams; in emit_generic.go,
// its entry in the generic build's Params and its check in emitValidate (a
// number's limits, or a switch's compiled-in value), and for a number a
// genericParams row of the constant's name; describeSwitches for a switch. The code it
// changes then reads a number through e.num or e.numAs (a constant in a
// variant, a field in the generic build) and tests a switch on e.v (a switch
// that is off emits nothing).
// Last, the golden files: go test ./gen -run TestGolden -update.

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/loopgen/loop/handwritten/core"
)

// Module is the import path of the module the generated code belongs to.
const Module = "github.com/loopgen/loop"

// BenchTemplateVariant is the variant that bench/drive_balanced.go, the
// template bench/internal/drivegen copies for every other variant, is written
// against: the bench does not build from a spec without it, so loopgen
// refuses such a spec where that template sits beside -out.
const BenchTemplateVariant = "balanced"

// Import paths of the hand-written packages every variant is built from.
const (
	pkgCore    = Module + "/handwritten/core"
	pkgClock   = Module + "/handwritten/clock"
	pkgPoller  = Module + "/handwritten/poller"
	pkgRelease = Module + "/handwritten/release"
)

// Options control what Generate writes into file headers.
type Options struct {
	// Invocation is recorded in every header, e.g. `loopgen -spec spec/loop.yaml`.
	Invocation string
}

// Generate returns every file of the generated/ tree for s, keyed by its
// slash-separated path below generated/. It writes nothing: the caller decides
// whether to compare or to swap the files in. The output is a pure function of
// s and opts.
func Generate(s *Spec, opts Options) (map[string][]byte, error) {
	if opts.Invocation == "" {
		opts.Invocation = "loopgen"
	}
	files := map[string][]byte{}
	add := func(name, buildTag string, f *jen.File) error {
		src, err := render(f, buildTag, opts)
		if err != nil {
			return fmt.Errorf("gen: %s: %w", name, err)
		}
		files[name] = src
		return nil
	}
	emitPackage := func(e *variantEmitter) error {
		for _, part := range []struct {
			name string
			emit func(*jen.File)
		}{
			{"params_gen.go", e.emitParams},
			{"loop_gen.go", e.emitLoop},
			{"ready_gen.go", e.emitReady},
			{"inbox_gen.go", e.emitInbox},
			{"wheel_gen.go", e.emitWheel},
			{"io_gen.go", e.emitIO},
		} {
			f := e.file()
			part.emit(f)
			if err := add(path.Join(e.v.Name, part.name), "", f); err != nil {
				return err
			}
		}
		return nil
	}
	var def *Variant
	for i := range s.Variants {
		v := &s.Variants[i]
		if v.Default {
			def = v
		}
		if err := emitPackage(&variantEmitter{v: v, path: Module + "/generated/" + v.Name}); err != nil {
			return nil, err
		}
		f, tag := emitSelect(s, v)
		if err := add("select_"+v.Name+"_gen.go", tag, f); err != nil {
			return nil, err
		}
	}
	if len(s.Variants) > 1 {
		f, tag := emitConflict(s)
		if err := add("select_conflict_gen.go", tag, f); err != nil {
			return nil, err
		}
	}
	if def == nil {
		return nil, fmt.Errorf("gen: the spec has no default variant")
	}
	// The generic build: the default variant's code under another name, with
	// the numbers at run time and the poller behind an interface.
	generic := *def
	generic.Name, generic.Default = genericName, false
	if err := emitPackage(&variantEmitter{v: &generic, path: Module + "/generated/" + genericName, generic: true, from: def}); err != nil {
		return nil, err
	}
	if err := add("all/all_gen.go", "", emitAll(s)); err != nil {
		return nil, err
	}
	if err := add("doc_gen.go", "", emitDoc()); err != nil {
		return nil, err
	}
	return files, nil
}

// emitDoc writes the package doc of generated/, whose other files are
// each built under a different tag.
func emitDoc() *jen.File {
	f := jen.NewFilePathName(Module+"/generated", "generated")
	f.PackageComment("Package generated is the loop variant this build uses: the Loop and Params")
	f.PackageComment("of the variant that a loop_<name> build tag names, or of the spec's default")
	f.PackageComment("variant when no tag is given. Package loop wraps it. Each variant's own")
	f.PackageComment("package is a subdirectory, and all lists them for tests and benchmarks.")
	return f
}

// render formats f with the generated-code header. A build constraint, when
// given, goes first and is followed by a blank line, as go/build requires.
func render(f *jen.File, buildTag string, opts Options) ([]byte, error) {
	f.HeaderComment(fmt.Sprintf("Code generated by %q; DO NOT EDIT.", opts.Invocation))
	var buf bytes.Buffer
	if buildTag != "" {
		fmt.Fprintf(&buf, "//go:build %s\n\n", buildTag)
	}
	if err := f.Render(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Paths lists the files of a Generate result in a stable order.
func Paths(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// variantTag is the build tag that selects v for the public API.
func variantTag(v *Variant) string { return "loop_" + v.Name }

// emitSelect writes the file that makes v the implementation behind the
// public API when its tag is given, or, for the default, when no variant tag is.
func emitSelect(s *Spec, v *Variant) (*jen.File, string) {
	tag := variantTag(v)
	if v.Default {
		var others []string
		for i := range s.Variants {
			if o := &s.Variants[i]; o != v {
				others = append(others, variantTag(o))
			}
		}
		if len(others) == 0 {
			tag = "" // the only variant: always selected
		} else {
			tag = fmt.Sprintf("%s || !(%s)", tag, strings.Join(others, " || "))
		}
	}
	f := jen.NewFilePathName(Module+"/generated", "generated")
	impl := Module + "/generated/" + v.Name
	f.ImportName(impl, v.Name)
	if v.Default {
		f.Comment(fmt.Sprintf("Loop is the %s variant, selected by the %s build tag or by no variant tag: %s.", v.Name, variantTag(v), describe(v)))
	} else {
		f.Comment(fmt.Sprintf("Loop is the %s variant, selected by the %s build tag: %s.", v.Name, variantTag(v), describe(v)))
	}
	f.Type().Id("Loop").Op("=").Qual(impl, "Loop")
	f.Line()
	f.Comment("Params are the spec values of the selected variant.")
	f.Var().Id("Params").Op("=").Qual(impl, "Params")
	return f, tag
}

// emitConflict writes a file that only compiles when two variant tags are
// given at once, and fails with a message that says so.
func emitConflict(s *Spec) (*jen.File, string) {
	var pairs []string
	for i := range s.Variants {
		for j := i + 1; j < len(s.Variants); j++ {
			pairs = append(pairs, fmt.Sprintf("(%s && %s)", variantTag(&s.Variants[i]), variantTag(&s.Variants[j])))
		}
	}
	f := jen.NewFilePathName(Module+"/generated", "generated")
	f.Comment("More than one loop_<variant> build tag was given. If the line below fails to compile,")
	f.Comment("pass exactly one variant tag (or none, for the default).")
	f.Var().Id("_").Op("=").Id("MoreThanOneLoopVariantTagGiven_ChooseOne")
	return f, strings.Join(pairs, " || ")
}

// emitAll writes the registry of every variant, so tests and benchmarks can
// run one suite against all of them in one binary.
func emitAll(s *Spec) *jen.File {
	f := jen.NewFilePathName(Module+"/generated/all", "all")
	f.PackageComment("Package all lists every generated loop variant, so that tests and")
	f.PackageComment("benchmarks can drive each of them in one binary.")
	f.Comment("Variant is one generated loop variant.")
	f.Type().Id("Variant").Struct(
		jen.Id("Name").String().Comment("package name and build tag suffix"),
		jen.Id("Default").Bool().Comment("selected when no loop_<name> tag is given"),
		jen.Id("Params").Qual(pkgCore, "Params").Comment("the spec's values for it"),
		jen.Id("New").Func().Params(jen.Qual(pkgCore, "Config")).Params(jen.Qual(pkgCore, "Loop"), jen.Error()).Comment("makes a loop of this variant"),
	)
	f.Line()
	entry := func(name string, def bool) jen.Dict {
		impl := Module + "/generated/" + name
		f.ImportName(impl, name)
		return jen.Dict{
			jen.Id("Name"):    jen.Lit(name),
			jen.Id("Default"): jen.Lit(def),
			jen.Id("Params"):  jen.Qual(impl, "Params"),
			// Names with a capital: variant (and so imported package) names cannot have
			// one, so none is shadowed, whatever the variants are called.
			jen.Id("New"): jen.Func().Params(jen.Id("C").Qual(pkgCore, "Config")).Params(jen.Qual(pkgCore, "Loop"), jen.Error()).Block(
				jen.List(jen.Id("L"), jen.Id("Err")).Op(":=").Qual(impl, "New").Call(jen.Id("C")),
				jen.If(jen.Id("Err").Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("Err"))),
				jen.Return(jen.Id("L"), jen.Nil()),
			),
		}
	}
	f.Comment("Variants are the variants of spec/loop.yaml, in file order.")
	var items []jen.Code
	for i := range s.Variants {
		v := &s.Variants[i]
		items = append(items, jen.Values(entry(v.Name, v.Default)))
	}
	f.Var().Id("Variants").Op("=").Index().Id("Variant").Values(jen.List(items...))
	f.Line()
	f.Comment("Generic is the generic build (package generated/generic): the default variant's")
	f.Comment("code with the spec's numbers as runtime values and the poller behind an interface,")
	f.Comment("the baseline that shows what specialization buys. It runs with the default")
	f.Comment("variant's values (under the name generic). It is not in Variants: a suite opts in.")
	f.Var().Id("Generic").Op("=").Id("Variant").Values(entry(genericName, false))
	return f
}

// describe spells v's parameters on one line, for the doc comments of its
// package, its Loop and its select file. It is core.Params.String, what the
// variant's Variant().String() reports at run time, less the name that
// begins it: one summary, with every value. The docs had one of their own
// that left out overflow, recover and stats, so go doc did not show that
// Post can fail under overflow: reject.
func describe(v *Variant) string {
	p := variantParams(v)
	return strings.TrimPrefix(p.String(), p.Name+": ")
}

// variantParams is v as the core.Params that its generated specParams
// returns.
func variantParams(v *Variant) core.Params {
	return core.Params{
		Name:       v.Name,
		QueueDepth: v.QueueDepth,
		Overflow:   string(v.Overflow),
		Batch:      v.Batch,
		Inbox:      string(v.Inbox.Kind),
		InboxDepth: v.Inbox.Depth,
		Gather:     v.Inbox.Gather,
		Tick:       v.Wheel.Tick,
		Slots:      v.Wheel.Slots,
		Levels:     v.Wheel.Levels,
		Poller:     string(v.Poller),
		Spin:       v.Spin,
		Recover:    v.Recover,
		Stats:      v.Stats,
	}
}
