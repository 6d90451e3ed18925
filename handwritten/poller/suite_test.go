//go:build unix

package poller

import (
	"errors"
	"math"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestMsTimeoutRoundsUp(t *testing.T) {
	for _, c := range []struct {
		ns   int64
		want int
	}{
		{1, 1},
		{999_999, 1},
		{1_000_000, 1},
		{1_000_001, 2},
		{1_500_000, 2},
		{20_000_000, 20},
		{math.MaxInt32 * 1e6, math.MaxInt32},
		{math.MaxInt32*1e6 + 1, math.MaxInt32},
		{math.MaxInt64, math.MaxInt32},
	} {
		if got := msTimeout(c.ns); got != c.want {
			t.Errorf("msTimeout(%d) = %d, want %d", c.ns, got, c.want)
		}
	}
}

// maker names a backend and makes a fresh, unopened one. fds is false for
// None, which skips the cases that need fd readiness.
type maker struct {
	name string
	new  func() backend
	fds  bool
}

// failsafe bounds every wait that should end at once, so a broken backend
// fails the test instead of hanging it.
const failsafe = 10 * time.Second

func TestBackends(t *testing.T) {
	cases := []struct {
		name  string
		fds   bool // needs fd readiness
		check func(t *testing.T, b backend)
	}{
		{"ReadableReportsSeq", true, testReadableReportsSeq},
		{"LevelTriggered", true, testLevelTriggered},
		{"DeleteStopsReports", true, testDeleteStopsReports},
		{"ModifyToWritable", true, testModifyToWritable},
		{"ReadableAndWritableInOneEvent", true, testReadableAndWritableInOneEvent},
		{"PeerCloseIsReadable", true, testPeerCloseIsReadable},
		{"PeerCloseIsErroredForWriter", true, testPeerCloseIsErroredForWriter},
		{"PipeReaderGoneIsErroredForWriter", true, testPipeReaderGoneIsErroredForWriter},
		{"AddReplacesRegistration", true, testAddReplacesRegistration},
		{"ClosedFdReusedWithoutDelete", true, testClosedFdReusedWithoutDelete},
		{"RegisteredCounts", true, testRegisteredCounts},
		{"EmptyInterestIsAnError", true, testEmptyInterestIsAnError},
		{"AddOfBadFdFails", true, testAddOfBadFdFails},
		{"ModifyOfClosedFdFails", true, testModifyOfClosedFdFails},
		{"ManyFdsAcrossWaits", true, testManyFdsAcrossWaits},
		{"WaitDoesNotAllocate", true, testWaitDoesNotAllocate},
		{"FirstWaitAfterGrowthDoesNotAllocate", true, testFirstWaitAfterGrowthDoesNotAllocate},
		{"FailedModifyLeavesTheInterest", true, testFailedModifyLeavesTheInterest},
		{"WaitZeroReturnsAtOnce", false, testWaitZeroReturnsAtOnce},
		{"TimeoutNeverEarly", false, testTimeoutNeverEarly},
		{"WakeUnblocksBlockedWait", false, testWakeUnblocksBlockedWait},
		{"WakeUnblocksTimedWait", false, testWakeUnblocksTimedWait},
		{"WakeBeforeWaitMakesNextWaitReturn", false, testWakeBeforeWait},
		{"WakeOfABlockedWaitLeavesNothingPending", false, testWakeOfABlockedWaitLeavesNothingPending},
		{"WakeAndWaitDoNotAllocate", false, testWakeAndWaitDoNotAllocate},
		{"WakeRacingWithClose", false, testWakeRacingWithClose},
		{"CloseReleasesFds", false, testCloseReleasesFds},
		{"UseAfterClose", false, testUseAfterClose},
	}
	for _, m := range backends() {
		t.Run(m.name, func(t *testing.T) {
			for _, c := range cases {
				if c.fds && !m.fds {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					b := m.new()
					if err := b.Open(); err != nil {
						t.Fatalf("Open: %v", err)
					}
					t.Cleanup(func() {
						if err := b.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					c.check(t, b)
				})
			}
		})
	}
}

// file is a descriptor a test owns; close is idempotent so a test may close
// it early and the cleanup will not close a reused number.
type file struct{ fd int }

func (f *file) close() {
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}

func own(t *testing.T, fd int) *file {
	f := &file{fd}
	t.Cleanup(f.close)
	return f
}

// pipe returns a non-blocking pipe.
func pipe(t *testing.T) (r, w *file) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatalf("pipe: %v", err)
	}
	r, w = own(t, p[0]), own(t, p[1])
	for _, fd := range p {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatalf("set non-blocking: %v", err)
		}
	}
	return r, w
}

