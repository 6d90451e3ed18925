package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Node.js is measured through bench/node/loopbench.js, run as a subprocess
// once per repetition, as the Python peers are (see peer.go): callbacks are
// setImmediate, timers and timeouts setTimeout and clearTimeout. Node has no
// call that hands a callback to the loop from another thread, so it does not
// run the posts and mixed workloads (the script says why).

//go:embed node/loopbench.js
var loopbenchJS []byte

var loopbenchJSScript = embeddedScript{name: "loopbench.js", data: loopbenchJS}

// nodeCandidates are the executables looked at, in order: node on PATH, then
// where Debian's and NodeSource's packages put it (/usr/bin/nodejs is the
// name older Debian packages used).
var nodeCandidates = []string{"node", "/usr/bin/node", "/usr/bin/nodejs"}

// nodeSystemNames is the Node peer's system name, which is also its kind.
var nodeSystemNames = []string{"node"}

// nodeMinMajor is the oldest Node.js major version the script runs on
// (process.getActiveResourcesInfo came in 17; 18 is the oldest LTS with it).
const nodeMinMajor = 18

// nodeFlags come before the script on Node's command line: --expose-gc
// makes gc callable, so that the script collects (the young generation)
// before each span as the Go side and loopbench.py collect before theirs;
// it changes nothing else.
var nodeFlags = []string{"--expose-gc"}

// nodeWarmupOps and nodeWarmupTime are loopbench.js's WARMUP_OPS and
// WARMUP_S, for the report's Method (TestNodeWarmupMatchesTheScript).
const (
	nodeWarmupOps  = 100_000
	nodeWarmupTime = 100 * time.Millisecond
)

// nodeInfo is what loopbench.js --info says about a Node.js.
type nodeInfo struct {
	Node      string   `json:"node"`      // version, e.g. "20.20.2"
	ExecPath  string   `json:"exec_path"` // process.execPath: what runs, past any shim
	V8        string   `json:"v8"`
	UV        string   `json:"uv"`        // libuv's version
	Workloads []string `json:"workloads"` // the workloads the script runs
}

// nodeSystems returns Node.js as a System when one is found, else a
// one-line note saying what was tried and how to get it.
func nodeSystems() (systems []System, notes []string) {
	return nodeSystemsFrom(nodeCandidates)
}

func nodeSystemsFrom(candidates []string) (systems []System, notes []string) {
	script, err := loopbenchJSScript.file()
	if err != nil {
		return nil, []string{fmt.Sprintf("node: skipped: cannot write loopbench.js: %v", err)}
	}
	info, tried, ok := findNode(candidates, script)
	if !ok {
		return nil, []string{"node: skipped: " + noNodeFound(tried)}
	}
	return []System{nodeSystem(info, script)}, nil
}

// findNode probes the candidates in order and returns the first Node.js
// that runs the script's --info, and what was seen of each candidate tried,
// for the note.
func findNode(candidates []string, script string) (info nodeInfo, tried []string, ok bool) {
	for _, c := range candidates {
		path, err := exec.LookPath(c)
		if err != nil {
			tried = append(tried, c+" (not found)")
			continue
		}
		info, err := probeNode(path, script)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s (%v)", c, err))
			continue
		}
		return info, tried, true
	}
	return nodeInfo{}, tried, false
}

func nodeSystem(info nodeInfo, script string) System {
	exe := info.ExecPath
	return System{
		Name: "node",
		Kind: "node",
		Note: fmt.Sprintf("Node.js %s (%s), V8 %s, libuv %s, no flags but --expose-gc; "+
			"callbacks are setImmediate (a macrotask of the loop's check phase: process.nextTick and queueMicrotask "+
			"are microtask queues outside the loop's phases), timers setTimeout, whose 0 ms delay Node makes 1 ms; "+
			"no posts or mixed (Node has no cross-thread call_soon_threadsafe: a Worker can only postMessage a structured clone)",
			info.Node, info.ExecPath, info.V8, info.UV),
		Run: func(w string, n int) (Result, error) {
			// Known from --info, so that an unsupported workload or a bad
			// scale costs no process (see System.Run).
			if !slices.Contains(info.Workloads, w) {
				return Result{}, ErrUnsupported
			}
			if err := checkScale(n); err != nil {
				return Result{}, err
			}
			return runLoopbenchJS(exe, script, w, n)
		},
	}
}

// slowingNodeEnv are the variables that would run Node in other than its
// normal configuration, and slower: NODE_OPTIONS, which can carry
// --inspect, --cpu-prof, --heap-prof, --prof, --jitless or a --require'd
// agent (the normal configuration has none of them, so it goes whole);
// NODE_V8_COVERAGE, which makes V8 collect precise coverage; and NODE_DEBUG
// and NODE_DEBUG_NATIVE, which turn on the core modules' debug logging
// (NODE_DEBUG=timers logs from the timers' code, the code measured).
var slowingNodeEnv = []string{"NODE_OPTIONS", "NODE_V8_COVERAGE", "NODE_DEBUG", "NODE_DEBUG_NATIVE"}

// slowingNodeEnvText names slowingNodeEnv for the reports' Methods ("A, B
// and C"), so that they say what runNode and the echo server drop.
func slowingNodeEnvText() string {
	last := len(slowingNodeEnv) - 1
	return strings.Join(slowingNodeEnv[:last], ", ") + " and " + slowingNodeEnv[last]
}

// runNode runs Node on the script with args, bounded by timeout, and
// returns its stdout (see runScript).
func runNode(timeout time.Duration, exe, script string, args ...string) ([]byte, error) {
	argv := append(append(slices.Clone(nodeFlags), script), args...)
	return runScript(timeout, envWithout(slowingNodeEnv), script, exe, argv...)
}

func probeNode(exe, script string) (nodeInfo, error) {
	var info nodeInfo
	out, err := runNode(peerProbeTimeout, exe, script, "--info")
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(lastLine(out), &info); err != nil {
		return info, fmt.Errorf("bad --info output %q: %v", lastLine(out), err)
	}
	major, _, _ := strings.Cut(info.Node, ".")
	if m, err := strconv.Atoi(major); err != nil || m < nodeMinMajor {
		return info, fmt.Errorf("version %q is not Node.js %d or later", info.Node, nodeMinMajor)
	}
	if info.ExecPath == "" {
		info.ExecPath = exe
	}
	return info, nil
}

// runLoopbenchJS runs one repetition of workload w at scale n.
func runLoopbenchJS(exe, script, w string, n int) (Result, error) {
	out, err := runNode(peerRunTimeout, exe, script, "--loop", "node", "--workload", w, "--n", fmt.Sprint(n))
	if err != nil {
		return Result{}, fmt.Errorf("node %s n=%d: %w", w, n, err)
	}
	return parseRepetition(out, "node", w, n)
}
