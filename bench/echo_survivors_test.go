package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests for echo.go's orchestration (starting, ordering, repeating and
// stopping the servers, leaving out those that cannot be had) and its
// start-up parsing, each written for a change to the code that the rest of
// the suite let through. The servers are shell scripts in an -echo-bin
// directory that run this test binary as TestFakeEchoServer or
// TestFakeClosingServer, or fail before listening.

// fakeClosingServer, set, makes TestFakeClosingServer a server.
const fakeClosingServer = "LOOP_BENCH_FAKE_CLOSING_SERVER"

// TestFakeClosingServer is not a test: run with fakeClosingServer set, it
// is a server that prints "listening ADDR" and closes every connection it
// accepts, so that a client fails at once.
func TestFakeClosingServer(t *testing.T) {
	if os.Getenv(fakeClosingServer) == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("config closing\nlistening %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

// fakeBin writes an -echo-bin directory whose echoserver -list prints list
// (or fails when list is "fail") and whose echoserver and peers run each
// server as modes says: "echo" (TestFakeEchoServer), "close"
// (TestFakeClosingServer) or "fail" (exits before listening, saying "boom"
// on stderr). Every start appends "NAME PID" to the log that starts reads,
// and the CPUs it may run on to the file cpus in dir.
func fakeBin(t *testing.T, list string, modes map[string]string) (dir string, starts func() []string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the echo workload reads /proc")
	}
	if testing.Short() {
		t.Skip("runs server processes")
	}
	dir = t.TempDir()
	log := filepath.Join(dir, "starts")
	listing := "echo '" + list + "'"
	if list == "fail" {
		listing = "echo 'no list' >&2; exit 1"
	}
	script := "#!/bin/sh\nif [ \"$1\" = -list ]; then " + listing + "; exit 0; fi\n" +
		"echo \"$2 $$\" >> '" + log + "'\n" +
		"sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$$/status >> '" + filepath.Join(dir, "cpus") + "'\n" +
		"case \"$2\" in\n"
	for name, mode := range modes {
		script += name + ") "
		switch mode {
		case "echo":
			script += fakeEchoLog + "='" + filepath.Join(dir, "echo-"+name) + "' exec '" + os.Args[0] + "' -test.run='^TestFakeEchoServer$'"
		case "close":
			script += fakeClosingServer + "=1 exec '" + os.Args[0] + "' -test.run='^TestFakeClosingServer$'"
		case "fail":
			script += "echo boom >&2; exit 3"
		}
		script += ";;\n"
	}
	script += "esac\nexit 4\n"
	for _, bin := range []string{"echoserver", "peers"} {
		if err := os.WriteFile(filepath.Join(dir, bin), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	starts = func() []string {
		data, err := os.ReadFile(log)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(data))
	}
	// A server a mutant left running is killed when the test ends.
	t.Cleanup(func() {
		for _, pid := range startedPIDs(t, starts()) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return dir, starts
}

// startedPIDs are the PIDs of the starts log (pairs of NAME PID).
func startedPIDs(t *testing.T, log []string) []int {
	var pids []int
	for i := 1; i < len(log); i += 2 {
		var pid int
		if _, err := fmt.Sscan(log[i], &pid); err != nil {
			t.Fatalf("starts log %q", log)
		}
		pids = append(pids, pid)
	}
	return pids
}

// startedNames are the server names of the starts log.
func startedNames(log []string) []string {
	var names []string
	for i := 0; i < len(log); i += 2 {
		names = append(names, log[i])
	}
	return names
}

// checkAllStopped fails unless every server the log names has exited and
// been waited for.
func checkAllStopped(t *testing.T, log []string) {
	t.Helper()
	for _, pid := range startedPIDs(t, log) {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("server process %d is still there after the run (kill 0: %v)", pid, err)
		}
	}
}

// measureEcho runs every server of a point in each round in serverOrder's
// order, each in a process of its own that it runs as "-server NAME" and
// stops (and waits for) afterwards; a server that fails a point is not run
// again at it, and its error says what it printed on stderr. It cleans up
// its temporary directory. (Catches round 0's order in every round, the
// failed check dropped, runPoint not stopping its server, the peers run
// as another server, and the temporary directory left behind.)
func TestEchoRunsEachRoundInItsOrderAndStopsTheServers(t *testing.T) {
	dir, starts := fakeBin(t, "loop net", map[string]string{"loop": "echo", "net": "fail", "gnet": "echo"})
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	p := echoPlan{
		conns: []int{2}, sizes: []int{64}, warmup: 10 * time.Millisecond, span: 20 * time.Millisecond,
		reps: 2, servers: []string{"loop", "net", "gnet"}, binDir: dir,
	}
	var progress bytes.Buffer
	e := measureEcho(p, &progress)
	log := starts()
	checkAllStopped(t, log)
	var names []string
	for _, s := range e.servers {
		names = append(names, s.name)
	}
	if !slices.Equal(names, []string{"loop", "net", "gnet"}) || len(e.notes) != 0 {
		t.Fatalf("servers %v, notes %q", names, e.notes)
	}
	// At C=2, 64 B, loop and gnet swap places between the rounds.
	var want []string
	for round := range p.reps {
		for _, i := range serverOrder(len(names), 2*64, round) {
			if names[i] != "net" || round == 0 {
				want = append(want, names[i])
			}
		}
	}
	if got := startedNames(log); !slices.Equal(got, want) {
		t.Errorf("servers started as %v, want %v (serverOrder's rounds, and net, which failed, once)", got, want)
	}
	for _, name := range []string{"loop", "gnet"} {
		if rs := e.runs[echoKey{name, 2, 64}]; len(rs) != p.reps {
			t.Errorf("%s: %d repetitions, want %d", name, len(rs), p.reps)
		}
	}
	err := e.errs[echoKey{"net", 2, 64}]
	if err == nil || !strings.Contains(err.Error(), "net exited before listening") || !strings.HasSuffix(err.Error(), ": boom") {
		t.Errorf("net's error %v, want that it exited before listening, with its stderr", err)
	}
	if len(e.errs) != 1 || len(e.runs) != 2 {
		t.Errorf("errors %v, runs %v", e.errs, e.runs)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "loop-echo-*")); len(left) > 0 {
		t.Errorf("left behind %v", left)
	}
}

// The idle point runs every round, and a server whose idle point fails is
// stopped and not run again at it. (Catches runIdle not stopping its
// server, the failed check dropped, and a single round of the idle point.)
func TestEchoIdleStopsTheServerAndRunsEveryRound(t *testing.T) {
	dir, starts := fakeBin(t, "loop", map[string]string{"loop": "close"})
	p := echoPlan{idle: 4, reps: 2, servers: []string{"loop"}, binDir: dir}
	var progress bytes.Buffer
	e := measureEcho(p, &progress)
	log := starts()
	checkAllStopped(t, log)
	if got := startedNames(log); !slices.Equal(got, []string{"loop"}) {
		t.Errorf("servers started as %v, want loop once: its idle point failed in round 1", got)
	}
	if err := e.errs[echoKey{"loop", 4, 0}]; err == nil || len(e.errs) != 1 || len(e.idle) != 0 {
		t.Errorf("errors %v, idle %v; want loop's idle point failed", e.errs, e.idle)
	}
	if !strings.Contains(progress.String(), "round 2/2") {
		t.Errorf("progress does not reach round 2:\n%s", progress.String())
	}
}

// From an -echo-bin holding no server at all, nothing is measured and no
// progress is reported beyond the note. (Catches the early return dropped.)
func TestEchoWithNoServerToRunStopsThere(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the echo workload reads /proc")
	}
	var progress bytes.Buffer
	e := measureEcho(echoPlan{conns: []int{1}, sizes: []int{64}, reps: 1, idle: 10, servers: []string{"net"}, binDir: t.TempDir()}, &progress)
	if progress.Len() != 0 || len(e.notes) != 1 || e.took != 0 {
		t.Errorf("progress %q, notes %q, took %v; want only the note that net is missing", progress.String(), e.notes, e.took)
	}
}

// subEchoEnv, set to a JSON subEchoPlan, makes TestEchoInASubprocess run
// measureEcho's idle point for net and print what it found as JSON.
const subEchoEnv = "LOOP_BENCH_ECHO_IN_A_SUBPROCESS"

type subEchoPlan struct {
	Idle         int
	BinDir, CPUs string
}

type subEchoResult struct {
	PlanIdle int
	Notes    []string
	Errs     []string
}

// TestEchoInASubprocess is not a test: run as subEcho runs it (under a low
// ulimit -n, or taskset), it runs the idle point of a plan.
func TestEchoInASubprocess(t *testing.T) {
	arg := os.Getenv(subEchoEnv)
	if arg == "" {
		return
	}
	var sp subEchoPlan
	if err := json.Unmarshal([]byte(arg), &sp); err != nil {
		t.Fatal(err)
	}
	e := measureEcho(echoPlan{idle: sp.Idle, reps: 1, servers: []string{"net"}, binDir: sp.BinDir, cpus: sp.CPUs}, &bytes.Buffer{})
	out := subEchoResult{PlanIdle: e.plan.idle, Notes: e.notes, Errs: e.failures()}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		t.Fatal(err)
	}
}