// socketpair returns a connected pair of non-blocking Unix stream sockets.
func socketpair(t *testing.T) (a, b *file) {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	a, b = own(t, p[0]), own(t, p[1])
	for _, fd := range p {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatalf("set non-blocking: %v", err)
		}
	}
	return a, b
}

func write(t *testing.T, f *file) {
	t.Helper()
	if _, err := unix.Write(f.fd, []byte{'x'}); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// find returns fd's Event in evs and how many Events name fd.
func find(evs []Event, fd int) (Event, int) {
	var e Event
	n := 0
	for _, ev := range evs {
		if int(ev.Fd) == fd {
			e = ev
			n++
		}
	}
	return e, n
}

// waitFor waits until an Event for fd has all of want, and returns it.
func waitFor(t *testing.T, b backend, fd int, want Events) Event {
	t.Helper()
	deadline := time.Now().Add(failsafe)
	for time.Now().Before(deadline) {
		evs, err := b.Wait(int64(100 * time.Millisecond))
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		e, n := find(evs, fd)
		if n > 1 {
			t.Fatalf("fd %d reported %d times in one Wait: %v", fd, n, evs)
		}
		if n == 1 && e.Ev&want == want {
			return e
		}
	}
	t.Fatalf("no event with %b for fd %d within %v", want, fd, failsafe)
	return Event{}
}

// quiet checks that a non-blocking Wait reports nothing.
func quiet(t *testing.T, b backend) {
	t.Helper()
	evs, err := b.Wait(0)
	if err != nil {
		t.Fatalf("Wait(0): %v", err)
	}
	if len(evs) != 0 {
		t.Fatalf("Wait(0) = %v, want nothing", evs)
	}
}

func testReadableReportsSeq(t *testing.T, b backend) {
	r, w := pipe(t)
	must(t, b.Add(r.fd, 7, Readable))
	quiet(t, b)
	write(t, w)
	if e := waitFor(t, b, r.fd, Readable); e.Seq != 7 {
		t.Fatalf("Seq = %d, want 7", e.Seq)
	}
	must(t, b.Modify(r.fd, 8, Readable))
	if e := waitFor(t, b, r.fd, Readable); e.Seq != 8 {
		t.Fatalf("after Modify: Seq = %d, want 8", e.Seq)
	}
}

func testLevelTriggered(t *testing.T, b backend) {
	r, w := pipe(t)
	must(t, b.Add(r.fd, 1, Readable))
	write(t, w)
	waitFor(t, b, r.fd, Readable)
	evs, err := b.Wait(0)
	must(t, err)
	if _, n := find(evs, r.fd); n != 1 {
		t.Fatalf("unread pipe not reported again: %v", evs)
	}
}

func testDeleteStopsReports(t *testing.T, b backend) {
	r, w := pipe(t)
	must(t, b.Add(r.fd, 1, Readable))
	write(t, w)
	waitFor(t, b, r.fd, Readable)
	must(t, b.Delete(r.fd))
	quiet(t, b)
	if n := b.Registered(); n != 0 {
		t.Fatalf("Registered = %d after Delete, want 0", n)
	}
	must(t, b.Delete(r.fd))
}

func testModifyToWritable(t *testing.T, b backend) {
	_, w := pipe(t)
	must(t, b.Add(w.fd, 1, Readable)) // a write end is never readable
	quiet(t, b)
	must(t, b.Modify(w.fd, 2, Writable))
	if e := waitFor(t, b, w.fd, Writable); e.Seq != 2 {
		t.Fatalf("Seq = %d, want 2", e.Seq)
	}
	must(t, b.Modify(w.fd, 3, Readable))
	quiet(t, b)
}

func testReadableAndWritableInOneEvent(t *testing.T, b backend) {
	a, peer := socketpair(t)
	write(t, peer)
	must(t, b.Add(a.fd, 5, Readable|Writable))
	e := waitFor(t, b, a.fd, Readable|Writable)
	if e.Seq != 5 {
		t.Fatalf("Seq = %d, want 5", e.Seq)
	}
}

func testPeerCloseIsReadable(t *testing.T, b backend) {
	a, peer := socketpair(t)
	must(t, b.Add(a.fd, 3, Readable))
	quiet(t, b)
	peer.close()
	if e := waitFor(t, b, a.fd, Readable); e.Seq != 3 {
		t.Fatalf("Seq = %d, want 3", e.Seq)
	}
	var buf [1]byte
	if n, err := unix.Read(a.fd, buf[:]); n != 0 || err != nil {
		t.Fatalf("read after peer close = %d, %v; want end of file", n, err)
	}
}

func testPeerCloseIsErroredForWriter(t *testing.T, b backend) {
	a, peer := socketpair(t)
	must(t, b.Add(a.fd, 4, Writable))
	waitFor(t, b, a.fd, Writable)
	peer.close()
	waitFor(t, b, a.fd, Errored)
}

func testPipeReaderGoneIsErroredForWriter(t *testing.T, b backend) {
	r, w := pipe(t)
	must(t, b.Add(w.fd, 4, Writable))
	r.close()
	waitFor(t, b, w.fd, Errored)
}

func testAddReplacesRegistration(t *testing.T, b backend) {
	r, w := pipe(t)
	must(t, b.Add(r.fd, 1, Readable))
	must(t, b.Add(r.fd, 2, Readable))
	write(t, w)
	if e := waitFor(t, b, r.fd, Readable); e.Seq != 2 {
		t.Fatalf("Seq = %d, want 2", e.Seq)
	}
	if n := b.Registered(); n != 1 {
		t.Fatalf("Registered = %d, want 1", n)
	}
}

// testClosedFdReusedWithoutDelete closes a registered fd without Delete and
// registers the descriptor that reuses its number: the new registration must
// work and be counted once.
func testClosedFdReusedWithoutDelete(t *testing.T, b backend) {
	r1, _ := pipe(t)
	must(t, b.Add(r1.fd, 1, Readable))
	old := r1.fd
	r1.close()
	r2, w2 := pipe(t) // normally gets old's number: the lowest free one
	if r2.fd != old {
		must(t, b.Delete(old))
		t.Logf("the kernel did not reuse fd %d (got %d); checked without reuse", old, r2.fd)
	}
	must(t, b.Add(r2.fd, 2, Readable))
	write(t, w2)
	if e := waitFor(t, b, r2.fd, Readable); e.Seq != 2 {
		t.Fatalf("Seq = %d, want 2", e.Seq)
	}
	if n := b.Registered(); n != 1 {
		t.Fatalf("Registered = %d, want 1", n)
	}
}

func testRegisteredCounts(t *testing.T, b backend) {
	r1, _ := pipe(t)
	r2, _ := pipe(t)
	step := func(what string, want int) {
		t.Helper()
		if n := b.Registered(); n != want {
			t.Fatalf("after %s: Registered = %d, want %d", what, n, want)
		}
	}
	step("Open", 0)
	must(t, b.Add(r1.fd, 1, Readable))
	step("Add", 1)
	must(t, b.Add(r2.fd, 2, Writable))
	step("second Add", 2)
	must(t, b.Delete(r1.fd))
	step("Delete", 1)
	must(t, b.Delete(r1.fd))
	step("Delete again", 1)
	must(t, b.Delete(1<<20))
	step("Delete of an fd never added", 1)
	fd := r2.fd
	r2.close()
	must(t, b.Delete(fd))
	step("Delete after the user closed the fd", 0)
}

func testEmptyInterestIsAnError(t *testing.T, b backend) {
	r, _ := pipe(t)
	if err := b.Add(r.fd, 1, 0); err == nil {
		t.Fatal("Add with no interest succeeded")
	}
	must(t, b.Add(r.fd, 1, Readable))
	if err := b.Modify(r.fd, 1, Errored); err == nil {
		t.Fatal("Modify to Errored only succeeded")
	}
}

func testAddOfBadFdFails(t *testing.T, b backend) {
	for _, fd := range []int{-1, 1 << 20} {
		if err := b.Add(fd, 1, Readable); !errors.Is(err, unix.EBADF) {
			t.Errorf("Add(%d): %v, want EBADF", fd, err)
		}
	}
	r, _ := pipe(t)
	fd := r.fd
	r.close()
	if err := b.Add(fd, 1, Readable); !errors.Is(err, unix.EBADF) {
		t.Errorf("Add of a closed fd: %v, want EBADF", err)
	}
	if n := b.Registered(); n != 0 {
		t.Errorf("Registered = %d after failed Adds, want 0", n)
	}
}

// testModifyOfClosedFdFails: adding interest to an fd closed since its Add
// fails in every backend, and leaves the registration as it was. poll used to
// take it, and then reported POLLNVAL on every wait, where epoll refused.
func testModifyOfClosedFdFails(t *testing.T, b backend) {
	r, _ := pipe(t)
	must(t, b.Add(r.fd, 1, Readable))
	fd := r.fd
	r.close()
	if err := b.Modify(fd, 2, Readable|Writable); !errors.Is(err, unix.EBADF) && !errors.Is(err, unix.ENOENT) {
		t.Errorf("Modify of a closed fd: %v, want EBADF or ENOENT", err)
	}
	must(t, b.Delete(fd))
	if n := b.Registered(); n != 0 {
		t.Errorf("Registered = %d after Delete, want 0", n)
	}
}

// testManyFdsAcrossWaits registers more ready fds than one Wait returns for
// epoll and kqueue: later Waits must report the rest, each fd once per Wait
// with its own seq; after deleting every other one, only the rest report.
func testManyFdsAcrossWaits(t *testing.T, b backend) {
	const n = 200
	seqOf := map[int]uint32{}
	for i := range n {
		r, w := pipe(t)
		must(t, b.Add(r.fd, uint32(1000+i), Readable))
		write(t, w)
		seqOf[r.fd] = uint32(1000 + i)
	}
	collect := func() map[int]bool {
		seen := map[int]bool{}
		for range 10 {
			evs, err := b.Wait(0)
			must(t, err)
			once := map[int32]bool{}
			for _, e := range evs {
				if once[e.Fd] {
					t.Fatalf("fd %d twice in one Wait", e.Fd)
				}
				once[e.Fd] = true
				want, ok := seqOf[int(e.Fd)]
				if !ok {
					t.Fatalf("event for fd %d, which is not registered", e.Fd)
				}
				if e.Seq != want || e.Ev&Readable == 0 {
					t.Fatalf("fd %d: %+v, want Readable with seq %d", e.Fd, e, want)
				}
				seen[int(e.Fd)] = true
			}
		}
		return seen
	}
	if seen := collect(); len(seen) != n {
		t.Fatalf("%d of %d ready fds reported in 10 Waits", len(seen), n)
	}
	i := 0
	for fd := range seqOf {
		if i%2 == 0 {
			must(t, b.Delete(fd))
			delete(seqOf, fd)
		}
		i++
	}
	if seen := collect(); len(seen) != len(seqOf) {
		t.Fatalf("%d of %d remaining fds reported", len(seen), len(seqOf))
	}
	if got := b.Registered(); got != len(seqOf) {
		t.Fatalf("Registered = %d, want %d", got, len(seqOf))
	}
}

func testWaitDoesNotAllocate(t *testing.T, b backend) {
	r, w := pipe(t)
	must(t, b.Add(r.fd, 1, Readable))
	write(t, w)
	waitFor(t, b, r.fd, Readable)
	got := 0
	if a := testing.AllocsPerRun(100, func() {
		evs, _ := b.Wait(0)
		got += len(evs)
	}); a != 0 {
		t.Errorf("Wait(0) with one ready fd: %v allocations per run, want 0", a)
	}
	if got != 101 { // AllocsPerRun runs once more to warm up
		t.Errorf("Wait(0) reported %d events in 101 runs, want 101", got)
	}
	if a := testing.AllocsPerRun(100, func() { b.Wait(int64(time.Microsecond)) }); a != 0 {
		t.Errorf("Wait(1µs) with one ready fd: %v allocations per run, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { b.Modify(r.fd, 2, Readable|Writable) }); a != 0 {
		t.Errorf("Modify: %v allocations per run, want 0", a)
	}
}

func testWaitZeroReturnsAtOnce(t *testing.T, b backend) {
	start := time.Now()
	evs, err := b.Wait(0)
	must(t, err)
	if len(evs) != 0 {
		t.Fatalf("Wait(0) = %v, want nothing", evs)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Wait(0) took %v", d)
	}
}

// testTimeoutNeverEarly checks that an idle Wait lasts at least its timeout,
// including timeouts that are not whole milliseconds and one over a second
// (whose seconds a timespec must keep). EINTR may end a Wait early by
// contract, so a short Wait is retried; a rounding error is short every time.
func testTimeoutNeverEarly(t *testing.T, b backend) {
	for _, d := range []time.Duration{20 * time.Millisecond, 1500 * time.Microsecond, 1001 * time.Microsecond, 50 * time.Microsecond, time.Second + 500*time.Microsecond} {
		early := 0
		for range 3 {
			start := time.Now()
			evs, err := b.Wait(int64(d))
			took := time.Since(start)
			must(t, err)
			if len(evs) != 0 {
				t.Fatalf("Wait(%v) = %v, want nothing", d, evs)
			}
			if took > failsafe {
				t.Fatalf("Wait(%v) took %v", d, took)
			}
			if took >= d {
				break
			}
			early++
			t.Logf("Wait(%v) returned after %v", d, took)
		}
		if early == 3 {
			t.Fatalf("Wait(%v) returned early 3 times in a row", d)
		}
	}
}

// waitReturns runs Wait(-1) on another goroutine and fails if it has not
// returned within failsafe.
func waitReturns(t *testing.T, b backend, before func()) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		evs, err := b.Wait(-1)
		done <- result{len(evs), err}
	}()
	if before != nil {
		before()
	}
	select {
	case r := <-done:
		if r.err != nil || r.n != 0 {
			t.Fatalf("Wait(-1) after Wake = %d events, %v; want nothing", r.n, r.err)
		}
	case <-time.After(failsafe):
		t.Fatalf("Wait(-1) still blocked %v after Wake", failsafe)
	}
}

