package loop_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// An fd watched for reading and closed without RemoveReader, whose number
// a regular file then takes: epoll refuses the new file (EPERM) and has
// dropped the old one's registration, so AddWriter fails and the loop
// keeps no registration for the number (RemoveReader finds none), as for
// a number epoll no longer knows (ENOENT). Found in review.
func TestAReusedNumberEpollRefusesLeavesNoRegistration(t *testing.T) {
	l, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Variant().Poller == "poll" || l.Variant().Poller == "none" {
		t.Skip("the poll and none backends take regular files or no fds at all")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	if err := l.AddReader(fds[0], func() {}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[0]) // without RemoveReader
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if int(f.Fd()) != fds[0] {
		if err := unix.Dup3(int(f.Fd()), fds[0], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fds[0])
	}
	if err := l.AddWriter(fds[0], func() {}); !errors.Is(err, syscall.EPERM) {
		t.Errorf("AddWriter on the regular file = %v; want EPERM", err)
	}
	if l.RemoveReader(fds[0]) {
		t.Error("RemoveReader found the closed socket's reader: the loop kept its registration")
	}
}
