// Package release provides Store, a store with release ordering: every load
// and store the calling goroutine made before it is visible to a goroutine
// that observes the stored value with an atomic load (on amd64 with the gc
// toolchain, where it is not sequentially consistent; see below).
//
// sync/atomic's stores are sequentially consistent. On amd64 that makes each
// one an XCHG, which also waits for every earlier store to leave the core's
// store buffer: when those stores missed the cache (an inbox slot that the
// loop goroutine wrote last), the goroutine stalls for the miss. amd64's
// memory model already orders a plain store after the stores and loads before
// it, so there Store is a MOV, in an assembly function so that the compiler
// cannot move other memory operations across it. That ordering is amd64's and
// the gc compiler's, not a promise of the Go memory model, which knows only
// sequentially consistent atomics. Elsewhere (other architectures, gccgo) and
// under the race detector (which does not see assembly), Store is
// atomic.Uint64.Store.
//
// What Store does not give is the other half of sequential consistency: a
// load after it may be served before the store is visible to other cores.
// Code that stores a flag and then loads another goroutine's flag (the
// sleep/wake handshake of a loop and its producers) must order that pair with
// a sequentially consistent operation, not with Store.
package release
