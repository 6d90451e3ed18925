package gen

// The variant's timers: wheel_gen.go (emitWheel: the hierarchical timing
// wheel behind CallLater, CallAt, CallEvery and Cancel, and endOfTime). The
// bodies of schedule, place and Cancel's unlink are built by scheduleBody,
// placeBody, unlinkBody and cancelBody because loop_gen.go writes them out
// again in CallLater and Cancel (emitScheduling), to save a call on the hot
// path: a change to one of them shows in both files.

import "github.com/dave/jennifer/jen"

// slab is w.at(i), the timer at slab index i, for an emitted index expression.
func slab(i jen.Code) *jen.Statement { return wf("at").Call(i) }

// emitWheel writes the hierarchical timing wheel. Ticks are counted from the
// loop's epoch; a timer due at tick e sits at the lowest level l whose digits
// above l (base wheelSlots) equal those of the current tick, in the bucket of
// e's digit l. When the current tick reaches a bucket of a level above 0 (its
// lower digits all zero), that bucket is cascaded: its timers are placed
// again, one level lower or more. Timers beyond the horizon wait in bucket 0
// of the top level, which is cascaded exactly when the top level wraps, so
// they are placed again at the first moment they could fit: never lost, never
// late. Timers live in a slab and are linked into buckets by index, so
// scheduling, cancelling and firing allocate nothing once the slab has grown.
// The slab grows a fixed-size chunk at a time and never moves: growing a
// contiguous slab copied megabytes into freshly faulted pages at every
// doubling, which made a fresh loop's first 100,000 timers cost several
// hundred ns each.
//
// Every bucket list stays in scheduling order, so timers due in the same tick
// fire in the order scheduled without sorting or a sequence number: a direct
// placement is the newest timer and goes to the tail, and a bucket receives
// cascaded timers only while it is empty, since a cascade happens when cur
// first enters the bucket's block, before any timer could be placed there
// directly.
//
// Expiring a bucket is O(1): its list is spliced onto the due list whole, and
// the timers in it learn that they are due from the bucket's epoch, which is
// part of each timer's list label and moves on at every expiry. The bucket's
// current label is kept whole (labels), so that linking a timer and telling
// where it is cost one load each, and link stays within the inlining budget.
// Walking the bucket to relabel each timer was the first touch of every timer
// since it was scheduled, and cost more than firing it: without the walk,
// 100,000 timers take 14% less CPU (BenchmarkWorkload/timers, 10 runs). The
// timer count changes only when a timer is scheduled or leaves for good, not
// as it moves between buckets and the due list.
func (e *variantEmitter) emitWheel(f *jen.File) {
	f.Comment("endOfTime is the end of loop time, 2^62 ns (about 146 years) after the loop")
	f.Comment("began: a deadline past it is due then. Deadlines and periods stay below it, so")
	f.Comment("that their arithmetic never overflows.")
	f.Const().Id("endOfTime").Op("=").Qual("math", "MaxInt64").Op("/").Lit(2)
	f.Comment("Values of timer.list besides a bucket index.")
	f.Const().Defs(
		jen.Id("listDue").Op("=").Lit(-1).Comment("expired, waiting to run, on the due list"),
		jen.Id("listFree").Op("=").Lit(-2).Comment("not scheduled; on the free list"),
	)
	f.Comment("A timer placed in a bucket has list = bucket | epoch<<bucketShift, the bucket's")
	f.Comment("label (labels[bucket]) when it was placed. A label that is no longer the bucket's")
	f.Comment("marks a timer that the bucket's expiry moved to the due list. Epochs wrap at")
	f.Comment("epochMask+1; expire relabels the due list then, so no stale label can match.")
	f.Const().Defs(
		jen.Id("bucketShift").Op("=").Lit(16).Comment("above the largest bucket index the spec allows (8 levels x 4096 slots)"),
		jen.Id("bucketMask").Op("=").Lit(1).Op("<<").Id("bucketShift").Op("-").Lit(1),
		jen.Id("epochMask").Op("=").Lit(1).Op("<<").Lit(15).Op("-").Lit(1).Comment("list stays positive"),
	)
	f.Comment("The slab's chunks hold chunkSize timers each.")
	f.Const().Defs(
		jen.Id("chunkBits").Op("=").Lit(9),
		jen.Id("chunkSize").Op("=").Lit(1).Op("<<").Id("chunkBits"),
		jen.Id("chunkMask").Op("=").Id("chunkSize").Op("-").Lit(1),
	)
	f.Comment("timer is one slab entry: 32 bytes, two to a cache line. Its tick is computed")
	f.Comment("from when (tickOf) rather than stored, and CallEvery's period lives in a side")
	f.Comment("slab that one-shot timers never touch: a million pending timeouts are 32 MB,")
	f.Comment("not 48, and that much less memory to fault in and for the collector to scan.")
	f.Type().Id("timer").Struct(
		jen.Id("when").Int64().Comment("deadline, loop time in ns"),
		jen.Id("fn").Func().Params(),
		jen.Id("next").Int32().Comment("links in its bucket, the due list or the free list; -1 ends a list"),
		jen.Id("prev").Int32(),
		jen.Id("list").Int32().Comment("bucket index (level*wheelSlots + slot) | epoch<<bucketShift, listDue or listFree"),
		jen.Id("gen").Uint32().Comment("changes whenever the timer fires for good or is cancelled"),
	)
	f.Comment("wheel holds the timers of one loop (loop goroutine only).")
	f.Type().Id("wheel").Struct(
		jen.Id("chunks").Index().Op("*").Index(jen.Id("chunkSize")).Id("timer").Comment("the slab; never moved, so growing it copies nothing"),
		jen.Id("periods").Index().Op("*").Index(jen.Id("chunkSize")).Int64().Comment("CallEvery periods by slab index; a chunk is made when a periodic timer first needs it"),
		jen.Id("n").Int32().Comment("slab entries handed out since the wheel was last empty: in use or on the free list"),
		jen.Id("made").Int32().Comment("slab entries made; those from n to made are free, in slab order"),
		jen.Id("free").Int32().Comment("head of the free list"),
		jen.Id("cur").Uint64().Comment("next tick to process; cascades for it are done"),
		jen.Id("count").Int().Comment("timers scheduled and not yet fired for good or cancelled: in buckets or due"),
		jen.Id("dueHead").Int32(),
		jen.Id("dueTail").Int32(),
		jen.Id("head").Add(e.sized(jen.Id("wheelLevels").Op("*").Id("wheelSlots"))).Int32(),
		jen.Id("tail").Add(e.sized(jen.Id("wheelLevels").Op("*").Id("wheelSlots"))).Int32(),
		jen.Id("occupied").Add(e.sized(jen.Id("wheelLevels"))).Add(e.sized(jen.Id("wheelWords"))).Uint64().Comment("bit set: bucket not empty"),
		jen.Id("labels").Add(e.sized(jen.Id("wheelLevels").Op("*").Id("wheelSlots"))).Int32().Comment("each bucket's current label: its index | its epoch<<bucketShift"),
		jen.Id("firstGen").Uint32().Comment("a new slab entry's first generation: random per loop, so that another loop's handles do not match"),
		jen.Id("parkedAt").Uint64().Comment("no parked timer fits the wheel before this top-level wrap (a lower bound; MaxUint64: none parked since the last reset)"),
		jen.Id("discarded").Bool().Comment("the loop has closed: see discard"),
		e.paramsField(),
	)

	initBody := []jen.Code{
		jen.Comment("Handles carry the slot and its generation, not the loop: generations that start"),
		jen.Comment("at a random point per loop make a handle given to another loop's Cancel miss"),
		jen.Comment("(but with odds of 2^-31: the start is made odd, never the zero handle's 0) instead of cancelling the timer in the same slot."),
		wf("firstGen").Op("=").Qual("math/rand/v2", "Uint32").Call().Op("|").Lit(1),
		wf("reset").Call(),
	}
	clearOccupied := jen.Clear(wf("occupied").Index(jen.Op(":")))
	if e.generic {
		buckets := e.num("w", "wheelLevels").Op("*").Add(e.num("w", "wheelSlots"))
		initBody = append([]jen.Code{
			wf("head").Op("=").Make(jen.Index().Int32(), buckets),
			wf("tail").Op("=").Make(jen.Index().Int32(), buckets.Clone()),
			wf("labels").Op("=").Make(jen.Index().Int32(), buckets.Clone()),
			wf("occupied").Op("=").Make(jen.Index().Index().Uint64(), e.num("w", "wheelLevels")),
			jen.For(jen.Id("i").Op(":=").Range().Add(wf("occupied"))).Block(
				wf("occupied").Index(jen.Id("i")).Op("=").Make(jen.Index().Uint64(), e.num("w", "wheelWords")),
			),
		}, initBody...)
		clearOccupied = jen.For(jen.Id("i").Op(":=").Range().Add(wf("occupied"))).Block(jen.Clear(wf("occupied").Index(jen.Id("i"))))
	}
	f.Add(wheelMethod()).Id("init").Params().Block(initBody...)
	f.Comment("reset drops every timer; handles to them become stale.")
	f.Add(wheelMethod()).Id("reset").Params().Block(
		jen.For(jen.Id("i").Op(":=").Range().Add(wf("n"))).Block(
			jen.If(jen.Id("t").Op(":=").Add(slab(jen.Id("i"))), jen.Id("t").Dot("list").Op("!=").Id("listFree")).Block(wf("release").Call(jen.Id("i"), jen.Id("t"))),
		),
		jen.For(jen.Id("i").Op(":=").Range().Add(wf("head"))).Block(
			wf("head").Index(jen.Id("i")).Op(",").Add(wf("tail")).Index(jen.Id("i")).Op("=").Lit(-1).Op(",").Lit(-1),
			wf("labels").Index(jen.Id("i")).Op("=").Int32().Call(jen.Id("i")),
		),
		clearOccupied,
		jen.Comment("Every entry is free now: hand them out from the slab's start again (see countOut)."),
		wf("free").Op(",").Add(wf("n")).Op("=").Lit(-1).Op(",").Lit(0),
		wf("count").Op("=").Lit(0),
		wf("dueHead").Op(",").Add(wf("dueTail")).Op("=").Lit(-1).Op(",").Lit(-1),
		wf("parkedAt").Op("=").Qual("math", "MaxUint64"),
	)

	f.Comment("discard drops every timer and the slab, for a loop that has closed. A timer")
	f.Comment("scheduled after it finds no slab entry and is dropped, and its handle is the zero")
	f.Comment("Timer: a closed loop does not hold closures scheduled by mistake (only the check")
	f.Comment("before a new chunk of the slab, once in chunkSize timers, looks for this).")
	f.Add(wheelMethod()).Id("discard").Params().Block(
		wf("reset").Call(),
		wf("chunks").Op(",").Add(wf("periods")).Op(",").Add(wf("made")).Op(",").Add(wf("discarded")).Op("=").Nil().Op(",").Nil().Op(",").Lit(0).Op(",").True(),
	)

	f.Comment("at returns slab entry i.")
	f.Add(wheelMethod()).Id("at").Params(jen.Id("i").Int32()).Op("*").Id("timer").Block(
		jen.Return(jen.Op("&").Add(wf("chunks")).Index(jen.Id("i").Op(">>").Id("chunkBits")).Index(jen.Id("i").Op("&").Id("chunkMask"))),
	)
	f.Add(wheelMethod()).Id("pending").Params().Int().Block(jen.Return(wf("count")))
	f.Add(wheelMethod()).Id("hasDue").Params().Bool().Block(jen.Return(wf("dueHead").Op(">=").Lit(0)))

	f.Comment("schedule adds a timer due at loop time when (ns), repeating every period if > 0.")
	f.Add(wheelMethod()).Id("schedule").Params(jen.Id("when").Int64(), jen.Id("period").Int64(), jen.Id("fn").Func().Params()).Qual(pkgCore, "Timer").Block(e.scheduleBody()...)

	f.Comment("periodOf returns where timer i's CallEvery period is kept, or nil while its")
	f.Comment("chunk of periods has never been needed (the period is then 0).")
	f.Add(wheelMethod()).Id("periodOf").Params(jen.Id("i").Int32()).Op("*").Int64().Block(
		jen.If(jen.Id("c").Op(":=").Int().Call(jen.Id("i").Op(">>").Id("chunkBits")), jen.Id("c").Op("<").Len(wf("periods")).Op("&&").Add(wf("periods")).Index(jen.Id("c")).Op("!=").Nil()).Block(
			jen.Return(jen.Op("&").Add(wf("periods")).Index(jen.Id("c")).Index(jen.Id("i").Op("&").Id("chunkMask"))),
		),
		jen.Return(jen.Nil()),
	)
	f.Comment("period returns timer i's CallEvery period, or 0 for a one-shot timer.")
	f.Add(wheelMethod()).Id("period").Params(jen.Id("i").Int32()).Int64().Block(
		jen.If(jen.Id("p").Op(":=").Add(wf("periodOf")).Call(jen.Id("i")), jen.Id("p").Op("!=").Nil()).Block(jen.Return(jen.Op("*").Id("p"))),
		jen.Return(jen.Lit(0)),
	)
	f.Comment("setPeriod records timer i's period; release sets it back to 0.")
	f.Add(wheelMethod()).Id("setPeriod").Params(jen.Id("i").Int32(), jen.Id("period").Int64()).Block(
		jen.Id("c").Op(":=").Int().Call(jen.Id("i").Op(">>").Id("chunkBits")),
		jen.For(jen.Len(wf("periods")).Op("<=").Id("c")).Block(
			wf("periods").Op("=").Append(wf("periods"), jen.Nil()),
		),
		jen.If(wf("periods").Index(jen.Id("c")).Op("==").Nil()).Block(
			wf("periods").Index(jen.Id("c")).Op("=").New(jen.Index(jen.Id("chunkSize")).Int64()),
		),
		wf("periods").Index(jen.Id("c")).Index(jen.Id("i").Op("&").Id("chunkMask")).Op("=").Id("period"),
	)

	f.Add(wheelMethod()).Id("setDeadline").Params(jen.Id("t").Op("*").Id("timer"), jen.Id("when").Int64()).Block(
		jen.If(jen.Id("when").Op("<").Lit(0)).Block(jen.Id("when").Op("=").Lit(0)),
		jen.Id("t").Dot("when").Op("=").Id("when"),
	)

	f.Comment("tickOf is t's deadline rounded up to a tick: it fires when that tick is processed.")
	f.Add(wheelMethod()).Id("tickOf").Params(jen.Id("t").Op("*").Id("timer")).Uint64().Block(
		jen.Return(jen.Uint64().Call(jen.Id("t").Dot("when").Op("+").Add(e.num("w", "tickNanos")).Op("-").Lit(1)).Op("/").Add(e.numAs(jen.Uint64(), "w", "tickNanos"))),
	)

	f.Comment("place links timer i into the bucket its tick belongs in, relative to cur.")
	f.Add(wheelMethod()).Id("place").Params(jen.Id("i").Int32(), jen.Id("t").Op("*").Id("timer")).Block(e.placeBody()...)

	f.Add(wheelMethod()).Id("link").Params(jen.Id("i"), jen.Id("b").Int32(), jen.Id("t").Op("*").Id("timer")).Block(
		jen.Id("t").Dot("list").Op(",").Id("t").Dot("next").Op(",").Id("t").Dot("prev").Op("=").Add(wf("labels")).Index(jen.Id("b")).Op(",").Lit(-1).Op(",").Add(wf("tail")).Index(jen.Id("b")),
		jen.If(jen.Id("last").Op(":=").Add(wf("tail")).Index(jen.Id("b")), jen.Id("last").Op(">=").Lit(0)).Block(
			slab(jen.Id("last")).Dot("next").Op("=").Id("i"),
		).Else().Block(
			wf("head").Index(jen.Id("b")).Op("=").Id("i"),
			wf("occupied").Index(jen.Id("b").Op("/").Add(e.numAs(jen.Int32(), "w", "wheelSlots"))).Index(jen.Id("b").Op("%").Add(e.numAs(jen.Int32(), "w", "wheelSlots")).Op("/").Lit(64)).Op("|=").Lit(1).Op("<<").Parens(jen.Id("b").Op("%").Add(e.numAs(jen.Int32(), "w", "wheelSlots")).Op("%").Lit(64)),
		),
		wf("tail").Index(jen.Id("b")).Op("=").Id("i"),
	)

	f.Comment("emptied clears the bookkeeping of bucket b, which has just become empty.")
	f.Add(wheelMethod()).Id("emptied").Params(jen.Id("b").Int32()).Block(
		wf("head").Index(jen.Id("b")).Op(",").Add(wf("tail")).Index(jen.Id("b")).Op("=").Lit(-1).Op(",").Lit(-1),
		wf("occupied").Index(jen.Id("b").Op("/").Add(e.numAs(jen.Int32(), "w", "wheelSlots"))).Index(jen.Id("b").Op("%").Add(e.numAs(jen.Int32(), "w", "wheelSlots")).Op("/").Lit(64)).Op("&^=").Lit(1).Op("<<").Parens(jen.Id("b").Op("%").Add(e.numAs(jen.Int32(), "w", "wheelSlots")).Op("%").Lit(64)),
	)

	f.Comment("release returns timer i to the free list; its handles become stale.")
	f.Add(wheelMethod()).Id("release").Params(jen.Id("i").Int32(), jen.Id("t").Op("*").Id("timer")).Block(
		jen.Id("t").Dot("fn").Op("=").Nil(),
		jen.If(jen.Id("p").Op(":=").Add(wf("periodOf")).Call(jen.Id("i")), jen.Id("p").Op("!=").Nil()).Block(jen.Op("*").Id("p").Op("=").Lit(0)),
		jen.Id("t").Dot("gen").Op("++"),
		jen.If(jen.Id("t").Dot("gen").Op("==").Lit(0)).Block(jen.Id("t").Dot("gen").Op("=").Lit(1).Comment("0 would never match a handle; keep handles' gen non-zero")),
		jen.Id("t").Dot("list").Op(",").Id("t").Dot("next").Op("=").Id("listFree").Op(",").Add(wf("free")),
		wf("free").Op("=").Id("i"),
	)

	f.Comment("countOut counts out a timer that fired for good or was cancelled. When none is")
	f.Comment("left, entries are handed out from the slab's start again, in slab order, not from")
	f.Comment("the free list, whose order after a burst is cancelled or fired runs backwards or")
	f.Comment("jumps about the slab: the next burst then writes memory in order, as on a fresh")
	f.Comment("loop but with the memory already in place (a kept loop's 1M timeouts had cost 60")
	f.Comment("ns a timer against a fresh loop's 46). Their generations stay as they are. Apart")
	f.Comment("from release, so that both stay small enough to inline.")
	f.Add(wheelMethod()).Id("countOut").Params().Block(
		wf("count").Op("--"),
		jen.If(wf("count").Op("==").Lit(0)).Block(
			wf("free").Op(",").Add(wf("n")).Op("=").Lit(-1).Op(",").Lit(0),
		),
	)

	f.Comment("findSet returns the first non-empty bucket of level at or after slot from.")
	f.Add(wheelMethod()).Id("findSet").Params(jen.Id("level").Int(), jen.Id("from").Uint64()).Params(jen.Uint64(), jen.Bool()).Block(
		jen.For(jen.Id("word").Op(":=").Id("from").Op("/").Lit(64), jen.Id("word").Op("<").Add(e.num("w", "wheelWords")), jen.Id("word").Op("++")).Block(
			jen.Id("bitset").Op(":=").Add(wf("occupied")).Index(jen.Id("level")).Index(jen.Id("word")),
			jen.If(jen.Id("word").Op("==").Id("from").Op("/").Lit(64)).Block(
				jen.Id("bitset").Op("&=").Op("^").Uint64().Call(jen.Lit(0)).Op("<<").Parens(jen.Id("from").Op("%").Lit(64)),
			),
			jen.If(jen.Id("bitset").Op("!=").Lit(0)).Block(
				jen.Return(jen.Id("word").Op("*").Lit(64).Op("+").Uint64().Call(jen.Qual("math/bits", "TrailingZeros64").Call(jen.Id("bitset"))), jen.True()),
			),
		),
		jen.Return(jen.Lit(0), jen.False()),
	)

	f.Comment("next returns the earliest tick at which the wheel has work: a level-0 bucket")
	f.Comment("to expire, an upper bucket to cascade, or the wrap of the top level from which")
	f.Comment("a parked timer fits. With nothing in the wheel (count > 0 for due timers alone)")
	f.Comment("it is MaxUint64: no tick has work.")
	f.Add(wheelMethod()).Id("next").Params().Uint64().Block(
		jen.For(jen.Id("level").Op(":=").Lit(0), jen.Id("level").Op("<").Add(e.num("w", "wheelLevels")), jen.Id("level").Op("++")).Block(
			jen.Id("shift").Op(":=").Id("level").Op("*").Add(e.num("w", "wheelBits")),
			jen.Id("from").Op(":=").Add(wf("cur")).Op(">>").Id("shift").Op("&").Add(e.num("w", "wheelMask")),
			jen.If(jen.Id("level").Op(">").Lit(0)).Block(
				jen.Comment("An upper bucket at cur's own digit was cascaded already."),
				jen.Id("from").Op("++"),
			),
			jen.If(jen.List(jen.Id("slot"), jen.Id("ok")).Op(":=").Add(wf("findSet")).Call(jen.Id("level"), jen.Id("from")), jen.Id("ok")).Block(
				jen.Id("above").Op(":=").Id("shift").Op("+").Add(e.num("w", "wheelBits")),
				jen.Return(wf("cur").Op(">>").Id("above").Op("<<").Id("above").Op("|").Id("slot").Op("<<").Id("shift")),
			),
		),
		jen.Comment("Only timers beyond the horizon, if any: re-placed when the top level wraps, and"),
		jen.Comment("none fits before parkedAt, so the wraps before it are skipped: a jump of the"),
		jen.Comment("clock by many horizons is one step, not one per horizon."),
		jen.If(wf("parkedAt").Op("==").Qual("math", "MaxUint64")).Block(jen.Return(wf("parkedAt"))),
		jen.Id("top").Op(":=").Add(e.num("w", "wheelLevels")).Op("*").Add(e.num("w", "wheelBits")),
		jen.Return(jen.Max(wf("parkedAt"), jen.Parens(wf("cur").Op(">>").Id("top").Op("+").Lit(1)).Op("<<").Id("top"))),
	)

	f.Comment("setCur moves cur to tick t (never past work: t <= next()), cascading the")
	f.Comment("buckets that t reaches.")
	f.Add(wheelMethod()).Id("setCur").Params(jen.Id("t").Uint64()).Block(
		wf("cur").Op("=").Id("t"),
		jen.If(jen.Id("t").Op("&").Add(e.num("w", "wheelMask")).Op("!=").Lit(0)).Block(jen.Return()),
		jen.Comment("Highest level first, so timers flow down through every level they need."),
		jen.For(jen.Id("level").Op(":=").Add(e.num("w", "wheelLevels")).Op("-").Lit(1), jen.Id("level").Op(">=").Lit(1), jen.Id("level").Op("--")).Block(
			jen.Id("shift").Op(":=").Id("level").Op("*").Add(e.num("w", "wheelBits")),
			jen.If(jen.Id("t").Op("&").Parens(jen.Lit(1).Op("<<").Id("shift").Op("-").Lit(1)).Op("!=").Lit(0)).Block(jen.Continue()),
			jen.Id("b").Op(":=").Int32().Call(jen.Id("level").Op("*").Add(e.num("w", "wheelSlots")).Op("+").Int().Call(jen.Id("t").Op(">>").Id("shift").Op("&").Add(e.num("w", "wheelMask")))),
			jen.If(jen.Id("b").Op("==").Add(e.parkedBucket())).Block(
				jen.Comment("A wrap: the parked timers are all placed again, and those still beyond"),
				jen.Comment("the horizon set parkedAt anew."),
				wf("parkedAt").Op("=").Qual("math", "MaxUint64"),
			),
			jen.Id("i").Op(":=").Add(wf("head")).Index(jen.Id("b")),
			jen.If(jen.Id("i").Op("<").Lit(0)).Block(jen.Continue()),
			wf("emptied").Call(jen.Id("b")),
			jen.For(jen.Id("i").Op(">=").Lit(0)).Block(
				jen.Id("t").Op(":=").Add(slab(jen.Id("i"))),
				jen.Id("next").Op(":=").Id("t").Dot("next"),
				wf("place").Call(jen.Id("i"), jen.Id("t")),
				jen.Id("i").Op("=").Id("next"),
			),
		),
	)

	f.Comment("advance processes every tick up to and including target: due timers move,")
	f.Comment("in order, to the due list.")
	f.Add(wheelMethod()).Id("advance").Params(jen.Id("target").Uint64()).Block(
		jen.For(wf("count").Op(">").Lit(0)).Block(
			jen.Id("t").Op(":=").Add(wf("next")).Call(),
			jen.If(jen.Id("t").Op(">").Id("target")).Block(jen.Break()),
			jen.If(jen.Id("t").Op("!=").Add(wf("cur"))).Block(wf("setCur").Call(jen.Id("t"))),
			jen.If(jen.Id("b").Op(":=").Int32().Call(wf("cur").Op("&").Add(e.num("w", "wheelMask"))), wf("head").Index(jen.Id("b")).Op(">=").Lit(0)).Block(
				wf("expire").Call(jen.Id("b")),
			),
			wf("setCur").Call(wf("cur").Op("+").Lit(1)),
		),
		jen.If(wf("cur").Op("<=").Id("target")).Block(wf("setCur").Call(jen.Id("target").Op("+").Lit(1))),
	)

	f.Comment("expire moves level-0 bucket b, whose tick has come, onto the due list, whole.")
	f.Add(wheelMethod()).Id("expire").Params(jen.Id("b").Int32()).Block(
		jen.Id("first").Op(",").Id("last").Op(":=").Add(wf("head")).Index(jen.Id("b")).Op(",").Add(wf("tail")).Index(jen.Id("b")),
		jen.If(wf("dueTail").Op(">=").Lit(0)).Block(
			slab(wf("dueTail")).Dot("next").Op("=").Id("first"),
			slab(jen.Id("first")).Dot("prev").Op("=").Add(wf("dueTail")),
		).Else().Block(
			wf("dueHead").Op("=").Id("first"),
		),
		wf("dueTail").Op("=").Id("last"),
		wf("emptied").Call(jen.Id("b")),
		jen.Comment("The timers just moved now carry a stale label: they read as due."),
		jen.Id("epoch").Op(":=").Parens(wf("labels").Index(jen.Id("b")).Op(">>").Id("bucketShift").Op("+").Lit(1)).Op("&").Id("epochMask"),
		wf("labels").Index(jen.Id("b")).Op("=").Id("b").Op("|").Id("epoch").Op("<<").Id("bucketShift"),
		jen.If(jen.Id("epoch").Op("==").Lit(0)).Block(
			jen.Comment("A due timer with this bucket's new epochs in its label would read as"),
			jen.Comment("pending once they come round: label every due timer listDue. Rare: a"),
			jen.Comment("bucket expires epochMask+1 times while timers it expired are still due."),
			jen.For(jen.Id("i").Op(":=").Add(wf("dueHead")), jen.Id("i").Op(">=").Lit(0), jen.Id("i").Op("=").Add(slab(jen.Id("i"))).Dot("next")).Block(
				slab(jen.Id("i")).Dot("list").Op("=").Id("listDue"),
			),
		),
	)

	f.Comment("fire takes the first due timer off the due list and returns its callback.")
	f.Comment("A periodic timer is placed again at its next deadline on the same schedule,")
	f.Comment("skipping periods already past; a one-shot timer is released, and so is a")
	f.Comment("periodic one that has run at the end of loop time, which has no later deadline.")
	f.Comment("A deadline is past once its tick has been processed, not as soon as now passes")
	f.Comment("it: every timer fires up to a tick after its deadline, and judged against now, a")
	f.Comment("CallEvery of one tick skipped every other period.")
	f.Add(wheelMethod()).Id("fire").Params(jen.Id("now").Int64()).Func().Params().Block(
		jen.Id("i").Op(":=").Add(wf("dueHead")),
		jen.Id("t").Op(":=").Add(slab(jen.Id("i"))),
		wf("dueHead").Op("=").Id("t").Dot("next"),
		jen.If(jen.Id("t").Dot("next").Op(">=").Lit(0)).Block(
			slab(jen.Id("t").Dot("next")).Dot("prev").Op("=").Lit(-1),
		).Else().Block(
			wf("dueTail").Op("=").Lit(-1),
		),
		jen.Id("fn").Op(":=").Id("t").Dot("fn"),
		jen.If(jen.Id("period").Op(":=").Add(wf("period")).Call(jen.Id("i")), jen.Id("period").Op(">").Lit(0)).Block(
			jen.Comment("Saturating at endOfTime: t.when <= endOfTime, and a period may be huge."),
			jen.Id("when").Op(":=").Id("t").Dot("when").Op("+").Min(jen.Id("period"), jen.Id("endOfTime").Op("-").Id("t").Dot("when")),
			jen.Id("past").Op(":=").Id("now").Op("-").Id("now").Op("%").Add(e.num("w", "tickNanos")).Comment("the start of the tick being processed"),
			jen.If(jen.Id("when").Op("<=").Id("past").Op("&&").Id("past").Op("<").Id("endOfTime")).Block(
				jen.Comment("The first deadline on the schedule after past."),
				jen.Id("when").Op("=").Id("past").Op("+").Min(jen.Id("period").Op("-").Parens(jen.Id("past").Op("-").Id("when")).Op("%").Id("period"), jen.Id("endOfTime").Op("-").Id("past")),
			),
			jen.If(jen.Id("when").Op(">").Id("past")).Block(
				wf("setDeadline").Call(jen.Id("t"), jen.Id("when")),
				wf("place").Call(jen.Id("i"), jen.Id("t")),
				jen.Return(jen.Id("fn")),
			),
		),
		wf("release").Call(jen.Id("i"), jen.Id("t")),
		wf("countOut").Call(),
		jen.Return(jen.Id("fn")),
	)
}

