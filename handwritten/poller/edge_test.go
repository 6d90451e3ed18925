//go:build unix

package poller

import (
	"testing"
	"time"
)

// TestBackendsEdges runs cases the main suite leaves out against every
// backend that watches fds.
func TestBackendsEdges(t *testing.T) {
	cases := []struct {
		name  string
		check func(t *testing.T, b backend)
	}{
		{"HangUpAloneIsReadable", testHangUpAloneIsReadable},
		{"ModifyOfAnUnregisteredFdFails", testModifyOfAnUnregisteredFdFails},
		{"WakeIsNotReportedBesideAReadyFd", testWakeIsNotReportedBesideAReadyFd},
		{"AddAfterReopen", testAddAfterReopen},
	}
	for _, m := range backends() {
		if !m.fds {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					b := m.new()
					must(t, b.Open())
					t.Cleanup(func() { b.Close() })
					c.check(t, b)
				})
			}
		})
	}
}

// anyEvent waits until fd is reported at all and returns its Event, so a
// test can check the bits a backend set instead of waiting for bits it may
// never set.
func anyEvent(t *testing.T, b backend, fd int) Event {
	t.Helper()
	deadline := time.Now().Add(failsafe)
	for time.Now().Before(deadline) {
		evs, err := b.Wait(int64(100 * time.Millisecond))
		must(t, err)
		if e, n := find(evs, fd); n > 0 {
			return e
		}
	}
	t.Fatalf("fd %d not reported within %v", fd, failsafe)
	return Event{}
}

// A pipe whose writer is gone reports a hang-up with no data (POLLHUP or
// EPOLLHUP alone on Linux): a backend that maps it to Errored only leaves a
// caller that looks at Readable waiting for an end of file it never sees.
func testHangUpAloneIsReadable(t *testing.T, b backend) {
	r, w := pipe(t)
	must(t, b.Add(r.fd, 9, Readable))
	quiet(t, b)
	w.close()
	if e := anyEvent(t, b, r.fd); e.Ev&Readable == 0 || e.Seq != 9 {
		t.Fatalf("pipe with its writer gone: %+v, want Readable with seq 9", e)
	}
}

// The loop falls back to Add when Modify fails, so a Modify that succeeds
// for an fd the backend does not know silently watches nothing.
func testModifyOfAnUnregisteredFdFails(t *testing.T, b backend) {
	r, w := pipe(t)
	if err := b.Modify(r.fd, 1, Readable); err == nil {
		t.Fatal("Modify of an fd never added succeeded")
	}
	must(t, b.Add(r.fd, 2, Readable))
	must(t, b.Delete(r.fd))
	if err := b.Modify(r.fd, 3, Readable); err == nil {
		t.Fatal("Modify of a deleted fd succeeded")
	}
	write(t, w)
	quiet(t, b)
}

// With the wake-up and a user fd both ready, Wait reports the user fd alone:
// the wake-up is drained, never an Event, and it must not use up the count
// of ready fds so that a user fd goes unreported.
func testWakeIsNotReportedBesideAReadyFd(t *testing.T, b backend) {
	r, w := pipe(t)
	must(t, b.Add(r.fd, 4, Readable))
	write(t, w)
	must(t, b.Wake())
	// Both are ready before the call, so one Wait sees both.
	evs, err := b.Wait(int64(failsafe))
	must(t, err)
	if len(evs) != 1 || int(evs[0].Fd) != r.fd || evs[0].Seq != 4 {
		t.Fatalf("Wait with a Wake pending and fd %d readable = %+v, want fd %d alone", r.fd, evs, r.fd)
	}
}

// A backend closed and opened again must have forgotten its registrations:
// an fd registered before Close is added afresh and reported once.
func testAddAfterReopen(t *testing.T, b backend) {
	r, w := pipe(t)
	must(t, b.Add(r.fd, 1, Readable))
	must(t, b.Close())
	must(t, b.Open())
	if n := b.Registered(); n != 0 {
		t.Fatalf("Registered = %d after Close and Open, want 0", n)
	}
	must(t, b.Add(r.fd, 2, Readable))
	write(t, w)
	if e := waitFor(t, b, r.fd, Readable); e.Seq != 2 {
		t.Fatalf("Seq = %d, want 2", e.Seq)
	}
	if n := b.Registered(); n != 1 {
		t.Fatalf("Registered = %d, want 1", n)
	}
}

// poll(2) keeps watching a number that was closed without Delete and
// reports it as POLLNVAL, whatever the interest. That must come out as
// Errored: an Event with no bits runs neither callback, so the loop would
// spin on it without anyone learning why.
func TestPollReportsAClosedFdAsErrored(t *testing.T) {
	var p Poll
	must(t, p.Open())
	defer p.Close()
	r, _ := pipe(t)
	must(t, p.Add(r.fd, 6, Readable))
	fd := r.fd
	r.close() // nothing opens a descriptor until the Wait below, so fd stays free
	e := anyEvent(t, &p, fd)
	if e.Ev&Errored == 0 || e.Seq != 6 {
		t.Fatalf("registered fd closed without Delete: %+v, want Errored with seq 6", e)
	}
	must(t, p.Delete(fd))
}

// Wait(0) consumes a pending Wake, as the fd backends drain their wake-up:
// left pending, it would cut short the next Wait that should sleep.
func TestNoneWaitZeroConsumesAPendingWake(t *testing.T) {
	var p None
	must(t, p.Open())
	defer p.Close()
	must(t, p.Wake())
	if _, err := p.Wait(0); err != nil {
		t.Fatal(err)
	}
	// A signal may end a timed Wait early too (EINTR: 12 in 10,000 here),
	// so only three early returns in a row fail.
	const d = 5 * time.Millisecond
	for try := 1; ; try++ {
		start := time.Now()
		if _, err := p.Wait(int64(d)); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if took >= d {
			return
		}
		if try == 3 {
			t.Fatalf("Wait(%v) after Wake and Wait(0) returned early three times, the last after %v", d, took)
		}
	}
}
