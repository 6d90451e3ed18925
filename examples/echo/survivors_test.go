package main

// Tests that pin behaviour a mutation round on this example found the suite
// let through: each failed with one of the round's changes to main.go and
// passes without it. All run against a server on 127.0.0.1, and each is
// bounded by deadlines of a few seconds.

import (
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A client that sends faster than it reads gets every byte back, in order,
// once it reads: the server pauses reading at its high-water mark and must
// resume when the queue drains. Echoing a prefix, or never resuming, passed
// the tests, which sent four bytes or never read the echoes.
func TestAClientThatReadsLateGetsEveryByteBack(t *testing.T) {
	_, addr, _ := startEcho(t)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A pattern that does not repeat at any small period, so a dropped or
	// repeated chunk shows.
	pattern := func(i int) byte { return byte(i*7 + i/251) }
	fill := func(chunk []byte, offset int) {
		for i := range chunk {
			chunk[i] = pattern(offset + i)
		}
	}
	sent := sendUntilPaused(t, c, fill)
	// As much again, while reading: only a server that resumes takes it.
	total := 2 * sent
	writeErr := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		chunk := make([]byte, 64<<10)
		for sent < total {
			fill(chunk, sent)
			n, err := c.Write(chunk[:min(len(chunk), total-sent)])
			sent += n
			if err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 64<<10)
	for read := 0; read < total; {
		n, err := c.Read(got[:min(len(got), total-read)])
		for i := range n {
			if got[i] != pattern(read+i) {
				t.Fatalf("echo byte %d is %d, want %d", read+i, got[i], pattern(read+i))
			}
		}
		read += n
		if err != nil {
			t.Fatalf("after %d of %d bytes echoed: %v", read, total, err)
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("writing the second half: %v", err)
	}
}

// -idle closes a connection that sends nothing for that long: a server that
// ignored it kept idle connections, and their memory, forever.
func TestAnIdleConnectionIsClosedAfterIdle(t *testing.T) {
	_, addr, _ := startEcho(t, "-idle", "200ms")
	c := connectAndEcho(t, addr)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("an idle connection read %d bytes, %v; want the server's end (EOF) after -idle 200ms", n, err)
	}
}

// -loops sets how many loops serve: the log line is how a user checks it.
func TestLoopsSetsTheNumberOfLoops(t *testing.T) {
	proc, _, wait := startEcho(t, "-loops", "3")
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, stderr := wait(); code != 0 || !strings.Contains(stderr, "with 3 loops") {
		t.Errorf("exit status %d, stderr:\n%s\nwant 0 and \"with 3 loops\"", code, stderr)
	}
}
