package gen

// The variant's two callback queues: ready_gen.go (emitReady: readyQueue,
// the FIFO behind CallSoon and every batch, loop goroutine only) and
// inbox_gen.go (emitInbox: inbox, behind Post, safe from any goroutine;
// emitMPSCInbox for inbox.kind mpsc, emitMutexInbox for mutex, each with the
// code overflow asks for). Both inboxes have the method set that loop_gen.go
// calls: push, nonEmpty, claimed, len, drain, close and drainClosed, and
// published with inbox.gather; the mpsc inbox adds unpublished, and its
// drainClosed uses publishYields, which loop_gen.go declares beside
// awaitPublish (emitAwaitPublish).

import "github.com/dave/jennifer/jen"

// emitReady writes the ready queue: callbacks in fixed-size segments linked
// in FIFO order. Emptied segments are kept and reused, so the steady state
// allocates nothing, and growing never copies: a doubling ring copied
// megabytes at each step into freshly faulted pages (a fresh loop's millionth
// callback cost ten times its thousandth). A segment is exactly 32 KiB, the
// largest size the allocator's caches serve, so segments freed by one loop
// are reused by the next without touching the page heap. queue_depth
// callbacks' worth of segments (at least one) is allocated up front, and
// segments emptied after a burst stay on the free list for the loop's life.
func (e *variantEmitter) emitReady(f *jen.File) {
	f.Comment("segSize is how many callbacks a segment holds: with its next pointer, a")
	f.Comment("segment is exactly 32 KiB, the allocator's largest cached size.")
	f.Const().Id("segSize").Op("=").Lit(4095)
	f.Comment("segment is a block of the ready queue.")
	f.Type().Id("segment").Struct(
		jen.Id("fns").Index(jen.Id("segSize")).Func().Params(),
		jen.Id("next").Op("*").Id("segment"),
	)
	f.Comment("readyQueue is the FIFO of ready callbacks (loop goroutine only).")
	f.Type().Id("readyQueue").Struct(
		jen.Id("head").Op("*").Id("segment").Comment("the oldest callback is head.fns[hi]"),
		jen.Id("tail").Op("*").Id("segment").Comment("pushes go to tail.fns[ti]"),
		jen.Id("hi").Int(),
		jen.Id("ti").Int(),
		jen.Id("n").Int(),
		jen.Id("free").Op("*").Id("segment").Comment("emptied segments, reused before allocating"),
		e.paramsField(),
	)
	f.Add(readyMethod()).Id("init").Params().Block(
		jen.Comment("queueDepth rounded up to whole segments: it is at least 16, so at least one."),
		jen.Comment("Each is written once here: the allocator hands out pages fresh from the OS"),
		jen.Comment("unwritten, and the first burst would take their page faults (a fresh loop's"),
		jen.Comment("1,000 callbacks: 6.3-6.6 ns each without this, 5.4-5.8 with it)."),
		jen.For(jen.Range().Parens(e.num("r", "queueDepth").Op("+").Id("segSize").Op("-").Lit(1)).Op("/").Id("segSize")).Block(
			jen.Id("s").Op(":=").Op("&").Id("segment").Values(jen.Dict{jen.Id("next"): rf("free")}),
			jen.Clear(jen.Id("s").Dot("fns").Index(jen.Op(":"))),
			rf("free").Op("=").Id("s"),
		),
		rf("head").Op("=").Add(rf("take")).Call(),
		rf("tail").Op("=").Add(rf("head")),
	)
	f.Comment("take returns an empty segment, from the free list when it has one.")
	f.Add(readyMethod()).Id("take").Params().Op("*").Id("segment").Block(
		jen.Id("s").Op(":=").Add(rf("free")),
		jen.If(jen.Id("s").Op("==").Nil()).Block(jen.Return(jen.New(jen.Id("segment")))),
		rf("free").Op(",").Id("s").Dot("next").Op("=").Id("s").Dot("next").Op(",").Nil(),
		jen.Return(jen.Id("s")),
	)
	f.Add(readyMethod()).Id("len").Params().Int().Block(jen.Return(rf("n")))
	f.Comment("push queues fn; on a discarded queue it drops fn (see discard).")
	f.Add(readyMethod()).Id("push").Params(jen.Id("fn").Func().Params()).Block(
		jen.If(rf("ti").Op("==").Id("segSize")).Block(
			jen.If(rf("tail").Op("==").Nil()).Block(jen.Return()),
			jen.Id("s").Op(":=").Add(rf("take")).Call(),
			rf("tail").Dot("next").Op(",").Add(rf("tail")).Op(",").Add(rf("ti")).Op("=").Id("s").Op(",").Id("s").Op(",").Lit(0),
		),
		rf("tail").Dot("fns").Index(rf("ti")).Op("=").Id("fn"),
		rf("ti").Op("++"),
		rf("n").Op("++"),
	)
	f.Comment("stretch returns the next callbacks, up to max of them (at most as many as are")
	f.Comment("queued), that lie together in the head segment, moving on to the next segment")
	f.Comment("when the head one is used up. runReady runs them in place, clearing each slot")
	f.Comment("and advancing hi as it goes, so that the queue does not keep a closure alive")
	f.Comment("and is whole before each call.")
	f.Add(readyMethod()).Id("stretch").Params(jen.Id("max").Int()).Index().Func().Params().Block(
		jen.If(rf("hi").Op("==").Id("segSize")).Block(
			jen.Id("s").Op(":=").Add(rf("head")),
			rf("head").Op(",").Add(rf("hi")).Op("=").Id("s").Dot("next").Op(",").Lit(0),
			jen.Id("s").Dot("next").Op(",").Add(rf("free")).Op("=").Add(rf("free")).Op(",").Id("s"),
		),
		jen.Return(rf("head").Dot("fns").Index(rf("hi").Op(":").Min(jen.Id("segSize"), rf("hi").Op("+").Id("max")))),
	)
	f.Comment("settle starts the queue again at the head of its segment once it is empty, so")
	f.Comment("that a loop that runs small bursts reuses the same few cache lines instead of")
	f.Comment("walking its segments, and one that runs the same big burst again allocates")
	f.Comment("nothing. Empty, head is tail.")
	f.Add(readyMethod()).Id("settle").Params().Block(
		jen.If(rf("n").Op("==").Lit(0)).Block(
			rf("hi").Op(",").Add(rf("ti")).Op("=").Lit(0).Op(",").Lit(0),
		),
	)
	f.Comment("discard drops every queued callback and the segments, for a loop that has closed.")
	f.Comment("A push after it finds no segment to fill and drops its callback, which nothing")
	f.Comment("would run: a closed loop does not hold closures queued by mistake (only the")
	f.Comment("check for a full segment, once in segSize pushes, looks for this).")
	f.Add(readyMethod()).Id("discard").Params().Block(
		rf("head").Op(",").Add(rf("tail")).Op(",").Add(rf("free")).Op("=").Nil().Op(",").Nil().Op(",").Nil(),
		rf("hi").Op(",").Add(rf("ti")).Op(",").Add(rf("n")).Op("=").Lit(0).Op(",").Id("segSize").Op(",").Lit(0),
	)
}

