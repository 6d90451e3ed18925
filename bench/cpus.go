package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The echo servers can run pinned to a set of CPUs (-server-cpus), so that
// on a machine with cores to spare the client does not share them and
// server CPU per request measures the server alone.

// parseCPUList reads a CPU list as taskset -c and the kernel write it:
// comma-separated CPU numbers and ranges, such as "0-3,8". It returns the
// CPUs in order, each once.
func parseCPUList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty CPU list")
	}
	seen := map[int]bool{}
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("CPU list %q: %q is not a CPU number or a range a-b", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("CPU list %q: %q is not a range a-b with a <= b", s, part)
			}
		}
		for c := a; c <= b; c++ {
			if !seen[c] {
				seen[c] = true
				cpus = append(cpus, c)
			}
		}
	}
	return cpus, nil
}

// pinnedCommand returns the command that runs bin with args on cpus: bin
// itself when cpus is empty, else taskset, which sets the CPU affinity and
// then executes bin in the same process (so its PID is the server's).
func pinnedCommand(cpus, bin string, args []string) (*exec.Cmd, error) {
	if cpus == "" {
		return exec.Command(bin, args...), nil
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return nil, fmt.Errorf("-server-cpus needs taskset (util-linux): %w", err)
	}
	return exec.Command(taskset, append([]string{"-c", cpus, bin}, args...)...), nil
}

// allowedCPUs returns the CPUs this process may run on, from
// /proc/self/status ("" where that is not available).
func allowedCPUs() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cpuOverlap returns the CPUs in both lists, for a warning that the client
// and the servers share some.
func cpuOverlap(a, b string) []int {
	ca, err1 := parseCPUList(a)
	cb, err2 := parseCPUList(b)
	if err1 != nil || err2 != nil {
		return nil
	}
	in := map[int]bool{}
	for _, c := range cb {
		in[c] = true
	}
	var out []int
	for _, c := range ca {
		if in[c] {
			out = append(out, c)
		}
	}
	return out
}
