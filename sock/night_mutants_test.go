package sock_test

import (
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// Tests from the night's mutation round over the duration options and
// WritePaused: each pins behaviour that a mutant changed without any test
// noticing (the Linux ones are in night_mutants_linux_test.go).

// TestNegativeDurationsSayWhatZeroMeans: the refusal of a negative
// duration says what 0 means for that option.
func TestNegativeDurationsSayWhatZeroMeans(t *testing.T) {
	l := newLoop(t)
	for _, tc := range []struct {
		opt  sock.Option
		want string
	}{
		{sock.WithConnectTimeout(-time.Second), "0 means no limit"},
		{sock.WithIdleTimeout(-time.Second), "0 means none"},
	} {
		c, err := sock.Dial(l, "tcp", "127.0.0.1:9", sock.BaseHandler{}, tc.opt)
		if err == nil {
			c.Abort()
			t.Fatalf("a negative duration was taken")
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q does not say %q", err, tc.want)
		}
	}
}

// abortWhilePaused writes until the connection pauses, then aborts it,
// and notes WritePaused before and after the Abort.
type abortWhilePaused struct {
	sock.BaseHandler
	opened, before, after bool
}

func (h *abortWhilePaused) OnOpen(c *sock.Conn) {
	h.opened = true
	h.before = writeUntilPaused(c)
	c.Abort()
	h.after = c.WritePaused()
}

// TestWritePausedIsFalseOnceAborted: a connection aborted while paused
// (closed without a Close first) is no longer WritePaused.
func TestWritePausedIsFalseOnceAborted(t *testing.T) {
	l := newLoop(t)
	h := &abortWhilePaused{}
	listenAndDialSmall(t, l, h, sock.WithHighWater(64<<10), sock.WithSendBufferSize(64<<10))
	runUntil(t, l, "OnOpen", func() bool { return h.opened })
	if !h.before {
		t.Fatal("the connection never paused")
	}
	if h.after {
		t.Error("WritePaused is true on an aborted connection")
	}
}
