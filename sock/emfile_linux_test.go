package sock_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// TestAcceptBacksOffOnEMFILE lowers the descriptor limit so that accept
// fails with EMFILE: the listener must stop watching, retry on a timer
// that backs off (never spin), and accept everyone once descriptors are
// free again. Not parallel: the limit is the whole process's.
func TestAcceptBacksOffOnEMFILE(t *testing.T) {
	const clients = 5
	l := newLoop(t)
	srv := &echoServer{}
	var acceptErrs []error
	var errTimes []time.Time
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv, sock.WithAcceptErrorHandler(func(err error) {
		acceptErrs = append(acceptErrs, err)
		errTimes = append(errTimes, time.Now())
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.closeAll(t, l, ln)

	// The clients' sockets exist before the limit drops; connecting needs
	// no new descriptor.
	var cfds []int
	defer func() {
		for _, fd := range cfds {
			unix.Close(fd)
		}
	}()
	for range clients {
		fd, err := rawSocket()
		if err != nil {
			t.Fatal(err)
		}
		cfds = append(cfds, fd)
	}

	release := starveDescriptors(t, cfds[0])
	defer release()

	sa := &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
	for _, fd := range cfds {
		if err := unix.Connect(fd, sa); err != nil {
			t.Fatal(err)
		}
	}
	// Three failures: the first at once, then retries 10ms and 20ms later.
	runUntil(t, l, "three accept failures", func() bool { return len(acceptErrs) >= 3 })
	for _, err := range acceptErrs {
		if !errors.Is(err, syscall.EMFILE) {
			t.Errorf("accept error %v; want EMFILE", err)
		}
	}
	// The backoffs add up to 30ms, measured from the clock reading that
	// scheduled each retry, which comes before the handler's time.Now: the
	// handlers' timestamps can be that much closer (29.91-29.99ms in 3 of
	// 30 runs under loop_latency, whose idle spin fires timers on the dot).
	// 25ms still fails a listener that retries at once, or that does not
	// double its backoff (20ms).
	if gap := errTimes[2].Sub(errTimes[0]); gap < 25*time.Millisecond {
		t.Errorf("three accept failures within %v; the backoff (10ms, then 20ms) should space them by about 30ms", gap)
	}
	if srv.opened != 0 {
		t.Fatalf("%d accepted with no descriptor free", srv.opened)
	}

	release()
	runUntil(t, l, "every client to be accepted", func() bool { return srv.opened == clients })
	if n := len(acceptErrs); n > 10 {
		t.Errorf("%d accept failures; a backoff from 10ms makes only a few", n)
	}
}

// starveDescriptors lowers the process's descriptor limit just above what
// is open and fills every free number below it with duplicates of fd, so
// that the next descriptor cannot be had (EMFILE). The function it returns
// gives them back and restores the limit; it may be called more than once,
// and runs at the test's end if not called. Not for parallel tests: the
// limit is the whole process's.
func starveDescriptors(t *testing.T, fd int) (release func()) {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lowered := old
	lowered.Cur = uint64(highestFD(t) + 8)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lowered); err != nil {
		t.Skipf("cannot lower the descriptor limit: %v", err)
	}
	var fillers []int
	released := false
	release = func() {
		if released {
			return // a second close could hit a reused number
		}
		released = true
		for _, f := range fillers {
			unix.Close(f)
		}
		unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	}
	t.Cleanup(release)
	for {
		f, err := unix.Dup(fd)
		if err != nil {
			if err != unix.EMFILE {
				release()
				t.Fatal(err)
			}
			return release
		}
		fillers = append(fillers, f)
	}
}

// highestFD returns the highest descriptor number open now.
func highestFD(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list descriptors: %v", err)
	}
	hi := 0
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err == nil {
			hi = max(hi, n)
		}
	}
	return hi
}

