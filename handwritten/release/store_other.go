//go:build !amd64 || !gc || race

package release

import "sync/atomic"

// Store sets *p to v with release ordering (see the package doc). Here it is
// atomic.Uint64.Store, which is sequentially consistent.
func Store(p *atomic.Uint64, v uint64) { p.Store(v) }
