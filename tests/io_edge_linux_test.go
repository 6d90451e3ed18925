package tests

import (
	"errors"
	"os"
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

// A reader that replaces its fd's registration, writer included, by one for
// another file under the same number (here a pipe's read end, which is never
// writable) must not have the new writer run on the writability collected
// for the old file in the same wait: the writer's turn checks the seq again
// after the reader, as the reader's turn does.
func TestAWriterAddedByItsFdsReaderDoesNotRunOnTheOldFilesReadiness(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		a, b := socketpair(t)
		var p [2]int
		if err := nonblockingPipe(&p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
		replaced, stale := false, 0
		if err := l.AddReader(a, func() {
			if replaced {
				return
			}
			replaced = true
			l.RemoveReader(a)
			l.RemoveWriter(a)
			if err := unix.Dup3(p[0], a, unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			if err := l.AddWriter(a, func() { stale++ }); err != nil {
				t.Fatal(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := l.AddWriter(a, func() {}); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(b, []byte("x")); err != nil {
			t.Fatal(err)
		}
		runOnce(t, l) // readable and writable before the wait: one event for both
		if !replaced || stale != 0 {
			t.Fatalf("reader ran: %v; the new writer ran %d times on the old file's writability", replaced, stale)
		}
		l.RemoveWriter(a)
	})
}

// An error alone, with no readability, runs the fd's reader: a connected UDP
// socket that got an ICMP port unreachable is readable only in the sense that
// recv reports the error, and a reader left waiting for data would never learn
// of it. Every other error test involves a hang-up, which reads as readable too.
func TestAReaderRunsOnAnErrorWithoutReadability(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		// A port nobody listens on: bind one, note it, close it.
		closed, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Skipf("no UDP sockets here: %v", err)
		}
		loopback := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
		if err := unix.Bind(closed, loopback); err != nil {
			unix.Close(closed)
			t.Skipf("cannot bind on loopback: %v", err)
		}
		sa, err := unix.Getsockname(closed)
		unix.Close(closed)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if err := unix.Connect(fd, sa); err != nil {
			t.Fatal(err)
		}
		var got error
		if err := l.AddReader(fd, func() {
			_, _, got = unix.Recvfrom(fd, make([]byte, 8), 0)
			if got != unix.EAGAIN {
				l.RemoveReader(fd)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(fd, []byte("x")); err != nil {
			t.Fatal(err)
		}
		runUntil(t, l, func() bool { return got != nil && got != unix.EAGAIN })
		if got != unix.ECONNREFUSED {
			t.Fatalf("the reader's recv: %v, want ECONNREFUSED", got)
		}
	})
}

// TestAnFdNumberClosedAndReusedForgetsTheOldFilesOtherCallback: a reader is
// registered, its fd is replaced without a Remove by another file under the
// same number (dup3, as a close and a reuse would), and a writer is added for
// the number. On epoll, which forgets a closed file, the old reader stayed
// registered for the new file and ran on its readiness. poll and kqueue cannot
// tell the files apart, and the README says the old callback stays there.
func TestAnFdNumberClosedAndReusedForgetsTheOldFilesOtherCallback(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		if p := v.Params.Poller; p != "epoll" && p != "auto" {
			t.Skipf("poller %s cannot tell a reused number's file from the old one", p)
		}
		l := newLoop(t, v, core.Config{})
		old, _ := socketpair(t)
		stale := 0
		if err := l.AddReader(old, func() { stale++ }); err != nil {
			t.Fatal(err)
		}
		c, d := socketpair(t)
		if err := unix.Dup3(c, old, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		wrote := false
		if err := l.AddWriter(old, func() { wrote = true; l.RemoveWriter(old) }); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(d, []byte("x")); err != nil { // the new file is readable
			t.Fatal(err)
		}
		runUntil(t, l, func() bool { return wrote })
		for range 3 {
			runOnce(t, l)
		}
		if stale != 0 {
			t.Fatalf("the old file's reader ran %d times on the new file's readiness", stale)
		}
		if l.RemoveReader(old) {
			t.Fatal("RemoveReader found the old file's reader still registered")
		}
	})
}

// TestARegularFileIsRefusedByEpollAndAlwaysReadyOnPoll pins what the README
// says of a regular file, which is always ready: epoll refuses it, poll
// reports it ready on every wait.
func TestARegularFileIsRefusedByEpollAndAlwaysReadyOnPoll(t *testing.T) {
	withPoller(t, func(t *testing.T, v all.Variant) {
		l := newLoop(t, v, core.Config{})
		f, err := os.CreateTemp(t.TempDir(), "regular")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fd := int(f.Fd())
		ran := 0
		err = l.AddReader(fd, func() { ran++ })
		switch p := v.Params.Poller; p {
		case "epoll", "auto":
			if !errors.Is(err, unix.EPERM) {
				t.Fatalf("AddReader of a regular file on %s: %v, want EPERM", p, err)
			}
		case "poll":
			if err != nil {
				t.Fatalf("AddReader of a regular file on poll: %v", err)
			}
			runUntil(t, l, func() bool { return ran >= 2 })
			l.RemoveReader(fd)
		default:
			t.Skipf("poller %s", p)
		}
	})
}
