//go:build !linux

package main

import "time"

// sleeper sleeps until points after it was made (time.Sleep where
// clock_nanosleep is not available to this package).
type sleeper struct{ base time.Time }

func newSleeper() (*sleeper, error) { return &sleeper{base: time.Now()}, nil }

// until sleeps until d after the sleeper was made.
func (s *sleeper) until(d time.Duration) error {
	time.Sleep(time.Until(s.base.Add(d)))
	return nil
}

const sleeperNote = "time.Sleep until each distinct deadline"
