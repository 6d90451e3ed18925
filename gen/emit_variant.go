package gen

// The variant's loop: params_gen.go (emitParams: the spec's numbers as
// constants, and Params) and loop_gen.go (emitLoop, which lists the file's
// parts in order; one turn of the loop is emitIterate). Also the
// variantEmitter and the helpers every emit_*.go uses: num, numAs, sized and
// paramsField, through which one emitter writes both a variant and the
// generic build, and recoverGuard, count and countBefore, which emit nothing
// when the spec turns their switch off.

import (
	"fmt"
	"math/bits"

	"github.com/dave/jennifer/jen"
)

// variantEmitter writes the package of one variant. The spec's numbers become
// constants (see emitParams), so the compiler folds masks, shifts and batch
// bounds into the hot paths; switches that are off (recover, stats, spin, the
// poller) emit no code at all.
//
// With generic set, the same emitter functions write generated/generic, the
// build that the benchmarks hold every variant against: v is then a copy of
// the default variant named "generic", and the output differs from that
// variant's in two ways only. The spec's numbers are runtime values, read
// from a params struct that the Loop and each of its parts (ready queue,
// inbox, wheel) hold a copy of, so each method reads them through its own
// receiver (r.p.queueDepth, w.p.wheelMask) where a variant names a constant
// (see num); arrays sized by them become slices made at Init. And the poller
// is a poller.Backend interface value, chosen at Init by name. The switches
// (recover, stats, spin, overflow, inbox kind) stay compiled in from the
// default variant: a build with a runtime branch for every switch is out of
// scope, and would measure branches no variant pays rather than the numbers.
type variantEmitter struct {
	v       *Variant
	path    string
	generic bool
	from    *Variant // generic: the default variant whose code and switches it has
}

func (e *variantEmitter) file() *jen.File {
	f := jen.NewFilePathName(e.path, e.v.Name)
	f.ImportName(pkgCore, "core")
	f.ImportName(pkgClock, "clock")
	f.ImportName(pkgPoller, "poller")
	f.ImportName(pkgRelease, "release")
	return f
}

// hasPoller reports whether the Loop has fd readiness. The generic build
// always has it: its backend is a runtime choice, none included.
func (e *variantEmitter) hasPoller() bool { return e.generic || e.v.Poller != PollerNone }

// pollerType is the concrete backend the Loop embeds: no interface call on
// the hot path. The generic build holds a poller.Backend instead.
func (e *variantEmitter) pollerType() jen.Code {
	if e.generic {
		return jen.Qual(pkgPoller, "Backend")
	}
	name := map[PollerKind]string{
		PollerAuto: "Auto", PollerEpoll: "Epoll", PollerPoll: "Poll", PollerKqueue: "Kqueue", PollerNone: "None",
	}[e.v.Poller]
	return jen.Qual(pkgPoller, name)
}

// Every emitted method names its receiver after its type, the same name
// throughout: l *Loop, r *readyQueue, q *inbox, w *wheel (and t *ioTable,
// local to emitIO). loopMethod, readyMethod, inboxMethod and wheelMethod
// begin the declaration of a method of Loop, readyQueue, inbox or wheel, and
// lf, rf, qf and wf select a field or method of l, r, q and w.
func loopMethod() *jen.Statement  { return jen.Func().Params(jen.Id("l").Op("*").Id("Loop")) }
func readyMethod() *jen.Statement { return jen.Func().Params(jen.Id("r").Op("*").Id("readyQueue")) }
func inboxMethod() *jen.Statement { return jen.Func().Params(jen.Id("q").Op("*").Id("inbox")) }
func wheelMethod() *jen.Statement { return jen.Func().Params(jen.Id("w").Op("*").Id("wheel")) }

func lf(name string) *jen.Statement { return jen.Id("l").Dot(name) }
func rf(name string) *jen.Statement { return jen.Id("r").Dot(name) }
func qf(name string) *jen.Statement { return jen.Id("q").Dot(name) }
func wf(name string) *jen.Statement { return jen.Id("w").Dot(name) }

// num is the spec value name (queueDepth, wheelMask, ...) as a method of recv
// reads it: the constant itself in a variant; in the generic build, the field
// of the params copy that recv holds (recv.p.name), of the type genericParams
// gives it.
func (e *variantEmitter) num(recv, name string) *jen.Statement {
	if !e.generic {
		return jen.Id(name)
	}
	return jen.Id(recv).Dot("p").Dot(name)
}

// numAs is num where the use needs type typ, not the field's own: the generic
// build converts (free between integer types of one size; int to int32
// truncates values that fit); a variant's untyped constant needs nothing.
func (e *variantEmitter) numAs(typ *jen.Statement, recv, name string) *jen.Statement {
	if !e.generic {
		return jen.Id(name)
	}
	return typ.Call(e.num(recv, name))
}

// sized is the type prefix of a field sized by spec values: [size] in a
// variant, [] in the generic build (made at Init).
func (e *variantEmitter) sized(size jen.Code) *jen.Statement {
	if e.generic {
		return jen.Index()
	}
	return jen.Index(size)
}

// paramsField is the params copy that a part of the generic Loop reads its
// numbers from; nothing in a variant.
func (e *variantEmitter) paramsField() jen.Code {
	if !e.generic {
		return jen.Null()
	}
	return jen.Id("p").Id("params").Comment("the spec's numbers, at run time (generic build)")
}

// recoverGuard is the per-batch panic recovery, when the spec keeps it.
func (e *variantEmitter) recoverGuard() jen.Code {
	if !e.v.Recover {
		return jen.Null()
	}
	return jen.Defer().Id("l").Dot("recoverPanic").Call()
}

// count increments a stats counter, when the spec keeps them.
func (e *variantEmitter) count(field string) jen.Code {
	if !e.v.Stats {
		return jen.Null()
	}
	return lf("stats").Dot(field).Op("++")
}

// countBefore is count for a callback about to run: counted before the call,
// so that one that panics counts as run.
func (e *variantEmitter) countBefore(field string) jen.Code {
	if !e.v.Stats {
		return jen.Null()
	}
	return jen.Comment("Counted before the call, so that one that panics counts as run.").Line().Add(e.count(field))
}

// dropIO forgets every fd registration at teardown, so no reader or writer
// closure stays reachable from a closed loop.
func (e *variantEmitter) dropIO() jen.Code {
	if !e.hasPoller() {
		return jen.Null()
	}
	return lf("io").Op("=").Id("ioTable").Values()
}

// emitParams writes params_gen.go: the package doc, the spec's numbers as
// constants (the names num reads; genericParams lists the same names, in the
// same order, for the generic build), the guard against a handwritten/core
// of another generation, and Params.
func (e *variantEmitter) emitParams(f *jen.File) {
	if e.generic {
		e.emitGenericParams(f)
		return
	}
	v := e.v
	f.PackageComment(fmt.Sprintf("Package %s is the %q loop variant, generated from spec/loop.yaml:", v.Name, v.Name))
	f.PackageComment(describe(v) + ".")
	f.PackageComment("")
	f.PackageComment(fmt.Sprintf("Build with -tags %s to make it the implementation behind package loop, or", variantTag(v)))
	f.PackageComment("import it directly (its Loop has the same methods as loop.Loop).")
	f.Comment("The spec's values as constants, so that masks, shifts and bounds fold into the hot paths.")
	f.Const().Defs(
		jen.Id("queueDepth").Op("=").Lit(v.QueueDepth).Comment("initial ready-queue capacity (rounded up to whole 4095-callback segments)"),
		jen.Id("batchSize").Op("=").Lit(v.Batch).Comment("ready callbacks run per iteration"),
		jen.Id("inboxDepth").Op("=").Lit(v.Inbox.Depth),
		jen.Id("inboxMask").Op("=").Id("inboxDepth").Op("-").Lit(1),
		jen.Id("tickNanos").Op("=").Lit(int(v.Wheel.Tick.Nanoseconds())).Comment("wheel granularity: "+v.Wheel.Tick.String()),
		jen.Id("wheelSlots").Op("=").Lit(v.Wheel.Slots),
		jen.Id("wheelBits").Op("=").Lit(bits.TrailingZeros(uint(v.Wheel.Slots))).Comment("log2(wheelSlots)"),
		jen.Id("wheelMask").Op("=").Id("wheelSlots").Op("-").Lit(1),
		jen.Id("wheelLevels").Op("=").Lit(v.Wheel.Levels),
		jen.Id("wheelWords").Op("=").Parens(jen.Id("wheelSlots").Op("+").Lit(63)).Op("/").Lit(64).Comment("uint64 words in one level's occupancy bitmap"),
		jen.Id("spinNanos").Op("=").Lit(int(v.Spin.Nanoseconds())).Comment("busy-wait before blocking"),
		jen.Id("gatherNanos").Op("=").Lit(int(v.Inbox.Gather.Nanoseconds())).Comment("longest wait for a batch of posts while they stream in (0: off)"),
	)
	f.Line()
	f.Comment("If this line fails to compile, generated/ was made by a loopgen older or newer")
	f.Comment("than handwritten/core expects: run `go generate ./...`.")
	f.Const().Id("_").Op("=").Qual(pkgCore, "GeneratedAPIVersion2")
	f.Line()
	f.Comment("Params are the spec values this variant was generated from: a copy, so that")
	f.Comment("changing it changes neither the loop nor what Variant reports.")
	f.Var().Id("Params").Op("=").Id("specParams").Call()
	f.Line()
	f.Comment("specParams returns the spec values this variant was generated from.")
	f.Func().Id("specParams").Params().Qual(pkgCore, "Params").Block(jen.Return(jen.Qual(pkgCore, "Params").Values(jen.Dict{
		jen.Id("Name"):       jen.Lit(v.Name),
		jen.Id("QueueDepth"): jen.Id("queueDepth"),
		jen.Id("Overflow"):   jen.Lit(string(v.Overflow)),
		jen.Id("Batch"):      jen.Id("batchSize"),
		jen.Id("Inbox"):      jen.Lit(string(v.Inbox.Kind)),
		jen.Id("InboxDepth"): jen.Id("inboxDepth"),
		jen.Id("Gather"):     jen.Id("gatherNanos"),
		jen.Id("Tick"):       jen.Id("tickNanos"),
		jen.Id("Slots"):      jen.Id("wheelSlots"),
		jen.Id("Levels"):     jen.Id("wheelLevels"),
		jen.Id("Poller"):     jen.Lit(string(v.Poller)),
		jen.Id("Spin"):       jen.Id("spinNanos"),
		jen.Id("Recover"):    jen.Lit(v.Recover),
		jen.Id("Stats"):      jen.Lit(v.Stats),
	})))
}

