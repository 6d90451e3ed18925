package gen

// What only the generic build has: its params_gen.go (emitGenericParams: the
// params struct in place of a variant's constants, Params, newParams,
// newBackend and validate). Its other files come from the emitters every
// variant uses, with variantEmitter.generic set (see variantEmitter).

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
)

// genericName is the package, and the Params.Name, of the generic build.
const genericName = "generic"

// genericParams are the spec's numbers as the generic build holds them: the
// fields of its params struct, with the types that most of their uses need
// (num converts at the others), and how each is derived from core.Params p.
// They are the constants emitParams writes for a variant, in the same order.
var genericParams = []struct {
	name  string
	typ   func() *jen.Statement
	value *jen.Statement
	doc   string
}{
	{"queueDepth", jen.Int, jen.Id("p").Dot("QueueDepth"), "initial ready-queue capacity (rounded up to whole 4095-callback segments)"},
	{"batchSize", jen.Int, jen.Id("p").Dot("Batch"), "ready callbacks run per iteration"},
	{"inboxDepth", jen.Int, jen.Id("p").Dot("InboxDepth"), ""},
	{"inboxMask", jen.Uint64, jen.Uint64().Call(jen.Id("p").Dot("InboxDepth")).Op("-").Lit(1), ""},
	{"tickNanos", jen.Int64, jen.Int64().Call(jen.Id("p").Dot("Tick")), "wheel granularity"},
	{"wheelSlots", jen.Int, jen.Id("p").Dot("Slots"), ""},
	{"wheelBits", jen.Int, jen.Qual("math/bits", "TrailingZeros").Call(jen.Uint().Call(jen.Id("p").Dot("Slots"))), "log2(wheelSlots)"},
	{"wheelMask", jen.Uint64, jen.Uint64().Call(jen.Id("p").Dot("Slots")).Op("-").Lit(1), ""},
	{"wheelLevels", jen.Int, jen.Id("p").Dot("Levels"), ""},
	{"wheelWords", jen.Uint64, jen.Uint64().Call(jen.Id("p").Dot("Slots").Op("+").Lit(63)).Op("/").Lit(64), "uint64 words in one level's occupancy bitmap"},
	{"spinNanos", jen.Int64, jen.Int64().Call(jen.Id("p").Dot("Spin")), "busy-wait before blocking"},
	{"gatherNanos", jen.Int64, jen.Int64().Call(jen.Id("p").Dot("Gather")), "longest wait for a batch of posts while they stream in (0: off)"},
}

// genericPollers are the backends the generic build chooses from at Init, by
// the name Params.Poller gives.
var genericPollers = []struct {
	kind PollerKind
	typ  string
}{
	{PollerAuto, "Auto"}, {PollerEpoll, "Epoll"}, {PollerPoll, "Poll"}, {PollerKqueue, "Kqueue"}, {PollerNone, "None"},
}

