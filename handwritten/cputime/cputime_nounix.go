//go:build !unix

package cputime

import (
	"errors"
	"time"
)

func thread() (time.Duration, error) {
	return 0, errors.New("cputime: no CPU time reading on this system")
}
