package tests

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// TestAReusedFdNumberNeverGetsTheOldFilesReadiness: two pipes are readable
// in one wait. The first reader to run replaces the other pipe's read end,
// without a Remove, by an empty pipe under the same number (dup3, as a
// close and a reuse would), and adds a reader for it. The old file's
// readiness, collected in the same wait, must not reach the new reader: on
// poll (and kqueue) Modify succeeded for the reused number and kept the old
// seq, and the new reader ran on nothing.
func TestAReusedFdNumberNeverGetsTheOldFilesReadiness(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		pipe := func() [2]int {
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
			return p
		}
		a, b := pipe(), pipe()
		acted, stale := false, 0
		replaceOther := func(other [2]int) func() {
			return func() {
				if acted {
					return
				}
				acted = true
				empty := pipe()
				if err := unix.Dup3(empty[0], other[0], unix.O_CLOEXEC); err != nil {
					t.Fatal(err)
				}
				if err := l.AddReader(other[0], func() { stale++ }); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := l.AddReader(a[0], replaceOther(b)); err != nil {
			t.Fatal(err)
		}
		if err := l.AddReader(b[0], replaceOther(a)); err != nil {
			t.Fatal(err)
		}
		unix.Write(a[1], []byte("x"))
		unix.Write(b[1], []byte("x"))
		runOnce(t, l) // both are readable before the wait: one wait collects both
		if !acted || stale != 0 {
			t.Fatalf("first reader ran: %v; the reader of the reused number ran %d times on the old file's readiness", acted, stale)
		}
	})
}
