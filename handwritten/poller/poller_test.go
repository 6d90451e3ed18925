package poller

import (
	"errors"
	"runtime"
	"testing"
)

// backend is the method set every backend has; tests run one suite through
// it. Loops never use it: they embed a concrete type.
type backend interface {
	Open() error
	Close() error
	Add(fd int, seq uint32, ev Events) error
	Modify(fd int, seq uint32, ev Events) error
	Delete(fd int) error
	Wait(timeout int64) ([]Event, error)
	Wake() error
	Registered() int
}

// Every backend exists on every platform with the same method set. A compile
// error here means one of them drifted from the contract in doc.go.
var _ = []backend{new(Epoll), new(Poll), new(Kqueue), new(None), new(Auto)}

// TestMissingBackendOpenWrapsErrUnsupported checks the stubs: a backend this
// platform lacks fails Open with ErrUnsupported and a message naming it.
func TestMissingBackendOpenWrapsErrUnsupported(t *testing.T) {
	for _, c := range []struct {
		name string
		b    backend
	}{{"epoll", new(Epoll)}, {"kqueue", new(Kqueue)}, {"poll", new(Poll)}} {
		err := c.b.Open()
		if err == nil {
			c.b.Close()
			continue
		}
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Open: %v", c.name, err)
			continue
		}
		want := "poller: " + c.name + " is not available on " + runtime.GOOS
		if err.Error() != want {
			t.Errorf("%s: Open: %q, want %q", c.name, err, want)
		}
		if err := c.b.Close(); err != nil {
			t.Errorf("%s: Close after a failed Open: %v", c.name, err)
		}
		if _, err := c.b.Wait(0); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Wait: %v, want ErrUnsupported", c.name, err)
		}
	}
}

func TestNoneRefusesFds(t *testing.T) {
	var p None
	if err := p.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer p.Close()
	if err := p.Add(0, 1, Readable); err != ErrNoPoller {
		t.Errorf("Add: %v, want ErrNoPoller", err)
	}
	if err := p.Modify(0, 1, Readable); err != ErrNoPoller {
		t.Errorf("Modify: %v, want ErrNoPoller", err)
	}
	if err := p.Delete(0); err != ErrNoPoller {
		t.Errorf("Delete: %v, want ErrNoPoller", err)
	}
	if n := p.Registered(); n != 0 {
		t.Errorf("Registered = %d, want 0", n)
	}
}
