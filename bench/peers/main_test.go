package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The peers server as `go run ./bench -workload echo` runs it: this test
// binary re-runs itself as the command (runAsPeers holds its arguments),
// reads its stdout up to "listening ADDR" as bench/echo.go does, echoes
// through it and stops it with a signal.

const runAsPeers = "LOOP_BENCH_PEERS_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(runAsPeers); ok {
		os.Args = append([]string{"peers"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startPeers runs the command with args and returns it, the address of its
// "listening" line, the lines it printed before that, the rest of its
// stdout once it has closed it (to be read before cmd.Wait), and its
// stderr (to be read after).
func startPeers(t *testing.T, env []string, args ...string) (cmd *exec.Cmd, addr string, before []string, rest func() string, stderr *bytes.Buffer) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the echo workload runs on Linux")
	}
	cmd = exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), runAsPeers+"="+strings.Join(args, " ")), env...)
	stderr = &bytes.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// A server that never says where it listens is killed, which ends
	// its stdout.
	timer := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if a, ok := strings.CutPrefix(line, "listening "); ok {
			addr = strings.TrimSpace(a)
			break
		}
		if err != nil {
			t.Fatalf("peers %v: no listening line: %v; stdout %q, stderr %q", args, err, before, stderr.String())
		}
		before = append(before, strings.TrimSuffix(line, "\n"))
	}
	restc := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		restc <- string(b)
	}()
	return cmd, addr, before, func() string { return <-restc }, stderr
}

// Each server prints its configuration line and then where it listens (nbio
// nothing else on stdout); echoes back exactly what it reads, message after
// message; and exits with status 0 on SIGTERM and on SIGINT. (Catches either
// signal not handled, the listening line worded otherwise, the config line
// on stderr, nbio logging to stdout, and echoes that keep or cut data. It
// also caught, in about half of the runs on a loaded machine, nbio asking
// for the signals only after it printed its address, when a signal that
// came in between killed it.)
func TestPeersEchoAndStopOnASignal(t *testing.T) {
	for _, tc := range []struct {
		server string
		sig    syscall.Signal
	}{
		{"gnet", syscall.SIGTERM}, {"gnet", syscall.SIGINT}, {"nbio", syscall.SIGTERM}, {"nbio", syscall.SIGINT},
	} {
		server := tc.server
		cmd, addr, before, rest, stderr := startPeers(t, []string{"GOMAXPROCS=3"}, "-server", server)
		// gnet logs its start on stdout; nbio is told to log on stderr.
		config := slices.IndexFunc(before, func(l string) bool { return strings.HasPrefix(l, "config "+server+" v") })
		if config < 0 || server == "nbio" && len(before) != 1 {
			t.Fatalf("%s: before the listening line: %q, want its config line (for nbio, alone)", server, before)
		}
		if want := map[string]string{"gnet": ": 3 event loops,", "nbio": "with NPoller 3 "}[server]; !strings.Contains(before[config], want) {
			t.Errorf("%s under GOMAXPROCS=3: config %q lacks %q", server, before[config], want)
		}
		// What the config line says of gnet is what gnet does: its own log
		// line says how many loops it runs.
		if server == "gnet" && !slices.ContainsFunc(before, func(l string) bool { return strings.Contains(l, "Launching gnet with 3 event-loops") }) {
			t.Errorf("gnet under GOMAXPROCS=3: its log %q does not say it runs 3 event loops", before)
		}
		echoThrough(t, server, addr)
		if err := cmd.Process.Signal(tc.sig); err != nil {
			t.Fatal(err)
		}
		out := rest()
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s on %v: %v, want exit status 0; stderr %q", server, tc.sig, err, stderr.String())
		}
		if server == "nbio" && out != "" {
			t.Errorf("%s: stdout after the listening line: %q", server, out)
		}
	}
}

// echoThrough sends three messages of 4 KiB to addr, one at a time, and
// checks that each comes back exactly.
func echoThrough(t *testing.T, server, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("%s: %v", server, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range 3 {
		msg := bytes.Repeat([]byte{'a' + byte(i)}, 4096)
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("%s: write: %v", server, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%s: message %d: echo %q…, %v", server, i, got[:min(len(got), 8)], err)
		}
	}
}

// An unknown -server is an error: exit status 1 and a message.
// (Catches a failure that exits with status 0.)
func TestPeersRefusesAnUnknownServer(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runAsPeers+"=-server bogus")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), `peers: unknown -server "bogus"`) {
		t.Errorf("-server bogus: %v: %q; want exit status 1 and the message", err, out)
	}
}

// raiseNoFile lifts the soft limit on open files to the hard one. (Catches
// the comparison turned and the limit left as it was.)
func TestRaiseNoFile(t *testing.T) {
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved) })
	low := saved
	low.Cur = min(saved.Max-1, 256)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	raiseNoFile()
	var got syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &got); err != nil {
		t.Fatal(err)
	}
	if got.Cur != saved.Max {
		t.Errorf("soft limit %s after raiseNoFile, want the hard one, %s", strconv.FormatUint(got.Cur, 10), strconv.FormatUint(saved.Max, 10))
	}
}
