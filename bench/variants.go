package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/loopgen/loop/generated/all"
	"github.com/loopgen/loop/handwritten/core"
)

// variantSystems measures every generated variant, and the generic build
// that shows what specialization buys. They are driven through
// core.Loop, so each call from the workload is an interface call; callbacks
// run by the loop are called directly, as in any use.
func variantSystems() []System {
	var out []System
	for _, v := range all.Variants {
		out = append(out, loopSystem(v.Name, "variant", v.Params, v.New))
	}
	g := all.Generic
	return append(out, loopSystem(g.Name, "generic", g.Params, g.New))
}

// loopSystem makes a System of one loop implementation.
func loopSystem(name, kind string, p core.Params, newLoop func(core.Config) (core.Loop, error)) System {
	return System{
		Name: name,
		Kind: kind,
		Note: p.String(),
		Run: func(w string, n int) (Result, error) {
			var l core.Loop
			setup := func() (err error) { l, err = newLoop(core.Config{}); return err }
			teardown := func() { l.Close() }
			var span func() (int, error)
			switch w {
			case WorkCallbacks:
				span = func() (int, error) { return loopCallbacks(l, n) }
			case WorkTimers:
				span = func() (int, error) { return loopTimers(l, n) }
			case WorkPosts1:
				span = func() (int, error) { return loopPosts(l, 1, n) }
			case WorkPosts4:
				span = func() (int, error) { return loopPosts(l, 4, n) }
			case WorkTimeouts:
				span = func() (int, error) { return loopTimeouts(l, n) }
			case WorkMixed:
				if p.Poller == "none" {
					return Result{}, ErrUnsupported
				}
				span = func() (int, error) { return loopMixed(l, n) }
			default:
				return Result{}, ErrUnsupported
			}
			return measure(setup, span, teardown)
		},
	}
}

// loopCallbacks queues n callbacks with CallSoon, then runs the loop until
// the last has run (it stops the loop).
func loopCallbacks(l core.Loop, n int) (int, error) {
	ran := 0
	fn := func() {
		if ran++; ran == n {
			l.Stop()
		}
	}
	for range n {
		l.CallSoon(fn)
	}
	return ran, l.Run()
}

// loopTimers schedules n timers with delays (i%10) ms from a callback, as a
// server does, and runs until all fired.
func loopTimers(l core.Loop, n int) (int, error) {
	fired := 0
	fn := func() {
		if fired++; fired == n {
			l.Stop()
		}
	}
	l.CallSoon(func() {
		for i := range n {
			l.CallLater(time.Duration(i%10)*time.Millisecond, fn) // 0 ms runs as CallSoon, as documented
		}
	})
	return fired, l.Run()
}

// loopPosts has `producers` goroutines post n callbacks each to the running
// loop; the last callback to run stops it.
func loopPosts(l core.Loop, producers, n int) (int, error) {
	total := producers * n
	ran := 0
	fn := func() {
		if ran++; ran == total {
			l.Stop()
		}
	}
	var wg sync.WaitGroup
	var postErr atomic.Value
	// The producers start from a callback, so every post meets a running loop
	// (as in the Python version).
	l.CallSoon(func() {
		for range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n {
					if err := l.Post(fn); err != nil {
						postErr.Store(err)
						return
					}
				}
			}()
		}
	})
	err := l.Run()
	wg.Wait()
	if e, ok := postErr.Load().(error); ok {
		return ran, e
	}
	return ran, err
}

// loopTimeouts schedules n timers 1-60 s ahead from a callback and cancels
// 95% of them, then the rest, as per-connection deadlines that almost never
// fire.
func loopTimeouts(l core.Loop, n int) (int, error) {
	fn := func() {}
	handles := make([]core.Timer, n)
	l.CallSoon(func() {
		for i := range n {
			handles[i] = l.CallLater(time.Duration(1+i%60)*time.Second, fn)
		}
		for i, h := range handles {
			if i%20 != 0 {
				l.Cancel(h)
			}
		}
		for i := 0; i < n; i += 20 {
			l.Cancel(handles[i])
		}
		l.Stop()
	})
	return n, l.Run()
}

// loopMixed reads n 64-byte messages from a socketpair on the loop while a
// goroutine writes them, another posts n/10 callbacks, and the loop runs n/10
// timers of (i%10) ms. It ends when everything has arrived.
func loopMixed(l core.Loop, n int) (int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if err := unix.SetNonblock(fds[0], true); err != nil {
		return 0, err
	}
	const msg = 64
	extra := max(n/10, 1)
	wantBytes := n * msg
	gotBytes, posts, timers := 0, 0, 0
	buf := make([]byte, 64<<10)
	check := func() {
		if gotBytes == wantBytes && posts == extra && timers == extra {
			l.Stop()
		}
	}
	if err := l.AddReader(fds[0], func() {
		for {
			k, err := unix.Read(fds[0], buf)
			if k <= 0 || err != nil {
				break
			}
			gotBytes += k
		}
		check()
	}); err != nil {
		return 0, err
	}
	defer l.RemoveReader(fds[0])
	for i := range extra {
		l.CallLater(time.Duration(i%10)*time.Millisecond, func() { timers++; check() })
	}
	writeErr := make(chan error, 1)
	go func() {
		m := make([]byte, msg)
		for range n {
			if _, err := unix.Write(fds[1], m); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	go func() {
		for range extra {
			if l.Post(func() { posts++; check() }) != nil {
				return
			}
		}
	}()
	if err := l.Run(); err != nil {
		return 0, err
	}
	if err := <-writeErr; err != nil {
		return 0, fmt.Errorf("mixed: write: %w", err)
	}
	return n, nil
}
