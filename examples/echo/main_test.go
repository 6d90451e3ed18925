package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop"
)

// TestMain runs main itself when the test binary is started by runEcho.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("ECHO_TEST_ARGS"); ok {
		os.Args = append([]string{"echo"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	// Under a variant without a poller (go test -tags loop_compute ./...)
	// there are no sockets, and nothing here to test.
	if l, err := loop.New(); err == nil && l.Variant().Poller == "none" {
		fmt.Printf("skipped: variant %s has no poller, and echo needs sockets\n", l.Variant().Name)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runEcho runs the server with args and returns its exit status and stderr;
// a server still running after 10 s is killed and reported.
func runEcho(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ECHO_TEST_ARGS="+strings.Join(args, " "))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("echo %s did not exit (it listened and waited for a signal); stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	}
	t.Fatalf("running echo: %v", err)
	return 0, ""
}

// A negative -loops or -idle is refused: -loops -1 quietly ran one loop per
// core, and -idle -1s quietly turned the idle timeout off.
func TestNegativeFlagsAreRefused(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"-loops", "-1", "-loops must be 0 (one per core) or more (got -1)"},
		{"-idle", "-1s", "-idle must be 0 (never) or more (got -1s)"},
		{"-grace", "-1s", "-grace must be 0 (close at once) or more (got -1s)"},
	} {
		code, stderr := runEcho(t, "-addr", "127.0.0.1:0", tc.flag, tc.value)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s %s: exit status %d, stderr:\n%s\nwant 1 and %s", tc.flag, tc.value, code, stderr, tc.want)
		}
	}
}

// startEcho starts the server with args on a loopback port of its choosing,
// waits for it to listen, and returns the process, its address, and a
// function that waits for it to exit (within 10 s) and returns its exit
// status and everything it wrote to stderr.
func startEcho(t *testing.T, args ...string) (*os.Process, string, func() (int, string)) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ECHO_TEST_ARGS="+strings.Join(append([]string{"-addr", "127.0.0.1:0"}, args...), " "))
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	r := bufio.NewReader(pipe)
	first, err := r.ReadString('\n')
	_, rest, ok := strings.Cut(first, "echo: listening on ")
	addr, _, _ := strings.Cut(rest, " ")
	if err != nil || !ok {
		t.Fatalf("echo did not say where it listens: %q (%v)", first, err)
	}
	stderr := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		stderr <- first + string(b)
	}()
	wait := func() (int, string) {
		t.Helper()
		// Read stderr to its end before Wait: Wait closes the pipe once the
		// process exits, and a read still pending then loses the last lines
		// (a run lost "shutdown cut short" this way).
		select {
		case out := <-stderr:
			err := cmd.Wait()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("waiting for echo: %v", err)
			}
			return cmd.ProcessState.ExitCode(), out
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("echo still running 10 s after SIGTERM; stderr:\n%s", <-stderr)
			return 0, ""
		}
	}
	return cmd.Process, addr, wait
}

// connectAndEcho connects to addr and makes one round trip, so that the
// server has accepted the connection.
func connectAndEcho(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatalf("no echo: %v", err)
	}
	return c
}

// On SIGTERM the server closes each connection and waits for the peer's end;
// a client that closes once it reads the server's end lets it exit 0.
func TestAShutdownThatDrainsExits0(t *testing.T) {
	proc, addr, wait := startEcho(t)
	c := connectAndEcho(t, addr)
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after SIGTERM the client read %d bytes, %v; want the server's end (EOF)", n, err)
	}
	c.Close()
	if code, stderr := wait(); code != 0 || !strings.Contains(stderr, "echo: shut down") {
		t.Errorf("exit status %d, stderr:\n%s\nwant 0 and \"echo: shut down\"", code, stderr)
	}
}

// A connection whose echoes the peer does not read is aborted when -grace
// runs out, with them unsent, and the server exits 1 saying so: it exited 0,
// as if every echo had been sent.
func TestAShutdownCutShortExits1(t *testing.T) {
	proc, addr, wait := startEcho(t, "-grace", "200ms")
	c := connectAndEcho(t, addr)
	sendUntilPaused(t, c, func([]byte, int) {})
	start := time.Now()
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, stderr := wait(); code != 1 || !strings.Contains(stderr, "echo: shutdown cut short: context deadline exceeded") {
		t.Errorf("exit status %d, stderr:\n%s\nwant 1 and \"echo: shutdown cut short: context deadline exceeded\"", code, stderr)
	}
	// -grace, not the 5 s default, bounds the wait: a server that ignored it
	// would hold a deploy for as long whatever the operator asked. Far below
	// 5 s and far above 200 ms, however slow the machine.
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("shutdown with -grace 200ms took %v: the grace period was not used", took)
	}
}

// sendUntilPaused writes to c without reading its echoes until nothing more
// goes: the echoes fill the socket buffers and the server's queue up to its
// high-water mark, and the server stops reading. fill writes the bytes of
// each chunk, which starts at offset of the stream, before it is sent; it
// returns how many bytes went.
func sendUntilPaused(t *testing.T, c net.Conn, fill func(chunk []byte, offset int)) int {
	t.Helper()
	chunk := make([]byte, 64<<10)
	sent := 0
	for {
		if sent > 256<<20 {
			t.Fatal("the server took 256 MiB without its echoes being read")
		}
		fill(chunk, sent)
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Write(chunk)
		sent += n
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			return sent
		}
	}
}

// -net unix serves a Unix socket at -addr on every loop, and removes its
// file at the shutdown.
func TestUnixSocket(t *testing.T) {
	path := t.TempDir() + "/echo.sock"
	proc, addr, wait := startEcho(t, "-net", "unix", "-addr", path, "-loops", "2")
	if addr != path {
		t.Errorf("echo listens on %q; want %q", addr, path)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("over unix\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); line != "over unix\n" || err != nil {
		t.Errorf("echoed %q, %v", line, err)
	}
	c.Close()
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, stderr := wait(); code != 0 {
		t.Errorf("exit status %d; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file after the shutdown: %v; want it removed", err)
	}
}
