package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeNode puts an executable named node, a shell script with body, first
// on PATH and returns the directory it is in. body sees Node's arguments:
// $1 is --expose-gc, $2 the script, then the script's own.
func fakeNode(t *testing.T, body string) string {
	t.Helper()
	return fakeCommand(t, "node", body)
}

// fakeCommand puts an executable named name, a shell script with body, first
// on PATH and returns the directory it is in.
func fakeCommand(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	src := "#!/bin/sh\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

// fakeInfo is an --info line of a Node.js 20 that runs workloads.
func fakeInfo(workloads ...string) string {
	return fmt.Sprintf(`{"node": "20.1.0", "exec_path": "", "v8": "11.3", "uv": "1.46.0", "workloads": [%s]}`,
		`"`+strings.Join(workloads, `", "`)+`"`)
}

// fakeNodeSystem is the System made from a fake node whose --info is info
// and whose runs do run (shell, after the arguments' checks).
func fakeNodeSystem(t *testing.T, info, run string) System {
	t.Helper()
	fakeNode(t, `if [ "$1" != --expose-gc ]; then echo "flags: $1" >&2; exit 9; fi
case "$2" in *loopbench-*.js) ;; *) echo "script: $2" >&2; exit 9;; esac
if [ "$3" = --info ]; then echo '`+info+`'; exit 0; fi
if [ "$3 $4 $5" != "--loop node --workload" ] || [ "$7" != --n ]; then echo "args: $*" >&2; exit 9; fi
`+run)
	systems, notes := nodeSystemsFrom([]string{"node"})
	if len(systems) != 1 || len(notes) != 0 {
		t.Fatalf("systems %v, notes %q; want the fake node", systems, notes)
	}
	return systems[0]
}

// Without Node.js the system is skipped with one line saying what was
// tried and how to get it.
func TestNodeSystemsMissing(t *testing.T) {
	systems, notes := nodeSystemsFrom([]string{"/nonexistent/node", "/nonexistent/nodejs"})
	if len(systems) != 0 {
		t.Errorf("systems %v from a missing node", systems)
	}
	want := "node: skipped: no Node.js 18 or later found; tried /nonexistent/node (not found), /nonexistent/nodejs (not found) (apt-get install nodejs)"
	if len(notes) != 1 || notes[0] != want {
		t.Errorf("notes %q; want [%q]", notes, want)
	}
}

// A node whose --info cannot be read, or is too old, or fails, is skipped
// with the reason in the note; the next candidate is tried.
func TestNodeBadInfoIsANote(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"not json", `echo 'v20.1.0'`, `node (bad --info output "v20.1.0"`},
		{"too old", `echo '{"node": "16.20.0", "exec_path": "/x/node", "workloads": ["callbacks"]}'`, `node (version "16.20.0" is not Node.js 18 or later)`},
		{"fails", `echo 'node: bad option: --expose-gc' >&2; exit 9`, `node (exit status 9: node: bad option: --expose-gc)`},
		{"no output", `exit 0`, `node (bad --info output ""`},
	} {
		t.Run(c.name, func(t *testing.T) {
			fakeNode(t, c.body)
			systems, notes := nodeSystemsFrom([]string{"node", "/nonexistent/nodejs"})
			if len(systems) != 0 || len(notes) != 1 {
				t.Fatalf("systems %v, notes %q; want one note", systems, notes)
			}
			n := notes[0]
			if !strings.HasPrefix(n, "node: skipped: ") || !strings.Contains(n, c.want) ||
				!strings.Contains(n, "/nonexistent/nodejs (not found)") || strings.Contains(n, "\n") {
				t.Errorf("note %q; want one line with %q and the other candidate", n, c.want)
			}
		})
	}
}

// The first node that answers is the one run; its path comes from
// process.execPath, or is the one found where --info gives none.
func TestNodeSystemFromAFake(t *testing.T) {
	s := fakeNodeSystem(t, fakeInfo(WorkCallbacks), `echo '{"ops": '$8', "wall_s": 0.002, "cpu_s": 0.001, "setup_s": 0.000001, "runs": 1}'`)
	if s.Name != "node" || s.Kind != "node" || !subprocessPeer(s.Kind) {
		t.Errorf("name %q kind %q; want node, a subprocess peer", s.Name, s.Kind)
	}
	for _, want := range []string{"Node.js 20.1.0", "setImmediate", "process.nextTick", "1 ms", "--expose-gc"} {
		if !strings.Contains(s.Note, want) {
			t.Errorf("note %q lacks %q", s.Note, want)
		}
	}
	r, err := s.Run(WorkCallbacks, 1234)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{Ops: 1234, Wall: 2 * time.Millisecond, CPU: time.Millisecond, Setup: time.Microsecond}); r != want {
		t.Errorf("result %+v, want %+v", r, want)
	}
}

