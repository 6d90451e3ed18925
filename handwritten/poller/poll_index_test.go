//go:build unix

package poller

import (
	"math"
	"testing"
)

// TestPollIgnoresNumbersAbove32Bits: the Poll backend keys its index by the
// fd as an int32, so 2^32+fd turns into fd there. Modify and Delete of such
// a number must fail or do nothing, not change or drop fd's registration.
func TestPollIgnoresNumbersAbove32Bits(t *testing.T) {
	if math.MaxInt == math.MaxInt32 {
		t.Skip("an int holds no number above 32 bits here")
	}
	var p Poll
	must(t, p.Open())
	defer p.Close()
	a, b := socketpair(t)
	must(t, p.Add(a.fd, 1, Readable))
	shift := 32 // not a constant: 1<<32 would not compile where int has 32 bits
	bogus := a.fd + 1<<shift
	if err := p.Modify(bogus, 2, Writable); err == nil {
		t.Errorf("Modify(%d) succeeded, want an error", bogus)
	}
	must(t, p.Delete(bogus))
	if n := p.Registered(); n != 1 {
		t.Fatalf("Registered = %d after Delete(%d), want 1: fd %d was dropped", n, bogus, a.fd)
	}
	write(t, b)
	e := anyEvent(t, &p, a.fd)
	if e.Seq != 1 || e.Ev&Readable == 0 || e.Ev&Writable != 0 {
		t.Fatalf("fd %d reports seq %d and events %b, want seq 1, Readable, not Writable: its registration was changed through %d", a.fd, e.Seq, e.Ev, bogus)
	}
	// The registration is still fd's own: Delete of fd itself drops it.
	must(t, p.Delete(a.fd))
	if n := p.Registered(); n != 0 {
		t.Fatalf("Registered = %d after Delete(%d), want 0", n, a.fd)
	}
}
