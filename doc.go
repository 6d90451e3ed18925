// Package loop is a single-goroutine event loop (a reactor, like asyncio's,
// libuv's or Node's) whose hot parts are generated per workload.
//
// A Loop runs callbacks on one goroutine: callbacks queued with CallSoon,
// callbacks posted from other goroutines with Post, timers (CallLater, CallAt,
// CallEvery, on a hierarchical timing wheel) and fd readiness (AddReader,
// AddWriter). Nothing needs a lock inside a callback, and the steady state
// allocates nothing.
//
// The implementation behind this package is one of the variants generated
// from spec/loop.yaml into generated/: the default one, or the one a
// loop_<name> build tag selects (go build -tags loop_latency). Variant reports
// which. Edit the spec and run `go generate ./...` to make new variants (its
// directives are in package spec, beside the spec).
//
// Timer tests need no sleeping: WithClock installs a VirtualClock that moves
// only when the test advances it.
//
// Package github.com/loopgen/loop/sock puts TCP, Unix-domain and UDP
// sockets on a Loop, in the style of asyncio's protocols: a Handler's
// methods run on the loop goroutine, with flow control, deadlines on the
// timer wheel, and Group, which runs one loop per core. It does not build
// on Windows.
package loop