func testWakeUnblocksBlockedWait(t *testing.T, b backend) {
	waitReturns(t, b, func() {
		time.Sleep(50 * time.Millisecond) // let Wait block; correct either way
		must(t, b.Wake())
	})
}

// testWakeUnblocksTimedWait: a Wait with a timeout (an hour) ends at a
// Wake made while it blocks, or before it began, in every backend. None
// waits in the kernel only when it has a timeout, and writes the kernel
// wake-up only then (see None).
func testWakeUnblocksTimedWait(t *testing.T, b backend) {
	for round := range 4 {
		wakeFirst := round%2 == 1
		if wakeFirst {
			must(t, b.Wake())
		}
		done := make(chan error, 1)
		go func() {
			_, err := b.Wait(int64(time.Hour))
			done <- err
		}()
		if !wakeFirst {
			time.Sleep(20 * time.Millisecond) // let Wait block; correct either way
			must(t, b.Wake())
		}
		select {
		case err := <-done:
			must(t, err)
		case <-time.After(failsafe):
			t.Fatalf("Wait(1h) still blocked %v after Wake (made first: %v)", failsafe, wakeFirst)
		}
	}
}

// testWakeBeforeWait wakes twice before waiting: the next Wait returns at once
// and drains both, so the Wait after it runs to its timeout.
func testWakeBeforeWait(t *testing.T, b backend) {
	must(t, b.Wake())
	must(t, b.Wake())
	waitReturns(t, b, nil)
	const d = 20 * time.Millisecond
	for try := 0; ; try++ {
		start := time.Now()
		_, err := b.Wait(int64(d))
		must(t, err)
		if time.Since(start) >= d {
			return
		}
		if try == 2 {
			t.Fatal("the wake-up was not drained: Wait returned early 3 times")
		}
	}
}

