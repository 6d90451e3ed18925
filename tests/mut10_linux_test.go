package tests

import (
	"errors"
	"testing"

	"github.com/loopgen/loop/handwritten/poller"
)

// Epoll's Fd says ErrClosed before Open and after Close, and the instance
// in between. The loop's BackendFd looks at closing first, so no loop test
// reaches the poller's own check: this one kills the mutant of Fd that
// drops it (a closed Epoll returned its old, released number, nil).
func TestMut10EpollFdIsClosedOutsideOpenAndClose(t *testing.T) {
	var p poller.Epoll
	if fd, err := p.Fd(); fd != -1 || !errors.Is(err, poller.ErrClosed) {
		t.Errorf("Fd before Open = %d, %v; want -1, ErrClosed", fd, err)
	}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	fd, err := p.Fd()
	if err != nil || fd < 0 {
		t.Errorf("Fd after Open = %d, %v; want the epoll instance", fd, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if fd, err := p.Fd(); fd != -1 || !errors.Is(err, poller.ErrClosed) {
		t.Errorf("Fd after Close = %d, %v; want -1, ErrClosed", fd, err)
	}
}
