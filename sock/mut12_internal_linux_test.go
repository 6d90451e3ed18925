package sock

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestMut12KeepAliveStopsAtTheFirstRefusedValue: WithKeepAlive says that
// "a value the system refuses there leaves the connection open, with what
// was set before it": the times are set in order (idle, interval, count),
// and the first the kernel refuses ends it, with its error, leaving the
// later ones as the socket had them. Kills setKeepAliveTimes going on
// past a refused value (and then reporting none). The value refused here
// is one WithKeepAlive itself would refuse, the only way to have the
// kernel refuse one on Linux.
func TestMut12KeepAliveStopsAtTheFirstRefusedValue(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, o := range [...]struct{ opt, v int }{{unix.TCP_KEEPINTVL, 7}, {unix.TCP_KEEPCNT, 4}} {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, o.opt, o.v); err != nil {
			t.Fatal(err)
		}
	}
	err = setKeepAlive(fd, &keepAlive{idle: maxKeepAliveSeconds + 1, interval: 5, count: 3})
	if err == nil {
		t.Error("setKeepAlive with an idle time above Linux's limit returned nil; want the kernel's refusal")
	}
	var got [2]int
	for i, opt := range [...]int{unix.TCP_KEEPINTVL, unix.TCP_KEEPCNT} {
		if got[i], err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, opt); err != nil {
			t.Fatal(err)
		}
	}
	if got != [2]int{7, 4} {
		t.Errorf("interval, count = %v after the idle time was refused; want [7 4], as the socket had them", got)
	}
}
