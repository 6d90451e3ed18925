package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop"
)

// TestMain runs main itself when the test binary is started by runClient,
// so that the tests see the exit status and the messages a user would.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("CLIENT_TEST_ARGS"); ok {
		os.Args = append([]string{"client"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	// Under a variant without a poller (go test -tags loop_compute ./...)
	// there are no sockets, and nothing here to test.
	if l, err := loop.New(); err == nil && l.Variant().Poller == "none" {
		fmt.Printf("skipped: variant %s has no poller, and client needs sockets\n", l.Variant().Name)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runClient runs the client with args and returns its exit status and stderr.
func runClient(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CLIENT_TEST_ARGS="+strings.Join(args, " "))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	}
	t.Fatalf("running the client: %v", err)
	return 0, ""
}

// oneConnectionServer listens on loopback, hands its first connection to
// serve (with a 10 s deadline, and closes it after), and returns the address.
func oneConnectionServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		serve(c)
	}()
	return ln.Addr().String()
}

// serveOnce listens on loopback for one connection, answers it with reply
// and ends its side, then reads until the client closes. It returns the
// address; the listener closes when the test ends.
func serveOnce(t *testing.T, reply string) string {
	t.Helper()
	return oneConnectionServer(t, func(c net.Conn) {
		c.Write([]byte(reply))
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c) // until the client has sent what it had and closed
	})
}

// A server that ends the connection cleanly before echoing everything is
// reported as that, with how much came back: the client said "closed with
// <nil> before the whole echo came back".
func TestAServerThatEndsEarlyIsReportedAsSuch(t *testing.T) {
	addr := serveOnce(t, "mess") // the start of the echo
	code, stderr := runClient(t, "-addr", addr, "-conns", "1", "-msgs", "1", "-timeout", "20s")
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "<nil>") || !strings.Contains(stderr, "the server ended the connection after echoing 4 of ") {
		t.Errorf("stderr does not say that the server ended the connection after echoing 4 bytes:\n%s", stderr)
	}
}

// An echo that differs is reported once, as that.
func TestADifferentEchoIsReportedOnce(t *testing.T) {
	addr := serveOnce(t, "mesX")
	code, stderr := runClient(t, "-addr", addr, "-conns", "1", "-msgs", "1", "-timeout", "20s")
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "the echo differs from what was sent at byte 0") || strings.Count(stderr, "\n") != 2 {
		t.Errorf("want one line on the difference and the summary, got:\n%s", stderr)
	}
}

// A connection that never opens is reported with the dial's error alone.
func TestARefusedConnectionIsReportedAsSuch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	code, stderr := runClient(t, "-addr", addr, "-conns", "1", "-msgs", "1", "-timeout", "20s")
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "client: could not connect: dial tcp "+addr+": connect: connection refused") || strings.Contains(stderr, "echo came back") {
		t.Errorf("stderr does not report the refused connect alone:\n%s", stderr)
	}
}

// -timeout 0 or less is refused as -conns 0 is: it timed out at once,
// with "timed out after 0s".
func TestANonPositiveTimeoutIsRefused(t *testing.T) {
	for _, d := range []string{"0", "-1s"} {
		code, stderr := runClient(t, "-addr", "127.0.0.1:1", "-timeout", d)
		if code != 1 || !strings.Contains(stderr, "-timeout must be greater than 0 (got "+strings.TrimPrefix(d, "+")) {
			t.Errorf("-timeout %s: exit status %d, stderr:\n%s\nwant 1 and -timeout must be greater than 0", d, code, stderr)
		}
	}
}