// subEcho runs TestEchoInASubprocess with sp, in sh after the shell command
// prefix (which ends in "exec").
func subEcho(t *testing.T, prefix string, sp subEchoPlan) subEchoResult {
	t.Helper()
	arg, _ := json.Marshal(sp)
	cmd := exec.Command("sh", "-c", prefix+" \"$0\" -test.run='^TestEchoInASubprocess$'", os.Args[0])
	cmd.Env = append(os.Environ(), subEchoEnv+"="+string(arg))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s with %+v: %v: %s", prefix, sp, err, out)
	}
	var got subEchoResult
	line, _, _ := strings.Cut(string(out), "\n")
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("%s with %+v: %v: %s", prefix, sp, err, out)
	}
	return got
}

// The idle point needs its connections and 256 descriptors more under the
// open-file limit; with fewer it is skipped, with a note, and measured by
// no server. (Catches the margin off by one, and the point run anyway or
// left in the plan.)
func TestEchoIdleIsSkippedUnderTheOpenFileLimit(t *testing.T) {
	dir, starts := fakeBin(t, "net", map[string]string{"net": "fail"})
	const limit = 400
	for _, tc := range []struct {
		idle int
		skip bool
	}{{limit - 256, false}, {limit - 255, true}} {
		got := subEcho(t, fmt.Sprintf("ulimit -n %d && exec", limit), subEchoPlan{Idle: tc.idle, BinDir: dir})
		note := fmt.Sprintf("echo idle: skipped: the open-file limit is %d; %d idle connections need %d", limit, tc.idle, tc.idle+256)
		if tc.skip {
			if !slices.Equal(got.Notes, []string{note}) || got.PlanIdle != 0 || len(got.Errs) != 0 {
				t.Errorf("idle %d: %+v; want the note %q, the point out of the plan and not run", tc.idle, got, note)
			}
		} else if len(got.Notes) != 0 || got.PlanIdle != tc.idle || len(got.Errs) != 1 || !strings.Contains(got.Errs[0], "net on echo idle") {
			t.Errorf("idle %d: %+v; want the point run (net fails it)", tc.idle, got)
		}
	}
	if got := startedNames(starts()); !slices.Equal(got, []string{"net"}) {
		t.Errorf("servers started as %v, want net once", got)
	}
}

