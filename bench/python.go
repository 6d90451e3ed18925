package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// asyncio and uvloop are measured through bench/python/loopbench.py, run as a
// subprocess once per repetition (see peer.go).

//go:embed python/loopbench.py
var loopbenchPy []byte

var loopbenchPyScript = embeddedScript{name: "loopbench.py", data: loopbenchPy}

// pythonCandidates are the interpreters looked at, in order: python3 on PATH,
// then Debian's, where apt-get install python3-uvloop puts uvloop.
var pythonCandidates = []string{"python3", "/usr/bin/python3"}

// pythonSystemNames are the Python peers' system names.
var pythonSystemNames = []string{"asyncio", "uvloop"}

// pythonInfo is what loopbench.py --info says about an interpreter.
type pythonInfo struct {
	Python      string   `json:"python"`       // version, e.g. "3.11.2"
	Executable  string   `json:"executable"`   // sys.executable: what runs, past any shim
	AsyncioLoop string   `json:"asyncio_loop"` // the default loop's class
	UVLoop      *string  `json:"uvloop"`       // version, nil when uvloop does not import
	Workloads   []string `json:"workloads"`    // the workloads the script runs
}

// pythonSystems returns asyncio and uvloop as Systems when a Python 3 (with
// uvloop, for the second) is found, and a one-line note for each one skipped,
// naming what is missing and how to get it.
func pythonSystems() (systems []System, notes []string) {
	return pythonSystemsFrom(pythonCandidates)
}

func pythonSystemsFrom(candidates []string) (systems []System, notes []string) {
	script, err := loopbenchScript()
	if err != nil {
		msg := fmt.Sprintf("cannot write loopbench.py: %v", err)
		return nil, []string{"asyncio: skipped: " + msg, "uvloop: skipped: " + msg}
	}
	found, tried := findPythons(candidates, script)
	triedNote := strings.Join(tried, ", ")
	if len(found) == 0 {
		return nil, []string{
			"asyncio: skipped: no Python 3 found; tried " + triedNote + " (apt-get install python3)",
			"uvloop: skipped: no Python 3 found; tried " + triedNote + " (apt-get install python3 python3-uvloop)",
		}
	}

	// asyncio runs on the interpreter that has uvloop when there is one, so
	// that asyncio against uvloop compares the loops alone, not two builds
	// of Python; otherwise on the first Python 3 found.
	var withUV *pythonInfo
	for i := range found {
		if found[i].UVLoop != nil {
			withUV = &found[i]
			break
		}
	}
	forAsyncio := found[0]
	if withUV != nil {
		forAsyncio = *withUV
	}
	systems = append(systems, pythonSystem("asyncio", forAsyncio, script))
	if withUV != nil {
		systems = append(systems, pythonSystem("uvloop", *withUV, script))
	} else {
		notes = append(notes, "uvloop: skipped: no Python 3 with uvloop found; tried "+triedNote+
			" (apt-get install python3-uvloop, for /usr/bin/python3)")
	}
	return systems, notes
}

// findPythons probes each candidate and returns the distinct Python 3
// interpreters found, in order, and what was seen of each candidate, for the
// notes.
func findPythons(candidates []string, script string) (found []pythonInfo, tried []string) {
	seen := map[string]bool{}
	for _, c := range candidates {
		path, err := exec.LookPath(c)
		if err != nil {
			tried = append(tried, c+" (not found)")
			continue
		}
		info, err := probePython(path, script)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s (%v)", c, err))
			continue
		}
		tried = append(tried, fmt.Sprintf("%s (Python %s, %s)", c, info.Python, uvloopState(info)))
		if !seen[info.Executable] {
			seen[info.Executable] = true
			found = append(found, info)
		}
	}
	return found, tried
}

func uvloopState(info pythonInfo) string {
	if info.UVLoop == nil {
		return "no uvloop"
	}
	return "uvloop " + *info.UVLoop
}

func pythonSystem(name string, info pythonInfo, script string) System {
	var note string
	if name == "uvloop" {
		note = fmt.Sprintf("Python %s (%s), uvloop %s via uvloop.new_event_loop(), debug off",
			info.Python, info.Executable, *info.UVLoop)
	} else {
		note = fmt.Sprintf("Python %s (%s), asyncio default loop (%s), debug off",
			info.Python, info.Executable, info.AsyncioLoop)
	}
	exe := info.Executable
	return System{
		Name: name,
		Kind: "python",
		Note: note,
		Run: func(w string, n int) (Result, error) {
			// Known from --info, so that an unsupported workload or a bad
			// scale costs no interpreter (see System.Run).
			if !slices.Contains(info.Workloads, w) {
				return Result{}, ErrUnsupported
			}
			if err := checkScale(n); err != nil {
				return Result{}, err
			}
			return runLoopbench(exe, script, name, w, n)
		},
	}
}

// slowingPythonEnv are the variables that would slow the Python peers down
// from their normal configuration: asyncio's debug mode (the script also
// calls loop.set_debug(False)), development mode, tracemalloc, and the debug
// allocator and its statistics.
var slowingPythonEnv = []string{"PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "PYTHONTRACEMALLOC", "PYTHONMALLOC", "PYTHONMALLOCSTATS"}

// pythonEnv is the environment without slowingPythonEnv.
func pythonEnv() []string { return envWithout(slowingPythonEnv) }

// runPython runs the interpreter on the script with args, bounded by
// timeout, and returns its stdout (see runScript).
func runPython(timeout time.Duration, exe, script string, args ...string) ([]byte, error) {
	return runScript(timeout, pythonEnv(), script, exe, append([]string{script}, args...)...)
}

func probePython(exe, script string) (pythonInfo, error) {
	var info pythonInfo
	out, err := runPython(peerProbeTimeout, exe, script, "--info")
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(lastLine(out), &info); err != nil {
		return info, fmt.Errorf("bad --info output %q: %v", lastLine(out), err)
	}
	if !strings.HasPrefix(info.Python, "3.") {
		return info, fmt.Errorf("version %s is not Python 3", info.Python)
	}
	if info.Executable == "" {
		info.Executable = exe
	}
	return info, nil
}

// runLoopbench runs one repetition of workload w at scale n on loop ("asyncio"
// or "uvloop").
func runLoopbench(exe, script, loop, w string, n int) (Result, error) {
	out, err := runPython(peerRunTimeout, exe, script,
		"--loop", loop, "--workload", w, "--n", fmt.Sprint(n))
	if err != nil {
		return Result{}, fmt.Errorf("%s %s n=%d: %w", loop, w, n, err)
	}
	return parseRepetition(out, loop, w, n)
}

// loopbenchScript is the path of loopbench.py, written out (see
// embeddedScript.file).
func loopbenchScript() (string, error) { return loopbenchPyScript.file() }