// parkedBucket is the bucket of the timers beyond the horizon: the top
// level's bucket 0, which no timer within the horizon uses (its top digit
// would be below cur's).
func (e *variantEmitter) parkedBucket() *jen.Statement {
	return jen.Int32().Call(jen.Parens(e.num("w", "wheelLevels").Op("-").Lit(1)).Op("*").Add(e.num("w", "wheelSlots")))
}

// placeBody is the code that links timer i (t) into the bucket its tick
// belongs in, relative to cur: place's body, and written out in schedule
// too, since place is over the compiler's inlining budget and scheduling
// is the hot path of every deadline.
func (e *variantEmitter) placeBody() []jen.Code {
	return []jen.Code{
		jen.Id("e").Op(":=").Max(wf("tickOf").Call(jen.Id("t")), wf("cur")),
		jen.Comment("The level is where e's digits first differ from cur's, counted from the top."),
		jen.Id("level").Op(":=").Lit(0),
		jen.If(jen.Id("x").Op(":=").Id("e").Op("^").Add(wf("cur")), jen.Id("x").Op("!=").Lit(0)).Block(
			jen.Id("level").Op("=").Parens(jen.Qual("math/bits", "Len64").Call(jen.Id("x")).Op("-").Lit(1)).Op("/").Add(e.num("w", "wheelBits")),
		),
		jen.Id("b").Op(":=").Add(e.parkedBucket()).Comment("beyond the horizon: top level, bucket 0"),
		jen.If(jen.Id("level").Op("<").Add(e.num("w", "wheelLevels"))).Block(
			jen.Id("b").Op("=").Int32().Call(jen.Id("level").Op("*").Add(e.num("w", "wheelSlots")).Op("+").Int().Call(jen.Id("e").Op(">>").Parens(jen.Id("level").Op("*").Add(e.num("w", "wheelBits"))).Op("&").Add(e.num("w", "wheelMask")))),
		).Else().If(jen.Id("wrap").Op(":=").Id("e").Op(">>").Parens(e.num("w", "wheelLevels").Op("*").Add(e.num("w", "wheelBits"))).Op("<<").Parens(e.num("w", "wheelLevels").Op("*").Add(e.num("w", "wheelBits"))), jen.Id("wrap").Op("<").Add(wf("parkedAt"))).Block(
			jen.Comment("Parked: it fits the wheel from the wrap of the top level that e is in."),
			wf("parkedAt").Op("=").Id("wrap"),
		),
		wf("link").Call(jen.Id("i"), jen.Id("b"), jen.Id("t")),
	}
}

