package gen

// The variant's fd readiness: io_gen.go (emitIO: AddReader, AddWriter,
// RemoveReader and RemoveWriter, and behind them, when the variant has a
// poller, ioTable, the registrations, and dispatch, which iterate calls with
// the events a wait returns).

import "github.com/dave/jennifer/jen"

// emitIO writes fd readiness: a table of the loop's registrations by fd and the
// dispatch of the poller's events. A variant with poller: none gets methods
// that report ErrNoPoller instead, and no table at all.
func (e *variantEmitter) emitIO(f *jen.File) {
	fdFn := []jen.Code{jen.Id("fd").Int(), jen.Id("fn").Func().Params()}
	doc := map[string][]string{
		"AddReader":    {"AddReader calls fn on the loop goroutine whenever fd is readable (level-triggered,", "as asyncio's add_reader), replacing an earlier reader of fd. Remove the fd before closing it."},
		"AddWriter":    {"AddWriter calls fn on the loop goroutine whenever fd is writable, replacing an", "earlier writer of fd."},
		"RemoveReader": {"RemoveReader stops watching fd for reading and reports whether it was watched."},
		"RemoveWriter": {"RemoveWriter stops watching fd for writing and reports whether it was watched."},
	}
	comment := func(name string) {
		for _, line := range doc[name] {
			f.Comment(line)
		}
	}

	if !e.hasPoller() {
		for _, name := range []string{"AddReader", "AddWriter"} {
			comment(name)
			f.Comment("This variant has no poller: it returns poller.ErrNoPoller.")
			f.Add(loopMethod()).Id(name).Params(fdFn...).Error().Block(
				jen.If(jen.Id("fn").Op("==").Nil()).Block(jen.Panic(jen.Lit("loop: "+name+" with a nil func"))),
				jen.Return(jen.Qual(pkgPoller, "ErrNoPoller")),
			)
		}
		for _, name := range []string{"RemoveReader", "RemoveWriter"} {
			comment(name)
			f.Add(loopMethod()).Id(name).Params(jen.Id("fd").Int()).Bool().Block(jen.Return(jen.False()))
		}
		return
	}

	f.Comment("ioReg is the registration of one fd.")
	f.Type().Id("ioReg").Struct(
		jen.Id("read").Func().Params(),
		jen.Id("write").Func().Params(),
		jen.Id("ev").Qual(pkgPoller, "Events").Comment("interest registered with the poller"),
		jen.Id("seq").Uint32().Comment("tags this registration's events; 0 when not registered"),
	)
	f.Comment("ioChunkBits sizes the slab's chunks: 64 registrations, 1.5 KiB.")
	f.Const().Id("ioChunkBits").Op("=").Lit(6)
	f.Const().Id("ioChunkSize").Op("=").Lit(1).Op("<<").Id("ioChunkBits")
	f.Comment("ioTable holds the registrations of the fds this loop watches (loop goroutine")
	f.Comment("only), in a slab of fixed chunks that never move, so a registration stays where")
	f.Comment("it is while callbacks add fds. It grows with the loop's own fds alone. Fd numbers")
	f.Comment("are the process's: in a Group the kernel hands each loop a random share of them,")
	f.Comment("and a table indexed by fd grew in every loop to the process's highest fd (with 8")
	f.Comment("loops and 10,000 idle connections, 170-180 bytes a connection). Watch and unwatch")
	f.Comment("find an fd's entry in a map; dispatch finds an event's entry by its seq, with one")
	f.Comment("load from bySeq and no hashing (a map lookup there cost 16 ns an event).")
	f.Type().Id("ioTable").Struct(
		jen.Id("index").Map(jen.Int32()).Int32().Comment("fd → slab entry, for the fds watched now"),
		jen.Id("bySeq").Index().Int32().Comment("seq & (len-1) → entry + 1 of the registration holding that seq; 0: none. A power of two, at most 3/4 full"),
		jen.Id("chunks").Index().Op("*").Index(jen.Id("ioChunkSize")).Id("ioReg"),
		jen.Id("made").Int32().Comment("slab entries made"),
		jen.Id("inUse").Int32().Comment("slab entries registered"),
		jen.Id("free").Index().Int32().Comment("entries made and released, to reuse"),
		jen.Id("seq").Uint32().Comment("the last seq handed out"),
	)
	recvT := func() *jen.Statement { return jen.Func().Params(jen.Id("t").Op("*").Id("ioTable")) }
	tf := func(name string) *jen.Statement { return jen.Id("t").Dot(name) }
	at := func(i jen.Code) *jen.Statement { return tf("at").Call(i) }
	seqMask := func() *jen.Statement {
		return jen.Id("seq").Op("&").Uint32().Call(jen.Len(tf("bySeq")).Op("-").Lit(1))
	}
	f.Comment("at returns slab entry i.")
	f.Add(recvT()).Id("at").Params(jen.Id("i").Int32()).Op("*").Id("ioReg").Block(
		jen.Return(jen.Op("&").Add(tf("chunks")).Index(jen.Id("i").Op(">>").Id("ioChunkBits")).Index(jen.Id("i").Op("&").Parens(jen.Id("ioChunkSize").Op("-").Lit(1)))),
	)
	f.Comment("lookup returns fd's registration and its entry, or nil when this loop does not watch fd.")
	f.Add(recvT()).Id("lookup").Params(jen.Id("fd").Int()).Params(jen.Op("*").Id("ioReg"), jen.Int32()).Block(
		jen.If(jen.Id("fd").Op("<").Lit(0).Op("||").Id("fd").Op(">").Qual("math", "MaxInt32")).Block(jen.Return(jen.Nil(), jen.Lit(0))),
		jen.List(jen.Id("i"), jen.Id("ok")).Op(":=").Add(tf("index")).Index(jen.Int32().Call(jen.Id("fd"))),
		jen.If(jen.Op("!").Id("ok")).Block(jen.Return(jen.Nil(), jen.Lit(0))),
		jen.Return(at(jen.Id("i")), jen.Id("i")),
	)
	f.Comment("ofSeq returns the registration that holds seq, or nil when none does: the")
	f.Comment("registration an event was collected for changed or went since.")
	f.Add(recvT()).Id("ofSeq").Params(jen.Id("seq").Uint32()).Op("*").Id("ioReg").Block(
		jen.If(jen.Len(tf("bySeq")).Op("==").Lit(0)).Block(jen.Return(jen.Nil())),
		jen.Id("e").Op(":=").Add(tf("bySeq")).Index(seqMask()),
		jen.If(jen.Id("e").Op("==").Lit(0)).Block(jen.Return(jen.Nil())),
		jen.If(jen.Id("r").Op(":=").Add(at(jen.Id("e").Op("-").Lit(1))), jen.Id("r").Dot("seq").Op("==").Id("seq")).Block(jen.Return(jen.Id("r"))),
		jen.Return(jen.Nil()),
	)
	f.Comment("take hands entry i a seq that no registration holds (never 0): the counter's next")
	f.Comment("value whose place in bySeq is free. A quarter of bySeq or more is free, so few")
	f.Comment("are skipped; a skipped value is simply not used this time round. (Each entry")
	f.Comment("holds one seq, and one more while watch or unwatch replaces it.)")
	f.Add(recvT()).Id("take").Params(jen.Id("i").Int32()).Uint32().Block(
		jen.If(jen.Lit(4).Op("*").Parens(jen.Int().Call(tf("inUse")).Op("+").Lit(1)).Op(">").Lit(3).Op("*").Len(tf("bySeq"))).Block(tf("grow").Call()),
		jen.For().Block(
			tf("seq").Op("++"),
			jen.Id("seq").Op(":=").Add(tf("seq")),
			jen.If(jen.Id("seq").Op("!=").Lit(0).Op("&&").Add(tf("bySeq")).Index(seqMask()).Op("==").Lit(0)).Block(
				tf("bySeq").Index(seqMask()).Op("=").Id("i").Op("+").Lit(1),
				jen.Return(jen.Id("seq")),
			),
		),
	)
	f.Comment("drop frees seq's place in bySeq (seq 0: nothing to free).")
	f.Add(recvT()).Id("drop").Params(jen.Id("seq").Uint32()).Block(
		jen.If(jen.Id("seq").Op("!=").Lit(0)).Block(tf("bySeq").Index(seqMask()).Op("=").Lit(0)),
	)
	f.Comment("grow doubles bySeq (64 places at first). Seqs apart under the old mask stay apart")
	f.Comment("under the new one, which only adds a bit, so every registration finds its place free.")
	f.Add(recvT()).Id("grow").Params().Block(
		jen.Id("old").Op(":=").Add(tf("bySeq")),
		tf("bySeq").Op("=").Make(jen.Index().Int32(), jen.Max(jen.Lit(64), jen.Lit(2).Op("*").Len(jen.Id("old")))),
		jen.For(jen.List(jen.Id("_"), jen.Id("e")).Op(":=").Range().Id("old")).Block(
			jen.If(jen.Id("e").Op("!=").Lit(0)).Block(
				jen.Id("seq").Op(":=").Add(at(jen.Id("e").Op("-").Lit(1))).Dot("seq"),
				tf("bySeq").Index(seqMask()).Op("=").Id("e"),
			),
		),
	)
	f.Comment("add returns a new, empty registration for fd (0 <= fd <= MaxInt32, not watched)")
	f.Comment("and its entry.")
	f.Add(recvT()).Id("add").Params(jen.Id("fd").Int()).Params(jen.Op("*").Id("ioReg"), jen.Int32()).Block(
		jen.Var().Id("i").Int32(),
		jen.If(jen.Id("n").Op(":=").Len(tf("free")), jen.Id("n").Op(">").Lit(0)).Block(
			jen.List(jen.Id("i"), tf("free")).Op("=").List(tf("free").Index(jen.Id("n").Op("-").Lit(1)), tf("free").Index(jen.Empty(), jen.Id("n").Op("-").Lit(1))),
		).Else().Block(
			jen.If(tf("made").Op("&").Parens(jen.Id("ioChunkSize").Op("-").Lit(1)).Op("==").Lit(0)).Block(
				tf("chunks").Op("=").Append(tf("chunks"), jen.New(jen.Index(jen.Id("ioChunkSize")).Id("ioReg"))),
			),
			jen.List(jen.Id("i"), tf("made")).Op("=").List(tf("made"), tf("made").Op("+").Lit(1)),
		),
		jen.If(tf("index").Op("==").Nil()).Block(tf("index").Op("=").Map(jen.Int32()).Int32().Values()),
		tf("index").Index(jen.Int32().Call(jen.Id("fd"))).Op("=").Id("i"),
		tf("inUse").Op("++"),
		jen.Id("r").Op(":=").Add(at(jen.Id("i"))),
		jen.Op("*").Id("r").Op("=").Id("ioReg").Values(),
		jen.Return(jen.Id("r"), jen.Id("i")),
	)
	f.Comment("release forgets fd and frees its entry i, whose registration r holds no seq.")
	f.Add(recvT()).Id("release").Params(jen.Id("fd").Int(), jen.Id("r").Op("*").Id("ioReg"), jen.Id("i").Int32()).Block(
		jen.Id("delete").Call(tf("index"), jen.Int32().Call(jen.Id("fd"))),
		jen.Op("*").Id("r").Op("=").Id("ioReg").Values(),
		tf("free").Op("=").Append(tf("free"), jen.Id("i")),
		tf("inUse").Op("--"),
	)

	for _, pair := range []struct{ name, ev string }{{"AddReader", "Readable"}, {"AddWriter", "Writable"}} {
		comment(pair.name)
		f.Comment("Called while the loop waits, it is not on the loop goroutine: it returns")
		f.Comment("an error wrapping core.ErrWrongGoroutine and leaves the fd alone.")
		f.Add(loopMethod()).Id(pair.name).Params(fdFn...).Error().Block(
			jen.If(jen.Id("fn").Op("==").Nil()).Block(jen.Panic(jen.Lit("loop: "+pair.name+" with a nil func"))),
			jen.If(lf("sleeping").Dot("Load").Call()).Block(
				jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("loop: "+pair.name+": %w"), jen.Qual(pkgCore, "ErrWrongGoroutine"))),
			),
			jen.Return(lf("watch").Call(jen.Id("fd"), jen.Qual(pkgPoller, pair.ev), jen.Id("fn"))),
		)
	}
	for _, pair := range []struct{ name, ev string }{{"RemoveReader", "Readable"}, {"RemoveWriter", "Writable"}} {
		comment(pair.name)
		f.Add(loopMethod()).Id(pair.name).Params(jen.Id("fd").Int()).Bool().Block(
			jen.Return(lf("unwatch").Call(jen.Id("fd"), jen.Qual(pkgPoller, pair.ev))),
		)
	}

	callback := func() *jen.Statement {
		return jen.If(jen.Id("ev").Op("==").Qual(pkgPoller, "Readable")).Block(
			jen.Id("r").Dot("read").Op("=").Id("fn"),
		).Else().Block(
			jen.Id("r").Dot("write").Op("=").Id("fn"),
		)
	}
	f.Comment("watch adds ev to fd's interest with fn as its callback. A bogus fd, which the")
	f.Comment("poller refuses, is not watched afterwards: a new one is not added, and one whose")
	f.Comment("registration the poller has forgotten goes with both its callbacks. A change the")
	f.Comment("poller refuses for another reason leaves the fd's registration as it was.")
	var noPoller jen.Code = jen.Null()
	if e.generic {
		// As a poller: none variant does: ErrNoPoller whatever the fd, closed or not.
		noPoller = jen.If(jen.List(jen.Id("_"), jen.Id("none")).Op(":=").Add(lf("poller")).Assert(jen.Op("*").Qual(pkgPoller, "None")), jen.Id("none")).Block(
			jen.Return(jen.Qual(pkgPoller, "ErrNoPoller")),
		)
	}
	f.Add(loopMethod()).Id("watch").Params(jen.Id("fd").Int(), jen.Id("ev").Qual(pkgPoller, "Events"), jen.Id("fn").Func().Params()).Error().Block(
		noPoller,
		jen.Comment("The kernel takes an fd as a C int: a larger number would name another fd."),
		jen.If(jen.Id("fd").Op("<").Lit(0).Op("||").Id("fd").Op(">").Qual("math", "MaxInt32")).Block(jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("loop: invalid fd %d"), jen.Id("fd")))),
		jen.If(lf("closing").Dot("Load").Call()).Block(jen.Return(jen.Qual(pkgCore, "ErrClosed"))),
		jen.Comment("A new seq on every change, as on every remove: readiness collected for the fd"),
		jen.Comment("before it is dropped (the next wait reports it again). An fd number closed and"),
		jen.Comment("reused without a Remove is then never handed the old file's readiness, also"),
		jen.Comment("where Modify cannot tell the new file from the old (poll, kqueue)."),
		jen.If(jen.List(jen.Id("r"), jen.Id("i")).Op(":=").Add(lf("io")).Dot("lookup").Call(jen.Id("fd")), jen.Id("r").Op("!=").Nil()).Block(
			jen.Id("seq").Op(":=").Add(lf("io")).Dot("take").Call(jen.Id("i")),
			jen.Err().Op(":=").Add(lf("poller")).Dot("Modify").Call(jen.Id("fd"), jen.Id("seq"), jen.Id("ev").Op("|").Id("r").Dot("ev")),
			jen.If(jen.Err().Op("==").Nil()).Block(
				lf("io").Dot("drop").Call(jen.Id("r").Dot("seq")),
				jen.Id("r").Dot("seq").Op("=").Id("seq"),
				jen.Id("r").Dot("ev").Op("|=").Id("ev"),
				callback(),
				jen.Return(jen.Nil()),
			),
			jen.If(jen.Op("!").Qual(pkgPoller, "Forgotten").Call(jen.Err())).Block(
				jen.Comment("The change itself was refused (FreeBSD refuses a write filter on a pipe"),
				jen.Comment("whose reader has gone, with EPIPE): what was registered stands, callbacks"),
				jen.Comment("and all, and the caller hears why."),
				lf("io").Dot("drop").Call(jen.Id("seq")),
				jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("loop: watch fd %d: %w"), jen.Id("fd"), jen.Err())),
			),
			jen.Comment("Modify fails, even when only the callback changes, for a number whose"),
			jen.Comment("registration the poller has forgotten: epoll forgets a file when it is closed,"),
			jen.Comment("so the number, closed without a Remove, now names another file or none. All"),
			jen.Comment("that was registered for the old file goes, and the fd is added afresh: the old"),
			jen.Comment("file's callback for the other direction must not run on the new file's"),
			jen.Comment("readiness. (poll and kqueue cannot tell the files apart: there that callback"),
			jen.Comment("stays until it is removed.)"),
			lf("io").Dot("drop").Call(jen.Id("seq")),
			lf("io").Dot("drop").Call(jen.Id("r").Dot("seq")),
			lf("io").Dot("release").Call(jen.Id("fd"), jen.Id("r"), jen.Id("i")),
			jen.Id("_").Op("=").Add(lf("poller")).Dot("Delete").Call(jen.Id("fd")),
		),
		jen.List(jen.Id("r"), jen.Id("i")).Op(":=").Add(lf("io")).Dot("add").Call(jen.Id("fd")),
		jen.Id("seq").Op(":=").Add(lf("io")).Dot("take").Call(jen.Id("i")),
		jen.If(jen.Err().Op(":=").Add(lf("poller")).Dot("Add").Call(jen.Id("fd"), jen.Id("seq"), jen.Id("ev")), jen.Err().Op("!=").Nil()).Block(
			lf("io").Dot("drop").Call(jen.Id("seq")),
			lf("io").Dot("release").Call(jen.Id("fd"), jen.Id("r"), jen.Id("i")),
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("loop: watch fd %d: %w"), jen.Id("fd"), jen.Err())),
		),
		jen.Id("r").Dot("seq").Op("=").Id("seq"),
		jen.Id("r").Dot("ev").Op("=").Id("ev"),
		callback(),
		jen.Return(jen.Nil()),
	)

	f.Add(loopMethod()).Id("unwatch").Params(jen.Id("fd").Int(), jen.Id("ev").Qual(pkgPoller, "Events")).Bool().Block(
		jen.List(jen.Id("r"), jen.Id("i")).Op(":=").Add(lf("io")).Dot("lookup").Call(jen.Id("fd")),
		jen.If(jen.Id("r").Op("==").Nil().Op("||").Id("r").Dot("ev").Op("&").Id("ev").Op("==").Lit(0)).Block(
			jen.Return(jen.False()),
		),
		jen.Id("r").Dot("ev").Op("&^=").Id("ev"),
		jen.Var().Id("fn").Func().Params(),
		callback(),
		jen.Comment("Either way the registration's seq changes, so that readiness this iteration"),
		jen.Comment("already collected for fd is dropped: a callback added again later in the"),
		jen.Comment("iteration must not run on it. The direction that stays is reported again by"),
		jen.Comment("the next wait (level-triggered)."),
		jen.Id("old").Op(":=").Id("r").Dot("seq"),
		jen.If(jen.Id("r").Dot("ev").Op("==").Lit(0)).Block(
			lf("io").Dot("release").Call(jen.Id("fd"), jen.Id("r"), jen.Id("i")),
			jen.Id("_").Op("=").Add(lf("poller")).Dot("Delete").Call(jen.Id("fd")),
		).Else().Block(
			jen.Id("r").Dot("seq").Op("=").Add(lf("io")).Dot("take").Call(jen.Id("i")),
			jen.Id("_").Op("=").Add(lf("poller")).Dot("Modify").Call(jen.Id("fd"), jen.Id("r").Dot("seq"), jen.Id("r").Dot("ev")),
		),
		lf("io").Dot("drop").Call(jen.Id("old")),
		jen.Return(jen.True()),
	)

	f.Comment("dispatch runs the callbacks of ready fds. An event whose seq no longer matches")
	f.Comment("belongs to a registration removed earlier in this iteration (its fd may even")
	f.Comment("have been closed and reused): it is dropped. Errors and hang-ups run both the")
	f.Comment("reader and the writer, so each sees the condition on its next call. A callback")
	f.Comment("that panics does not take the others' turn: dispatch goes on after it (were the")
	f.Comment("rest dropped, a reader that always panics would starve every fd after it).")
	f.Add(loopMethod()).Id("dispatch").Params(jen.Id("events").Index().Qual(pkgPoller, "Event")).Block(
		jen.For(jen.Id("step").Op(":=").Lit(0), jen.Id("step").Op("<").Lit(2).Op("*").Len(jen.Id("events")), jen.Empty()).Block(
			jen.Id("step").Op("=").Add(lf("dispatchFrom")).Call(jen.Id("events"), jen.Id("step")),
		),
	)
	f.Comment("dispatchFrom runs event i's reader as step 2i and its writer as step 2i+1, from")
	f.Comment("step on, and returns the step to go on from: the end, or the one after a callback")
	f.Comment("that panicked.")
	f.Add(loopMethod()).Id("dispatchFrom").Params(jen.Id("events").Index().Qual(pkgPoller, "Event"), jen.Id("step").Int()).Params(jen.Id("next").Int()).Block(
		e.recoverGuard(),
		jen.For(jen.Id("i").Op(":=").Id("step").Op("/").Lit(2), jen.Id("i").Op("<").Len(jen.Id("events")), jen.Id("i").Op("++")).Block(
			jen.Id("ev").Op(":=").Id("events").Index(jen.Id("i")),
			jen.Id("next").Op("=").Lit(2).Op("*").Id("i").Op("+").Lit(2),
			jen.Id("r").Op(":=").Add(lf("io")).Dot("ofSeq").Call(jen.Id("ev").Dot("Seq")),
			jen.If(jen.Id("r").Op("==").Nil()).Block(jen.Continue()),
			e.countEvent(),
			jen.If(jen.Id("step").Op("<=").Lit(2).Op("*").Id("i").Op("&&").Id("r").Dot("seq").Op("==").Id("ev").Dot("Seq").Op("&&").Id("r").Dot("read").Op("!=").Nil().
				Op("&&").Id("ev").Dot("Ev").Op("&").Parens(jen.Qual(pkgPoller, "Readable").Op("|").Qual(pkgPoller, "Errored")).Op("!=").Lit(0)).Block(
				jen.Id("next").Op("=").Lit(2).Op("*").Id("i").Op("+").Lit(1),
				lf("nowFresh").Op("=").False(),
				jen.Id("r").Dot("read").Call(),
				jen.Id("next").Op("=").Lit(2).Op("*").Id("i").Op("+").Lit(2),
			),
			jen.Comment("Checked again: the reader may have removed the fd (chunks never move, so r still points at the entry, whose seq is then another's or 0)."),
			jen.If(jen.Id("r").Dot("seq").Op("==").Id("ev").Dot("Seq").Op("&&").Id("r").Dot("write").Op("!=").Nil().
				Op("&&").Id("ev").Dot("Ev").Op("&").Parens(jen.Qual(pkgPoller, "Writable").Op("|").Qual(pkgPoller, "Errored")).Op("!=").Lit(0)).Block(
				lf("nowFresh").Op("=").False(),
				jen.Id("r").Dot("write").Call(),
			),
		),
		jen.Return(),
	)
}

// countEvent counts event i once, when it belongs to the fd's current
// registration (readiness collected before a remove is dropped, not
// dispatched), and not again when dispatch resumes at its writer after its
// reader panicked.
func (e *variantEmitter) countEvent() jen.Code {
	if !e.v.Stats {
		return jen.Null()
	}
	return jen.If(jen.Id("step").Op("<=").Lit(2).Op("*").Id("i").Op("&&").Id("r").Dot("seq").Op("==").Id("ev").Dot("Seq")).Block(e.count("Events"))
}
