package sock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/loopgen/loop/sock"
)

// TestAClosedGroupSaysSo: after Shutdown or Close, each method returns an
// error that names it and what closed the group, and is ErrClosed for
// errors.Is; none waits.
func TestAClosedGroupSaysSo(t *testing.T) {
	for _, end := range []struct {
		name string
		end  func(*sock.Group) error
		what string
	}{
		{"Shutdown", func(g *sock.Group) error { return g.Shutdown(context.Background()) }, "the group is shut down"},
		{"Close", (*sock.Group).Close, "the group is closed"},
	} {
		t.Run(end.name, func(t *testing.T) {
			g, _, newHandler := newGroup(t, 2)
			if err := end.end(g); err != nil {
				t.Fatalf("%s = %v; want nil", end.name, err)
			}
			for _, m := range []struct {
				call func() error
				want string
			}{
				{func() error { _, err := g.Listen("tcp", "127.0.0.1:0", newHandler); return err },
					"sock: Group.Listen tcp 127.0.0.1:0: " + end.what},
				{func() error { return g.Shutdown(context.Background()) }, "sock: Group.Shutdown: " + end.what},
				{g.Close, "sock: Group.Close: " + end.what},
			} {
				done := make(chan error, 1)
				go func() { done <- m.call() }()
				err := recv(t, done, m.want)
				if !errors.Is(err, sock.ErrClosed) || err.Error() != m.want {
					t.Errorf("got %v; want %q, which is ErrClosed", err, m.want)
				}
			}
		})
	}
}