// emitLoop writes loop_gen.go, in the order a reader of it meets the parts:
// the Loop type, its constructors, the clock and what a Loop reports, the
// scheduling API (CallSoon, Post, CallLater, ...), Run and its kin, and last
// iterate, one turn of the loop, with the steps it takes.
func (e *variantEmitter) emitLoop(f *jen.File) {
	e.emitLoopType(f)
	e.emitConstructors(f)
	e.emitClockAndQueries(f)
	e.emitScheduling(f)
	e.emitRunControl(f)
	e.emitIterate(f)
}

// emitLoopType writes the Loop struct: the fields the loop goroutine owns,
// those stateMu guards (Run and RunOnce against Close), and those shared with
// other goroutines, which begin a cache line of their own. A switch's fields
// (gather, spin, stats, the fd table) are there only when it is on.
func (e *variantEmitter) emitLoopType(f *jen.File) {
	v := e.v
	fields := []jen.Code{
		// Loop is larger than a page, so the compiler guards a far field's access
		// with a load of offset 0 (a nil check). Posters do that in Post and wake;
		// were now at offset 0, each post would pull a line the loop writes on
		// every iteration (measured: 11% of the posts workload's time in wake).
		jen.Comment("Offset 0, which nil checks load from both sides: a line nobody writes."),
		jen.Id("_").Index(jen.Lit(64)).Byte(),
		jen.Line(),
		jen.Comment("Owned by the loop goroutine."),
		e.paramsField(),
		jen.Id("now").Int64().Comment("loop time in ns since epoch: read at each iteration, after waiting, after I/O callbacks, after timers"),
		jen.Id("inLoop").Bool().Comment("Run or RunOnce is executing on this goroutine: now is fresh enough for deadlines"),
		jen.Id("nowFresh").Bool().Comment("now was read since the running callback started: deadlines may use it"),
		e.hostWaitedField(),
		jen.Id("yieldedAt").Int64().Comment("loop time of the last yield before a wait (see yield)"),
		jen.Id("drained").Int().Comment("posts the last iteration took from the inbox: they stream in while it is above 0"),
		jen.Id("ready").Id("readyQueue"),
		jen.Id("timers").Id("wheel"),
	}
	if v.Inbox.Gather > 0 {
		fields = append(fields,
			jen.Id("gatherOK").Bool().Comment("GOMAXPROCS was above 1 when asked: producers can post while the loop waits"),
			jen.Id("gatherKnown").Bool().Comment("gatherOK was set in this Run or RunOnce"),
		)
	}
	if e.hasPoller() {
		fields = append(fields, jen.Id("io").Id("ioTable"))
		if e.v.Spin > 0 {
			fields = append(fields, jen.Id("peeked").Index().Qual(pkgPoller, "Event").Comment("readiness the spin saw: the iteration dispatches it instead of waiting again"))
		}
	}
	fields = append(fields,
		jen.Id("poller").Add(e.pollerType()),
		jen.Id("pollErr").Error().Comment("a failed poller wait, for Run or RunOnce to return"),
		jen.Id("epoch").Qual("time", "Time").Comment("loop time 0"),
		jen.Id("vclock").Op("*").Qual(pkgClock, "Virtual").Comment("nil: the monotonic clock"),
		jen.Id("vbase").Int64().Comment("vclock's elapsed time at loop time 0"),
		jen.Id("unsubscribe").Func().Params(),
		jen.Id("atClose").Index().Func().Params().Comment("AtClose's functions, run by teardown (guarded by stateMu until then)"),
		jen.Id("onPanic").Func().Params(jen.Any()),
	)
	if v.Stats {
		fields = append(fields, jen.Id("stats").Qual(pkgCore, "Stats"))
	}
	if e.generic {
		fields = append(fields, jen.Id("variant").Qual(pkgCore, "Params").Comment("what Variant reports: the Params in use, named "+genericName))
	}
	fields = append(fields,
		jen.Line(),
		jen.Comment("Run/RunOnce against Close. Guarded by stateMu."),
		jen.Id("stateMu").Qual("sync", "Mutex"),
		jen.Id("running").Bool(),
		jen.Id("closed").Bool(),
		jen.Id("tornDown").Bool(),
		jen.Line(),
		jen.Comment("Shared with other goroutines. sleeping is set just before the loop blocks;"),
		jen.Comment("a poster that sees it wakes the loop once per sleep, deduplicated by wakePending."),
		jen.Id("_").Index(jen.Lit(64)).Byte(),
		jen.Id("stopReq").Qual("sync/atomic", "Bool"),
		jen.Id("sleeping").Qual("sync/atomic", "Bool"),
		jen.Id("wakePending").Qual("sync/atomic", "Bool"),
		jen.Id("closing").Qual("sync/atomic", "Bool").Comment("Close has begun: AddReader and AddWriter fail"),
		jen.Id("clockMoved").Qual("sync/atomic", "Bool").Comment("the virtual clock moved since the loop last read it"),
		jen.Id("made").Bool().Comment("Init succeeded: false on a zero Loop, whose Post and Run fail (written only by Init, before the loop is shared; beside sleeping, which Post reads anyway)"),
		jen.Id("inbox").Id("inbox"),
	)
	if e.generic {
		f.Comment(fmt.Sprintf("Loop is the generic build's event loop: the %s variant's code, with the spec's", e.from.Name))
		f.Comment("numbers read at run time and the poller behind an interface.")
	} else {
		f.Comment(fmt.Sprintf("Loop is the %s variant's event loop: %s.", v.Name, describe(v)))
	}
	f.Comment("Create it with New (or Init on a zero Loop). Its methods have the semantics")
	f.Comment("documented on package loop; methods not marked safe for any goroutine belong")
	f.Comment("to the loop goroutine (or, before Run, to the goroutine that will call it).")
	f.Type().Id("Loop").Struct(fields...)
}

// emitConstructors writes New and Init; in the generic build, also
// NewWithParams and InitWithParams, which New and Init call with Params.
func (e *variantEmitter) emitConstructors(f *jen.File) {
	v := e.v
	cfgParam := jen.Id("cfg").Qual(pkgCore, "Config")
	newName, initName, initParams := "New", "Init", []jen.Code{cfgParam}
	var initArgs []jen.Code
	var initBody []jen.Code
	if e.generic {
		pParam := jen.Id("p").Qual(pkgCore, "Params")
		newName, initName, initParams = "NewWithParams", "InitWithParams", []jen.Code{pParam, cfgParam}
		initArgs = []jen.Code{jen.Id("p")}
		f.Comment("New returns an initialized Loop that runs with Params, the default variant's values.")
		f.Func().Id("New").Params(cfgParam).Params(jen.Op("*").Id("Loop"), jen.Error()).Block(
			jen.Return(jen.Id("NewWithParams").Call(jen.Id("Params"), jen.Id("cfg"))),
		)
		f.Comment("Init prepares a zero Loop to run with Params; it must be called once, before any")
		f.Comment("other method.")
		f.Add(loopMethod()).Id("Init").Params(cfgParam).Error().Block(
			jen.Return(lf("InitWithParams").Call(jen.Id("Params"), jen.Id("cfg"))),
		)
		f.Comment("NewWithParams returns an initialized Loop that runs with p: any numbers the spec")
		f.Comment("allows, and any poller, without regenerating. Start from Params. It fails, listing")
		f.Comment("every problem, when p breaks a rule of the spec or asks for a switch (overflow,")
		f.Comment("inbox, idle, recover, stats) other than the compiled-in one. Name is ignored:")
		f.Comment(fmt.Sprintf("Variant reports %q.", genericName))
		initBody = []jen.Code{
			jen.If(jen.Err().Op(":=").Id("validate").Call(jen.Id("p")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
			lf("variant").Op("=").Id("p"),
			lf("variant").Dot("Name").Op("=").Lit(genericName),
			lf("p").Op("=").Id("newParams").Call(jen.Id("p")),
			lf("ready").Dot("p").Op(",").Add(lf("inbox")).Dot("p").Op(",").Add(lf("timers")).Dot("p").Op("=").Add(lf("p")).Op(",").Add(lf("p")).Op(",").Add(lf("p")),
			lf("poller").Op("=").Id("newBackend").Call(jen.Id("p").Dot("Poller")),
		}
	} else {
		f.Comment("New returns an initialized Loop.")
	}
	f.Func().Id(newName).Params(initParams...).Params(jen.Op("*").Id("Loop"), jen.Error()).Block(
		jen.Id("l").Op(":=").New(jen.Id("Loop")),
		jen.If(jen.Err().Op(":=").Id("l").Dot(initName).Call(append(initArgs, jen.Id("cfg"))...), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Err()),
		),
		jen.Return(jen.Id("l"), jen.Nil()),
	)

	if e.generic {
		f.Comment("InitWithParams prepares a zero Loop to run with p (see NewWithParams); it must be")
		f.Comment("called once, before any other method.")
	} else {
		f.Comment("Init prepares a zero Loop; it must be called once, before any other method.")
	}
	initBody = append(initBody,
		lf("ready").Dot("init").Call(),
		lf("inbox").Dot("init").Call(),
		lf("timers").Dot("init").Call(),
		jen.If(jen.Err().Op(":=").Add(lf("poller")).Dot("Open").Call(), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(v.Name+": %w"), jen.Err())),
		),
		lf("onPanic").Op("=").Id("cfg").Dot("PanicHandler"),
		jen.If(lf("onPanic").Op("==").Nil()).Block(lf("onPanic").Op("=").Qual(pkgCore, "ReportPanic")),
		jen.If(jen.Id("c").Op(":=").Id("cfg").Dot("Clock"), jen.Id("c").Op("!=").Nil()).Block(
			lf("vclock").Op("=").Id("c"),
			jen.Comment("One reading for both: an Advance between two would put the loop's"),
			jen.Comment("time ahead of the clock for good, and its CallAt timers early."),
			jen.Id("e").Op(":=").Id("c").Dot("Elapsed").Call(),
			lf("vbase").Op("=").Int64().Call(jen.Id("e")),
			lf("epoch").Op("=").Id("c").Dot("Start").Call().Dot("Add").Call(jen.Id("e")),
			jen.Comment("A clock advance wakes a blocked loop, which then reads the new time; a"),
			jen.Comment("loop about to block sees the flag (as it sees a post) and goes round instead."),
			lf("unsubscribe").Op("=").Id("c").Dot("Subscribe").Call(jen.Func().Params().Block(
				lf("clockMoved").Dot("Store").Call(jen.True()),
				lf("wake").Call(),
			)),
		).Else().Block(
			lf("epoch").Op("=").Qual("time", "Now").Call(),
		),
		lf("made").Op("=").True(),
		jen.Return(jen.Nil()),
	)
	f.Add(loopMethod()).Id(initName).Params(initParams...).Error().Block(initBody...)
}

