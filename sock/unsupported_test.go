package sock_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestABuildOffUnixSaysWhy: on Windows (a system without package unix's
// socket calls) the package fails to build with one error naming the
// systems it builds on, not a page of undefined names from package unix.
func TestABuildOffUnixSaysWhy(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", os.DevNull, ".")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("go build for windows succeeded; want it refused")
	}
	var errs []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "sock/") || strings.HasPrefix(line, "./") {
			errs = append(errs, line)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "sock_builds_on_unix_systems_only") {
		t.Errorf("go build for windows said:\n%s\nwant one error naming sock_builds_on_unix_systems_only", out)
	}
}