// unlinkBody is the code that takes timer t out of its bucket or the due
// list. It is written out in Cancel and Reschedule: as a function of its own
// it was one more call on every cancel.
func (e *variantEmitter) unlinkBody() []jen.Code {
	return []jen.Code{
		jen.Comment("Take t out of its bucket or the due list."),
		jen.Id("b").Op(":=").Id("t").Dot("list").Op("&").Id("bucketMask"),
		jen.Id("inBucket").Op(":=").Id("t").Dot("list").Op(">=").Lit(0).Op("&&").Add(wf("labels")).Index(jen.Id("b")).Op("==").Id("t").Dot("list"),
		jen.Var().Id("head").Op(",").Id("tail").Op("*").Int32(),
		jen.If(jen.Id("inBucket")).Block(
			jen.List(jen.Id("head"), jen.Id("tail")).Op("=").List(jen.Op("&").Add(wf("head")).Index(jen.Id("b")), jen.Op("&").Add(wf("tail")).Index(jen.Id("b"))),
		).Else().Block(
			jen.List(jen.Id("head"), jen.Id("tail")).Op("=").List(jen.Op("&").Add(wf("dueHead")), jen.Op("&").Add(wf("dueTail"))),
		),
		jen.If(jen.Id("t").Dot("prev").Op(">=").Lit(0)).Block(
			slab(jen.Id("t").Dot("prev")).Dot("next").Op("=").Id("t").Dot("next"),
		).Else().Block(
			jen.Op("*").Id("head").Op("=").Id("t").Dot("next"),
		),
		jen.If(jen.Id("t").Dot("next").Op(">=").Lit(0)).Block(
			slab(jen.Id("t").Dot("next")).Dot("prev").Op("=").Id("t").Dot("prev"),
		).Else().Block(
			jen.Op("*").Id("tail").Op("=").Id("t").Dot("prev"),
		),
		jen.If(jen.Id("inBucket").Op("&&").Op("*").Id("head").Op("<").Lit(0)).Block(
			wf("emptied").Call(jen.Id("b")),
		),
	}
}