// What a binary holds decides which of its servers run, in report order,
// each run as "-server NAME"; one that is not in the binary is left out with
// a note, and a binary whose -list fails leaves all of its servers out with
// a note saying so. (Catches the list's error ignored, the check of the
// list dropped or its continue, and servers kept in the order named.)
func TestEchoServersFromWhatTheBinariesHold(t *testing.T) {
	dir, _ := fakeBin(t, "net gnet", nil)
	bin := func(name string) (string, error) { return filepath.Join(dir, name), nil }
	servers, notes := echoServersFrom([]string{"nbio", "net", "loop"}, bin)
	var got []string
	for _, s := range servers {
		got = append(got, s.name+" "+filepath.Base(s.bin)+" "+strings.Join(s.args, " "))
	}
	want := []string{"net echoserver -server net", "nbio peers -server nbio"}
	wantNote := fmt.Sprintf("loop: skipped: %s has no \"loop\" server in this build", filepath.Join(dir, "echoserver"))
	if !slices.Equal(got, want) || !slices.Equal(notes, []string{wantNote}) {
		t.Errorf("servers %q, notes %q; want %q and [%q]", got, notes, want, wantNote)
	}

	dir, _ = fakeBin(t, "fail", nil)
	servers, notes = echoServersFrom([]string{"loop", "net"}, func(name string) (string, error) { return filepath.Join(dir, name), nil })
	wantNote = fmt.Sprintf("loop, net: skipped: %s -list: exit status 1", filepath.Join(dir, "echoserver"))
	if len(servers) != 0 || !slices.Equal(notes, []string{wantNote}) {
		t.Errorf("with -list failing: servers %v, notes %q; want none and [%q]", servers, notes, wantNote)
	}
}

