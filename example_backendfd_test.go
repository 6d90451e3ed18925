// BackendFd needs a poller with one descriptor (epoll or kqueue): the
// poll(2) and poller-less variants have none, so the example is left out of
// their builds.

//go:build unix && !loop_throughput && !loop_compute

package loop_test

import (
	"fmt"
	"time"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// A host with an event loop of its own (here poll(2) over its descriptors)
// waits on BackendFd beside them, so that the loop's I/O, its timers and
// posts from other goroutines end the host's wait.
func ExampleLoop_BackendFd() {
	l, err := loop.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fd, err := l.BackendFd()
	if err != nil {
		fmt.Println(err)
		return
	}
	done := false
	go l.Post(func() {
		fmt.Println("posted from another goroutine, run on the host's")
		done = true
	})
	for !done {
		ms := -1 // no limit
		if d, ok := l.PrepareWait(); ok {
			ms = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		// The host's own descriptors would be in this list too.
		unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if err := l.RunOnce(false); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Output: posted from another goroutine, run on the host's
}
