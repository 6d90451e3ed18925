package poller

import (
	"math"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pollSys waits with ppoll(2), whose timespec carries the timeout in
// nanoseconds. ts is a field so that Wait does not allocate.
type pollSys struct{ ts unix.Timespec }

func (s *pollSys) wait(fds []unix.PollFd, timeout int64) (int, error) {
	if timeout < 0 {
		return unix.Ppoll(fds, nil, nil)
	}
	s.ts = unix.NsecToTimespec(timeout)
	if unsafe.Sizeof(s.ts.Sec) == 4 && timeout/1e9 > math.MaxInt32 {
		// A 32-bit timespec (386, arm, mips) would wrap to a negative
		// timeout, which ppoll refuses; a 68-year wait is as good as any.
		s.ts = unix.NsecToTimespec(math.MaxInt32 * 1e9)
	}
	return unix.Ppoll(fds, &s.ts, nil)
}