// Outside a Go module, or in one that is not this repository, the servers
// are not built and the note says why. (Catches the error dropped and the
// checks of GOMOD and of bench/echoserver loosened.)
func TestEchoBuildNeedsThisRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go env")
	}
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Chdir(t.TempDir())
	servers, notes := buildEchoServers(t.TempDir(), []string{"net"})
	if want := "echo: skipped: not inside a Go module: run from the loop repository"; len(servers) != 0 || !slices.Equal(notes, []string{want}) {
		t.Errorf("outside a module: servers %v, notes %q; want none and [%q]", servers, notes, want)
	}
	// measureEcho says it builds when a server needs building, which node
	// does not.
	withoutNode(t)
	for _, tc := range []struct {
		server string
		builds bool
	}{{"net", true}, {"node", false}} {
		var progress bytes.Buffer
		e := measureEcho(echoPlan{reps: 1, servers: []string{tc.server}}, &progress)
		if strings.Contains(progress.String(), "building the servers") != tc.builds || len(e.servers) != 0 || len(e.notes) != 1 {
			t.Errorf("%s: progress %q, notes %q; want building said %v", tc.server, progress.String(), e.notes, tc.builds)
		}
	}

	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "bench", "other"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(other)
	servers, notes = buildEchoServers(t.TempDir(), []string{"net"})
	if want := "echo: skipped: " + other + " has no bench/echoserver: run from the loop repository"; len(servers) != 0 || !slices.Equal(notes, []string{want}) {
		t.Errorf("in another module: servers %v, notes %q; want none and [%q]", servers, notes, want)
	}
}

// A failed build says what go build printed. (Catches the exit status alone.)
func TestGoBuildSaysWhatFailed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	err = goBuild(root, filepath.Join(t.TempDir(), "x"), "./bench/nonexistent")
	if err == nil || !strings.HasPrefix(err.Error(), "exit status 1: ") || !strings.Contains(err.Error(), "nonexistent") {
		t.Errorf("goBuild of a missing package: %v; want go build's message", err)
	}
}

