//go:build unix

package poller

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestAFailedModifyLeavesTheInterestAsItWas pins that a Modify refused for an
// fd closed since its Add changes nothing: when the number is then reused by
// a writable socket, the registration left behind still asks for Readable
// only, so a Wait reports nothing for it (poll keeps watching the number; the
// kernel dropped it from epoll at close). (Catches: poll's Modify keeping the
// new interest when the fd check fails, so the stale registration reports the
// reused number as Writable.)
func TestAFailedModifyLeavesTheInterestAsItWas(t *testing.T) {
	for _, m := range backends() {
		if !m.fds {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			b := m.new()
			must(t, b.Open())
			t.Cleanup(func() { b.Close() })
			r, _ := pipe(t)
			must(t, b.Add(r.fd, 1, Readable))
			fd := r.fd
			r.close()
			if err := b.Modify(fd, 2, Readable|Writable); err == nil {
				t.Fatalf("Modify of closed fd %d succeeded", fd)
			}
			a, _ := socketpair(t) // writable, not readable
			if a.fd != fd {
				must(t, b.Delete(fd))
				t.Skipf("the kernel did not reuse fd %d (got %d)", fd, a.fd)
			}
			evs, err := b.Wait(0)
			must(t, err)
			if e, n := find(evs, fd); n != 0 {
				t.Fatalf("fd %d, reused by a socket that is only writable, reported %+v after a failed Modify: want nothing (interest Readable)", fd, e)
			}
			must(t, b.Delete(fd))
			var buf [1]byte
			if _, err := unix.Read(a.fd, buf[:]); err != unix.EAGAIN {
				t.Fatalf("read of the new socket: %v, want EAGAIN", err)
			}
		})
	}
}
