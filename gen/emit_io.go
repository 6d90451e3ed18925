package gen

import "github.com/dave/jennifer/jen"

// emitIO writes fd readiness: a registration table indexed by fd and the
// dispatch of the poller's events. A variant with poller: none gets methods
// that report ErrNoPoller instead, and no table at all.
func (e *variantEmitter) emitIO(f *jen.File) {
	recv := func() *jen.Statement { return jen.Func().Params(jen.Id("l").Op("*").Id("Loop")) }
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
			f.Add(recv()).Id(name).Params(fdFn...).Error().Block(
				jen.If(jen.Id("fn").Op("==").Nil()).Block(jen.Panic(jen.Lit("loop: "+name+" with a nil func"))),
				jen.Return(jen.Qual(pkgPoller, "ErrNoPoller")),
			)
		}
		for _, name := range []string{"RemoveReader", "RemoveWriter"} {
			comment(name)
			f.Add(recv()).Id(name).Params(jen.Id("fd").Int()).Bool().Block(jen.Return(jen.False()))
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
	f.Comment("ioChunkBits sizes the table's chunks: 1024 registrations, 24 KiB.")
	f.Const().Id("ioChunkBits").Op("=").Lit(10)
	f.Const().Id("ioChunkSize").Op("=").Lit(1).Op("<<").Id("ioChunkBits")
	f.Comment("ioTable maps fds to registrations (loop goroutine only). It is chunked, not")
	f.Comment("one slice indexed by fd: growing it allocates one chunk and copies nothing,")
	f.Comment("so a server that reaches tens of thousands of fds leaves no garbage of")
	f.Comment("outgrown tables behind (memory per idle connection counts it), and a")
	f.Comment("registration stays where it is while callbacks add fds.")
	f.Type().Id("ioTable").Struct(
		jen.Id("chunks").Index().Op("*").Index(jen.Id("ioChunkSize")).Id("ioReg"),
		jen.Id("seq").Uint32(),
	)
	recvT := func() *jen.Statement { return jen.Func().Params(jen.Id("t").Op("*").Id("ioTable")) }
	f.Comment("lookup returns fd's registration, or nil when no fd of its chunk was ever watched.")
	f.Add(recvT()).Id("lookup").Params(jen.Id("fd").Int()).Op("*").Id("ioReg").Block(
		jen.Id("c").Op(":=").Id("fd").Op(">>").Id("ioChunkBits"),
		jen.If(jen.Id("fd").Op("<").Lit(0).Op("||").Id("c").Op(">=").Len(jen.Id("t").Dot("chunks")).Op("||").Id("t").Dot("chunks").Index(jen.Id("c")).Op("==").Nil()).Block(jen.Return(jen.Nil())),
		jen.Return(jen.Op("&").Id("t").Dot("chunks").Index(jen.Id("c")).Index(jen.Id("fd").Op("&").Parens(jen.Id("ioChunkSize").Op("-").Lit(1)))),
	)
	f.Comment("slot returns fd's registration (fd >= 0), adding its chunk if need be.")
	f.Add(recvT()).Id("slot").Params(jen.Id("fd").Int()).Op("*").Id("ioReg").Block(
		jen.Id("c").Op(":=").Id("fd").Op(">>").Id("ioChunkBits"),
		jen.For(jen.Len(jen.Id("t").Dot("chunks")).Op("<=").Id("c")).Block(
			jen.Id("t").Dot("chunks").Op("=").Append(jen.Id("t").Dot("chunks"), jen.Nil()),
		),
		jen.If(jen.Id("t").Dot("chunks").Index(jen.Id("c")).Op("==").Nil()).Block(
			jen.Id("t").Dot("chunks").Index(jen.Id("c")).Op("=").New(jen.Index(jen.Id("ioChunkSize")).Id("ioReg")),
		),
		jen.Return(jen.Op("&").Id("t").Dot("chunks").Index(jen.Id("c")).Index(jen.Id("fd").Op("&").Parens(jen.Id("ioChunkSize").Op("-").Lit(1)))),
	)

	for _, pair := range []struct{ name, ev string }{{"AddReader", "Readable"}, {"AddWriter", "Writable"}} {
		comment(pair.name)
		f.Add(recv()).Id(pair.name).Params(fdFn...).Error().Block(
			jen.If(jen.Id("fn").Op("==").Nil()).Block(jen.Panic(jen.Lit("loop: "+pair.name+" with a nil func"))),
			jen.Return(lf("watch").Call(jen.Id("fd"), jen.Qual(pkgPoller, pair.ev), jen.Id("fn"))),
		)
	}
	for _, pair := range []struct{ name, ev string }{{"RemoveReader", "Readable"}, {"RemoveWriter", "Writable"}} {
		comment(pair.name)
		f.Add(recv()).Id(pair.name).Params(jen.Id("fd").Int()).Bool().Block(
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
	f.Comment("nextSeq returns a seq no registration has had lately (never 0).")
	f.Add(recvT()).Id("nextSeq").Params().Uint32().Block(
		jen.Id("t").Dot("seq").Op("++"),
		jen.If(jen.Id("t").Dot("seq").Op("==").Lit(0)).Block(jen.Id("t").Dot("seq").Op("=").Lit(1)),
		jen.Return(jen.Id("t").Dot("seq")),
	)
	f.Comment("watch adds ev to fd's interest with fn as its callback. The poller learns of the")
	f.Comment("fd before the table does, so a bogus fd fails without sizing the table by it.")
	var noPoller jen.Code = jen.Null()
	if e.generic {
		// As a poller: none variant does: ErrNoPoller whatever the fd, closed or not.
		noPoller = jen.If(jen.List(jen.Id("_"), jen.Id("none")).Op(":=").Add(lf("poller")).Assert(jen.Op("*").Qual(pkgPoller, "None")), jen.Id("none")).Block(
			jen.Return(jen.Qual(pkgPoller, "ErrNoPoller")),
		)
	}
	f.Add(recv()).Id("watch").Params(jen.Id("fd").Int(), jen.Id("ev").Qual(pkgPoller, "Events"), jen.Id("fn").Func().Params()).Error().Block(
		noPoller,
		jen.Comment("The kernel takes an fd as a C int: a larger number would name another fd."),
		jen.If(jen.Id("fd").Op("<").Lit(0).Op("||").Id("fd").Op(">").Qual("math", "MaxInt32")).Block(jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("loop: invalid fd %d"), jen.Id("fd")))),
		jen.If(lf("closing").Dot("Load").Call()).Block(jen.Return(jen.Qual(pkgCore, "ErrClosed"))),
		jen.Id("r").Op(":=").Add(lf("io")).Dot("lookup").Call(jen.Id("fd")),
		jen.Id("want").Op(":=").Id("ev"),
		jen.If(jen.Id("r").Op("!=").Nil()).Block(jen.Id("want").Op("|=").Id("r").Dot("ev")),
		jen.Comment("A new seq on every change, as on every remove: readiness collected for the fd"),
		jen.Comment("before it is dropped (the next wait reports it again). An fd number closed and"),
		jen.Comment("reused without a Remove is then never handed the old file's readiness, also"),
		jen.Comment("where Modify cannot tell the new file from the old (poll, kqueue). Modify even"),
		jen.Comment("when only the callback changes: on epoll it fails for such a number, whose old"),
		jen.Comment("file the kernel has forgotten, and the fd is added afresh."),
		jen.Id("seq").Op(":=").Add(lf("io")).Dot("nextSeq").Call(),
		jen.If(jen.Id("r").Op("==").Nil().Op("||").Id("r").Dot("ev").Op("==").Lit(0).Op("||").Add(lf("poller")).Dot("Modify").Call(jen.Id("fd"), jen.Id("seq"), jen.Id("want")).Op("!=").Nil()).Block(
			jen.If(jen.Err().Op(":=").Add(lf("poller")).Dot("Add").Call(jen.Id("fd"), jen.Id("seq"), jen.Id("want")), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("loop: watch fd %d: %w"), jen.Id("fd"), jen.Err())),
			),
			jen.If(jen.Id("r").Op("==").Nil()).Block(jen.Id("r").Op("=").Add(lf("io")).Dot("slot").Call(jen.Id("fd"))),
		),
		jen.Id("r").Dot("seq").Op("=").Id("seq"),
		jen.Id("r").Dot("ev").Op("=").Id("want"),
		callback(),
		jen.Return(jen.Nil()),
	)

	f.Add(recv()).Id("unwatch").Params(jen.Id("fd").Int(), jen.Id("ev").Qual(pkgPoller, "Events")).Bool().Block(
		jen.Id("r").Op(":=").Add(lf("io")).Dot("lookup").Call(jen.Id("fd")),
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
		jen.If(jen.Id("r").Dot("ev").Op("==").Lit(0)).Block(
			jen.Id("r").Dot("seq").Op("=").Lit(0),
			jen.Id("_").Op("=").Add(lf("poller")).Dot("Delete").Call(jen.Id("fd")),
		).Else().Block(
			jen.Id("r").Dot("seq").Op("=").Add(lf("io")).Dot("nextSeq").Call(),
			jen.Id("_").Op("=").Add(lf("poller")).Dot("Modify").Call(jen.Id("fd"), jen.Id("r").Dot("seq"), jen.Id("r").Dot("ev")),
		),
		jen.Return(jen.True()),
	)

	f.Comment("dispatch runs the callbacks of ready fds. An event whose seq no longer matches")
	f.Comment("belongs to a registration removed earlier in this iteration (its fd may even")
	f.Comment("have been closed and reused): it is dropped. Errors and hang-ups run both the")
	f.Comment("reader and the writer, so each sees the condition on its next call. A callback")
	f.Comment("that panics does not take the others' turn: dispatch goes on after it (were the")
	f.Comment("rest dropped, a reader that always panics would starve every fd after it).")
	f.Add(recv()).Id("dispatch").Params(jen.Id("events").Index().Qual(pkgPoller, "Event")).Block(
		jen.For(jen.Id("step").Op(":=").Lit(0), jen.Id("step").Op("<").Lit(2).Op("*").Len(jen.Id("events")), jen.Empty()).Block(
			jen.Id("step").Op("=").Add(lf("dispatchFrom")).Call(jen.Id("events"), jen.Id("step")),
		),
	)
	f.Comment("dispatchFrom runs event i's reader as step 2i and its writer as step 2i+1, from")
	f.Comment("step on, and returns the step to go on from: the end, or the one after a callback")
	f.Comment("that panicked.")
	f.Add(recv()).Id("dispatchFrom").Params(jen.Id("events").Index().Qual(pkgPoller, "Event"), jen.Id("step").Int()).Params(jen.Id("next").Int()).Block(
		e.recoverGuard(),
		jen.For(jen.Id("i").Op(":=").Id("step").Op("/").Lit(2), jen.Id("i").Op("<").Len(jen.Id("events")), jen.Id("i").Op("++")).Block(
			jen.Id("ev").Op(":=").Id("events").Index(jen.Id("i")),
			jen.Id("next").Op("=").Lit(2).Op("*").Id("i").Op("+").Lit(2),
			jen.Id("r").Op(":=").Add(lf("io")).Dot("lookup").Call(jen.Int().Call(jen.Id("ev").Dot("Fd"))),
			jen.If(jen.Id("r").Op("==").Nil()).Block(jen.Continue()),
			e.countEvent(),
			jen.If(jen.Id("step").Op("<=").Lit(2).Op("*").Id("i").Op("&&").Id("r").Dot("seq").Op("==").Id("ev").Dot("Seq").Op("&&").Id("r").Dot("read").Op("!=").Nil().
				Op("&&").Id("ev").Dot("Ev").Op("&").Parens(jen.Qual(pkgPoller, "Readable").Op("|").Qual(pkgPoller, "Errored")).Op("!=").Lit(0)).Block(
				jen.Id("next").Op("=").Lit(2).Op("*").Id("i").Op("+").Lit(1),
				lf("nowFresh").Op("=").False(),
				jen.Id("r").Dot("read").Call(),
				jen.Id("next").Op("=").Lit(2).Op("*").Id("i").Op("+").Lit(2),
			),
			jen.Comment("Checked again: the reader may have removed the fd (chunks never move, so r still points at its registration)."),
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
