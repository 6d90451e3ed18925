package tests

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
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

// threadWrites reads how many write system calls the calling thread has made,
// from /proc/thread-self/io; the caller keeps its goroutine on that thread.
func threadWrites(t *testing.T) uint64 {
	t.Helper()
	info, err := os.ReadFile("/proc/thread-self/io")
	if err != nil {
		t.Skipf("no per-thread I/O counts here: %v", err)
	}
	for line := range strings.Lines(string(info)) {
		if v, ok := strings.CutPrefix(line, "syscw:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("/proc/thread-self/io: %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/thread-self/io has no syscw:\n%s", info)
	return 0
}

// TestPostsToASleepingLoopWriteOneWakeUpPerSleep: many posts to a loop asleep
// in the kernel write its wake-up fd once per sleep, whoever gets there first:
// the rest find a wake-up already on its way. A Post that wrote whenever the
// loop was asleep made one system call per post until the loop's thread got
// round to saying it was awake, several for a burst like this one.
//
// The posts are made from one locked thread, whose write system calls the
// kernel counts; the loop counts its waits (stats). A wake-up is written at
// most once per wait, and the window's bounds allow two more: the first post
// may find the flag clear from before the window, and the last post's write
// may come after the loop read its count.
func TestPostsToASleepingLoopWriteOneWakeUpPerSleep(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		if !v.Params.Stats {
			t.Skip("needs stats (Stats.Polls)")
		}
		l := newLoop(t, v, core.Config{})
		// A registered fd keeps the loop's waits in the kernel: a loop with
		// none parks on a channel, and its wake-ups write nothing.
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
		if err := l.AddReader(p[0], func() { t.Error("the pipe nobody writes to was readable") }); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		polls := func() uint64 {
			ch := make(chan uint64, 1)
			if err := l.Post(func() { ch <- l.Stats().Polls }); err != nil {
				t.Fatal(err)
			}
			return <-ch
		}

		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		const rounds, burst = 5, 64
		var writes, waits uint64
		ran := 0
		for range rounds {
			polls0 := polls()
			writes0 := threadWrites(t)
			// Long enough for the loop to finish the round trip and fall
			// asleep; if it has not, the burst only finds it awake.
			time.Sleep(20 * time.Millisecond)
			for range burst {
				if err := l.Post(func() { ran++ }); err != nil {
					t.Fatal(err)
				}
			}
			polls1 := polls()
			writes += threadWrites(t) - writes0
			waits += polls1 - polls0
		}
		if err := l.Post(l.Stop); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if ran != rounds*burst {
			t.Fatalf("%d posted callbacks ran, want %d", ran, rounds*burst)
		}
		if writes > waits+2*rounds {
			t.Fatalf("%d bursts of %d posts to a sleeping loop made %d write system calls over %d waits of the loop, want at most one a wait (and two a burst for the window's edges)",
				rounds, burst, writes, waits)
		}
		t.Logf("%d writes over %d waits", writes, waits)
	})
}
