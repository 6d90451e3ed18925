package poller

import "golang.org/x/sys/unix"

// pollSys waits with ppoll(2), whose timespec carries the timeout in
// nanoseconds. ts is a field so that Wait does not allocate.
type pollSys struct{ ts unix.Timespec }

func (s *pollSys) wait(fds []unix.PollFd, timeout int64) (int, error) {
	if timeout < 0 {
		return unix.Ppoll(fds, nil, nil)
	}
	s.ts = unix.NsecToTimespec(timeout)
	return unix.Ppoll(fds, &s.ts, nil)
}