// emitGenericParams writes the generic build's params_gen.go: in place of a
// variant's constants, the params struct, Params (the default variant's
// values), and what turns a core.Params into a running configuration:
// validate, newParams and newBackend.
func (e *variantEmitter) emitGenericParams(f *jen.File) {
	v, from := e.v, e.from
	f.PackageComment(fmt.Sprintf("Package %s is the generic build of the loop, generated from spec/loop.yaml by the same", genericName))
	f.PackageComment(fmt.Sprintf("emitter as every variant, with the code and switches of the default variant, %s, and", from.Name))
	f.PackageComment("two differences: the spec's numbers are runtime values (NewWithParams takes any")
	f.PackageComment("valid ones, without regenerating), and the poller is a poller.Backend interface")
	f.PackageComment("chosen at Init. Benchmarks hold every specialized variant against it to show what")
	f.PackageComment("specialization buys.")
	f.PackageComment("")
	f.PackageComment("The switches are compiled in as the default variant has them:")
	f.PackageComment(describeSwitches(from) + ".")
	f.PackageComment("A generic build with a runtime branch for every switch is out of scope: it would")
	f.PackageComment("measure branches that no variant pays, not what constants buy. NewWithParams")
	f.PackageComment("refuses parameters whose switches differ.")
	f.PackageComment("")
	f.PackageComment("It is not among the variants of package generated/all (all.Generic names it) and")
	f.PackageComment("has no build tag: import it directly. Its Loop has the same methods as loop.Loop.")

	f.Comment("If this line fails to compile, generated/ was made by a loopgen older or newer")
	f.Comment("than handwritten/core expects: run `go generate ./...`.")
	f.Const().Id("_").Op("=").Qual(pkgCore, "GeneratedAPIVersion2")
	f.Line()

	f.Comment(fmt.Sprintf("Params are the default variant's (%s) spec values under the name %q: what New", from.Name, genericName))
	f.Comment("runs with, and a start for NewWithParams (change the numbers and the poller).")
	f.Var().Id("Params").Op("=").Qual(pkgCore, "Params").Values(jen.Dict{
		jen.Id("Name"):       jen.Lit(genericName),
		jen.Id("QueueDepth"): jen.Lit(v.QueueDepth),
		jen.Id("Overflow"):   jen.Lit(string(v.Overflow)),
		jen.Id("Batch"):      jen.Lit(v.Batch),
		jen.Id("Inbox"):      jen.Lit(string(v.Inbox.Kind)),
		jen.Id("InboxDepth"): jen.Lit(v.Inbox.Depth),
		jen.Id("Gather"):     jen.Lit(int(v.Inbox.Gather.Nanoseconds())),
		jen.Id("Tick"):       jen.Lit(int(v.Wheel.Tick.Nanoseconds())),
		jen.Id("Slots"):      jen.Lit(v.Wheel.Slots),
		jen.Id("Levels"):     jen.Lit(v.Wheel.Levels),
		jen.Id("Poller"):     jen.Lit(string(v.Poller)),
		jen.Id("Spin"):       jen.Lit(int(v.Spin.Nanoseconds())),
		jen.Id("Recover"):    jen.Lit(v.Recover),
		jen.Id("Stats"):      jen.Lit(v.Stats),
	})

	var fields, values []jen.Code
	for _, g := range genericParams {
		field := jen.Id(g.name).Add(g.typ())
		if g.doc != "" {
			field.Comment(g.doc)
		}
		fields = append(fields, field)
		values = append(values, jen.Line().Id(g.name).Op(":").Add(g.value.Clone()))
	}
	f.Comment("params are the numbers a variant has as constants (same names), as runtime")
	f.Comment("values. The Loop and each of its parts (ready queue, inbox, wheel) hold a copy,")
	f.Comment("so each method reads them through its own receiver, one load, no pointer chase.")
	f.Type().Id("params").Struct(fields...)
	f.Comment("newParams derives the runtime values from p, which validate accepted.")
	f.Func().Id("newParams").Params(jen.Id("p").Qual(pkgCore, "Params")).Id("params").Block(
		jen.Return(jen.Id("params").Values(append(values, jen.Line())...)),
	)

	var cases []jen.Code
	for _, b := range genericPollers {
		if b.kind == PollerAuto {
			continue
		}
		cases = append(cases, jen.Case(jen.Lit(string(b.kind))).Block(jen.Return(jen.New(jen.Qual(pkgPoller, b.typ)))))
	}
	f.Comment("newBackend returns a new, unopened backend of the kind name gives (validate")
	f.Comment("accepted it): auto is the platform's best, as for a variant.")
	f.Func().Id("newBackend").Params(jen.Id("name").String()).Qual(pkgPoller, "Backend").Block(
		jen.Switch(jen.Id("name")).Block(cases...),
		jen.Return(jen.New(jen.Qual(pkgPoller, "Auto"))),
	)

	e.emitValidate(f)
}

// describeSwitches spells the switches of v, which the generic build keeps.
func describeSwitches(v *Variant) string {
	idle := "block"
	if v.Spin > 0 {
		idle = "spin"
	}
	gather := "off"
	if v.Inbox.Gather > 0 {
		gather = "on"
	}
	return fmt.Sprintf("overflow %s, inbox %s, gather %s, idle %s, recover %t, stats %t", v.Overflow, v.Inbox.Kind, gather, idle, v.Recover, v.Stats)
}