// testWakeOfABlockedWaitLeavesNothingPending wakes a Wait(-1) that is
// blocked (with no fds registered, parked on a channel in the kernel
// backends), then checks that the Wait after it runs to its timeout: the Wake
// was consumed whole, and wrote no kernel wake-up that a later Wait would
// find.
// A Wake left pending makes every round return early. A signal ends a Wait
// early too (EINTR): the runtime's preemption signal, sent to a thread just as
// it enters the system call, did so in about 3% of the rounds on a 2-core VM,
// and twice in one run of five rounds. So only every round early fails.
func testWakeOfABlockedWaitLeavesNothingPending(t *testing.T, b backend) {
	const rounds, d = 5, 20 * time.Millisecond
	early := 0
	for range rounds {
		waitReturns(t, b, func() {
			time.Sleep(20 * time.Millisecond) // let Wait block; correct either way
			must(t, b.Wake())
		})
		start := time.Now()
		_, err := b.Wait(int64(d))
		must(t, err)
		if time.Since(start) < d {
			early++
		}
	}
	if early == rounds {
		t.Fatalf("Wait(%v) returned early in all %d rounds after a Wake that had ended a blocked Wait", d, rounds)
	}
}

func testWakeAndWaitDoNotAllocate(t *testing.T, b backend) {
	if a := testing.AllocsPerRun(100, func() {
		b.Wake()
		b.Wait(-1)
	}); a != 0 {
		t.Errorf("Wake+Wait(-1): %v allocations per run, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		b.Wake()
		b.Wait(int64(time.Second))
	}); a != 0 {
		t.Errorf("Wake+Wait(1s): %v allocations per run, want 0", a)
	}
	if a := testing.AllocsPerRun(20, func() { b.Wait(int64(10 * time.Microsecond)) }); a != 0 {
		t.Errorf("Wait(10µs) timing out: %v allocations per run, want 0", a)
	}
}

