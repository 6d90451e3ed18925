package main

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{
		"0":       {0},
		"0-3,8":   {0, 1, 2, 3, 8},
		"2, 0-1":  {2, 0, 1},
		"1,1,0-1": {1, 0},
	} {
		got, err := parseCPUList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "a", "-1", "3-1", "1-", "1,,2", "0-x"} {
		if got, err := parseCPUList(in); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", in, got)
		}
	}
}

func TestCPUOverlap(t *testing.T) {
	if got := cpuOverlap("0-3", "2-5"); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("cpuOverlap(0-3, 2-5) = %v", got)
	}
	if got := cpuOverlap("0-1", "2-3"); len(got) != 0 {
		t.Errorf("cpuOverlap(0-1, 2-3) = %v", got)
	}
}

// A server started with cpus set runs with exactly that affinity, under its
// own PID (taskset executes it in place).
func TestPinnedServerRunsOnItsCPUs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if testing.Short() {
		t.Skip("builds and runs a server")
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset here")
	}
	// One CPU this process may use (a container's cpuset need not hold 0).
	allowed, err := parseCPUList(allowedCPUs())
	if err != nil || len(allowed) == 0 {
		t.Skipf("cannot read this process's CPUs: %v", err)
	}
	cpu := strconv.Itoa(allowed[len(allowed)-1])
	servers, notes := buildEchoServers(t.TempDir(), []string{"net"})
	if len(servers) != 1 {
		t.Fatalf("net server not built: %v", notes)
	}
	s := servers[0]
	s.cpus = cpu
	p, err := s.start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid()) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			got = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Name:"); ok && strings.TrimSpace(v) == "taskset" {
			t.Fatalf("PID %d is taskset, not the server", p.pid())
		}
	}
	if got != cpu {
		t.Errorf("the server may run on CPUs %q, want %s", got, cpu)
	}
}