// After an accept succeeds the back-off starts over at its minimum: a
// listener that once waited long for descriptors must not keep waiting that
// long the next time they run out. On a virtual clock, each retry is checked
// to come no earlier than its back-off after the failure before it, and no
// later than one wheel tick after that: 10 ms, doubling to 640 ms over seven
// failures, and then, after an accept, 10 ms again, where a back-off that was
// not reset would wait a second (its maximum). Only a failing test waits in
// real time (runUntil's watchdog).
func TestAcceptBackoffStartsOverAfterASuccess(t *testing.T) {
	l, vc := newVirtualLoop(t)
	tick := l.Variant().Tick
	srv := &echoServer{}
	failures := 0
	var lastFailure time.Time // on the virtual clock
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv, sock.WithAcceptErrorHandler(func(error) {
		failures++
		lastFailure = vc.Now()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.closeAll(t, l, ln)
	var cfds []int
	defer func() {
		for _, fd := range cfds {
			unix.Close(fd)
		}
	}()
	for range 2 {
		fd, err := rawSocket()
		if err != nil {
			t.Fatal(err)
		}
		cfds = append(cfds, fd)
	}
	sa := &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}

	// afterBackoff moves the clock to a nanosecond before backoff has passed
	// since the last failure and checks that the retry (what cond reports)
	// has not come, then moves it a wheel tick past and runs l until it has.
	// The connection that failed stays queued, so a retry finds it at once.
	afterBackoff := func(backoff time.Duration, what string, cond func() bool) {
		t.Helper()
		prev := lastFailure
		due := prev.Add(backoff)
		vc.AdvanceTo(due.Add(-time.Nanosecond))
		for range 10 {
			if err := l.RunOnce(false); err != nil {
				t.Fatal(err)
			}
		}
		if cond() {
			t.Fatalf("%s came with the clock %v past the accept failure before it: before the back-off of %v", what, vc.Now().Sub(prev), backoff)
		}
		vc.AdvanceTo(due.Add(tick))
		runUntil(t, l, what, cond)
	}

	// Seven failures in a row: the back-off grows from 10 ms to 640 ms.
	release := starveDescriptors(t, cfds[0])
	if err := unix.Connect(cfds[0], sa); err != nil {
		release()
		t.Fatal(err)
	}
	runUntil(t, l, "the first accept failure", func() bool { return failures >= 1 })
	backoff := 10 * time.Millisecond
	for n := 2; n <= 7; n++ {
		afterBackoff(backoff, fmt.Sprintf("accept failure %d", n), func() bool { return failures >= n })
		backoff *= 2
	}
	release()
	afterBackoff(backoff, "the accept", func() bool { return srv.opened == 1 })
	if failures != 7 {
		t.Fatalf("%d accept failures, want 7: one for each retry", failures)
	}

	// The next shortage: the first retry comes after the minimum back-off.
	release = starveDescriptors(t, cfds[0])
	defer release()
	if err := unix.Connect(cfds[1], sa); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the first accept failure after the accept", func() bool { return failures >= 8 })
	afterBackoff(10*time.Millisecond, "the first retry after the accept", func() bool { return failures >= 9 })
	release()
	afterBackoff(20*time.Millisecond, "the second accept", func() bool { return srv.opened == 2 })
	if failures != 9 {
		t.Fatalf("%d accept failures, want 9: one for each retry", failures)
	}
}

// TestDialWithoutADescriptorFailsWithAnOpError: a Dial to a literal address
// that gets no socket (EMFILE) fails at once with a *net.OpError naming the
// address, as OnClose's error is for a name's dial that gets none (a
// user's trial found a plain wrapped error there, which errors.As could not
// take as a *net.OpError).
func TestDialWithoutADescriptorFailsWithAnOpError(t *testing.T) {
	l := newLoop(t)
	starveDescriptors(t, 0)
	_, err := sock.Dial(l, "tcp", "127.0.0.1:9", &recorder{})
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || op.Addr == nil || op.Addr.String() != "127.0.0.1:9" || !errors.Is(err, unix.EMFILE) {
		t.Fatalf("Dial with no descriptor left returned %#v (%v); want a *net.OpError of dial to 127.0.0.1:9 around EMFILE", err, err)
	}
	if got, want := err.Error(), "dial tcp 127.0.0.1:9: socket: too many open files"; got != want {
		t.Errorf("Dial's error says %q; want %q", got, want)
	}
}