// testWakeRacingWithClose wakes from many goroutines while the owner waits,
// closes and reopens: every Wake returns nil or ErrClosed, and under -race
// nothing races.
func testWakeRacingWithClose(t *testing.T, b backend) {
	for range 5 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := b.Wake(); err != nil && !errors.Is(err, ErrClosed) {
						t.Errorf("Wake: %v", err)
						return
					}
					runtime.Gosched() // posters do other work between Wakes
				}
			})
		}
		for range 10 {
			if _, err := b.Wait(int64(time.Millisecond)); err != nil {
				t.Errorf("Wait: %v", err)
			}
		}
		must(t, b.Close())
		time.Sleep(time.Millisecond) // let Wakes run against the closed backend
		must(t, b.Open())
		close(stop)
		wg.Wait()
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

func testCloseReleasesFds(t *testing.T, b backend) {
	must(t, b.Close()) // the suite opened it; count from a closed backend
	before := openFDs(t)
	must(t, b.Open())
	if err := b.Open(); err == nil {
		t.Fatal("second Open succeeded")
	}
	must(t, b.Close())
	must(t, b.Close())
	if after := openFDs(t); after != before {
		t.Fatalf("open descriptors: %d before Open, %d after Close", before, after)
	}
	must(t, b.Open()) // a closed backend opens again
}

