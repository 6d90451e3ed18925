package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The peers in other languages (asyncio and uvloop in Python, Node.js) are
// measured by a script of their own language, run as a subprocess once per
// repetition: it runs one workload at one scale, warms up and repeats as
// runSpan does, and prints one JSON line with its own wall, CPU and setup
// times, so the interpreter's start-up is in none of them. What is the same
// for every such script is here; python.go and node.go find the
// interpreters and say how to run them.

// peerKinds are the kinds of the systems measured in a subprocess, and the
// system names of each, in the order notes and messages use: the runner
// gives them no warm-up round (the script warms up itself) and no repeated
// runs (the script repeats itself), and the report has no Go memory figures
// for them.
var peerKinds = []struct {
	kind  string
	names []string
}{
	{"python", pythonSystemNames},
	{"node", nodeSystemNames},
}

// subprocessPeer reports whether systems of kind run in a subprocess.
func subprocessPeer(kind string) bool {
	for _, p := range peerKinds {
		if p.kind == kind {
			return true
		}
	}
	return false
}

// peerKindNames lists the subprocess peers' kinds, then their system names.
func peerKindNames() []string {
	var kinds, names []string
	for _, p := range peerKinds {
		kinds = append(kinds, p.kind)
		names = append(names, p.names...)
	}
	return append(kinds, names...)
}

// peerRunTimeout bounds one repetition: a hang must not hang the bench.
const peerRunTimeout = 5 * time.Minute

// peerProbeTimeout bounds a script's --info.
const peerProbeTimeout = 30 * time.Second

// runScript runs exe with args in env, bounded by timeout, and returns its
// stdout. A failure carries the exit status and the line of stderr that says
// what failed (peerMessage); a timeout names script. It returns after
// settleAfterBlockingWait, so that the wait for the subprocess is not
// charged to the span measured next.
func runScript(timeout time.Duration, env []string, script, exe string, args ...string) ([]byte, error) {
	defer settleAfterBlockingWait()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second // do not wait forever on pipes a stray child holds
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("%s timed out after %v", filepath.Base(script), timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, peerMessage(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// peerMessage is the line of a failed subprocess's stderr that says what
// failed: where there is a Python traceback, the exception (its last line);
// where there is a JavaScript stack (lines that begin "    at "), the line
// above the first of them, the error; else the first line (the scripts' own
// messages are one line).
func peerMessage(stderr string) string {
	stderr = strings.TrimSpace(stderr)
	if stderr == "" {
		return "no message"
	}
	if strings.HasPrefix(stderr, "Traceback (most recent call last):") || strings.Contains(stderr, "\nTraceback (most recent call last):") {
		return stderr[strings.LastIndexByte(stderr, '\n')+1:]
	}
	lines := strings.Split(stderr, "\n")
	for i, l := range lines {
		if i > 0 && strings.HasPrefix(l, "    at ") {
			return strings.TrimSpace(lines[i-1])
		}
	}
	return lines[0]
}

// envWithout is the environment without the variables named in drop.
func envWithout(drop []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(drop, k) {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// parseRepetition reads a script's JSON line: one repetition of workload w
// at scale n on system name.
func parseRepetition(out []byte, name, w string, n int) (Result, error) {
	var r struct {
		Unsupported bool     `json:"unsupported"`
		Ops         *int     `json:"ops"`
		WallS       *float64 `json:"wall_s"`
		CPUS        *float64 `json:"cpu_s"`
		SetupS      *float64 `json:"setup_s"`
	}
	if err := json.Unmarshal(lastLine(out), &r); err != nil {
		return Result{}, fmt.Errorf("%s %s n=%d: bad output %q: %v", name, w, n, lastLine(out), err)
	}
	if r.Unsupported {
		return Result{}, ErrUnsupported
	}
	if r.Ops == nil || r.WallS == nil || r.CPUS == nil || r.SetupS == nil {
		return Result{}, fmt.Errorf("%s %s n=%d: output lacks a field: %q", name, w, n, lastLine(out))
	}
	return Result{
		Ops:   *r.Ops,
		Wall:  seconds(*r.WallS),
		CPU:   seconds(*r.CPUS),
		Setup: seconds(*r.SetupS),
	}, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return b
}

// embeddedScript is a script embedded in the bench, written out once per
// process for an interpreter to run.
type embeddedScript struct {
	name string // its file name, such as "loopbench.py": its stem and extension name the file written
	data []byte

	once sync.Once
	path string
	err  error
}

// file writes the script to the temporary directory once per process, under
// a name that carries its hash, so that `go run ./bench` works from any
// directory and runs share one file rather than leave one each.
func (s *embeddedScript) file() (string, error) {
	s.once.Do(func() {
		ext := filepath.Ext(s.name)
		stem := strings.TrimSuffix(s.name, ext)
		sum := sha256.Sum256(s.data)
		path := filepath.Join(os.TempDir(), stem+"-"+hex.EncodeToString(sum[:6])+ext)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, s.data) {
			s.path = path
			return
		}
		// Write a private file and rename it into place, so that a
		// concurrent run never reads a half-written script.
		f, err := os.CreateTemp(os.TempDir(), stem+"-*"+ext+".tmp")
		if err != nil {
			s.err = err
			return
		}
		_, err = f.Write(s.data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), path)
		}
		if err != nil {
			os.Remove(f.Name())
			s.err = errors.Join(errors.New("writing "+path), err)
			return
		}
		s.path = path
	})
	return s.path, s.err
}
