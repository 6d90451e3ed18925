//go:build amd64 && gc && !race

package release

import "sync/atomic"

// Store sets *p to v with release ordering (see the package doc).
//
//go:noescape
func Store(p *atomic.Uint64, v uint64)
