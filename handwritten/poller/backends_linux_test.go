package poller

import (
	"errors"
	"math"
	"testing"

	"golang.org/x/sys/unix"
)

func backends() []maker {
	return []maker{
		{"epoll", func() backend { return new(Epoll) }, true},
		// The fallback for kernels without epoll_pwait2: millisecond epoll_wait.
		{"epoll-ms", func() backend { return &Epoll{noPwait2: true} }, true},
		{"poll", func() backend { return new(Poll) }, true},
		{"none", func() backend { return new(None) }, false},
	}
}

// TestEpollRefusesANumberAbove32Bits: epoll_ctl takes the fd as a C int, so
// 2^32+fd named fd: Add returned nil and replaced fd's seq and interest.
func TestEpollRefusesANumberAbove32Bits(t *testing.T) {
	var p Epoll
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if err := p.Add(fds[0], 1, Readable); err != nil {
		t.Fatal(err)
	}
	if math.MaxInt == math.MaxInt32 {
		t.Skip("an int holds no number above 32 bits here")
	}
	shift := 32 // not a constant: 1<<32 would not compile where int has 32 bits
	bogus := fds[0] + 1<<shift
	if err := p.Add(bogus, 2, Writable); !errors.Is(err, unix.EBADF) {
		t.Errorf("Add(%d): %v, want EBADF", bogus, err)
	}
	if err := p.Modify(bogus, 2, Writable); !errors.Is(err, unix.EBADF) {
		t.Errorf("Modify(%d): %v, want EBADF", bogus, err)
	}
	p.Delete(bogus)
	unix.Write(fds[1], []byte("x"))
	evs, err := p.Wait(0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		if int(e.Fd) == fds[0] {
			found = true
			if e.Seq != 1 || e.Ev&Writable != 0 {
				t.Errorf("fd %d reports seq %d and events %b: its registration was replaced", fds[0], e.Seq, e.Ev)
			}
		}
	}
	if !found {
		t.Errorf("fd %d, readable, was not reported: Delete(%d) removed it", fds[0], bogus)
	}
}
