//go:build unix

package sock

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// TCP keep-alive's defaults and bounds. The defaults are package net's; the
// bounds are Linux's (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT),
// checked when the option is given, so that a value the kernel would refuse
// fails the call instead of being dropped at each connection.
const (
	defaultKeepAliveTime  = 15 * time.Second
	defaultKeepAliveCount = 9
	maxKeepAliveSeconds   = 32767
	maxKeepAliveCount     = 127
)

// keepAlive is WithKeepAlive's setting, on, as setsockopt takes it: whole
// seconds and a count, each -1 where the system's value is kept.
type keepAlive struct {
	idle, interval, count int
}

// WithKeepAlive sets TCP keep-alive on TCP connections, accepted and
// dialed, as net.ListenConfig's and net.Dialer's KeepAliveConfig do: with
// Enable, the kernel probes a connection that has been idle for Idle,
// every Interval, and drops it (OnClose then gets ETIMEDOUT) after Count
// probes go unanswered. A zero Idle or Interval means 15 s and a zero
// Count 9, as in package net; a negative one leaves the system's value.
// Durations are rounded up to whole seconds; Idle and Interval above
// 32,767 s and Count above 127 are refused (Linux's limits). Without this
// option, or with Enable false, keep-alive is off: unlike package net,
// which turns it on for every TCP connection, since a server with very
// many idle connections pays for every probe; SetIdleTimeout is the
// loop's own way to drop connections that stay silent. Darwin sets Idle
// with TCP_KEEPALIVE; Unix systems other than Linux, FreeBSD and Darwin
// set SO_KEEPALIVE alone. Unix sockets ignore the option, though its
// values are checked all the same; ListenPacket refuses it. It is set on each connection as
// best it can be: a value the system refuses there leaves the connection
// open, with what was set before it.
func WithKeepAlive(ka net.KeepAliveConfig) Option {
	return func(c *config) {
		c.only("WithKeepAlive", forStream)
		if !ka.Enable {
			c.keepAlive = nil // a new socket has it off
			return
		}
		k := &keepAlive{count: -1}
		var ok bool
		if k.idle, ok = keepAliveSeconds(ka.Idle); !ok {
			c.refuse("WithKeepAlive", fmt.Sprintf("%+v", ka), "Idle must be at most 32767s")
			return
		}
		if k.interval, ok = keepAliveSeconds(ka.Interval); !ok {
			c.refuse("WithKeepAlive", fmt.Sprintf("%+v", ka), "Interval must be at most 32767s")
			return
		}
		switch {
		case ka.Count == 0:
			k.count = defaultKeepAliveCount
		case ka.Count > maxKeepAliveCount:
			c.refuse("WithKeepAlive", fmt.Sprintf("%+v", ka), "Count must be at most 127")
			return
		case ka.Count > 0:
			k.count = ka.Count
		}
		c.keepAlive = k
	}
}

// keepAliveSeconds is d in whole seconds, rounded up: 15 for 0, -1 (the
// system's) for a negative d; false above the bound.
func keepAliveSeconds(d time.Duration) (int, bool) {
	switch {
	case d < 0:
		return -1, true
	case d == 0:
		d = defaultKeepAliveTime
	case d > maxKeepAliveSeconds*time.Second:
		return 0, false
	}
	return int((d + time.Second - 1) / time.Second), true
}

// setKeepAlive turns keep-alive on for the TCP socket fd, with k's times.
func setKeepAlive(fd int, k *keepAlive) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	return setKeepAliveTimes(fd, k)
}
