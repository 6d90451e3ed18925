package sock_test

import (
	"errors"
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
// long the next time they run out. Real time, with wide margins: the first
// retry is due 10 ms after the failure, a back-off that was not reset waits
// a second (its maximum).
func TestAcceptBackoffStartsOverAfterASuccess(t *testing.T) {
	l := newLoop(t)
	srv := &echoServer{}
	var errTimes []time.Time
	ln, err := sock.Listen(l, "tcp4", "127.0.0.1:0", srv, sock.WithAcceptErrorHandler(func(error) {
		errTimes = append(errTimes, time.Now())
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

	// Seven failures in a row: the back-off has grown to 640 ms.
	release := starveDescriptors(t, cfds[0])
	if err := unix.Connect(cfds[0], sa); err != nil {
		release()
		t.Fatal(err)
	}
	runUntil(t, l, "seven accept failures", func() bool { return len(errTimes) >= 7 })
	release()
	runUntil(t, l, "the accept", func() bool { return srv.opened == 1 })

	// The next shortage: the first retry comes after the minimum back-off.
	first := len(errTimes)
	release = starveDescriptors(t, cfds[0])
	defer release()
	if err := unix.Connect(cfds[1], sa); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "two more accept failures", func() bool { return len(errTimes) >= first+2 })
	if gap := errTimes[first+1].Sub(errTimes[first]); gap > 500*time.Millisecond {
		t.Errorf("after a successful accept, the first retry came %v after the failure; want the minimum back-off, 10 ms", gap)
	}
	release()
	runUntil(t, l, "the second accept", func() bool { return srv.opened == 2 })
}
