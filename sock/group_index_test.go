package sock_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// TestGroupIndexIsTheLoopsPlace: Index gives each loop its place in Loops
// (the index Each passes), also from a newHandler on that loop, and -1 for
// a loop that is not the group's.
func TestGroupIndexIsTheLoopsPlace(t *testing.T) {
	g, _, _ := newGroup(t, 3)
	for i, l := range g.Loops() {
		if got := g.Index(l); got != i {
			t.Errorf("Index(Loops()[%d]) = %d", i, got)
		}
	}
	other, err := loop.New()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got := g.Index(other); got != -1 {
		t.Errorf("Index of another loop = %d, want -1", got)
	}
	if got := g.Index(nil); got != -1 {
		t.Errorf("Index(nil) = %d, want -1", got)
	}
	var mu sync.Mutex
	var fromHandler, fromEach []int
	ln, err := g.Listen("tcp", "127.0.0.1:0", func(l *loop.Loop) sock.Handler {
		mu.Lock()
		fromHandler = append(fromHandler, g.Index(l))
		mu.Unlock()
		return &echoServer{}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := g.Each(func(i int, l *loop.Loop) error {
		mu.Lock()
		defer mu.Unlock()
		if g.Index(l) == i {
			fromEach = append(fromEach, i)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(fromHandler)
	slices.Sort(fromEach)
	if want := []int{0, 1, 2}; !slices.Equal(fromHandler, want) || !slices.Equal(fromEach, want) {
		t.Errorf("Index from each newHandler %v, matching Each's index %v; want %v both", fromHandler, fromEach, want)
	}
}