// emitValidate writes validate, which applies the spec's rules for one
// variant (the limits in spec.go) to a core.Params, and checks its switches
// against the compiled ones.
func (e *variantEmitter) emitValidate(f *jen.File) {
	from := e.from
	p := func(field string) *jen.Statement { return jen.Id("p").Dot(field) }
	errf := func(format string, args ...jen.Code) *jen.Statement {
		return jen.Id("errs").Op("=").Append(jen.Id("errs"), jen.Qual("fmt", "Errorf").Call(append([]jen.Code{jen.Lit(genericName + ": " + format)}, args...)...))
	}
	intRow := func(key, field string, lo, hi int, pow2 bool) jen.Code {
		return jen.Line().Values(jen.Lit(key), p(field), jen.Lit(lo), jen.Lit(hi), jen.Lit(pow2))
	}

	body := []jen.Code{
		jen.Var().Id("errs").Index().Error(),
		jen.For(jen.List(jen.Id("_"), jen.Id("c")).Op(":=").Range().Index().Struct(
			jen.Id("field").String(),
			jen.List(jen.Id("x"), jen.Id("lo"), jen.Id("hi")).Int(),
			jen.Id("pow2").Bool(),
		).Values(
			intRow("queue_depth", "QueueDepth", specMinDepth, specMaxDepth, true),
			intRow("batch", "Batch", specMinBatch, specMaxBatch, false),
			intRow("inbox.depth", "InboxDepth", specMinDepth, specMaxDepth, true),
			intRow("wheel.slots", "Slots", specMinSlots, specMaxSlots, true),
			intRow("wheel.levels", "Levels", specMinLevels, specMaxLevels, false),
			jen.Line(),
		)).Block(
			jen.Switch().Block(
				jen.Case(jen.Id("c").Dot("pow2").Op("&&").Parens(
					jen.Id("c").Dot("x").Op("<").Id("c").Dot("lo").Op("||").Id("c").Dot("x").Op(">").Id("c").Dot("hi").
						Op("||").Id("c").Dot("x").Op("&").Parens(jen.Id("c").Dot("x").Op("-").Lit(1)).Op("!=").Lit(0))).Block(
					errf("%s: must be a power of two in [%d, %d] (got %d)", jen.Id("c").Dot("field"), jen.Id("c").Dot("lo"), jen.Id("c").Dot("hi"), jen.Id("c").Dot("x")),
				),
				jen.Case(jen.Id("c").Dot("x").Op("<").Id("c").Dot("lo").Op("||").Id("c").Dot("x").Op(">").Id("c").Dot("hi")).Block(
					errf("%s: must be in [%d, %d] (got %d)", jen.Id("c").Dot("field"), jen.Id("c").Dot("lo"), jen.Id("c").Dot("hi"), jen.Id("c").Dot("x")),
				),
			),
		),
		jen.If(p("Tick").Op("<").Lit(int(specMinTick)).Op("||").Add(p("Tick")).Op(">").Lit(int(specMaxTick))).Block(
			errf(fmt.Sprintf("wheel.tick: must be between %v and %v (got %%v)", specMinTick, specMaxTick), p("Tick")),
		),
		jen.Comment("The rule across the wheel's parameters, once each is valid alone."),
		jen.If(jen.Len(jen.Id("errs")).Op("==").Lit(0)).Block(
			jen.List(jen.Id("h"), jen.Id("fits")).Op(":=").List(jen.Uint64().Call(p("Tick")),
				p("Levels").Op("*").Qual("math/bits", "TrailingZeros").Call(jen.Uint().Call(p("Slots"))).Op("<=").Lit(specMaxWheelBits)),
			jen.For(jen.Range().Add(p("Levels"))).Block(
				jen.List(jen.Id("hi"), jen.Id("lo")).Op(":=").Qual("math/bits", "Mul64").Call(jen.Id("h"), jen.Uint64().Call(p("Slots"))),
				jen.Id("fits").Op("=").Id("fits").Op("&&").Id("hi").Op("==").Lit(0).Op("&&").Id("lo").Op("<=").Qual("math", "MaxInt64"),
				jen.Id("h").Op("=").Id("lo"),
			),
			jen.If(jen.Op("!").Id("fits")).Block(
				jen.Id("errs").Op("=").Append(jen.Id("errs"), jen.Qual("errors", "New").Call(jen.Lit(genericName+": wheel: horizon tick×slots^levels overflows int64 nanoseconds (use fewer levels or slots)"))),
			),
		),
	}

	var names []jen.Code
	var spelled []string
	for _, b := range genericPollers {
		names = append(names, jen.Lit(string(b.kind)))
		spelled = append(spelled, string(b.kind))
	}
	body = append(body,
		jen.Switch(p("Poller")).Block(
			jen.Case(names...),
			jen.Default().Block(errf("poller: %q is not one of "+strings.Join(spelled, ", "), p("Poller"))),
		),
	)

	compiled := fmt.Sprintf("compiled in from the default variant %s", from.Name)
	body = append(body, jen.Comment("The switches are compiled in: p must have the default variant's."))
	if from.Spin > 0 {
		body = append(body, jen.If(p("Spin").Op("<=").Lit(0).Op("||").Add(p("Spin")).Op(">").Lit(int(specMaxSpin))).Block(
			errf(fmt.Sprintf("idle: spin is %s, so Spin must be greater than 0 and at most %v (got %%v)", compiled, specMaxSpin), p("Spin")),
		))
	} else {
		body = append(body, jen.If(p("Spin").Op("!=").Lit(0)).Block(
			errf(fmt.Sprintf("idle: block is %s, so Spin must be 0 (got %%v)", compiled), p("Spin")),
		))
	}
	if from.Inbox.Gather > 0 {
		body = append(body, jen.If(p("Gather").Op("<=").Lit(0).Op("||").Add(p("Gather")).Op(">").Lit(int(specMaxGather))).Block(
			errf(fmt.Sprintf("inbox.gather: gathering is %s, so Gather must be greater than 0 and at most %v (got %%v)", compiled, specMaxGather), p("Gather")),
		))
	} else {
		body = append(body, jen.If(p("Gather").Op("!=").Lit(0)).Block(
			errf(fmt.Sprintf("inbox.gather: 0 (off) is %s, so Gather must be 0 (got %%v)", compiled), p("Gather")),
		))
	}
	row := func(key string, got jen.Code, want string) jen.Code {
		return jen.Line().Values(jen.Lit(key), got, jen.Lit(want))
	}
	body = append(body,
		jen.For(jen.List(jen.Id("_"), jen.Id("s")).Op(":=").Range().Index().Struct(
			jen.List(jen.Id("field"), jen.Id("got"), jen.Id("want")).String(),
		).Values(
			row("overflow", p("Overflow"), string(from.Overflow)),
			row("inbox.kind", p("Inbox"), string(from.Inbox.Kind)),
			row("recover", jen.Qual("strconv", "FormatBool").Call(p("Recover")), fmt.Sprint(from.Recover)),
			row("stats", jen.Qual("strconv", "FormatBool").Call(p("Stats")), fmt.Sprint(from.Stats)),
			jen.Line(),
		)).Block(
			jen.If(jen.Id("s").Dot("got").Op("!=").Id("s").Dot("want")).Block(
				errf("%s: %s is "+compiled+" (got %q)", jen.Id("s").Dot("field"), jen.Id("s").Dot("want"), jen.Id("s").Dot("got")),
			),
		),
		jen.Return(jen.Qual("errors", "Join").Call(jen.Id("errs").Op("..."))),
	)

	f.Comment("validate checks p as loopgen checks a variant of a spec (the same limits), and")
	f.Comment("its switches against the ones compiled in; the error lists every problem, one")
	f.Comment("per line, as \"generic: field: what is wrong\". Name is not checked.")
	f.Func().Id("validate").Params(jen.Id("p").Qual(pkgCore, "Params")).Error().Block(body...)
}
