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

	// Lower the limit just above what is open, then fill every free number
	// below it, so that the next descriptor cannot be had.
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	maxFD := highestFD(t)
	lowered := old
	lowered.Cur = uint64(maxFD + 8)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lowered); err != nil {
		t.Skipf("cannot lower the descriptor limit: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
		}
	}
	t.Cleanup(restore)
	var fillers []int
	freeFillers := func() {
		for _, fd := range fillers {
			unix.Close(fd)
		}
		fillers = nil
	}
	defer freeFillers()
	for {
		fd, err := unix.Dup(cfds[0])
		if err != nil {
			if err != unix.EMFILE {
				t.Fatal(err)
			}
			break
		}
		fillers = append(fillers, fd)
	}

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
	if gap := errTimes[2].Sub(errTimes[0]); gap < 30*time.Millisecond {
		t.Errorf("three accept failures within %v; the backoff (10ms, then 20ms) should space them by 30ms or more", gap)
	}
	if srv.opened != 0 {
		t.Fatalf("%d accepted with no descriptor free", srv.opened)
	}

	freeFillers()
	restore()
	runUntil(t, l, "every client to be accepted", func() bool { return srv.opened == clients })
	if n := len(acceptErrs); n > 10 {
		t.Errorf("%d accept failures; a backoff from 10ms makes only a few", n)
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
