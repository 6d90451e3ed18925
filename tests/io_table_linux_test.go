package tests

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// TestRegistrationMemoryFollowsTheLoopsFdsNotTheirNumbers watches 8 fds
// whose numbers lie 1,100 apart, up to the process's limit. Fd numbers are
// the process's: with several loops each one sees a random share of them,
// and a table indexed by fd number made every loop pay for the highest
// (24 KiB per 1,024 numbers). The registrations must cost what 8 fds cost.
func TestRegistrationMemoryFollowsTheLoopsFdsNotTheirNumbers(t *testing.T) {
	const fds, apart = 8, 1100
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < fds*apart+64 {
		t.Skipf("the open-file limit is %d; this test needs %d", lim.Cur, fds*apart+64)
	}
	withPoller(t, func(t *testing.T, v all.Variant) {
		a, _ := socketpair(t)
		var high []int
		for k := range fds {
			fd := int(lim.Cur) - 1 - k*apart
			if err := unix.Dup3(a, fd, unix.O_CLOEXEC); err != nil {
				t.Fatalf("dup to %d: %v", fd, err)
			}
			t.Cleanup(func() { unix.Close(fd) })
			high = append(high, fd)
		}
		_, got := fewestMallocs(func() func() {
			l := newLoop(t, v, core.Config{})
			return func() {
				for _, fd := range high {
					if err := l.AddReader(fd, func() {}); err != nil {
						t.Error(err)
					}
				}
			}
		})
		if got > 16<<10 {
			t.Errorf("watching %d fds numbered up to %d allocated %d bytes, want at most 16 KiB", fds, high[0], got)
		}
	})
}