// emitClockAndQueries writes the loop's clock (monotime, Now) and what a Loop
// reports about itself: Variant, Stats, Pending and Closed.
func (e *variantEmitter) emitClockAndQueries(f *jen.File) {
	v := e.v
	f.Comment("monotime returns the loop time from the clock: ns since epoch.")
	f.Add(loopMethod()).Id("monotime").Params().Int64().Block(
		jen.If(lf("vclock").Op("!=").Nil()).Block(
			jen.Return(jen.Int64().Call(lf("vclock").Dot("Elapsed").Call()).Op("-").Add(lf("vbase"))),
		),
		jen.Return(jen.Int64().Call(jen.Qual("time", "Since").Call(lf("epoch")))),
	)

	f.Comment("Now returns the loop's clock reading (the virtual clock's, when one is configured).")
	f.Add(loopMethod()).Id("Now").Params().Qual("time", "Time").Block(
		jen.Return(lf("epoch").Dot("Add").Call(jen.Qual("time", "Duration").Call(lf("monotime").Call()))),
	)

	if e.generic {
		f.Comment(fmt.Sprintf("Variant returns the parameters this loop runs with, named %q.", genericName))
		f.Add(loopMethod()).Id("Variant").Params().Qual(pkgCore, "Params").Block(jen.Return(lf("variant")))
	} else {
		f.Comment("Variant returns the spec values this loop was generated from.")
		f.Add(loopMethod()).Id("Variant").Params().Qual(pkgCore, "Params").Block(jen.Return(jen.Id("specParams").Call()))
	}

	statsBody := jen.Return(jen.Qual(pkgCore, "Stats").Values())
	if v.Stats {
		statsBody = jen.Return(lf("stats"))
	}
	if v.Stats {
		f.Comment("Stats returns the counters this variant keeps (it was generated with stats: true).")
	} else {
		f.Comment("Stats returns zeros: this variant was generated with stats: false.")
	}
	f.Comment("Call it from the loop goroutine, or after Run has returned.")
	f.Add(loopMethod()).Id("Stats").Params().Qual(pkgCore, "Stats").Block(statsBody)

	f.Comment("Pending counts the callbacks queued or posted and the timers scheduled, and not")
	f.Comment("yet run (loop goroutine).")
	f.Add(loopMethod()).Id("Pending").Params().Int().Block(
		jen.Return(lf("ready").Dot("len").Call().Op("+").Add(lf("inbox")).Dot("len").Call().Op("+").Add(lf("timers")).Dot("pending").Call()),
	)

	f.Comment("NextWake returns how long the loop has nothing to do, for a host that embeds it")
	f.Comment("with RunOnce(false) and waits on its own: 0 when a callback is queued or posted or")
	f.Comment("a timer is due; the time until the wheel's next timer work otherwise (on the")
	f.Comment("virtual clock, under one); false when no timer is scheduled, so that only I/O or a")
	f.Comment("post can give it work. Loop goroutine only.")
	f.Add(loopMethod()).Id("NextWake").Params().Params(jen.Qual("time", "Duration"), jen.Bool()).Block(
		jen.Comment("The due list holds timers a panic cut off from their iteration's firing."),
		jen.If(lf("ready").Dot("len").Call().Op(">").Lit(0).Op("||").Add(lf("inbox")).Dot("nonEmpty").Call().Op("||").Add(lf("timers")).Dot("hasDue").Call()).Block(
			jen.Return(jen.Lit(0), jen.True()),
		),
		jen.If(lf("timers").Dot("count").Op("==").Lit(0)).Block(jen.Return(jen.Lit(0), jen.False())),
		jen.Id("next").Op(":=").Add(lf("timers")).Dot("next").Call(),
		jen.If(jen.Id("next").Op("==").Qual("math", "MaxUint64")).Block(
			jen.Return(jen.Lit(0), jen.True()).Comment("due timers alone"),
		),
		jen.Id("d").Op(":=").Int64().Call(jen.Id("next")).Op("*").Add(e.num("l", "tickNanos")).Op("-").Add(lf("monotime")).Call(),
		jen.Return(jen.Qual("time", "Duration").Call(jen.Max(jen.Id("d"), jen.Lit(0))), jen.True()),
	)

	e.emitHostWait(f)

	f.Comment("Closed reports whether Close has been called: from then on Post, Run, RunOnce,")
	f.Comment("AddReader and AddWriter fail with ErrClosed, also while the callbacks queued")
	f.Comment("before Close still run. Any goroutine.")
	f.Add(loopMethod()).Id("Closed").Params().Bool().Block(
		jen.Return(lf("closing").Dot("Load").Call()),
	)

	f.Comment("Waiting reports whether the loop goroutine is blocked waiting for work, or has")
	f.Comment("announced that it is about to be (its host too, with PrepareWait, until RunOnce):")
	f.Comment("no callback runs then, so a goroutine that sees true is not the loop goroutine,")
	f.Comment("but for such a host. Any goroutine.")
	f.Add(loopMethod()).Id("Waiting").Params().Bool().Block(
		jen.Return(lf("sleeping").Dot("Load").Call()),
	)
}

