//go:build amd64 && gc && !race

#include "textflag.h"

// func Store(p *atomic.Uint64, v uint64)
// A plain MOV: amd64 never makes a store visible before earlier loads and
// stores, and the call keeps the compiler from reordering around it.
TEXT ·Store(SB), NOSPLIT, $0-16
	MOVQ	p+0(FP), AX
	MOVQ	v+8(FP), BX
	MOVQ	BX, 0(AX)
	RET