// emitInbox writes inbox_gen.go, the inbox of the spec's inbox.kind.
func (e *variantEmitter) emitInbox(f *jen.File) {
	if e.v.Inbox.Kind == InboxMutex {
		e.emitMutexInbox(f)
	} else {
		e.emitMPSCInbox(f)
	}
}

func (e *variantEmitter) grows() bool { return e.v.Overflow == OverflowGrow }

// emitMPSCInbox writes a bounded lock-free multi-producer queue (Vyukov's
// design): a producer claims a slot with one CAS on tail and publishes it by
// storing the slot's sequence number; the loop consumes without atomics on
// the shared tail. Both sequence stores, the producer's publish and the loop's
// release of the slot, are release stores (package release), not sequentially
// consistent ones: on amd64 a sequentially consistent store is an XCHG, which
// made the producer wait, on every post, for the slot's cache line that the
// loop wrote last, and the loop for the line the producer wrote (one producer,
// 100,000 posts: 13.0-13.4 ns a post with XCHG, 8.5-8.9 with release stores,
// medians of three alternated runs on a 2-core AMD EPYC VM). So the sleep
// handshake with the loop cannot rest on the publish; it rests on the CAS
// that claims the slot (see claimed). With overflow: grow a full ring spills
// into a mutex-guarded slice. Spilling sets spillBit in tail itself, so no
// slot can be claimed until the loop has taken the spill (a claim is a CAS on
// tail): everything in the spill was posted after everything in the ring, and
// each producer's callbacks run in the order it posted them. (A separate "spilled"
// flag is not enough: a producer that read it just before it was set could
// still claim a slot after the loop had decided the ring was empty.)
func (e *variantEmitter) emitMPSCInbox(f *jen.File) {
	f.Comment("closedBit, set in tail by close, makes every later push fail with ErrClosed.")
	f.Const().Id("closedBit").Op("=").Lit(1).Op("<<").Lit(63)
	flagBits := jen.Id("flagBits").Op("=").Id("closedBit")
	if e.grows() {
		f.Comment("spillBit, set in tail while the spill is not empty, sends every push there.")
		f.Const().Id("spillBit").Op("=").Lit(1).Op("<<").Lit(62)
		flagBits = flagBits.Op("|").Id("spillBit")
	}
	f.Comment("flagBits are the bits of tail that are not a position.")
	f.Const().Add(flagBits)

	f.Type().Id("inboxSlot").Struct(
		jen.Id("seq").Qual("sync/atomic", "Uint64").Comment("== position: free for it; == position+1: holds its callback"),
		jen.Id("fn").Func().Params(),
	)
	fields := []jen.Code{
		jen.Id("_").Index(jen.Lit(64)).Byte().Comment("tail gets a cache line of its own: producers write it on every push"),
		jen.Id("tail").Qual("sync/atomic", "Uint64").Comment("next position to claim, | the flagBits"),
		jen.Id("_").Index(jen.Lit(56)).Byte(),
		jen.Id("head").Uint64().Comment("next position to consume (loop goroutine)"),
		jen.Id("_").Index(jen.Lit(56)).Byte(),
		jen.Id("slots").Add(e.sized(jen.Id("inboxDepth"))).Id("inboxSlot"),
		e.paramsField(),
	}
	if e.grows() {
		fields = append(fields,
			jen.Id("mu").Qual("sync", "Mutex").Comment("guards spill and spillClosed"),
			jen.Id("spillClosed").Bool(),
			jen.Id("spill").Index().Func().Params(),
			jen.Id("spare").Index().Func().Params().Comment("the loop's swap buffer for spill"),
			jen.Id("spillYields").Qual("sync/atomic", "Int32").Comment("yields left to producers waiting for the loop to take the spill"),
		)
	}
	f.Comment("inbox carries callbacks from any goroutine to the loop.")
	f.Type().Id("inbox").Struct(fields...)

	var makeSlots jen.Code = jen.Null()
	if e.generic {
		makeSlots = qf("slots").Op("=").Make(jen.Index().Id("inboxSlot"), e.num("q", "inboxDepth"))
	}
	var fillBudget jen.Code = jen.Null()
	if e.grows() {
		fillBudget = qf("spillYields").Dot("Store").Call(jen.Id("spillYieldBudget"))
	}
	f.Add(inboxMethod()).Id("init").Params().Block(
		makeSlots,
		jen.For(jen.Id("i").Op(":=").Range().Add(qf("slots"))).Block(
			qf("slots").Index(jen.Id("i")).Dot("seq").Dot("Store").Call(jen.Uint64().Call(jen.Id("i"))),
		),
		fillBudget,
	)

	// A producer that outruns the loop yields a few times before it spills,
	// whether the ring is full or the spill is in use.
	yieldOrSpill := jen.If(jen.Id("yields").Op("<").Id("fullYields")).Block(
		jen.Id("yields").Op("++"),
		jen.Qual("runtime", "Gosched").Call(),
		jen.Continue(),
	).Line().Return(qf("pushSpill").Call(jen.Id("fn")))
	full := []jen.Code{jen.Return(jen.Qual(pkgCore, "ErrQueueFull"))}
	if e.grows() {
		full = []jen.Code{
			jen.Comment("Give a loop that is draining a few chances to make room before spilling:"),
			jen.Comment("this slows a producer that outruns the loop to about the loop's pace. Under"),
			jen.Comment("sustained overload the spill (overflow: grow) still grows without bound."),
			yieldOrSpill,
		}
		f.Comment("fullYields is how many times a producer that finds the ring full, or the spill in use")
		f.Comment("(within spillYieldBudget), yields to let the loop catch up before it spills.")
		f.Const().Id("fullYields").Op("=").Lit(8)
		f.Line()
		f.Comment("spillYieldBudget is how many yields all producers together may spend waiting for the")
		f.Comment("loop to take one spill. A yield hands the P to a loop that is runnable but not")
		f.Comment("running (four producers on two Ps otherwise keep it off them for up to 10 ms, until")
		f.Comment("the runtime preempts one). But a loop whose thread is not running at all, say")
		f.Comment("descheduled for a kernel thread, does not take the spill however long the")
		f.Comment("producers yield: eight yields on every post then only keep a CPU busy, which can")
		f.Comment("also keep the kernel from moving the loop's thread there. That happened right")
		f.Comment("after a Python subprocess on a 2-core VM: 10,000 posts from one goroutine took")
		f.Comment("1.7 ms (median) with 8 yields a post while spilling, 0.10-0.12 ms with the")
		f.Comment("budget. Without any yields while spilling, 100,000 from each of four took 15-22")
		f.Comment("ms instead of 3.5.")
		f.Const().Id("spillYieldBudget").Op("=").Lit(64)
	}
	body := []jen.Code{
		jen.Id("pos").Op(":=").Add(qf("tail")).Dot("Load").Call(),
		jen.If(jen.Id("pos").Op("&").Id("closedBit").Op("!=").Lit(0)).Block(jen.Return(jen.Qual(pkgCore, "ErrClosed"))),
	}
	if e.grows() {
		body = append(body, jen.If(jen.Id("pos").Op("&").Id("spillBit").Op("!=").Lit(0)).Block(
			jen.Comment("Spilling: wait a little for the loop to take the spill, as for a full ring,"),
			jen.Comment("while the spill's budget of yields lasts (see spillYieldBudget)."),
			jen.If(jen.Id("yields").Op("<").Id("fullYields").Op("&&").Add(qf("spillYields")).Dot("Load").Call().Op(">").Lit(0).Op("&&").Add(qf("spillYields")).Dot("Add").Call(jen.Lit(-1)).Op(">=").Lit(0)).Block(
				jen.Id("yields").Op("++"),
				jen.Qual("runtime", "Gosched").Call(),
				jen.Continue(),
			),
			jen.Return(qf("pushSpill").Call(jen.Id("fn"))),
		))
	}
	body = append(body,
		jen.Id("s").Op(":=").Op("&").Add(qf("slots")).Index(jen.Id("pos").Op("&").Add(e.num("q", "inboxMask"))),
		jen.Id("seq").Op(":=").Id("s").Dot("seq").Dot("Load").Call(),
		jen.If(jen.Id("seq").Op("==").Id("pos")).Block(
			jen.If(qf("tail").Dot("CompareAndSwap").Call(jen.Id("pos"), jen.Id("pos").Op("+").Lit(1))).Block(
				jen.Id("s").Dot("fn").Op("=").Id("fn"),
				jen.Qual(pkgRelease, "Store").Call(jen.Op("&").Id("s").Dot("seq"), jen.Id("pos").Op("+").Lit(1)),
				jen.Return(jen.Nil()),
			),
		).Else().If(jen.Id("seq").Op("<").Id("pos")).Block(
			append([]jen.Code{jen.Comment("The slot still holds the callback from one lap ago: full.")}, full...)...,
		),
		jen.Comment("Another producer claimed pos first: try the next position."),
	)
	f.Comment("push publishes fn for the loop. Safe from any goroutine.")
	pushBody := []jen.Code{jen.For().Block(body...)}
	if e.grows() {
		pushBody = append([]jen.Code{jen.Id("yields").Op(":=").Lit(0)}, pushBody...)
	}
	f.Add(inboxMethod()).Id("push").Params(jen.Id("fn").Func().Params()).Error().Block(pushBody...)

	if e.grows() {
		f.Add(inboxMethod()).Id("pushSpill").Params(jen.Id("fn").Func().Params()).Error().Block(
			qf("mu").Dot("Lock").Call(),
			jen.Defer().Add(qf("mu")).Dot("Unlock").Call(),
			jen.If(qf("spillClosed")).Block(jen.Return(jen.Qual(pkgCore, "ErrClosed"))),
			qf("spill").Op("=").Append(qf("spill"), jen.Id("fn")),
			jen.For().Block(
				jen.Id("t").Op(":=").Add(qf("tail")).Dot("Load").Call(),
				jen.If(jen.Id("t").Op("&").Id("spillBit").Op("!=").Lit(0).Op("||").Add(qf("tail")).Dot("CompareAndSwap").Call(jen.Id("t"), jen.Id("t").Op("|").Id("spillBit"))).Block(
					jen.Return(jen.Nil()),
				),
			),
		)
	}

	nonEmpty := qf("slots").Index(qf("head").Op("&").Add(e.num("q", "inboxMask"))).Dot("seq").Dot("Load").Call().Op("==").Add(qf("head")).Op("+").Lit(1)
	if e.grows() {
		nonEmpty = nonEmpty.Op("||").Add(qf("tail")).Dot("Load").Call().Op("&").Id("spillBit").Op("!=").Lit(0)
	}
	f.Comment("nonEmpty reports whether a callback is posted: published in the ring, or")
	f.Comment("spilled (drain takes the spill only once claimed slots are published, so the")
	f.Comment("loop may go round without sleeping until they are). Loop goroutine only.")
	f.Add(inboxMethod()).Id("nonEmpty").Params().Bool().Block(jen.Return(nonEmpty))
	f.Comment("claimed reports whether a post has claimed a slot that drain has not consumed, or")
	f.Comment("spilled: it may not be published yet. A loop that has announced its sleep asks this,")
	f.Comment("not nonEmpty: the CAS that claims a slot is sequentially consistent and comes before")
	f.Comment("the producer reads the loop's sleeping flag, while the publish is only a release")
	f.Comment("store, which that read may overtake. Either the loop sees the claim and does not")
	f.Comment("sleep, or the producer sees the flag and wakes it. A post that spills while")
	f.Comment("spillBit is set makes no CAS of its own: it goes out with that spill, whose bit")
	f.Comment("keeps claimed true until the loop takes it, under the lock the post appended")
	f.Comment("under. Loop goroutine only.")
	f.Add(inboxMethod()).Id("claimed").Params().Bool().Block(jen.Return(qf("tail").Dot("Load").Call().Op("&^").Id("closedBit").Op("!=").Add(qf("head"))))
	f.Comment("unpublished reports whether the slot at head is claimed and not yet published: its")
	f.Comment("producer is between its two steps. Until it is, drain takes nothing, not even the")
	f.Comment("spill, which waits for every claimed slot. Loop goroutine only.")
	f.Add(inboxMethod()).Id("unpublished").Params().Bool().Block(jen.Return(
		qf("tail").Dot("Load").Call().Op("&^").Id("flagBits").Op("!=").Add(qf("head")).Op("&&").
			Add(qf("slots")).Index(qf("head").Op("&").Add(e.num("q", "inboxMask"))).Dot("seq").Dot("Load").Call().Op("!=").Add(qf("head")).Op("+").Lit(1)))
	if e.v.Inbox.Gather > 0 {
		f.Comment("published reports whether the k-th post from head (k >= 1; at most a ring's worth)")
		f.Comment("is published: then the ones before it are too, or are about to be. Loop goroutine only.")
		f.Add(inboxMethod()).Id("published").Params(jen.Id("k").Int()).Bool().Block(
			jen.Id("pos").Op(":=").Add(qf("head")).Op("+").Uint64().Call(jen.Min(jen.Id("k"), e.num("q", "inboxDepth"))).Op("-").Lit(1),
			jen.Return(qf("slots").Index(jen.Id("pos").Op("&").Add(e.num("q", "inboxMask"))).Dot("seq").Dot("Load").Call().Op("==").Id("pos").Op("+").Lit(1)),
		)
	}

	lenBody := []jen.Code{jen.Id("n").Op(":=").Int().Call(qf("tail").Dot("Load").Call().Op("&^").Id("flagBits").Op("-").Add(qf("head")))}
	if e.grows() {
		lenBody = append(lenBody,
			qf("mu").Dot("Lock").Call(),
			jen.Id("n").Op("+=").Len(qf("spill")),
			qf("mu").Dot("Unlock").Call(),
		)
	}
	lenBody = append(lenBody, jen.Return(jen.Id("n")))
	f.Comment("len counts the callbacks posted and not yet drained (loop goroutine; not a hot path).")
	f.Add(inboxMethod()).Id("len").Params().Int().Block(lenBody...)

	drain := []jen.Code{
		jen.Id("n").Op(":=").Lit(0),
		jen.For(jen.Id("n").Op("<").Id("max")).Block(
			jen.Id("s").Op(":=").Op("&").Add(qf("slots")).Index(qf("head").Op("&").Add(e.num("q", "inboxMask"))),
			jen.If(jen.Id("s").Dot("seq").Dot("Load").Call().Op("!=").Add(qf("head")).Op("+").Lit(1)).Block(jen.Break()),
			jen.Id("r").Dot("push").Call(jen.Id("s").Dot("fn")),
			jen.Id("s").Dot("fn").Op("=").Nil(),
			jen.Qual(pkgRelease, "Store").Call(jen.Op("&").Id("s").Dot("seq"), qf("head").Op("+").Add(e.numAs(jen.Uint64(), "q", "inboxDepth"))),
			qf("head").Op("++"),
			jen.Id("n").Op("++"),
		),
	}
	if e.grows() {
		drain = append(drain,
			jen.Comment("The spill holds callbacks posted after everything in the ring, so it is"),
			jen.Comment("taken once every claimed slot has been consumed; spillBit stops new claims."),
			jen.If(jen.Id("t").Op(":=").Add(qf("tail")).Dot("Load").Call(), jen.Id("n").Op("<").Id("max").Op("&&").Id("t").Op("&").Id("spillBit").Op("!=").Lit(0).Op("&&").Id("t").Op("&^").Id("flagBits").Op("==").Add(qf("head"))).Block(
				qf("mu").Dot("Lock").Call(),
				qf("spill").Op(",").Add(qf("spare")).Op("=").Add(qf("spare")).Index(jen.Op(":").Lit(0)).Op(",").Add(qf("spill")),
				qf("spillYields").Dot("Store").Call(jen.Id("spillYieldBudget")),
				jen.For().Block(
					jen.Id("t").Op(":=").Add(qf("tail")).Dot("Load").Call(),
					jen.If(qf("tail").Dot("CompareAndSwap").Call(jen.Id("t"), jen.Id("t").Op("&^").Id("spillBit"))).Block(jen.Break()),
				),
				qf("mu").Dot("Unlock").Call(),
				jen.For(jen.List(jen.Id("i"), jen.Id("fn")).Op(":=").Range().Add(qf("spare"))).Block(
					jen.Id("r").Dot("push").Call(jen.Id("fn")),
					qf("spare").Index(jen.Id("i")).Op("=").Nil(),
				),
				jen.Id("n").Op("+=").Len(qf("spare")),
			),
		)
	}
	drain = append(drain, jen.Return(jen.Id("n")))
	f.Comment("drain moves published callbacks into r, in order, up to max of them from the")
	f.Comment("ring (the spill, taken only once the ring is empty, comes whole), and returns")
	f.Comment("how many it moved (loop goroutine). The bound makes a producer that outruns the")
	f.Comment("loop meet a full ring (and yield) instead of growing the ready queue.")
	f.Add(inboxMethod()).Id("drain").Params(jen.Id("r").Op("*").Id("readyQueue"), jen.Id("max").Int()).Int().Block(drain...)

	closeBody := []jen.Code{
		jen.For().Block(
			jen.Id("pos").Op(":=").Add(qf("tail")).Dot("Load").Call(),
			jen.If(qf("tail").Dot("CompareAndSwap").Call(jen.Id("pos"), jen.Id("pos").Op("|").Id("closedBit"))).Block(jen.Break()),
		),
	}
	if e.grows() {
		closeBody = append(closeBody,
			qf("mu").Dot("Lock").Call(),
			qf("spillClosed").Op("=").True(),
			qf("mu").Dot("Unlock").Call(),
		)
	}
	f.Comment("close makes every later push fail with ErrClosed. Safe from any goroutine.")
	f.Add(inboxMethod()).Id("close").Params().Block(closeBody...)

	leftover := qf("head").Op("!=").Add(qf("tail")).Dot("Load").Call().Op("&^").Id("flagBits")
	if e.grows() {
		leftover = leftover.Op("||").Add(qf("tail")).Dot("Load").Call().Op("&").Id("spillBit").Op("!=").Lit(0)
	}
	f.Comment("drainClosed, after close, waits out pushes that claimed a slot before close")
	f.Comment("and moves everything into r: nothing whose push succeeded is lost.")
	f.Comment("A push that claimed a slot and has not published it is between its two steps:")
	f.Comment("a few yields let one preempted on this P finish; one whose thread is not running")
	f.Comment("at all finishes only when it runs again, so Close then sleeps a millisecond (about")
	f.Comment("what the runtime makes of any shorter sleep) between looks instead of keeping a")
	f.Comment("CPU busy (a 300 ms stall cost 300 ms of CPU).")
	f.Add(inboxMethod()).Id("drainClosed").Params(jen.Id("r").Op("*").Id("readyQueue")).Block(
		qf("drain").Call(jen.Id("r"), jen.Qual("math", "MaxInt")),
		jen.For(jen.Id("tries").Op(":=").Lit(0), leftover, jen.Id("tries").Op("++")).Block(
			jen.If(jen.Id("tries").Op("<").Id("publishYields")).Block(
				jen.Qual("runtime", "Gosched").Call(),
			).Else().Block(
				jen.Qual("time", "Sleep").Call(jen.Qual("time", "Millisecond")),
			),
			qf("drain").Call(jen.Id("r"), jen.Qual("math", "MaxInt")),
		),
	)
}