// emitScheduling writes the API that queues work: CallSoon, Post (and wake),
// CallLater, CallAt, CallEvery and Cancel, with deadline and freshNow, which
// turn a delay into loop time. CallLater and Cancel have the wheel's code
// written out in them (scheduleBody, cancelBody), one call less apiece.
func (e *variantEmitter) emitScheduling(f *jen.File) {
	nilCheck := func(method string) jen.Code {
		return jen.If(jen.Id("fn").Op("==").Nil()).Block(jen.Panic(jen.Lit("loop: " + method + " with a nil func")))
	}
	fnParam := jen.Id("fn").Func().Params()

	f.Comment("CallSoon queues fn to run on a later iteration, after callbacks queued before it.")
	f.Add(loopMethod()).Id("CallSoon").Params(fnParam.Clone()).Block(
		nilCheck("CallSoon"),
		lf("ready").Dot("push").Call(jen.Id("fn")),
	)

	f.Comment("Post queues fn from any goroutine and wakes the loop if it is blocked.")
	f.Add(loopMethod()).Id("Post").Params(fnParam.Clone()).Error().Block(
		jen.If(jen.Id("fn").Op("==").Nil()).Block(jen.Return(jen.Qual("errors", "New").Call(jen.Lit("loop: Post with a nil func")))),
		jen.Comment("A zero Loop's inbox would take fn, and nothing would ever run it."),
		jen.If(jen.Op("!").Add(lf("made"))).Block(jen.Return(jen.Id("errNotMade"))),
		jen.If(jen.Err().Op(":=").Add(lf("inbox")).Dot("push").Call(jen.Id("fn")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		lf("wake").Call(),
		jen.Return(jen.Nil()),
	)

	f.Comment("errNotMade is what Post, Run and RunOnce return on a zero Loop: it has no poller,")
	f.Comment("queues or clock, and its other methods may panic.")
	f.Var().Id("errNotMade").Op("=").Qual("errors", "New").Call(jen.Lit("loop: Loop not made by New (the zero Loop is not usable)"))

	f.Comment("wake breaks the loop out of a blocking wait: one syscall per sleep, whoever calls.")
	f.Add(loopMethod()).Id("wake").Params().Block(
		jen.If(lf("sleeping").Dot("Load").Call().Op("&&").Add(lf("wakePending")).Dot("CompareAndSwap").Call(jen.False(), jen.True())).Block(
			jen.Comment("After Close this returns ErrClosed: the poller gates its wake-up fd."),
			jen.Id("_").Op("=").Add(lf("poller")).Dot("Wake").Call(),
		),
	)

	f.Comment("deadline turns a delay into loop time, measured from a clock reading taken")
	f.Comment("after every callback that ran before this one: the first deadline a callback")
	f.Comment("sets reads the clock, and the callback's later ones reuse that reading. A")
	f.Comment("time read once per batch made a timer scheduled after a slow callback fire")
	f.Comment("early by that callback's time (uvloop #29); a read per call costs more than")
	f.Comment("the rest of CallLater. Outside the loop, before Run, the clock is read each")
	f.Comment("time, so setup time cannot make timers early.")
	f.Add(loopMethod()).Id("deadline").Params(jen.Id("d").Qual("time", "Duration")).Int64().Block(
		jen.Id("now").Op(":=").Add(lf("now")),
		jen.If(jen.Op("!").Add(lf("nowFresh"))).Block(jen.Id("now").Op("=").Add(lf("freshNow")).Call()),
		jen.Comment("At most endOfTime, so that deadline arithmetic never overflows."),
		jen.Return(jen.Id("now").Op("+").Min(jen.Int64().Call(jen.Id("d")), jen.Id("endOfTime").Op("-").Id("now"))),
	)

	f.Comment("freshNow reads the clock for a deadline; inside the loop the reading becomes now.")
	f.Comment("Kept out of line, so that deadline, whose common path is one load, is inlined.")
	f.Comment("//go:noinline")
	f.Add(loopMethod()).Id("freshNow").Params().Int64().Block(
		jen.Id("now").Op(":=").Add(lf("monotime")).Call(),
		jen.If(lf("inLoop")).Block(lf("now").Op(",").Add(lf("nowFresh")).Op("=").Id("now").Op(",").True()),
		jen.Return(jen.Id("now")),
	)

	f.Comment("CallLater runs fn once, no earlier than d from now; d <= 0 behaves as CallSoon")
	f.Comment("and returns the zero Timer. A deadline past the end of loop time is due then.")
	f.Add(loopMethod()).Id("CallLater").Params(jen.Id("d").Qual("time", "Duration"), fnParam.Clone()).Qual(pkgCore, "Timer").Block(
		nilCheck("CallLater"),
		jen.If(jen.Id("d").Op("<=").Lit(0)).Block(
			lf("ready").Dot("push").Call(jen.Id("fn")),
			jen.Return(jen.Qual(pkgCore, "Timer").Values()),
		),
		jen.Comment("The wheel's schedule, written out: one call less on the hot path of every deadline."),
		jen.List(jen.Id("w"), jen.Id("when"), jen.Id("period")).Op(":=").List(jen.Op("&").Add(lf("timers")), lf("deadline").Call(jen.Id("d")), jen.Int64().Call(jen.Lit(0))),
		jen.Block(e.scheduleBody()...),
	)

	f.Comment("CallAt runs fn once, no earlier than t (read against the loop's clock); a t")
	f.Comment("already past, or the loop's present itself, behaves as CallSoon and returns")
	f.Comment("the zero Timer, as CallLater with no delay does.")
	f.Add(loopMethod()).Id("CallAt").Params(jen.Id("t").Qual("time", "Time"), fnParam.Clone()).Qual(pkgCore, "Timer").Block(
		nilCheck("CallAt"),
		jen.Comment("Measured from the epoch directly (monotonic readings when t has one), so a"),
		jen.Comment("loop time cached during a long batch cannot make the timer early; and judged"),
		jen.Comment("past against a fresh reading: the iteration's, or the one deadlines reuse"),
		jen.Comment("within a callback, may be older than a t that is already past."),
		jen.Id("when").Op(":=").Int64().Call(jen.Id("t").Dot("Sub").Call(lf("epoch"))),
		jen.If(jen.Id("when").Op("<=").Add(lf("monotime")).Call()).Block(
			lf("ready").Dot("push").Call(jen.Id("fn")),
			jen.Return(jen.Qual(pkgCore, "Timer").Values()),
		),
		jen.Return(lf("timers").Dot("schedule").Call(jen.Min(jen.Id("when"), jen.Id("endOfTime")), jen.Lit(0), jen.Id("fn"))),
	)

	f.Comment("CallEvery runs fn every d, first d from now, on a fixed schedule: a late run")
	f.Comment("does not shift the ones after it, and periods missed entirely are skipped.")
	f.Comment("Cancel stops it. d <= 0 panics.")
	f.Add(loopMethod()).Id("CallEvery").Params(jen.Id("d").Qual("time", "Duration"), fnParam.Clone()).Qual(pkgCore, "Timer").Block(
		nilCheck("CallEvery"),
		jen.If(jen.Id("d").Op("<=").Lit(0)).Block(jen.Panic(jen.Lit("loop: CallEvery with a non-positive period"))),
		jen.Return(lf("timers").Dot("schedule").Call(lf("deadline").Call(jen.Id("d")), jen.Int64().Call(jen.Id("d")), jen.Id("fn"))),
	)

	f.Comment("Cancel stops t from firing and reports whether it did: false for a timer that")
	f.Comment("already fired or was cancelled, for the zero Timer, for stale handles, and (but")
	f.Comment("with odds of 2^-31) for another loop's handles. O(1).")
	f.Add(loopMethod()).Id("Cancel").Params(jen.Id("t").Qual(pkgCore, "Timer")).Bool().Block(
		jen.Comment("Cancelling is written out here, not in a wheel method: a Cancel is one call, not three."),
		jen.List(jen.Id("w"), jen.Id("h")).Op(":=").List(jen.Op("&").Add(lf("timers")), jen.Id("t")),
		jen.Block(e.cancelBody()...),
	)

	f.Comment("Reschedule moves the pending timer t to fire d from now (d <= 0: now, so in the")
	f.Comment("first iteration that processes this tick), keeping its handle, callback and")
	f.Comment("period, and reports whether it did: false, doing nothing, where Cancel would. O(1).")
	f.Add(loopMethod()).Id("Reschedule").Params(jen.Id("t").Qual(pkgCore, "Timer"), jen.Id("d").Qual("time", "Duration")).Bool().Block(
		jen.List(jen.Id("w"), jen.Id("h")).Op(":=").List(jen.Op("&").Add(lf("timers")), jen.Id("t")),
		jen.Block(e.rescheduleBody(lf("deadline").Call(jen.Max(jen.Id("d"), jen.Lit(0))))...),
	)
}

// emitRunControl writes what starts and ends the loop: Run, RunOnce and Stop,
// enter and leave (which keep Run and RunOnce from overlapping each other or
// Close), AtClose and Close, teardown and release, which Close or the Run it
// stops calls once the loop is closed, and recoverPanic (recover: true).
func (e *variantEmitter) emitRunControl(f *jen.File) {

	f.Comment("Run runs the loop until Stop or Close. It returns ErrRunning if the loop is")
	f.Comment("already running and ErrClosed once it is closed; it may be called again after")
	f.Comment("it returns, and what is still queued then runs.")
	f.Add(loopMethod()).Id("Run").Params().Error().Block(
		jen.If(jen.Err().Op(":=").Add(lf("enter")).Call(), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.Defer().Add(lf("leave")).Call(),
		jen.For().Block(
			lf("iterate").Call(jen.True()),
			jen.Comment("Load first: a Swap writes the cache line that every Post reads."),
			jen.If(lf("stopReq").Dot("Load").Call().Op("&&").Add(lf("stopReq")).Dot("Swap").Call(jen.False())).Block(jen.Return(lf("takePollErr").Call())),
		),
	)

	f.Comment("takePollErr returns and clears the error of a failed poller wait, if any.")
	f.Add(loopMethod()).Id("takePollErr").Params().Error().Block(
		jen.Id("err").Op(":=").Add(lf("pollErr")),
		lf("pollErr").Op("=").Nil(),
		jen.Return(jen.Id("err")),
	)

	f.Comment("RunOnce runs one iteration: posted callbacks, I/O, timers and one batch of")
	f.Comment("ready callbacks. With block, it first waits for something to do, and returns")
	f.Comment("only once it has run something or a Stop (or Close) ended the wait: an")
	f.Comment("iteration that ran nothing (a timer beyond the first wheel level moved down a")
	f.Comment("level, or a wake-up left over from an earlier iteration) waits again. A Stop")
	f.Comment("made before or during RunOnce is consumed by it.")
	f.Add(loopMethod()).Id("RunOnce").Params(jen.Id("block").Bool()).Error().Block(
		jen.If(jen.Err().Op(":=").Add(lf("enter")).Call(), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.Defer().Add(lf("leave")).Call(),
		jen.For().Op("!").Add(lf("iterate")).Call(jen.Id("block")).Op("&&").Id("block").Op("&&").Op("!").Add(lf("stopReq")).Dot("Load").Call().Block(),
		jen.If(lf("stopReq").Dot("Load").Call()).Block(lf("stopReq").Dot("Store").Call(jen.False())),
		jen.Return(lf("takePollErr").Call()),
	)

	f.Comment("Stop makes Run return after the current iteration. Safe from any goroutine.")
	f.Comment("Called while the loop is not running, it makes the next Run return after one iteration.")
	f.Add(loopMethod()).Id("Stop").Params().Block(
		lf("stopReq").Dot("Store").Call(jen.True()),
		lf("wake").Call(),
	)

	f.Add(loopMethod()).Id("enter").Params().Error().Block(
		lf("stateMu").Dot("Lock").Call(),
		jen.Defer().Add(lf("stateMu")).Dot("Unlock").Call(),
		jen.Switch().Block(
			jen.Case(jen.Op("!").Add(lf("made"))).Block(jen.Return(jen.Id("errNotMade"))),
			jen.Case(lf("closed")).Block(jen.Return(jen.Qual(pkgCore, "ErrClosed"))),
			jen.Case(lf("running")).Block(jen.Return(jen.Qual(pkgCore, "ErrRunning"))),
		),
		lf("running").Op("=").True(),
		lf("inLoop").Op("=").True(),
		lf("yieldedAt").Op("=").Add(lf("now")).Op("-").Id("yieldEvery").Comment("the first wait yields (see yield); now only grows"),
		e.resetGatherKnown(),
		jen.Return(jen.Nil()),
	)

	f.Add(loopMethod()).Id("leave").Params().Block(
		lf("inLoop").Op("=").False(),
		lf("nowFresh").Op("=").False(),
		lf("stateMu").Dot("Lock").Call(),
		lf("running").Op("=").False(),
		jen.Id("last").Op(":=").Add(lf("closed")).Op("&&").Op("!").Add(lf("tornDown")),
		lf("tornDown").Op("=").Add(lf("tornDown")).Op("||").Id("last"),
		lf("stateMu").Dot("Unlock").Call(),
		jen.If(jen.Id("last")).Block(lf("teardown").Call()),
	)

	f.Comment("AtClose registers fn to run when the loop closes, as a callback, after those")
	f.Comment("queued or posted before Close; what fn queues runs too (within Close's rounds).")
	f.Comment("Packages that open things on the loop use it to release them. Loop goroutine only")
	f.Comment("(or before Run). On a loop already torn down, fn runs at once.")
	f.Add(loopMethod()).Id("AtClose").Params(jen.Id("fn").Func().Params()).Block(
		jen.If(jen.Id("fn").Op("==").Nil()).Block(jen.Panic(jen.Lit("loop: AtClose with a nil func"))),
		lf("stateMu").Dot("Lock").Call(),
		jen.Id("done").Op(":=").Add(lf("tornDown")),
		jen.If(jen.Op("!").Id("done")).Block(lf("atClose").Op("=").Append(lf("atClose"), jen.Id("fn"))),
		lf("stateMu").Dot("Unlock").Call(),
		jen.If(jen.Id("done")).Block(jen.Id("fn").Call()),
	)

	f.Comment("Close closes the loop: Post fails with ErrClosed from now on; callbacks already")
	f.Comment("posted or queued run once more (callbacks they queue, for up to 16 rounds);")
	f.Comment("pending timers are dropped; the functions given to AtClose run; the poller and")
	f.Comment("its descriptors are released (the fds registered with AddReader/AddWriter")
	f.Comment("belong to the caller and stay open).")
	f.Comment("Safe from a callback, and from any goroutine while Run is active: Close makes")
	f.Comment("Run return, and Run releases the loop before returning. On a loop that is not")
	f.Comment("running, the calling goroutine does that work and acts as the loop goroutine.")
	f.Comment("Closing twice is a no-op.")
	f.Add(loopMethod()).Id("Close").Params().Error().Block(
		lf("stateMu").Dot("Lock").Call(),
		jen.If(lf("closed")).Block(lf("stateMu").Dot("Unlock").Call(), jen.Return(jen.Nil())),
		lf("closed").Op("=").True(),
		// The inbox refuses posts before Closed turns true: a goroutine that
		// saw Closed() and then posted got nil (the post ran in the teardown,
		// but Closed promises ErrClosed from then on).
		lf("inbox").Dot("close").Call(),
		lf("closing").Dot("Store").Call(jen.True()),
		jen.If(lf("running")).Block(
			lf("stateMu").Dot("Unlock").Call(),
			lf("Stop").Call(),
			jen.Return(jen.Nil()),
		),
		lf("tornDown").Op("=").True(),
		lf("stateMu").Dot("Unlock").Call(),
		lf("teardown").Call(),
		jen.Return(jen.Nil()),
	)

	f.Comment("teardown runs what was posted or queued before Close, then releases everything.")
	f.Add(loopMethod()).Id("teardown").Params().Block(
		lf("inLoop").Op("=").True(),
		jen.Comment("Deferred: a panic that unwinds through here (a panic handler that panics"),
		jen.Comment("itself, or a callback's panic where panics are not recovered) still releases"),
		jen.Comment("the descriptors and the clock; the callbacks not yet run are dropped."),
		jen.Defer().Add(lf("release")).Call(),
		jen.For(jen.Id("round").Op(":=").Lit(0), jen.Id("round").Op("<").Lit(16), jen.Id("round").Op("++")).Block(
			lf("inbox").Dot("drainClosed").Call(jen.Op("&").Add(lf("ready"))),
			jen.If(jen.Id("round").Op("==").Lit(0)).Block(
				jen.For(jen.List(jen.Id("_"), jen.Id("fn")).Op(":=").Range().Add(lf("atClose"))).Block(lf("ready").Dot("push").Call(jen.Id("fn"))),
				lf("atClose").Op("=").Nil(),
			),
			jen.Id("n").Op(":=").Add(lf("ready")).Dot("len").Call(),
			jen.If(jen.Id("n").Op("==").Lit(0)).Block(jen.Break()),
			lf("now").Op("=").Add(lf("monotime")).Call(),
			jen.Comment("A panic ends runReady early; the rest of the round still runs: a round is"),
			jen.Comment("what was queued when it began, however many of those panic."),
			jen.For(jen.Id("n").Op(">").Lit(0)).Block(jen.Id("n").Op("-=").Add(lf("runReady")).Call(jen.Id("n"))),
		),
	)
	f.Comment("release drops what is queued, and what is queued after it, and releases the poller")
	f.Comment("and the clock. The poller's close error is dropped: release often runs at the end of")
	f.Comment("Run, long after Close returned, and a close(2) that fails has freed the descriptor")
	f.Comment("all the same (Linux, and POSIX leaves it unspecified), so nobody could act on it.")
	f.Add(loopMethod()).Id("release").Params().Block(
		lf("inLoop").Op("=").False(),
		lf("nowFresh").Op("=").False(),
		lf("ready").Dot("discard").Call(),
		lf("timers").Dot("discard").Call(),
		e.dropIO(),
		jen.Id("_").Op("=").Add(lf("poller")).Dot("Close").Call(),
		jen.If(lf("unsubscribe").Op("!=").Nil()).Block(lf("unsubscribe").Call()),
	)

	if e.v.Recover {
		f.Comment("recoverPanic hands a callback's panic to the panic handler; the batch it")
		f.Comment("interrupted resumes on the next iteration.")
		f.Add(loopMethod()).Id("recoverPanic").Params().Block(
			jen.If(jen.Id("r").Op(":=").Recover(), jen.Id("r").Op("!=").Nil()).Block(lf("onPanic").Call(jen.Id("r"))),
		)
	}
}

// resetGatherKnown is where Run and RunOnce (in enter) forget whether gather
// may wait, so that mayGather asks GOMAXPROCS again, once, when posts first
// stream in: asking in every Run (it takes the scheduler's lock) cost a
// Run+Stop 17 ns.
func (e *variantEmitter) resetGatherKnown() jen.Code {
	if e.v.Inbox.Gather == 0 {
		return jen.Null()
	}
	return lf("gatherKnown").Op("=").False().Comment("mayGather asks again")
}

// emitAwaitPublish writes awaitPublish and its constants (mpsc inbox only).
func (e *variantEmitter) emitAwaitPublish(f *jen.File) {
	f.Comment("publishYields is how many times the loop, or Close, yields for a post claimed")
	f.Comment("and not yet published before it waits instead (Close sleeps). The loop's first wait is")
	f.Comment("publishWaitNanos, and each next one twice as long, up to maxPublishWaitNanos.")
	f.Const().Defs(
		jen.Id("publishYields").Op("=").Lit(16),
		jen.Id("publishWaitNanos").Op("=").Lit(50000),
		jen.Id("maxPublishWaitNanos").Op("=").Lit(1000000),
	)
	var dispatch jen.Code = jen.Null()
	if e.hasPoller() {
		dispatch = jen.If(jen.Len(jen.Id("events")).Op(">").Lit(0)).Block(
			lf("now").Op("=").Add(lf("monotime")).Call(),
			lf("dispatch").Call(jen.Id("events")),
		)
	}
	wait := jen.Id("events").Op(":=").Add(lf("wait")).Call(jen.Id("wait"))
	if !e.hasPoller() {
		wait = lf("wait").Call(jen.Id("wait"))
	}
	f.Comment("awaitPublish returns once no post is claimed and unpublished (loop goroutine,")
	f.Comment("awake). Such a post's producer is between its two steps. A few yields let one")
	f.Comment("preempted on this P finish. One whose thread is not running at all (descheduled")
	f.Comment("by the kernel, or stopped for a stack scan) publishes only when it runs again, and")
	f.Comment("yielding meanwhile only keeps this CPU busy, where the kernel could run that")
	f.Comment("thread: with two Ps on one CPU, spins reached 7.9 ms. So the loop then waits in")
	f.Comment("the poller, announced as a sleep, so that the producer's wake-up after its publish")
	f.Comment("ends the wait. The timeout covers a producer that read the flag too early: the")
	f.Comment("first is publishWaitNanos, and each next one twice as long up to")
	f.Comment("maxPublishWaitNanos, so that a long stall costs few wake-ups (with poller none the")
	f.Comment("wait is a runtime timer, which makes any of them about a millisecond). Readiness")
	f.Comment("that the wait returns is dispatched at once.")
	f.Add(loopMethod()).Id("awaitPublish").Params().Block(
		jen.Id("wait").Op(":=").Int64().Call(jen.Id("publishWaitNanos")),
		jen.For(jen.Id("yields").Op(":=").Lit(0), lf("inbox").Dot("unpublished").Call(), jen.Id("yields").Op("++")).Block(
			jen.If(jen.Id("yields").Op("<").Id("publishYields")).Block(
				jen.Qual("runtime", "Gosched").Call(),
				jen.Continue(),
			),
			lf("sleeping").Dot("Store").Call(jen.True()),
			jen.If(jen.Op("!").Add(lf("inbox")).Dot("unpublished").Call()).Block(
				jen.Comment("Published meanwhile; a wake-up on its way is drained by the next Wait."),
				lf("sleeping").Dot("Store").Call(jen.False()),
				jen.Return(),
			),
			wait,
			jen.Id("wait").Op("=").Min(jen.Lit(2).Op("*").Id("wait"), jen.Id("maxPublishWaitNanos")),
			dispatch,
		),
	)
}

// emitIterate writes iterate, one turn of the loop, and the methods it calls,
// in this order: awaitPublish (mpsc inbox only), iterate, yield, wait and
// timeout, spin (idle: spin only), mayGather and gather (inbox.gather only),
// runReady and runTimers. iterate's body reads as the turn itself: take posts
// (streamingCheck), decide whether and how long to wait (blockDecision), wait
// and dispatch I/O (waitAndDispatch), move the wheel and fire due timers, and
// run one batch of ready callbacks.
func (e *variantEmitter) emitIterate(f *jen.File) {
	if e.v.Inbox.Kind == InboxMPSC {
		e.emitAwaitPublish(f)
	}

	f.Comment("iterate is one turn of the loop: take posted callbacks; wait for I/O, the next")
	f.Comment("timer or a post (only when block and there is nothing to run); run ready I/O")
	f.Comment("callbacks, due timers, and at most batchSize ready callbacks, namely those")
	f.Comment("queued before the batch began, so I/O and timers are never starved. It reports")
	f.Comment("whether it ran anything: I/O callbacks, timers or ready callbacks.")
	f.Add(loopMethod()).Id("iterate").Params(jen.Id("block").Bool()).Params(jen.Id("ran").Bool()).Block(
		e.count("Iterations"),
		jen.Comment("Cleared before the clock is read: an advance after this read sets it again."),
		jen.If(lf("clockMoved").Dot("Load").Call()).Block(lf("clockMoved").Dot("Store").Call(jen.False())),
		lf("now").Op("=").Add(lf("monotime")).Call(),
		jen.Comment("At most a batch of posted callbacks leaves the ring per iteration (the spill,"),
		jen.Comment("taken only when the ring is empty, comes whole), as at most a batch runs:"),
		jen.Comment("producers that outrun the loop meet a full ring and slow down."),
		jen.Id("budget").Op(":=").Add(e.num("l", "batchSize")).Op("-").Add(lf("inbox")).Dot("drain").Call(jen.Op("&").Add(lf("ready")), e.num("l", "batchSize")),
		e.streamingCheck(),
		jen.Id("timeout").Op(":=").Int64().Call(jen.Lit(0)),
		jen.If(jen.Id("block").Op("&&").Add(lf("ready")).Dot("len").Call().Op("==").Lit(0).
			Op("&&").Op("!").Add(lf("timers")).Dot("hasDue").Call().
			Op("&&").Op("!").Add(lf("stopReq")).Dot("Load").Call()).Block(e.blockDecision()...),
		jen.If(e.waitCondition()).Block(e.waitAndDispatch()...),
		lf("timers").Dot("advance").Call(jen.Uint64().Call(lf("now")).Op("/").Add(e.numAs(jen.Uint64(), "l", "tickNanos"))),
		jen.If(lf("timers").Dot("hasDue").Call()).Block(
			lf("runTimers").Call(),
			lf("now").Op("=").Add(lf("monotime")).Call(),
			jen.Id("ran").Op("=").True(),
		),
		jen.If(jen.Id("n").Op(":=").Min(lf("ready").Dot("len").Call(), e.num("l", "batchSize")), jen.Id("n").Op(">").Lit(0)).Block(
			lf("runReady").Call(jen.Id("n")),
			jen.Id("ran").Op("=").True(),
		),
		jen.Return(jen.Id("ran")),
	)

	e.emitYield(f)
	e.emitWait(f)
	e.emitSpin(f)
	e.emitGather(f)
	e.emitBatchRunners(f)
}

// streamingCheck notes, after the first drain, whether posts stream in (the
// last iteration took some too): a loop about to wait then yields first (see
// yield), and a gathering variant may wait for the rest of a batch, only when
// it may block (RunOnce(false) promises not to wait).
func (e *variantEmitter) streamingCheck() jen.Code {
	streaming := jen.Add(
		jen.Comment("Posts stream in when the last iteration took some too; see gather and yield."), jen.Line(),
		jen.Id("took").Op(":=").Add(e.num("l", "batchSize")).Op("-").Id("budget"), jen.Line(),
		jen.Id("streaming").Op(":=").Add(lf("drained")).Op(">").Lit(0), jen.Line(),
		lf("drained").Op("=").Id("took"),
	)
	if e.v.Inbox.Gather == 0 {
		return streaming
	}
	return jen.Add(
		streaming, jen.Line(),
		jen.If(jen.Id("block").Op("&&").Id("streaming").Op("&&").Id("took").Op(">").Lit(0).Op("&&").Id("budget").Op(">").Lit(0).
			Op("&&").Add(lf("ready")).Dot("len").Call().Op("==").Id("took").Op("&&").Add(lf("mayGather")).Call()).Block(
			jen.Id("budget").Op("=").Add(lf("gather")).Call(jen.Id("budget")),
		),
	)
}

// blockDecision is the part of iterate that runs when it may block and has
// nothing to run: it sets timeout, how long the wait may last (yielding first
// when due, spinning first when idle says so), and guards against a lost
// wake-up: it announces the sleep, then looks at the inbox again. Where it
// decides not to wait after all, it drains what was posted meanwhile.
func (e *variantEmitter) blockDecision() []jen.Code {
	code := []jen.Code{
		jen.Id("timeout").Op("=").Add(lf("timeout")).Call(),
		jen.If(jen.Id("timeout").Op("!=").Lit(0).Op("&&").Parens(jen.Id("streaming").Op("||").Add(lf("now")).Op("-").Add(lf("yieldedAt")).Op(">=").Id("yieldEvery"))).Block(
			lf("yield").Call(),
			jen.Id("timeout").Op("=").Add(lf("timeout")).Call(),
		),
	}
	if e.v.Spin > 0 {
		code = append(code,
			jen.Comment("Not under a virtual clock: its time stands still while the loop spins, so"),
			jen.Comment("the spin would never end; posts and clock advances wake a blocked loop."),
			jen.If(jen.Id("timeout").Op("!=").Lit(0).Op("&&").Add(lf("vclock")).Op("==").Nil()).Block(jen.Id("timeout").Op("=").Add(lf("spin")).Call(jen.Id("timeout"))),
		)
	}
	stayAwake := []jen.Code{
		jen.Id("timeout").Op("=").Lit(0),
		jen.Comment("A wake-up may be on its way; the next Wait drains it."),
		lf("sleeping").Dot("Store").Call(jen.False()),
	}
	if e.v.Inbox.Kind == InboxMPSC {
		stayAwake = append(stayAwake,
			jen.Comment("A post claimed but not yet published is between its two steps, perhaps"),
			jen.Comment("preempted on this P: let it finish, so that the drain below takes it"),
			jen.Comment("(and a spill waiting behind it) in this iteration."),
			lf("awaitPublish").Call(),
		)
	}
	code = append(code,
		jen.If(jen.Id("timeout").Op("!=").Lit(0)).Block(
			jen.Comment("Announce the sleep, then look again: a Post that missed the flag"),
			jen.Comment("claimed its slot before this check, so nothing is lost."),
			lf("sleeping").Dot("Store").Call(jen.True()),
			jen.If(lf("inbox").Dot("claimed").Call().Op("||").Add(lf("stopReq")).Dot("Load").Call().Op("||").Add(lf("clockMoved")).Dot("Load").Call()).Block(stayAwake...),
		),
		jen.If(jen.Id("timeout").Op("==").Lit(0)).Block(
			jen.Comment("Not waiting after all, most often for a post that landed since the drain"),
			jen.Comment("above (during the yield, or seen by the spin or the look after the sleep"),
			jen.Comment("was announced): it runs in this iteration, not after another one that"),
			jen.Comment("runs nothing (RunOnce(true) would wait again). A loop with no fds would not"),
			jen.Comment("drain again."),
			jen.Id("n").Op(":=").Add(lf("inbox")).Dot("drain").Call(jen.Op("&").Add(lf("ready")), jen.Id("budget")),
			jen.Id("budget").Op("-=").Id("n"),
			lf("drained").Op("+=").Id("n"),
		),
	)
	return code
}

// waitCondition is when iterate waits: when it may block (timeout != 0), and
// with fds registered also when not, to collect readiness without blocking.
func (e *variantEmitter) waitCondition() jen.Code {
	waitCond := jen.Id("timeout").Op("!=").Lit(0)
	if e.hasPoller() {
		waitCond = waitCond.Op("||").Add(lf("poller")).Dot("Registered").Call().Op(">").Lit(0).Op("||").Add(lf("hostWaited"))
	}
	return waitCond
}

// waitAndDispatch is the part of iterate that waits (or, with timeout 0, only
// looks): with fds, it dispatches the readiness the wait returns, or what the
// spin peeked at; then it drains what was posted during the wait.
func (e *variantEmitter) waitAndDispatch() []jen.Code {
	var waitBody []jen.Code
	if e.hasPoller() {
		getEvents := []jen.Code{jen.Id("events").Op(":=").Add(lf("wait")).Call(jen.Id("timeout"))}
		if e.v.Spin > 0 {
			getEvents = []jen.Code{
				jen.Id("events").Op(":=").Add(lf("peeked")),
				jen.If(jen.Id("events").Op("!=").Nil()).Block(
					lf("peeked").Op("=").Nil(),
				).Else().Block(
					jen.Id("events").Op("=").Add(lf("wait")).Call(jen.Id("timeout")),
				),
			}
		}
		waitBody = append(getEvents,
			jen.Comment("The wait may have blocked: I/O callbacks schedule timers from a fresh time."),
			lf("now").Op("=").Add(lf("monotime")).Call(),
			jen.If(jen.Len(jen.Id("events")).Op(">").Lit(0)).Block(
				lf("dispatch").Call(jen.Id("events")),
				lf("now").Op("=").Add(lf("monotime")).Call(),
				jen.Id("ran").Op("=").True(),
			),
		)
	} else {
		waitBody = []jen.Code{
			lf("wait").Call(jen.Id("timeout")),
			lf("now").Op("=").Add(lf("monotime")).Call(),
		}
	}
	waitBody = append(waitBody,
		jen.Comment("Callbacks posted while we waited run in this iteration."),
		jen.Id("budget").Op("-=").Add(lf("inbox")).Dot("drain").Call(jen.Op("&").Add(lf("ready")), jen.Id("budget")),
	)
	return waitBody
}

// emitYield writes yield, with which a loop about to wait gives up its thread
// now and then, and yieldEvery, how often.
func (e *variantEmitter) emitYield(f *jen.File) {
	f.Comment("yieldEvery is how often, in loop time, a loop about to wait first yields its")
	f.Comment("thread with runtime.Gosched.")
	f.Const().Id("yieldEvery").Op("=").Int64().Call(jen.Lit(5).Op("*").Qual("time", "Millisecond"))
	f.Comment("yield lets the scheduler run the loop goroutine anew before the loop waits. The")
	f.Comment("runtime preempts a goroutine it has seen run for 10 ms without being rescheduled,")
	f.Comment("and counts the time a loop spends blocked in epoll_wait as running: a loop that")
	f.Comment("sleeps and wakes every millisecond was preempted every 10 ms, and each time the")
	f.Comment("runtime took its P away in the system call, started another thread, and set its")
	f.Comment("monitor polling again every 20 µs. Yielding every 5 ms avoids all of that: on a")
	f.Comment("2-core VM a wake-up for a 1 ms sleep cost 40 µs of CPU without it, 16-21 with it")
	f.Comment("(a raw system call that the runtime does not see: 14-17). Run and RunOnce also")
	f.Comment("yield before their first wait: a goroutine that a callback has just started then")
	f.Comment("runs on the loop's P at once, instead of after another thread has woken up for it")
	f.Comment("(1,000 posts from such a goroutine: 1.2-1.4x faster than a chan loop before, 1.5-1.7x")
	f.Comment("after, three runs each). And a loop whose last iteration took posts yields before")
	f.Comment("it waits: a producer it has just made runnable, or one that yielded on a full ring,")
	f.Comment("may be queued on the loop's P or the global queue, and while the loop sleeps in")
	f.Comment("the kernel holding that P with another P idle, the runtime leaves such a goroutine")
	f.Comment("waiting up to 10 ms. A post answered by the loop, 20,000 times from one goroutine:")
	f.Comment("27.7-44.1 µs a round trip before, 25.6-26.4 after (three runs each, on a 2-core VM).")
	f.Comment("(A loop with no fds and no timer pending now parks on a channel instead, which")
	f.Comment("gives up the P at once; see the poller's parker. The yields still serve a loop")
	f.Comment("that waits in the kernel.)")
	f.Add(loopMethod()).Id("yield").Params().Block(
		jen.Qual("runtime", "Gosched").Call(),
		lf("now").Op("=").Add(lf("monotime")).Call(),
		lf("yieldedAt").Op("=").Add(lf("now")),
	)
}

// emitWait writes wait, the one call into the poller's Wait, and timeout, how
// long iterate's wait may block.
func (e *variantEmitter) emitWait(f *jen.File) {
	f.Comment("wait asks the poller for readiness, blocking up to timeout ns (-1: no limit).")
	f.Comment("Every Wait drains a pending wake-up or ends early for it (a stray one costs at")
	f.Comment("most one early return), so both flags are cleared after each one: a wakePending")
	f.Comment("left set with its token gone would swallow the next wake-up.")
	f.Add(loopMethod()).Id("wait").Params(jen.Id("timeout").Int64()).Index().Qual(pkgPoller, "Event").Block(
		jen.List(jen.Id("events"), jen.Id("err")).Op(":=").Add(lf("poller")).Dot("Wait").Call(jen.Id("timeout")),
		lf("sleeping").Dot("Store").Call(jen.False()),
		lf("wakePending").Dot("Store").Call(jen.False()),
		e.clearHostWait(),
		e.count("Polls"),
		jen.If(jen.Err().Op("!=").Nil()).Block(
			jen.Comment("A wait that fails (its descriptors closed from outside, say) fails"),
			jen.Comment("again at once: Run and RunOnce return the error instead of spinning."),
			lf("pollErr").Op("=").Qual("fmt", "Errorf").Call(jen.Lit("loop: poller: %w"), jen.Err()),
			lf("stopReq").Dot("Store").Call(jen.True()),
		),
		jen.Return(jen.Id("events")),
	)

	f.Comment("timeout is how long the loop may block: -1 for no limit, 0 for not at all.")
	f.Comment("Under a virtual clock only due timers limit it, since its time moves only")
	f.Comment("when a test advances it (which wakes the loop).")
	f.Add(loopMethod()).Id("timeout").Params().Int64().Block(
		jen.If(lf("timers").Dot("count").Op("==").Lit(0)).Block(jen.Return(jen.Lit(-1))),
		jen.Id("next").Op(":=").Add(lf("timers")).Dot("next").Call(),
		jen.If(jen.Id("next").Op("==").Qual("math", "MaxUint64")).Block(
			jen.Return(jen.Lit(0)).Comment("due timers alone: nothing to wait for"),
		),
		jen.Id("d").Op(":=").Int64().Call(jen.Id("next")).Op("*").Add(e.num("l", "tickNanos")).Op("-").Add(lf("now")),
		jen.Switch().Block(
			jen.Case(jen.Id("d").Op("<=").Lit(0)).Block(jen.Return(jen.Lit(0))),
			jen.Case(lf("vclock").Op("!=").Nil()).Block(jen.Return(jen.Lit(-1))),
		),
		jen.Return(jen.Id("d")),
	)
}

// emitSpin writes spin, the busy-wait before blocking, for idle: spin:<d>.
func (e *variantEmitter) emitSpin(f *jen.File) {
	if e.v.Spin <= 0 {
		return
	}
	posted := lf("inbox").Dot("nonEmpty").Call()
	if e.v.Inbox.Kind == InboxMPSC {
		// A spill behind a slot claimed and not yet published is not ready: drain
		// takes neither until the publish, which iterate awaits (awaitPublish) once
		// the spin ends. Ending the spin for it made the loop go round without
		// waiting, an iteration that ran nothing.
		posted = jen.Parens(posted.Op("&&").Op("!").Add(lf("inbox")).Dot("unpublished").Call())
	}
	spinBody := []jen.Code{
		jen.If(posted.Op("||").Add(lf("stopReq")).Dot("Load").Call()).Block(jen.Return(jen.Lit(0))),
	}
	if e.hasPoller() {
		spinBody = append(spinBody,
			jen.Comment("Ready fds this peek sees are kept for the iteration to dispatch: waiting again"),
			jen.Comment("would only ask the kernel a second time."),
			jen.If(lf("poller").Dot("Registered").Call().Op(">").Lit(0)).Block(
				jen.If(jen.Id("events").Op(":=").Add(lf("wait")).Call(jen.Lit(0)), jen.Len(jen.Id("events")).Op(">").Lit(0)).Block(
					lf("peeked").Op("=").Id("events"),
					jen.Return(jen.Lit(0)),
				),
			),
		)
	}
	spinBody = append(spinBody,
		jen.Id("now").Op(":=").Add(lf("monotime")).Call(),
		jen.If(jen.Id("timeout").Op(">").Lit(0).Op("&&").Id("now").Op("-").Add(lf("now")).Op(">=").Id("timeout")).Block(
			// The iteration goes on to the timers without waiting, and so without
			// reading the clock again: with the time from before the spin, the timer
			// it spun for was not due yet, and the iteration ran nothing (RunOnce(true)
			// returned empty-handed, before it learnt to wait again).
			lf("now").Op("=").Id("now"),
			jen.Return(jen.Lit(0)),
		),
		jen.If(jen.Id("now").Op("-").Add(lf("now")).Op(">=").Add(e.num("l", "spinNanos"))).Block(
			jen.If(jen.Id("timeout").Op(">").Lit(0)).Block(jen.Id("timeout").Op("-=").Id("now").Op("-").Add(lf("now"))),
			jen.Return(jen.Id("timeout")),
		),
		jen.Qual("runtime", "Gosched").Call(),
	)
	f.Comment("spin busy-waits up to spinNanos for a post, I/O or the timeout before the loop")
	f.Comment("blocks, trading CPU for wake-up latency. It returns what is left of timeout.")
	f.Add(loopMethod()).Id("spin").Params(jen.Id("timeout").Int64()).Int64().Block(
		jen.For().Block(spinBody...),
	)
}

// emitGather writes mayGather and gather, the wait for a batch of posts while
// they stream in, for inbox.gather above 0.
func (e *variantEmitter) emitGather(f *jen.File) {
	if e.v.Inbox.Gather <= 0 {
		return
	}
	f.Comment("mayGather reports whether producers can post while the loop waits: GOMAXPROCS,")
	f.Comment("read once per Run or RunOnce, is above 1.")
	f.Add(loopMethod()).Id("mayGather").Params().Bool().Block(
		jen.If(jen.Op("!").Add(lf("gatherKnown"))).Block(
			lf("gatherOK").Op(",").Add(lf("gatherKnown")).Op("=").Qual("runtime", "GOMAXPROCS").Call(jen.Lit(0)).Op(">").Lit(1).Op(",").True(),
		),
		jen.Return(lf("gatherOK")),
	)
	for _, line := range []string{
		"gather waits up to gatherNanos for the rest of the batch to be published, then",
		"drains it; it returns what is left of budget. A loop that takes posts as they land",
		"chases its producers through the inbox: each drain takes a few, and the cache lines",
		"of the slots cross between the cores several times while they fill (measured with",
		"one producer: 12-18 posts a drain, 46-83 ns a post). Waiting on the clock and one",
		"slot lets the producers fill whole lines first (190 posts a drain, 19 ns).",
		"",
		"iterate calls it only while posts stream in: the last iteration took posts too, this",
		"one took fewer than a batch, nothing else is ready, and it may block. A lone post, or",
		"one that finds other work, runs at once. With one P the producers cannot post while",
		"the loop waits, so it does not (at GOMAXPROCS=1, 75 ns a post became 134); with more,",
		"a wait that sees no post at all in a quarter of its time ends. The wait reads the",
		"real clock, as it is about real producers, also under a virtual clock.",
	} {
		f.Comment(line)
	}
	f.Add(loopMethod()).Id("gather").Params(jen.Id("budget").Int()).Int().Block(
		e.count("Gathers"),
		jen.Id("start").Op(":=").Qual("time", "Now").Call(),
		jen.For(jen.Op("!").Add(lf("inbox")).Dot("published").Call(jen.Id("budget"))).Block(
			jen.Id("waited").Op(":=").Qual("time", "Since").Call(jen.Id("start")),
			jen.Comment("Nothing at all in a quarter of the time: the producers are not running."),
			jen.If(jen.Id("waited").Op(">=").Add(e.numAs(jen.Qual("time", "Duration"), "l", "gatherNanos")).
				Op("||").Id("waited").Op(">=").Add(e.numAs(jen.Qual("time", "Duration"), "l", "gatherNanos")).Op("/").Lit(4).Op("&&").Op("!").Add(lf("inbox")).Dot("nonEmpty").Call()).Block(jen.Break()),
		),
		jen.Id("n").Op(":=").Add(lf("inbox")).Dot("drain").Call(jen.Op("&").Add(lf("ready")), jen.Id("budget")),
		lf("drained").Op("+=").Id("n"),
		jen.Return(jen.Id("budget").Op("-").Id("n")),
	)
}

// emitBatchRunners writes runReady and runTimers, which run the callbacks of
// one batch under one deferred recover (when the spec keeps recover).
func (e *variantEmitter) emitBatchRunners(f *jen.File) {
	f.Comment("runReady runs the next n ready callbacks and returns how many it took off the")
	f.Comment("queue: fewer when one panicked (that one counts). It runs them where they lie,")
	f.Comment("a segment's stretch at a time, rather than popping each (BenchmarkCallSoon with")
	f.Comment("1,000 queued: 14% less). The queue is whole before each call, for a callback")
	f.Comment("that asks its length (Pending), queues more, or panics.")
	f.Add(loopMethod()).Id("runReady").Params(jen.Id("n").Int()).Params(jen.Id("taken").Int()).Block(
		e.recoverGuard(),
		jen.Id("r").Op(":=").Op("&").Add(lf("ready")),
		jen.For(jen.Id("taken").Op("<").Id("n")).Block(
			jen.Id("fns").Op(":=").Add(rf("stretch")).Call(jen.Id("n").Op("-").Id("taken")),
			jen.For(jen.List(jen.Id("i"), jen.Id("fn")).Op(":=").Range().Id("fns")).Block(
				jen.Id("fns").Index(jen.Id("i")).Op("=").Nil(),
				rf("hi").Op("++"),
				rf("n").Op("--"),
				jen.Id("taken").Op("++"),
				lf("nowFresh").Op("=").False(),
				e.countBefore("Callbacks"),
				jen.Id("fn").Call(),
			),
			rf("settle").Call(),
		),
		jen.Return(),
	)

	f.Comment("runTimers runs the due timers in the order of their deadlines' ticks, and in")
	f.Comment("scheduling order within a tick. A periodic timer is rescheduled before its")
	f.Comment("callback runs, so the callback may cancel it.")
	f.Add(loopMethod()).Id("runTimers").Params().Block(
		e.recoverGuard(),
		jen.Comment("A timer that closes the loop ends the firing: the due timers left are"),
		jen.Comment("still pending (Cancel would stop them), and Close drops pending timers."),
		jen.For(lf("timers").Dot("hasDue").Call().Op("&&").Op("!").Add(lf("closing")).Dot("Load").Call()).Block(
			lf("nowFresh").Op("=").False(),
			e.countBefore("Timers"),
			lf("timers").Dot("fire").Call(lf("now")).Call(),
		),
	)
}

// clearHostWait is wait's reset of hostWaited: the Wait it follows drained
// the wake-up a Post may have written during the host's wait.
func (e *variantEmitter) clearHostWait() jen.Code {
	if !e.hasPoller() {
		return jen.Null()
	}
	return lf("hostWaited").Op("=").False()
}

// emitHostWait writes PrepareWait and BackendFd, with which a host that
// embeds the loop (RunOnce(false) from its own event loop) waits on the
// loop's poller beside its own events: PrepareWait announces the wait as
// iterate announces its own, so that a Post wakes the poller's descriptor,
// and the RunOnce after it asks the poller (hostWaited), whose Wait drains
// that wake-up. A variant without a poller has no descriptor: its
// PrepareWait only answers as NextWake does.
func (e *variantEmitter) emitHostWait(f *jen.File) {
	f.Comment("PrepareWait tells the loop that its host is about to wait on BackendFd, and")
	f.Comment("returns how long it may (NextWake's answer). Loop goroutine only.")
	body := []jen.Code{}
	if e.hasPoller() {
		body = append(body,
			jen.If(lf("closing").Dot("Load").Call()).Block(
				jen.Comment("No wait: the descriptor is released or about to be, and RunOnce"),
				jen.Comment("says ErrClosed."),
				jen.Return(jen.Lit(0), jen.True()),
			),
		)
	}
	body = append(body, jen.List(jen.Id("d"), jen.Id("ok")).Op(":=").Add(lf("NextWake")).Call())
	if !e.hasPoller() {
		body = append(body, jen.Return(jen.Id("d"), jen.Id("ok")))
		f.Add(loopMethod()).Id("PrepareWait").Params().Params(jen.Qual("time", "Duration"), jen.Bool()).Block(body...)
		e.emitBackendFd(f)
		return
	}
	// stalled is true while the only work is a post between its two steps:
	// drain takes nothing until it is published, so the host waits a little
	// for it, as Run does (awaitPublish), instead of spinning.
	stalled := jen.False()
	if e.v.Inbox.Kind == InboxMPSC {
		stalled = lf("ready").Dot("len").Call().Op("==").Lit(0).Op("&&").Op("!").Add(lf("timers")).Dot("hasDue").Call().Op("&&").Add(lf("inbox")).Dot("unpublished").Call()
	}
	body = append(body,
		jen.If(jen.Id("ok").Op("&&").Id("d").Op("==").Lit(0)).Block(
			jen.If(jen.Op("!").Parens(stalled)).Block(
				jen.Return(jen.Lit(0), jen.True()).Comment("work now: no wait"),
			),
		),
		jen.Comment("Announce the wait, then look again, as iterate does before it blocks: a"),
		jen.Comment("Post that missed the flag claimed its slot before this check."),
		lf("sleeping").Dot("Store").Call(jen.True()),
	)
	if e.v.Inbox.Kind == InboxMPSC {
		body = append(body,
			jen.If(lf("stopReq").Dot("Load").Call().Op("||").Add(lf("clockMoved")).Dot("Load").Call().Op("||").Add(lf("inbox")).Dot("claimed").Call().Op("&&").Op("!").Add(lf("inbox")).Dot("unpublished").Call()).Block(
				lf("sleeping").Dot("Store").Call(jen.False()),
				jen.Return(jen.Lit(0), jen.True()),
			),
			jen.If(lf("inbox").Dot("unpublished").Call()).Block(
				jen.Comment("A producer between its two steps: its wake-up ends the wait once it"),
				jen.Comment("publishes, unless it read the flag before it was set; the short"),
				jen.Comment("timeout covers that, as awaitPublish's first wait does."),
				jen.If(jen.Op("!").Id("ok").Op("||").Id("d").Op("==").Lit(0).Op("||").Id("d").Op(">").Id("publishWaitNanos")).Block(
					jen.Id("d").Op("=").Id("publishWaitNanos"),
				),
				jen.Id("ok").Op("=").True(),
			),
		)
	} else {
		body = append(body,
			jen.If(lf("inbox").Dot("claimed").Call().Op("||").Add(lf("stopReq")).Dot("Load").Call().Op("||").Add(lf("clockMoved")).Dot("Load").Call()).Block(
				lf("sleeping").Dot("Store").Call(jen.False()),
				jen.Return(jen.Lit(0), jen.True()),
			),
		)
	}
	body = append(body,
		lf("hostWaited").Op("=").True(),
		jen.Return(jen.Id("d"), jen.Id("ok")),
	)
	f.Add(loopMethod()).Id("PrepareWait").Params().Params(jen.Qual("time", "Duration"), jen.Bool()).Block(body...)
	e.emitBackendFd(f)
}

// emitBackendFd writes BackendFd.
func (e *variantEmitter) emitBackendFd(f *jen.File) {
	f.Comment("BackendFd returns the poller's descriptor, readable when the loop has I/O to")
	f.Comment("dispatch or, after PrepareWait, a Post, Stop or clock advance to take. Loop")
	f.Comment("goroutine only.")
	f.Add(loopMethod()).Id("BackendFd").Params().Params(jen.Int(), jen.Error()).Block(
		jen.If(lf("closing").Dot("Load").Call()).Block(jen.Return(jen.Lit(-1), jen.Qual(pkgCore, "ErrClosed"))),
		jen.Return(lf("poller").Dot("Fd").Call()),
	)
}

// hostWaitedField is the Loop's hostWaited, beside the other bools so that
// it takes their padding and moves no field (a variant without a poller
// has none).
func (e *variantEmitter) hostWaitedField() jen.Code {
	if !e.hasPoller() {
		return jen.Null()
	}
	return jen.Id("hostWaited").Bool().Comment("PrepareWait announced a host's wait: the next iteration asks the poller, whose Wait drains a wake-up (see PrepareWait)")
}
