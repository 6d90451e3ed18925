// A test of package loop's facade that a mutation round found the rest of
// the suite let through, kept apart from facade_survivors_test.go because it
// starves the process of descriptors, which only Linux is set up for here.

package loop_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop"
)

// TestNewThatCannotOpenItsPollerReturnsNoLoop: when the poller cannot be
// opened (no descriptors left), New returns the error and a nil Loop, so a
// caller that keeps the loop on error, or defers its Close before checking,
// does not hold a half-made loop whose methods panic.
func TestNewThatCannotOpenItsPollerReturnsNoLoop(t *testing.T) {
	fds := make([]int, 2)
	if err := unix.Pipe(fds); err != nil {
		t.Fatal(err)
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lowered := old
	lowered.Cur = uint64(fds[1] + 16)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lowered); err != nil {
		t.Skipf("cannot lower the descriptor limit: %v", err)
	}
	fillers := fds
	defer func() {
		for _, f := range fillers {
			unix.Close(f)
		}
		unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	}()
	for {
		f, err := unix.Dup(fds[0])
		if err != nil {
			break
		}
		fillers = append(fillers, f)
	}
	l, err := loop.New()
	if err == nil {
		l.Close()
		t.Skip("New opened a poller with no descriptors left (a variant without one?)")
	}
	if l != nil {
		t.Errorf("New failed (%v) yet returned a Loop", err)
	}
}