// scheduleBody is the code that adds a timer due at loop time when (ns),
// repeating every period if > 0, calling fn, and returns its handle, for a
// function with w (the wheel), when, period and fn in scope: the wheel's
// schedule, and written out in the Loop's CallLater, the hot path.
func (e *variantEmitter) scheduleBody() []jen.Code {
	return []jen.Code{
		jen.Id("i").Op(":=").Add(wf("free")),
		jen.If(jen.Id("i").Op(">=").Lit(0)).Block(
			wf("free").Op("=").Add(slab(jen.Id("i"))).Dot("next"),
		).Else().Block(
			jen.If(wf("n").Op("==").Add(wf("made"))).Block(
				jen.If(wf("made").Op("&").Id("chunkMask").Op("==").Lit(0)).Block(
					jen.If(wf("discarded")).Block(jen.Return(jen.Qual(pkgCore, "Timer").Values())),
					wf("chunks").Op("=").Append(wf("chunks"), jen.New(jen.Index(jen.Id("chunkSize")).Id("timer"))),
				),
				slab(wf("made")).Dot("gen").Op("=").Add(wf("firstGen")),
				wf("made").Op("++"),
			),
			jen.List(jen.Id("i"), wf("n")).Op("=").List(wf("n"), wf("n").Op("+").Lit(1)),
		),
		wf("count").Op("++"),
		jen.Id("t").Op(":=").Add(slab(jen.Id("i"))),
		jen.Id("t").Dot("fn").Op("=").Id("fn"),
		jen.If(jen.Id("period").Op(">").Lit(0)).Block(wf("setPeriod").Call(jen.Id("i"), jen.Id("period"))),
		wf("setDeadline").Call(jen.Id("t"), jen.Id("when")),
		jen.Block(e.placeBody()...),
		jen.Return(jen.Qual(pkgCore, "MakeTimer").Call(jen.Id("i"), jen.Id("t").Dot("gen"))),
	}
}

