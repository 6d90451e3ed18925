package sock_test

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// TestCorkAbortInOnPauseDuringASpill: a Write too long to gather sends what
// was gathered first; the kernel takes none of it, and queueing it crossed
// the high-water mark, so OnPause ran inside that Write before the Write's
// own bytes were queued. An Abort there closes the descriptor, and the
// Write then sent its bytes to the descriptor number anyway: here a socket
// opened meanwhile has that number, and receives them. As Writev's comment
// says, every byte of a Write must be queued before OnPause can run, so
// that what OnPause does (an Abort that counts them) comes after them.
func TestCorkAbortInOnPauseDuringASpill(t *testing.T) {
	l := newLoop(t)
	thief := newFDThief(t)
	a := bytes.Repeat([]byte("a"), 12<<10)
	b := bytes.Repeat([]byte("b"), 8<<10)
	var n int
	var werr error
	wrote, tookA := false, false
	h := &corkHandler{}
	h.onMessage = func(c *sock.Conn, msg []byte) {
		fd := sock.ConnFD(c)
		fillKernel(t, fd)
		c.Write(a) // gathered
		tookA = c.Buffered() == len(a)
		n, werr = c.Write(b) // too long: a goes first, the kernel takes none of it
		wrote = true
	}
	h.onPause = func(c *sock.Conn) {
		fd := sock.ConnFD(c)
		c.Abort()
		thief.steal(t, fd) // the number the Abort freed
	}
	_, peer := listenAndDial(t, l, sock.Messages(bufio.ScanLines, 64, h),
		sock.WithSendBufferSize(16<<10), sock.WithHighWater(1024))
	if _, err := peer.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, "the Abort", func() bool { return wrote && h.closed })
	if !tookA || h.pauses == 0 {
		t.Skipf("the kernel took part of the gathered bytes (pauses %d)", h.pauses)
	}
	if k := thief.stray(); k > 0 {
		t.Errorf("%d bytes of the Write went to descriptor %d after the Abort closed it, into another socket", k, thief.stolen)
	}
	if werr != nil && !errors.Is(werr, sock.ErrClosed) {
		t.Errorf("the Write returned (%d, %v): a send on the descriptor the Abort closed", n, werr)
	}
	if werr == nil {
		var ue *sock.UnsentError
		if !errors.As(h.closeErr, &ue) || ue.Unsent < len(a)+len(b) {
			t.Errorf("OnClose(%v); the Write returned %d, nil: want an UnsentError counting at least %d", h.closeErr, n, len(a)+len(b))
		}
	}
}

// fdThief stands for another goroutine that opens a socket and gets the
// descriptor number a connection under test has just freed: steal puts one
// end of a socketpair at that number, and stray says how many bytes were
// sent there, which belonged to the closed connection.
type fdThief struct {
	sp     [2]int
	stolen int // the number stolen, or -1
}

func newFDThief(t *testing.T) *fdThief {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(sp[1], true)
	th := &fdThief{sp: sp, stolen: -1}
	t.Cleanup(func() {
		if th.stolen >= 0 {
			unix.Close(th.stolen)
		}
		unix.Close(sp[0])
		unix.Close(sp[1])
	})
	return th
}

// steal makes fd another socket's (loop goroutine, inside a callback).
func (th *fdThief) steal(t *testing.T, fd int) {
	if err := unix.Dup3(th.sp[0], fd, unix.O_CLOEXEC); err != nil {
		t.Errorf("dup3: %v", err)
		return
	}
	th.stolen = fd
}

// stray returns how many bytes were sent to the stolen number.
func (th *fdThief) stray() int {
	k, _ := unix.Read(th.sp[1], make([]byte, 64<<10))
	return max(k, 0)
}