func testUseAfterClose(t *testing.T, b backend) {
	must(t, b.Close())
	if _, err := b.Wait(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait after Close: %v, want ErrClosed", err)
	}
	if err := b.Wake(); !errors.Is(err, ErrClosed) {
		t.Errorf("Wake after Close: %v, want ErrClosed", err)
	}
	if _, ok := b.(*None); !ok {
		if err := b.Add(0, 1, Readable); !errors.Is(err, ErrClosed) {
			t.Errorf("Add after Close: %v, want ErrClosed", err)
		}
		if err := b.Modify(0, 1, Readable); !errors.Is(err, ErrClosed) {
			t.Errorf("Modify after Close: %v, want ErrClosed", err)
		}
		if err := b.Delete(0); err != nil {
			t.Errorf("Delete after Close: %v, want nil", err)
		}
	}
}

// testFirstWaitAfterGrowthDoesNotAllocate pins that Wait never allocates,
// not even the first one after many fds were added and all became ready at
// once: the result's room keeps up with the registrations at Add. (testing.AllocsPerRun warms up with one run, which hides an allocation
// made only by the first Wait after the set grew.) (Catches: poll's Add
// growing the result slice too late, so that Wait's append grows it.)
func testFirstWaitAfterGrowthDoesNotAllocate(t *testing.T, b backend) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	for n := 1; n <= 40; n++ {
		r, w := pipe(t)
		must(t, b.Add(r.fd, uint32(n), Readable))
		write(t, w)
		runtime.ReadMemStats(&before)
		evs, err := b.Wait(0)
		runtime.ReadMemStats(&after)
		must(t, err)
		if len(evs) != n {
			t.Fatalf("with %d ready fds registered, Wait(0) reported %d", n, len(evs))
		}
		if a := after.Mallocs - before.Mallocs; a != 0 {
			t.Fatalf("the first Wait(0) after the %dth Add made %d allocations, want 0", n, a)
		}
	}
}