// A workload --info does not list is unsupported without a process; one
// the script answers unsupported is unsupported too.
func TestNodeUnsupportedWorkload(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	s := fakeNodeSystem(t, fakeInfo(WorkCallbacks, WorkTimers), `touch `+marker+`
echo '{"unsupported": true}'`)
	for _, w := range []string{WorkPosts1, WorkPosts4, WorkMixed, WorkTimeouts} {
		if _, err := s.Run(w, 10); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err %v, want ErrUnsupported", w, err)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("an unsupported workload started node")
	}
	if _, err := s.Run(WorkTimers, 0); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("timers at scale 0: err %v, want a scale error", err)
	}
	if _, err := s.Run(WorkCallbacks, 10); !errors.Is(err, ErrUnsupported) {
		t.Errorf("the script's own unsupported: err %v, want ErrUnsupported", err)
	}
}

// Output that is not the result line fails the run, and says what it was.
func TestNodeBadOutput(t *testing.T) {
	for _, c := range []struct{ out, want string }{
		{`echo 'Debugger listening on ws://127.0.0.1:9229/x'`, `node callbacks n=10: bad output "Debugger listening on ws://127.0.0.1:9229/x"`},
		{`echo '{"ops": 10, "wall_s": 0.1}'`, `node callbacks n=10: output lacks a field`},
		{`exit 0`, `node callbacks n=10: bad output ""`},
	} {
		s := fakeNodeSystem(t, fakeInfo(WorkCallbacks), c.out)
		if _, err := s.Run(WorkCallbacks, 10); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("output of %s: err %v, want %q", c.out, err, c.want)
		}
	}
}

// A run that fails says why: the script's one line, or the error above a
// JavaScript stack.
func TestNodeFailureMessage(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`echo 'loopbench.js: callbacks: 9 of 10 ran' >&2; exit 1`, "node callbacks n=10: exit status 1: loopbench.js: callbacks: 9 of 10 ran"},
		{`printf '/tmp/loopbench.js:12\n    throw new Error("boom");\n    ^\n\nError: boom\n    at cb (/tmp/loopbench.js:12:11)\n    at process.processImmediate (node:internal/timers:478:21)\n\nNode.js v20.1.0\n' >&2; exit 1`,
			"node callbacks n=10: exit status 1: Error: boom"},
		{`kill -9 $$`, "node callbacks n=10: signal: killed: no message"},
	} {
		s := fakeNodeSystem(t, fakeInfo(WorkCallbacks), c.body)
		if _, err := s.Run(WorkCallbacks, 10); err == nil || err.Error() != c.want {
			t.Errorf("err %v, want %q", err, c.want)
		}
	}
}

// Node runs without what would slow it or change its configuration; the
// rest of the environment passes through.
func TestNodeEnvDropsWhatSlowsIt(t *testing.T) {
	for _, k := range slowingNodeEnv {
		t.Setenv(k, "--inspect")
	}
	t.Setenv("LOOP_BENCH_KEPT", "yes")
	env := envWithout(slowingNodeEnv)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(slowingNodeEnv, k) {
			t.Errorf("%s passed to node", kv)
		}
	}
	if !slices.Contains(env, "LOOP_BENCH_KEPT=yes") {
		t.Error("the rest of the environment was not passed on")
	}
	for _, want := range []string{"NODE_OPTIONS", "NODE_V8_COVERAGE", "NODE_DEBUG"} {
		if !slices.Contains(slowingNodeEnv, want) {
			t.Errorf("%s is not dropped", want)
		}
	}
	// What the fake saw.
	s := fakeNodeSystem(t, fakeInfo(WorkCallbacks), `if [ -n "${NODE_OPTIONS+set}${NODE_V8_COVERAGE+set}${NODE_DEBUG+set}" ] || [ "$LOOP_BENCH_KEPT" != yes ]; then echo "env: NODE_OPTIONS=$NODE_OPTIONS" >&2; exit 1; fi
echo '{"ops": 10, "wall_s": 0.002, "cpu_s": 0.001, "setup_s": 0.000001, "runs": 1}'`)
	if _, err := s.Run(WorkCallbacks, 10); err != nil {
		t.Error(err)
	}
}

