//go:build unix

package wake

import (
	"errors"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func open(t *testing.T) *FD {
	t.Helper()
	w := new(FD)
	if err := w.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// readable polls Fd without blocking.
func readable(t *testing.T, w *FD) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(w.Fd()), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		return n == 1 && fds[0].Revents&unix.POLLIN != 0
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		if ents, err := os.ReadDir(dir); err == nil {
			return len(ents)
		}
	}
	t.Skip("no /proc/self/fd or /dev/fd to count descriptors")
	return 0
}

func TestFreshFDIsNotReadable(t *testing.T) {
	w := open(t)
	if readable(t, w) {
		t.Fatal("readable before any Signal")
	}
}

func TestSignalTwiceThenDrainEmptiesIt(t *testing.T) {
	w := open(t)
	for range 2 {
		if err := w.Signal(); err != nil {
			t.Fatalf("Signal: %v", err)
		}
	}
	if !readable(t, w) {
		t.Fatal("not readable after Signal")
	}
	w.Drain()
	if readable(t, w) {
		t.Fatal("still readable after Drain")
	}
	if err := w.Signal(); err != nil {
		t.Fatalf("Signal after Drain: %v", err)
	}
	if !readable(t, w) {
		t.Fatal("not readable after a Signal that followed a Drain")
	}
}

func TestSignalOnFullFDIsNotAnError(t *testing.T) {
	w := open(t)
	fill(t, w)
	for range 3 {
		if err := w.Signal(); err != nil {
			t.Fatalf("Signal on a full descriptor: %v", err)
		}
	}
	if !readable(t, w) {
		t.Fatal("full descriptor not readable")
	}
	w.Drain()
	if readable(t, w) {
		t.Fatal("still readable after draining a full descriptor")
	}
}

func TestSignalOnClosedFDReturnsErrClosed(t *testing.T) {
	var zero FD
	if err := zero.Signal(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Signal on a zero FD: %v, want ErrClosed", err)
	}
	if fd := zero.Fd(); fd != -1 {
		t.Fatalf("Fd of a zero FD = %d, want -1", fd)
	}
	w := open(t)
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Signal(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Signal after Close: %v, want ErrClosed", err)
	}
}

// Drain on an FD that is not open reads nothing. A zero FD's descriptor
// fields are 0, so a Drain that did not look at open would read stdin; a
// closed FD's number may already belong to another file. Each case puts a
// pipe holding one byte at the number that Drain must leave alone, and checks
// that the byte is still there afterwards.
func TestDrainOnAnFDNotOpenReadsNothing(t *testing.T) {
	var zero FD
	unread, restore := pendingByteAt(t, 0)
	zero.Drain()
	ok := unread()
	restore()
	if !ok {
		t.Error("Drain on a zero FD read descriptor 0")
	}

	w := open(t)
	fd := w.Fd()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	unread, restore = pendingByteAt(t, fd) // the closed number, reused
	w.Drain()
	ok = unread()
	restore()
	if !ok {
		t.Errorf("Drain after Close read descriptor %d, which the FD had closed", fd)
	}
}

// pendingByteAt makes descriptor number fd the read end of a pipe that holds
// one byte and whose write end is closed, so that a test can tell whether
// anything read from fd. unread reports whether the byte was still there (and
// reads it); restore puts back what fd referred to before, or closes fd if it
// was not open. Not for parallel tests: fd changes under the whole process.
func pendingByteAt(t *testing.T, fd int) (unread func() bool, restore func()) {
	t.Helper()
	saved, err := unix.Dup(fd)
	if err == unix.EBADF {
		saved = -1
	} else if err != nil {
		t.Fatalf("dup(%d): %v", fd, err)
	}
	restore = func() {
		if saved < 0 {
			unix.Close(fd)
			return
		}
		unix.Dup2(saved, fd)
		unix.Close(saved)
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		restore()
		t.Fatalf("pipe: %v", err)
	}
	_, werr := unix.Write(p[1], []byte{1})
	unix.Close(p[1]) // before the dup2: fd may be p[1]'s number
	var derr error
	if p[0] != fd {
		derr = unix.Dup2(p[0], fd)
		unix.Close(p[0])
	}
	if werr != nil || derr != nil {
		restore()
		t.Fatalf("pipe write: %v; dup2 onto %d: %v", werr, fd, derr)
	}
	unread = func() bool {
		var b [8]byte
		for {
			n, err := unix.Read(fd, b[:])
			if err == unix.EINTR {
				continue
			}
			return err == nil && n == 1
		}
	}
	return unread, restore
}

func TestCloseReleasesFDsAndIsIdempotent(t *testing.T) {
	var zero FD
	if err := zero.Close(); err != nil {
		t.Fatalf("Close of a zero FD: %v", err)
	}
	before := openFDs(t)
	var w FD
	if err := w.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := w.Open(); err == nil {
		t.Fatal("second Open succeeded")
	}
	if openFDs(t) <= before {
		t.Fatal("Open opened no descriptor")
	}
	for range 2 {
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if after := openFDs(t); after != before {
		t.Fatalf("open descriptors: %d before Open, %d after Close", before, after)
	}
	// A closed FD opens again.
	if err := w.Open(); err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := w.Signal(); err != nil {
		t.Fatalf("Signal after reopening: %v", err)
	}
	w.Close()
}

// TestSignalRacingWithClose runs Signals on many goroutines while the owner
// drains and then closes; under -race it checks that the gate orders them,
// and every Signal returns nil or ErrClosed.
func TestSignalRacingWithClose(t *testing.T) {
	for range 20 {
		var w FD
		if err := w.Open(); err != nil {
			t.Fatalf("Open: %v", err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				for range 200 {
					if err := w.Signal(); err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("Signal: %v", err)
						return
					}
				}
			})
		}
		close(start)
		for range 50 {
			w.Drain()
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wg.Wait()
	}
}

func TestSignalAndDrainDoNotAllocate(t *testing.T) {
	w := open(t)
	allocs := testing.AllocsPerRun(1000, func() {
		w.Signal()
		w.Drain()
	})
	if allocs != 0 {
		t.Fatalf("Signal+Drain allocated %v times per run, want 0", allocs)
	}
}