// emitMutexInbox writes the simple inbox: producers append to a slice under a
// mutex, and the loop swaps it with a spare, so neither side allocates once
// both slices have grown.
func (e *variantEmitter) emitMutexInbox(f *jen.File) {
	fields := []jen.Code{
		// The loop's fields share a cache line that producers write only when
		// q turns non-empty; producers write mu and q's length on every push.
		jen.Id("_").Index(jen.Lit(64)).Byte(),
		jen.Id("pending").Qual("sync/atomic", "Bool").Comment("q is not empty; read without the lock, written under mu"),
		jen.Id("spare").Index().Func().Params().Comment("the loop's swap buffer: taken from q, consumed from next on"),
		jen.Id("next").Int(),
		jen.Id("_").Index(jen.Lit(24)).Byte(),
		jen.Id("mu").Qual("sync", "Mutex").Comment("guards closed and q"),
		jen.Id("closed").Bool(),
		jen.Id("q").Index().Func().Params(),
	}
	if !e.grows() {
		// len(q) alone let a producer fill q again as soon as the loop had
		// swapped it out, before draining it: twice the depth could wait.
		fields = append(fields, jen.Id("waiting").Qual("sync/atomic", "Int64").Comment("posted and not yet drained, in q or spare: what the depth bounds"))
	}
	fields = append(fields, e.paramsField())
	f.Comment("inbox carries callbacks from any goroutine to the loop.")
	f.Type().Id("inbox").Struct(fields...)
	f.Add(inboxMethod()).Id("init").Params().Block(
		qf("q").Op("=").Make(jen.Index().Func().Params(), jen.Lit(0), e.num("q", "inboxDepth")),
		qf("spare").Op("=").Make(jen.Index().Func().Params(), jen.Lit(0), e.num("q", "inboxDepth")),
	)
	body := []jen.Code{
		qf("mu").Dot("Lock").Call(),
		jen.Defer().Add(qf("mu")).Dot("Unlock").Call(),
		jen.If(qf("closed")).Block(jen.Return(jen.Qual(pkgCore, "ErrClosed"))),
	}
	if !e.grows() {
		body = append(body,
			jen.If(qf("waiting").Dot("Load").Call().Op(">=").Add(e.numAs(jen.Int64(), "q", "inboxDepth"))).Block(jen.Return(jen.Qual(pkgCore, "ErrQueueFull"))),
			jen.Comment("Under mu, so producers cannot both take the last place; the loop only lowers it."),
			qf("waiting").Dot("Add").Call(jen.Lit(1)),
		)
	}
	body = append(body,
		jen.Comment("Only the first push after a swap sets pending: a store on every push made the"),
		jen.Comment("loop's next read of it wait for the producer's core to give the line back."),
		jen.If(jen.Len(qf("q")).Op("==").Lit(0)).Block(qf("pending").Dot("Store").Call(jen.True())),
		qf("q").Op("=").Append(qf("q"), jen.Id("fn")),
		jen.Return(jen.Nil()),
	)
	f.Comment("push queues fn for the loop. Safe from any goroutine.")
	f.Add(inboxMethod()).Id("push").Params(jen.Id("fn").Func().Params()).Error().Block(body...)
	f.Comment("nonEmpty reports whether drain would find a callback.")
	f.Add(inboxMethod()).Id("nonEmpty").Params().Bool().Block(jen.Return(qf("next").Op("<").Len(qf("spare")).Op("||").Add(qf("pending")).Dot("Load").Call()))
	f.Comment("claimed is nonEmpty: a push sets pending, sequentially consistent, under the lock.")
	f.Add(inboxMethod()).Id("claimed").Params().Bool().Block(jen.Return(qf("nonEmpty").Call()))
	if e.v.Inbox.Gather > 0 {
		f.Comment("published reports false: what is queued can only be counted under the lock, which")
		f.Comment("the producers would then wait for, so a gathering loop waits out its whole time.")
		f.Add(inboxMethod()).Id("published").Params(jen.Id("k").Int()).Bool().Block(jen.Return(jen.False()))
	}
	f.Comment("len counts the callbacks posted and not yet drained (loop goroutine; not a hot path).")
	f.Add(inboxMethod()).Id("len").Params().Int().Block(
		qf("mu").Dot("Lock").Call(),
		jen.Defer().Add(qf("mu")).Dot("Unlock").Call(),
		jen.Return(jen.Len(qf("q")).Op("+").Len(qf("spare")).Op("-").Add(qf("next"))),
	)
	drained := jen.Null()
	if !e.grows() {
		drained = jen.If(jen.Id("n").Op(">").Lit(0)).Block(qf("waiting").Dot("Add").Call(jen.Op("-").Int64().Call(jen.Id("n"))))
	}
	f.Comment("drain moves queued callbacks into r, in order, up to max of them, and returns")
	f.Comment("how many it moved (loop goroutine).")
	f.Add(inboxMethod()).Id("drain").Params(jen.Id("r").Op("*").Id("readyQueue"), jen.Id("max").Int()).Int().Block(
		jen.Id("n").Op(":=").Lit(0),
		jen.For(jen.Id("n").Op("<").Id("max")).Block(
			jen.If(qf("next").Op("==").Len(qf("spare"))).Block(
				jen.If(jen.Op("!").Add(qf("pending")).Dot("Load").Call()).Block(jen.Break()),
				qf("mu").Dot("Lock").Call(),
				qf("q").Op(",").Add(qf("spare")).Op("=").Add(qf("spare")).Index(jen.Op(":").Lit(0)).Op(",").Add(qf("q")),
				qf("pending").Dot("Store").Call(jen.False()),
				qf("mu").Dot("Unlock").Call(),
				qf("next").Op("=").Lit(0),
				jen.Continue(),
			),
			jen.Id("r").Dot("push").Call(qf("spare").Index(qf("next"))),
			qf("spare").Index(qf("next")).Op("=").Nil(),
			qf("next").Op("++"),
			jen.Id("n").Op("++"),
		),
		drained,
		jen.Return(jen.Id("n")),
	)
	f.Comment("close makes every later push fail with ErrClosed. Safe from any goroutine.")
	f.Add(inboxMethod()).Id("close").Params().Block(
		qf("mu").Dot("Lock").Call(),
		qf("closed").Op("=").True(),
		qf("mu").Dot("Unlock").Call(),
	)
	f.Comment("drainClosed, after close, moves everything left into r.")
	f.Add(inboxMethod()).Id("drainClosed").Params(jen.Id("r").Op("*").Id("readyQueue")).Block(qf("drain").Call(jen.Id("r"), jen.Qual("math", "MaxInt")))
}
