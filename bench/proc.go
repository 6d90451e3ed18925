package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// What the echo workload reads about a server process from /proc (Linux).

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ, what
// sysconf(_SC_CLK_TCK) returns, 100 on Linux on every architecture Go runs on
// (x/sys/unix has no sysconf to ask).
const clockTick = 10 * time.Millisecond

// procCPU is the user+system CPU time process pid has used, all its threads
// together, from /proc/PID/stat; it moves in steps of clockTick.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := parseStatTicks(data)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ticks) * clockTick, nil
}

// parseStatTicks returns utime+stime, fields 14 and 15 of a /proc/PID/stat
// line (proc(5)), in clock ticks. Field 2, the command name, is in
// parentheses and may hold spaces and parentheses itself, so the fields are
// counted from the last ')'.
func parseStatTicks(stat []byte) (uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	// After the name: field 3 (state) onwards.
	fields := strings.Fields(string(stat[end+1:]))
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("%d fields after the command name, want at least %d", len(fields), stime+1)
	}
	u, err := strconv.ParseUint(fields[utime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	s, err := strconv.ParseUint(fields[stime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return u + s, nil
}

// procRSS is the resident set size of process pid in bytes, from the VmRSS
// line of /proc/PID/status.
func procRSS(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	rss, err := parseVmRSS(data)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return rss, nil
}

// parseVmRSS finds "VmRSS:  1234 kB" in /proc/PID/status and returns it in
// bytes.
func parseVmRSS(status []byte) (uint64, error) {
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want a number of kB", line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmRSS line")
}