// -systems node on a machine without Node.js says why it is missing, and a
// run that does not ask for it goes on.
func TestAskingForAMissingNodeSaysWhy(t *testing.T) {
	saved := nodeCandidates
	nodeCandidates = []string{"/nonexistent/node"}
	defer func() { nodeCandidates = saved }()
	for _, sel := range []string{"node", "balanced,node"} {
		var out, progress bytes.Buffer
		err := run([]string{"-quick", "-workload", "callbacks", "-systems", sel}, &out, &progress)
		if err == nil || !strings.Contains(err.Error(), "node: skipped: no Node.js 18 or later found") {
			t.Errorf("-systems %s without Node.js: error %v; want one that says no Node.js was found", sel, err)
		}
	}
	var out, progress bytes.Buffer
	if err := run([]string{"-quick", "-workload", "callbacks", "-systems", "floor-ring"}, &out, &progress); err != nil {
		t.Errorf("-systems floor-ring without Node.js: %v", err)
	}
	if err := missingPeers([]string{"python"}, []System{{Name: "node", Kind: "node"}}, []string{"asyncio: skipped: x", "uvloop: skipped: y"}); err == nil || !strings.Contains(err.Error(), "asyncio: skipped: x; uvloop: skipped: y") {
		t.Errorf("the python kind where there is only node: %v", err)
	}
	if err := missingPeers([]string{"node"}, []System{{Name: "node", Kind: "node"}}, []string{"asyncio: skipped: x"}); err != nil {
		t.Errorf("node where there is node: %v", err)
	}
	if _, err := pick("system", "nodejs", []string{"balanced"}, []string{"variant", "node", "node"}); err == nil || !strings.Contains(err.Error(), "also variant, node)") {
		t.Errorf("an unknown system: %v; want the kinds and missing peers named once", err)
	}
}

// A subprocess peer warms up and repeats inside itself: the runner gives
// Node, as Python, no warm-up round and no repeated runs, and does not cap
// its scales as it does Python's.
func TestNodeIsRunAsASubprocessPeer(t *testing.T) {
	calls := 0
	s := System{Name: "node", Kind: "node", Run: func(w string, n int) (Result, error) {
		if n > 0 {
			calls++
		}
		return Result{Ops: n, Wall: minSpan / 10, CPU: minSpan / 10}, nil
	}}
	o := options{reps: 3, warmup: true, workloads: []string{WorkTimeouts}}
	res := measureAll(o, []System{s}, io.Discard)
	scales := planOf(WorkTimeouts).scales
	if want := 3 * len(scales); calls != want {
		t.Errorf("%d runs, want %d: 3 repetitions at each of %v, no warm-up, no repeats", calls, want, scales)
	}
	if got := len(res.runs[key{WorkTimeouts, "node", 1_000_000}]); got != 3 {
		t.Errorf("N=1,000,000 has %d repetitions, want 3 (node is not capped)", got)
	}
	if !skip(o, System{Kind: "python"}, 1_000_000) || skip(o, s, 1_000_000) {
		t.Error("skip: want Python capped at 1M without -full, and Node not")
	}
	if g := runGuess(planOf(WorkCallbacks), "node", 1000); g < 0.1 {
		t.Errorf("node's guess at N=1,000: %.3fs, want its start and warm-up (0.15 s)", g)
	}
}

// Node shows in the per-system tables (with no Go memory figures), the
// speedups and the key findings like the other peers, and the targets table
// is unchanged by it.
func TestNodeInTheReport(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced": {1_000: 10, 10_000: 10},
		"asyncio":  {1_000: 1000, 10_000: 1100},
		"node":     {1_000: 200, 10_000: 50},
	}, map[key]error{})
	for _, want := range []string{
		"- vs node (node): balanced is 5.0–20.0x faster",
		"- vs asyncio (python): balanced is 100.0–110.0x faster",
		"### node\n",
		"| 1,000 | 200.0µs | 200.0µs–200.0µs | 5,000,000 | 0.200 | 0.200 | 100% | 0.0µs | – | – | – |",
		"| callbacks ≥100x asyncio | 100.0–110.0x | met |",
		"- Node.js runs the same way in a Node subprocess (bench/node/loopbench.js)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// The speedups' columns follow the systems' order, which the synthetic
	// report takes from a map.
	if !regexp.MustCompile(`\| N \| vs (asyncio \| vs node|node \| vs asyncio) \|`).MatchString(out) ||
		!regexp.MustCompile(`\| 1,000 \| (100\.00x \| 20\.00x|20\.00x \| 100\.00x) \|`).MatchString(out) {
		t.Errorf("speedups lack node beside asyncio:\n%s", out)
	}
	targets := out[strings.Index(out, "### Targets"):]
	targets = targets[:strings.Index(targets, "\n\n")]
	if strings.Contains(targets, "node") {
		t.Errorf("a goal names node:\n%s", targets)
	}
}

