package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMain runs main itself when the test binary is started by runEcho.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("ECHO_TEST_ARGS"); ok {
		os.Args = append([]string{"echo"}, strings.Fields(args)...)
		main()
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
	} {
		code, stderr := runEcho(t, "-addr", "127.0.0.1:0", tc.flag, tc.value)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s %s: exit status %d, stderr:\n%s\nwant 1 and %s", tc.flag, tc.value, code, stderr, tc.want)
		}
	}
}
