package sock_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
	"golang.org/x/sys/unix"
)

// A Unix Group.Listen whose first loop listens but cannot duplicate the
// socket for the others (one descriptor left under the limit) fails, and
// leaves nothing behind: no descriptor (newGroup checks), no socket file.
func TestGroupListenUnixThatCannotDuplicateLeavesNothing(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	path := filepath.Join(t.TempDir(), "s")
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lowered := old
	lowered.Cur = uint64(highestFD(t) + 8)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lowered); err != nil {
		t.Skipf("cannot lower the descriptor limit: %v", err)
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	var fillers []int
	defer func() {
		for _, f := range fillers {
			unix.Close(f)
		}
		unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	}()
	for {
		f, err := unix.Dup(int(devNull.Fd()))
		if err != nil {
			break
		}
		fillers = append(fillers, f)
	}
	if len(fillers) == 0 {
		t.Skip("no descriptor to fill the table with")
	}
	// One descriptor free: the first loop's socket takes it.
	unix.Close(fillers[len(fillers)-1])
	fillers = fillers[:len(fillers)-1]
	_, err = g.Listen("unix", path, func(*loop.Loop) sock.Handler { return plainEcho{} })
	if err == nil {
		t.Fatal("Group.Listen with no descriptor to duplicate the socket into succeeded")
	}
	if want := "sock: Group.Listen unix " + path + ": fcntl F_DUPFD_CLOEXEC: too many open files"; err.Error() != want {
		t.Errorf("Group.Listen: %v; want %q", err, want)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file after the failed Listen: %v; want it removed", err)
	}
}