// The Method's figures for Node's warm-up are the script's, and the script
// fills minSpan with at most maxInner runs, as runSpan does.
func TestNodeWarmupMatchesTheScript(t *testing.T) {
	consts := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^const ([A-Z_]+) = ([0-9.]+);$`).FindAllStringSubmatch(string(loopbenchJS), -1) {
		consts[m[1]] = m[2]
	}
	num := func(name string) float64 {
		v, err := strconv.ParseFloat(consts[name], 64)
		if err != nil {
			t.Fatalf("loopbench.js: const %s: %q", name, consts[name])
		}
		return v
	}
	if got := num("WARMUP_OPS"); got != nodeWarmupOps {
		t.Errorf("WARMUP_OPS %v, Go says %d", got, nodeWarmupOps)
	}
	if got := num("WARMUP_S"); got != nodeWarmupTime.Seconds() {
		t.Errorf("WARMUP_S %v, Go says %v", got, nodeWarmupTime)
	}
	if got := num("WARMUP_MAX_N"); got != 10_000 {
		t.Errorf("WARMUP_MAX_N %v, want 10,000 as loopbench.py's", got)
	}
	if got := num("MIN_SPAN_S"); got != minSpan.Seconds() {
		t.Errorf("MIN_SPAN_S %v, minSpan %v", got, minSpan)
	}
	if got := num("MAX_INNER"); got != maxInner {
		t.Errorf("MAX_INNER %v, maxInner %d", got, maxInner)
	}
}

// nodeOrSkip returns the real Node.js found, and loopbench.js's path, or
// skips the test saying what was tried.
func nodeOrSkip(t *testing.T) (nodeInfo, string) {
	t.Helper()
	script, err := loopbenchJSScript.file()
	if err != nil {
		t.Fatal(err)
	}
	info, tried, ok := findNode(nodeCandidates, script)
	if !ok {
		t.Skipf("no Node.js found; tried %s", strings.Join(tried, ", "))
	}
	return info, script
}

// The real script, at a tiny scale, on each workload: it does the work it
// reports, and says unsupported for the others.
func TestNodeSystemRuns(t *testing.T) {
	s := nodeSystem(nodeOrSkip(t))
	t.Log(s.Note)
	const n = 300
	for _, w := range allWorkloads {
		r, err := s.Run(w, n)
		switch w {
		case WorkPosts1, WorkPosts4, WorkMixed:
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s: err %v, want ErrUnsupported", w, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s n=%d: %v", w, n, err)
			continue
		}
		if err := checkOps(r, w, n); err != nil || r.Wall <= 0 || r.CPU < 0 || r.Setup <= 0 {
			t.Errorf("%s n=%d: %+v (%v); want %d ops, wall and setup > 0", w, n, r, err, n)
		}
		if r.Allocs != 0 || r.Bytes != 0 || r.PeakHeap != 0 || r.PeakSampled {
			t.Errorf("%s n=%d: %+v; Go memory figures must stay 0 for Node", w, n, r)
		}
		// The last timers are 9 ms out. Node counts a delay from libuv's
		// loop time, in whole milliseconds, read once per turn of the loop,
		// so a timer set 9 ms out may fire after 8.x ms of real time, as
		// uvloop's (seen: 8.90 ms, when the span began in the turn that ran
		// the collection; the span now begins a turn of its own).
		if w == WorkTimers && r.Wall < 8*time.Millisecond {
			t.Errorf("timers n=%d: all fired in %v, before the 9 ms ones were due (8 ms at the earliest)", n, r.Wall)
		}
	}
}

// The real script refuses bad arguments with exit status 2 and one line.
func TestLoopbenchJSArgs(t *testing.T) {
	info, script := nodeOrSkip(t)
	exe := info.ExecPath
	for _, args := range [][]string{
		{},
		{"--loop", "asyncio", "--workload", "callbacks", "--n", "10"},
		{"--loop", "node", "--workload", "sockets", "--n", "10"},
		{"--loop", "node", "--workload", "callbacks", "--n", "0"},
		{"--loop", "node", "--workload", "callbacks", "--n", "ten"},
		{"--loop", "node", "--workload", "callbacks"},
		{"--loop", "node", "--workload", "callbacks", "--n"},
		{"--loop", "node", "--workload", "callbacks", "--n", "10", "--extra"},
		{"--loop", "node", "--loop", "node", "--workload", "callbacks", "--n", "10"},
	} {
		cmd := exec.Command(exe, append([]string{script}, args...)...)
		cmd.Env = envWithout(slowingNodeEnv)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%q: err %v, want exit status 2", args, err)
		}
		msg := strings.TrimSuffix(stderr.String(), "\n")
		if !strings.HasPrefix(msg, "loopbench.js: ") || strings.Contains(msg, "\n") || stdout.Len() != 0 {
			t.Errorf("%q: stderr %q, stdout %q; want one line on stderr only", args, stderr.String(), stdout.String())
		}
	}
}