// The watcher takes the first line that starts with "listening ", however
// the writes split it, trimmed; not a line that merely contains the word,
// and not a second one. (Catches a loose match, no trimming, partial lines
// dropped, and a second address sent.)
func TestLineWatcherTakesTheFirstListeningLine(t *testing.T) {
	w := &lineWatcher{listening: make(chan string, 1)}
	for _, s := range []string{"gnet: not listening yet\n", "config a b\nlisten", "ing 127.0.0.1:5 \r\n"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	select {
	case addr := <-w.listening:
		if addr != "127.0.0.1:5" {
			t.Errorf("address %q, want 127.0.0.1:5", addr)
		}
	default:
		t.Fatal("no address after the listening line")
	}
	if c := w.configLine(); c != "a b" {
		t.Errorf("config %q, want \"a b\"", c)
	}
	_, _ = w.Write([]byte("listening 127.0.0.1:6\n"))
	select {
	case addr := <-w.listening:
		t.Errorf("a second address sent: %q", addr)
	default:
	}
}

// firstLine says "no message" for an empty stderr, and cappedBuffer keeps
// the first max bytes while taking every write whole. (Catches the
// placeholder dropped and the cap not applied.)
func TestFirstLineAndCappedBuffer(t *testing.T) {
	if got := firstLine(" \n "); got != "no message" {
		t.Errorf("firstLine of blanks = %q", got)
	}
	b := &cappedBuffer{max: 4}
	for _, s := range []string{"ab", "cdef", "g"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Errorf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if b.String() != "abcd" {
		t.Errorf("kept %q, want abcd", b.String())
	}
}

// failures names the idle point by its connections and a point by C and S.
// (Catches the idle point told from the others by its connections.)
func TestFailuresNameTheirPoints(t *testing.T) {
	e := &echoResults{errs: map[echoKey]error{
		{"net", 10, 0}:    errors.New("a"),
		{"loop", 100, 64}: errors.New("b"),
	}}
	want := []string{"loop on echo at C=100, 64 B: b", "net on echo idle (10 connections): a"}
	if got := e.failures(); !slices.Equal(got, want) {
		t.Errorf("failures %q, want %q", got, want)
	}
}

// The servers run pinned to -server-cpus, and a note says when this
// process (the client) may run on any of those CPUs, and only then.
// (Catches the servers' cpus not set, and the note whatever the overlap.)
func TestEchoServersRunOnTheirCPUs(t *testing.T) {
	dir, _ := fakeBin(t, "net", map[string]string{"net": "fail"})
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset here")
	}
	allowed, err := parseCPUList(allowedCPUs())
	if err != nil || len(allowed) < 2 {
		t.Skipf("needs two CPUs this process may use: %v %v", allowed, err)
	}
	client, server := strconv.Itoa(allowed[0]), strconv.Itoa(allowed[1])
	for _, cpus := range []string{server, client} {
		got := subEcho(t, "exec taskset -c "+client, subEchoPlan{Idle: 4, BinDir: dir, CPUs: cpus})
		overlap := cpus == client
		if len(got.Errs) != 1 || len(got.Notes) != map[bool]int{false: 0, true: 1}[overlap] ||
			overlap && !strings.Contains(got.Notes[0], "may run on CPUs the servers are pinned to ("+client+")") {
			t.Errorf("client on CPU %s, servers on %s: %+v; want net run and a note only if they overlap", client, cpus, got)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "cpus"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(string(data)), []string{server, client}; !slices.Equal(got, want) {
		t.Errorf("the servers ran on CPUs %q, want %q", got, want)
	}
}

// The peers binary is built from the bench/peers module, as a command.
// Skipped where that module's dependencies cannot be had (CI's vet of
// bench/peers fetches them). (Catches the module's directory replaced by
// this one's, whose package builds as an archive.)
func TestEchoBuildsThePeersCommand(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the echo servers are run as on Linux (the workload reads /proc)")
	}
	if testing.Short() {
		t.Skip("builds bench/peers")
	}
	servers, notes := buildEchoServers(t.TempDir(), []string{"gnet"})
	if len(notes) == 1 && strings.Contains(notes[0], "cannot build the bench/peers module") {
		t.Skip(notes[0])
	}
	if len(servers) != 1 || len(notes) != 0 {
		t.Fatalf("servers %v, notes %q", servers, notes)
	}
	out, err := exec.Command(servers[0].bin, "-server", "bogus").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), `peers: unknown -server "bogus"`) {
		t.Errorf("%s -server bogus: %v: %q; want the peers command's refusal", servers[0].bin, err, out)
	}
}

// A server that takes a while to shut down on SIGTERM (here 0.2 s) is
// waited for, not killed, and its exit is no error. (Catches a stop that
// gives up after milliseconds.)
func TestStopWaitsForASlowShutdown(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the echo workload reads /proc")
	}
	bin := filepath.Join(t.TempDir(), "slow")
	script := "#!/bin/sh\ntrap 'sleep 0.2; kill $! ; exit 0' TERM\nsleep 30 >/dev/null 2>&1 &\necho 'listening 127.0.0.1:1'\nwait\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &echoServer{name: "slow", bin: bin}
	p, err := s.start()
	if err != nil {
		t.Fatal(err)
	}
	if p.addr != "127.0.0.1:1" {
		t.Errorf("address %q", p.addr)
	}
	if err := p.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}
