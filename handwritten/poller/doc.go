// Package poller holds the readiness backends a loop variant is built from:
// Epoll (Linux), Kqueue (darwin and the BSDs), Poll (every Unix) and None (no
// user file descriptors; the loop only sleeps until a timer or a Wake, on
// Unix in the kernel on the wake-up's descriptor, as Poll does).
// Auto names the platform's best backend.
//
// A variant embeds one concrete type by value and calls it directly: there is
// no interface on the hot path. (Backend is the same method set as an
// interface, for the generic build, which picks its backend at run time.) Every backend exists on every platform, so
// generated code always compiles; where the kernel lacks a backend, its Open
// returns an error that wraps ErrUnsupported.
//
// # The contract
//
// Every backend has exactly this method set; the rules below hold for all of
// them unless a backend's doc says otherwise.
//
//	Open() error
//	Close() error
//	Add(fd int, seq uint32, ev Events) error
//	Modify(fd int, seq uint32, ev Events) error
//	Delete(fd int) error
//	Wait(timeout int64) ([]Event, error)
//	Wake() error
//	Registered() int
//
// Goroutines. Wake may run on any goroutine at any time, Close included.
// Every other method belongs to the loop goroutine (the owner) and must not
// run concurrently with another owner method. After Close, Wake returns
// ErrClosed and never touches a released descriptor.
//
// Open creates the kernel object and the wake-up, and registers the wake-up.
// Close releases every descriptor Open created; it is idempotent and safe on a
// zero value and after a failed Open (a failed Open leaves nothing open). A
// closed backend may be opened again. After Close, Add, Modify and Wait return
// ErrClosed and Delete returns nil (nothing is watched).
//
// Add starts watching fd for ev (Readable, Writable or both; other bits are
// ignored, and naming neither is an error). Interest is level-triggered: an fd is
// reported by every Wait while it stays ready. Adding an fd that is already
// registered replaces its interest and seq, as Modify would, so a descriptor
// number closed and reused without a Delete can be added again. Modify changes
// the interest and seq of a registered fd (ev must name Readable or Writable).
// Delete stops watching fd; it returns nil for an fd that is not registered or
// that the user already closed (EBADF and ENOENT are not errors), so the loop
// may call it after closing. (It then removes nothing from epoll, which drops a
// file only when its last descriptor closes: a file that a dup still holds
// stays watched, and reported, until that one closes too.) Add and Modify
// refuse the backend's own wake-up descriptor (the one its waits watch: a
// pipe's read end), which Delete leaves alone.
// Modify fails for a closed fd when it adds interest, as Add does.
//
// Sequence numbers. The loop tags each registration with a seq and drops any
// Event whose Seq is not the fd's current one. An fd closed by a callback and
// reopened (the kernel reuses the lowest free number) within one iteration
// then has a new seq, and readiness collected for the old file is dropped
// rather than delivered to the new one, as in Go's runtime poller.
//
// Wait reports readiness. timeout is in nanoseconds: < 0 blocks until an event
// or a Wake; == 0 polls without blocking; > 0 waits at most that long. A
// positive timeout is rounded up to the backend's granularity, never down, so
// a Wait that reports nothing has waited at least timeout, except that it may
// return early with nothing after EINTR, after a Wake, or when timeout exceeds
// what the backend can express (about 24 days in milliseconds, 11 days for
// kqueue) and was clamped; the caller then simply waits again. EINTR returns
// (nil, nil).
//
// The slice Wait returns is owned by the backend and valid until the next
// Wait; it holds at most one Event per fd, and at most a backend-defined batch
// (128 for epoll and kqueue); fds left over are reported by the next Wait.
// The wake-up descriptor is drained inside Wait and never reported. Errored
// stands for an error or hang-up condition: the loop runs both the reader and
// the writer of that fd, so whichever is registered sees it. A hang-up also
// sets Readable, so a reader sees end of file.
//
// Wake makes a blocked Wait return, or the next Wait if none is blocked. Any
// number of Wakes before a Wait cause one early return. Deduplicating Wakes
// (one per sleep) is the caller's job. A Wait(-1) of Epoll, Kqueue or Poll
// with no user fds registered blocks on a channel rather than in the kernel
// (see parker): a Wake then costs a channel send, and no signal ends that
// Wait early.
//
// Registered is how many user fds are registered; the wake-up is not counted.
// The loop skips a non-blocking Wait when it is zero.
//
// Steady-state Wait, Wake and Modify allocate nothing.
package poller
