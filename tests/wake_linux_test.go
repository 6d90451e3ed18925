package tests

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/loopgen/loop/generated/all"
)

// openFds returns the numbers of this process's open descriptors whose
// /proc/self/fd link reads link, such as "anon_inode:[eventfd]".
func openFds(t *testing.T, link string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	fds := map[string]bool{}
	for _, e := range entries {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == link {
			fds[e.Name()] = true
		}
	}
	return fds
}

// eventfdCount reads the counter of eventfd fd: the wake-ups written to it
// and not yet drained.
func eventfdCount(t *testing.T, fd string) uint64 {
	t.Helper()
	info, err := os.ReadFile("/proc/self/fdinfo/" + fd)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(info)) {
		if v, ok := strings.CutPrefix(line, "eventfd-count:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("fdinfo %s: %q: %v", fd, line, err)
			}
			return n
		}
	}
	t.Fatalf("fdinfo %s has no eventfd-count:\n%s", fd, info)
	return 0
}

// TestPostToAnAwakeLoopWritesNoWakeUp: Post wakes a loop only when it has
// announced that it is about to block. Posts made while the loop is awake,
// before Run (from the goroutine that will run it) and from a running
// callback, write nothing to the loop's wake-up eventfd: its counter stays at
// 0. A Post that woke the loop whatever its state cost a system call on
// every awake stretch, and left a wake-up behind that ended the next sleep
// early for nothing.
func TestPostToAnAwakeLoopWritesNoWakeUp(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		before := openFds(t, "anon_inode:[eventfd]")
		l, _ := newVirtual(t, v)
		var wakeFDs []string
		for fd := range openFds(t, "anon_inode:[eventfd]") {
			if !before[fd] {
				wakeFDs = append(wakeFDs, fd)
			}
		}
		if len(wakeFDs) == 0 {
			t.Skip("the loop's wake-up is not an eventfd here")
		}
		check := func(when string) {
			t.Helper()
			for _, fd := range wakeFDs {
				if n := eventfdCount(t, fd); n != 0 {
					t.Fatalf("%s: eventfd %s counts %d wake-ups, want 0: the loop was awake", when, fd, n)
				}
			}
		}
		ran := 0
		for range 3 {
			if err := l.Post(func() { ran++ }); err != nil {
				t.Fatal(err)
			}
		}
		check("after 3 posts before Run")
		l.CallSoon(func() {
			for range 3 {
				if err := l.Post(func() { ran++ }); err != nil {
					t.Error(err)
				}
			}
		})
		runUntilIdle(t, l)
		check("after 3 posts from a running callback")
		if ran != 6 {
			t.Fatalf("%d posted callbacks ran, want 6", ran)
		}
	})
}
