package main

import (
	"time"

	"golang.org/x/sys/unix"
)

// sleeper sleeps the calling thread in the kernel until absolute points on
// the monotonic clock, as a loop blocked in epoll_pwait2 does: no timer
// structure, no scheduler, only the system call and the wake-up.
type sleeper struct{ base unix.Timespec }

func newSleeper() (*sleeper, error) {
	var s sleeper
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &s.base); err != nil {
		return nil, err
	}
	return &s, nil
}

// until sleeps until d after the sleeper was made.
func (s *sleeper) until(d time.Duration) error {
	at := unix.NsecToTimespec(s.base.Nano() + int64(d))
	for {
		err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &at, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

const sleeperNote = "clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) until each distinct deadline"
