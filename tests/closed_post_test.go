package tests

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// Once Closed reports true, Post fails with ErrClosed, as Closed promises.
// Close used to mark the loop closing before its inbox refused posts, and a
// goroutine that saw Closed() between the two got nil from Post (its
// callback ran in the teardown): 12 of 1,331 tries on balanced, 911 of
// 13,292 on a mutex inbox.
func TestPostFailsOnceClosedSaysSo(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v all.Variant) {
		end := time.Now().Add(300 * time.Millisecond)
		bad, tries := 0, 0
		for ; time.Now().Before(end); tries++ {
			l, err := v.New(core.Config{})
			if err != nil {
				t.Fatal(err)
			}
			postErr := make(chan error)
			go func() {
				for !l.Closed() { // a busy wait: it sees Close's first store at once
				}
				postErr <- l.Post(func() {})
			}()
			runtime.Gosched()
			l.Close()
			if err := <-postErr; !errors.Is(err, core.ErrClosed) {
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d tries: Closed() was true, then Post returned nil, want ErrClosed", bad, tries)
		}
	})
}
