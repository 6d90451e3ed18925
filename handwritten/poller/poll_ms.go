//go:build unix && !linux

package poller

import "golang.org/x/sys/unix"

// pollSys waits with poll(2), whose timeout is in milliseconds: a positive
// timeout is rounded up.
type pollSys struct{}

func (pollSys) wait(fds []unix.PollFd, timeout int64) (int, error) {
	ms := -1
	if timeout == 0 {
		ms = 0
	} else if timeout > 0 {
		ms = msTimeout(timeout)
	}
	return unix.Poll(fds, ms)
}