// rescheduleBody is the code that moves the timer handle h refers to, if it
// is still pending, to the deadline when (loop time, ns), and says whether it
// did, for a function with w (the wheel) and h in scope: its slab entry, and
// so its handle, stays as it is.
func (e *variantEmitter) rescheduleBody(when *jen.Statement) []jen.Code {
	return append(pendingTimer(),
		jen.Block(e.unlinkBody()...),
		wf("setDeadline").Call(jen.Id("t"), when),
		wf("place").Call(jen.Id("i"), jen.Id("t")),
		jen.Return(jen.True()),
	)
}

// pendingTimer is the code that finds the slab entry i, t, of the timer
// handle h refers to, and returns false unless that timer is pending: a
// zero, stale or foreign handle, or one whose timer fired or was
// cancelled, finds none.
func pendingTimer() []jen.Code {
	return []jen.Code{
		jen.List(jen.Id("i"), jen.Id("gen"), jen.Id("ok")).Op(":=").Id("h").Dot("Slot").Call(),
		jen.If(jen.Op("!").Id("ok").Op("||").Id("i").Op("<").Lit(0).Op("||").Id("i").Op(">=").Add(wf("n"))).Block(jen.Return(jen.False())),
		jen.Id("t").Op(":=").Add(slab(jen.Id("i"))),
		jen.If(jen.Id("t").Dot("gen").Op("!=").Id("gen").Op("||").Id("t").Dot("list").Op("==").Id("listFree")).Block(jen.Return(jen.False())),
	}
}

// cancelBody is the code that unschedules the timer handle h refers to, if
// it is still pending, and says whether it did, for a function with w (the
// wheel) and h in scope. It is written out in the Loop's Cancel, its only
// caller, so that a Cancel is one call, not three.
func (e *variantEmitter) cancelBody() []jen.Code {
	return append(pendingTimer(),
		jen.Block(e.unlinkBody()...),
		wf("release").Call(jen.Id("i"), jen.Id("t")),
		wf("countOut").Call(),
		jen.Return(jen.True()),
	)
}