// testFailedModifyLeavesTheInterest pins that a Modify refused for an fd
// closed since its Add changes nothing: when the number is then reused by a
// writable socket, the registration left behind still asks for Readable only,
// so a Wait reports nothing for it (poll keeps watching the number; the
// kernel dropped it from epoll at close). (Catches: poll's Modify keeping the
// new interest when the fd check fails, so the stale registration reports the
// reused number as Writable.)
func testFailedModifyLeavesTheInterest(t *testing.T, b backend) {
	r, _ := pipe(t)
	must(t, b.Add(r.fd, 1, Readable))
	fd := r.fd
	r.close()
	if err := b.Modify(fd, 2, Readable|Writable); err == nil {
		t.Fatalf("Modify of closed fd %d succeeded", fd)
	}
	a, _ := socketpair(t) // writable, not readable
	if a.fd != fd {
		must(t, b.Delete(fd))
		t.Skipf("the kernel did not reuse fd %d (got %d)", fd, a.fd)
	}
	evs, err := b.Wait(0)
	must(t, err)
	if e, n := find(evs, fd); n != 0 {
		t.Fatalf("fd %d, reused by a socket that is only writable, reported %+v after a failed Modify: want nothing (interest Readable)", fd, e)
	}
	must(t, b.Delete(fd))
	var buf [1]byte
	if _, err := unix.Read(a.fd, buf[:]); err != unix.EAGAIN {
		t.Fatalf("read of the new socket: %v, want EAGAIN", err)
	}
}
