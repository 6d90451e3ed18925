// Package wake provides FD, a self-signalling file descriptor that breaks a
// poller out of a blocking wait.
//
// The poller registers Fd for readability. Any goroutine may Signal; the loop
// goroutine Drains when the poller reports the fd readable. Signals are not
// counted: any number of Signals before a Drain make the fd readable once, and
// Drain makes it unreadable until the next Signal. Deduplicating wake-ups (one
// Signal per sleep, not one per post) is the caller's job, as in Go's runtime
// poller.
//
// On Linux an FD is an eventfd; elsewhere it is a non-blocking, close-on-exec
// pipe. Platforms without Unix file descriptors get an FD whose Open fails.
package wake

import "errors"

// ErrClosed is returned by Signal on an FD that is not open: never opened, or
// closed. Nothing is written then, so a Signal racing with Close can never
// write into a file descriptor that was closed and reused.
var ErrClosed = errors.New("wake: not open")
