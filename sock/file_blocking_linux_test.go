package sock_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// FilePacketConn's socket made blocking by the caller's Fd (which clears
// O_NONBLOCK on a file package net made) after it started: its reader,
// which reads until EAGAIN, would block the loop after the datagram it
// read until the next came. keepNonblocking makes it non-blocking again at
// each readiness event: a 20 ms timer fires in time, and the flag is set
// again on the shared socket.
func TestFilePacketConnAfterTheCallersFd(t *testing.T) {
	l := newLoop(t)
	nc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	f := fileOf(t, nc.(*net.UDPConn))
	got := 0
	pc, err := sock.FilePacketConn(l, f, packetFunc(func(*sock.PacketConn, []byte, netip.AddrPort) { got++ }))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	fd := int(f.Fd())
	if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); flags&unix.O_NONBLOCK != 0 {
		t.Skip("Fd left the socket non-blocking here: nothing to test")
	}
	sender, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	sender.Write([]byte("one"))
	// A blocked loop is unblocked after 2 s, unless the timer fired: a
	// bound far from both the 20 ms timer and the 2 s, so that a busy
	// machine does not fail the test.
	unblocked, timerFired := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(unblocked)
		select {
		case <-timerFired:
			return
		case <-time.After(2 * time.Second):
		}
		unix.SetNonblock(fd, true)  // so that a blocked loop
		sender.Write([]byte("two")) // ends its block in recvfrom, and no other comes
	}()
	start := time.Now()
	var fired time.Duration
	l.CallLater(20*time.Millisecond, func() { fired = time.Since(start) })
	runUntil(t, l, "the timer", func() bool { return fired > 0 && got >= 1 })
	close(timerFired)
	if fired > time.Second {
		t.Errorf("a 20ms timer fired after %v: the loop was blocked in recvfrom", fired)
	}
	if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); flags&unix.O_NONBLOCK == 0 {
		t.Error("the socket is still blocking after a readiness event")
	}
	<-unblocked
}
