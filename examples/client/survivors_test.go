package main

// Tests that pin behaviour a mutation round on this example found the suite
// let through: each failed with one of the round's changes to main.go and
// passes without it. Every server here is on 127.0.0.1, and every client
// run is bounded by its -timeout.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer listens on loopback and echoes every connection faithfully. It
// returns the address and a function that, once the client has exited,
// waits for every connection to end and returns how many bytes were echoed.
func echoServer(t *testing.T) (string, func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var echoed atomic.Int64
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(15 * time.Second))
				n, _ := io.Copy(c, c)
				echoed.Add(n)
			}()
		}
	}()
	return ln.Addr().String(), func() int64 { conns.Wait(); return echoed.Load() }
}

// runClientOut is runClient that also returns stdout, where the client
// reports success.
func runClientOut(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CLIENT_TEST_ARGS="+strings.Join(args, " "))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); cmd.ProcessState == nil {
		t.Fatalf("running the client: %v", err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// Against a faithful echo the client exits 0 and reports the bytes the
// server echoed, all of them: nothing ran the client against a server that
// echoes, so a client that closed halfway, stopped with connections still
// open, or counted no bytes passed.
func TestAFaithfulEchoPassesWithEveryByteCounted(t *testing.T) {
	for _, conns := range []int{1, 4} {
		addr, echoed := echoServer(t)
		// About 600 KB a connection: an echo that comes back over many reads.
		code, stdout, stderr := runClientOut(t, "-addr", addr, "-conns", fmt.Sprint(conns), "-msgs", "20000", "-timeout", "10s")
		if code != 0 {
			t.Fatalf("-conns %d: exit status %d against a faithful echo; stderr:\n%s", conns, code, stderr)
		}
		want := fmt.Sprintf("client: %d connections x 20000 messages: %d bytes echoed intact in ", conns, echoed())
		if !strings.HasPrefix(stdout, want) {
			t.Errorf("-conns %d: stdout %q, want it to start %q", conns, stdout, want)
		}
	}
}

// A server that never answers makes the client give up at -timeout with
// status 1: exiting 0 there would pass a dead server.
func TestATimeoutExits1(t *testing.T) {
	addr := oneConnectionServer(t, func(c net.Conn) {
		io.Copy(io.Discard, c) // reads, never answers
	})
	code, _, stderr := runClientOut(t, "-addr", addr, "-conns", "1", "-msgs", "1", "-timeout", "300ms")
	if code != 1 || !strings.Contains(stderr, "client: timed out after 300ms with 1 connections still open") {
		t.Errorf("exit status %d, stderr:\n%s\nwant 1 and the timeout", code, stderr)
	}
}

// -conns 0 or -msgs 0 is refused at once: with nothing to send, the client
// waited out its -timeout and blamed the server.
func TestNothingToSendIsRefused(t *testing.T) {
	for _, args := range [][]string{{"-conns", "0"}, {"-msgs", "0"}} {
		code, _, stderr := runClientOut(t, append([]string{"-addr", "127.0.0.1:1", "-timeout", "2s"}, args...)...)
		if code != 1 || !strings.Contains(stderr, "-conns and -msgs must be at least 1") {
			t.Errorf("%v: exit status %d, stderr:\n%s\nwant 1 and -conns and -msgs must be at least 1", args, code, stderr)
		}
	}
}

// An echo longer than what was sent is reported as a difference: without
// the length check the comparison slices past the end of what was sent and
// the client crashes.
func TestAnEchoLongerThanSentIsReported(t *testing.T) {
	addr := oneConnectionServer(t, func(c net.Conn) {
		msg, err := bufio.NewReader(c).ReadString('|')
		if err != nil {
			return
		}
		// A right prefix, then far more than was sent: however the reads
		// split it, it never comes back as the exact echo, and the excess
		// reaches past the capacity of the client's copy of what it sent.
		c.Write([]byte(msg[:len(msg)-1] + strings.Repeat("X", 4096)))
		io.Copy(io.Discard, c)
	})
	code, _, stderr := runClientOut(t, "-addr", addr, "-conns", "1", "-msgs", "1", "-timeout", "10s")
	if code != 1 || !strings.Contains(stderr, "the echo differs from what was sent at byte") || strings.Contains(stderr, "panic") {
		t.Errorf("exit status %d, stderr:\n%s\nwant 1 and the echo differs", code, stderr)
	}
}
