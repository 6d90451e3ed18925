package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// -systems server names every echo server, the peers too, also with -quick
// (which leaves the peers out only when -systems is not given).
func TestQuickWithTheServerKindKeepsThePeers(t *testing.T) {
	o := options{quick: true, systemsSet: true, systems: []string{echoKind}}
	if got := echoPlanFor(o).servers; !slices.Equal(got, echoServerNames) {
		t.Errorf("-quick -systems server: servers %v, want %v", got, echoServerNames)
	}
}

// The echo report's Command line reproduces the run: with -quick, servers
// other than -quick's default are named.
func TestEchoCommandNamesTheServersOfAQuickRun(t *testing.T) {
	o := options{quick: true, systemsSet: true, systems: []string{"loop", "gnet", "nbio"}}
	e := &echoResults{plan: echoPlanFor(o)}
	if cmd := e.command(); !strings.Contains(cmd, "-systems loop,gnet,nbio") {
		t.Errorf("command %q does not reproduce servers %v", cmd, e.plan.servers)
	}
	e = &echoResults{plan: echoPlanFor(options{quick: true})}
	if cmd := e.command(); strings.Contains(cmd, "-systems") {
		t.Errorf("command %q names the servers -quick runs anyway", cmd)
	}
}

// A run on prebuilt servers says so in its Command line and its method, for
// the full plan and the quick one.
func TestEchoReportNamesTheEchoBinDirectory(t *testing.T) {
	for _, quick := range []bool{false, true} {
		e := &echoResults{plan: echoPlanFor(options{quick: quick, echoBin: "/opt/echo"})}
		if cmd := e.command(); !strings.Contains(cmd, " -echo-bin /opt/echo") {
			t.Errorf("quick %v: command %q does not name -echo-bin", quick, cmd)
		}
		var method strings.Builder
		e.method(&method)
		if !strings.Contains(method.String(), "taken from /opt/echo (-echo-bin)") || strings.Contains(method.String(), "when the bench starts") {
			t.Errorf("quick %v: method does not say where the servers came from:\n%s", quick, method.String())
		}
	}
}

// A -systems choice with no system for the chosen workloads is an error,
// not a report that says nothing was measured.
func TestSystemsThatRunNoneOfTheWorkloadsAreAnError(t *testing.T) {
	for _, args := range [][]string{
		{"-workload", "timers", "-systems", "gnet"},
		{"-systems", "loop"},
		// chan is a system of this run, but runs no timers: the run measured
		// nothing and exited 0.
		{"-quick", "-workload", "timers", "-systems", "chan"},
	} {
		var out, progress bytes.Buffer
		if err := run(args, &out, &progress); err == nil || !strings.Contains(err.Error(), "none of these runs") {
			t.Errorf("%q: error %v; want one that says no chosen system runs the workloads", args, err)
		}
	}
	// The echo workload named with no echo server among the systems.
	var out, progress bytes.Buffer
	if err := run([]string{"-quick", "-workload", "echo", "-systems", "chan"}, &out, &progress); err == nil || !strings.Contains(err.Error(), "none of these is an echo server") {
		t.Errorf("-workload echo -systems chan: error %v; want one that says no echo server was chosen", err)
	}
}

// TestAskingForAMissingPythonPeerSaysWhyItIsMissing: on a machine without
// Python (or uvloop), -systems asyncio said "unknown system".
func TestAskingForAMissingPythonPeerSaysWhyItIsMissing(t *testing.T) {
	saved := pythonCandidates
	pythonCandidates = []string{"/nonexistent/python3"}
	defer func() { pythonCandidates = saved }()
	for _, sel := range []string{"asyncio", "uvloop", "python", "balanced,uvloop"} {
		var out, progress bytes.Buffer
		err := run([]string{"-quick", "-workload", "callbacks", "-systems", sel}, &out, &progress)
		if err == nil || !strings.Contains(err.Error(), "no Python 3 found") {
			t.Errorf("-systems %s without Python: error %v; want one that says no Python 3 was found", sel, err)
		}
	}
	// Without -systems a machine without Python runs the rest, and says so in
	// a note (the README's command must not fail for want of Python).
	var out, progress bytes.Buffer
	if err := run([]string{"-quick", "-workload", "callbacks"}, &out, &progress); err != nil {
		t.Errorf("a run without -systems on a machine without Python: %v", err)
	} else if !strings.Contains(out.String(), "asyncio: skipped: no Python 3 found") {
		t.Errorf("a run without Python does not say why asyncio is missing:\n%s", out.String())
	}
	if err := missingPeers([]string{"uvloop"}, []System{{Name: "asyncio", Kind: "python"}}, []string{"uvloop: skipped: no Python 3 with uvloop found"}); err == nil || !strings.Contains(err.Error(), "with uvloop") {
		t.Errorf("uvloop asked for where only asyncio is here: error %v; want the note on uvloop", err)
	}
	for _, sel := range []string{"asyncio", "python"} {
		if err := missingPeers([]string{sel}, []System{{Name: "asyncio", Kind: "python"}}, []string{"uvloop: skipped: no Python 3 with uvloop found"}); err != nil {
			t.Errorf("-systems %s with asyncio here and uvloop not: error %v; the kind runs what there is", sel, err)
		}
	}
}

// -quick does not hide a bad -reps, nor quietly replace one.
func TestQuickRefusesReps(t *testing.T) {
	for _, reps := range []string{"0", "5"} {
		var out, progress bytes.Buffer
		if err := run([]string{"-quick", "-reps", reps, "-workload", "callbacks", "-systems", "floor-ring"}, &out, &progress); err == nil {
			t.Errorf("-quick -reps %s: no error", reps)
		}
	}
}

// The "fastest variant here" line compares the best variant with the default
// at one scale, the one the choice was made at, even when the default lacks a
// larger one (it printed each at its own last scale: a "fastest" variant 8x
// slower than the default).
func TestFastestVariantLineComparesOneScale(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced": {10_000: 6}, // no 1M run
		"latency":  {10_000: 5, 1_000_000: 50},
	}, map[key]error{})
	i := strings.Index(out, "fastest variant here")
	if i < 0 {
		t.Fatal("no fastest-variant line")
	}
	line := out[i : i+strings.Index(out[i:], "\n")]
	if !strings.Contains(line, "at N=10,000") {
		t.Errorf("not at the scale both ran: %q", line)
	}
}

// A system whose run failed at a scale is missing from the tables, speedups
// and targets at that scale, as Key findings says: the repetitions it made
// before failing were kept, and summarized as if nothing had happened.
func TestAFailedRunLeavesItsScaleOutOfTheTables(t *testing.T) {
	out := syntheticReport(t, WorkCallbacks, map[string]map[int]float64{
		"balanced": {10_000: 6},
		"chan":     {10_000: 30}, // repetitions made before it failed
	}, map[key]error{
		{WorkCallbacks, "chan", 10_000}: errors.New("did not finish"),
	})
	if !strings.Contains(out, "chan on callbacks at N=10,000: did not finish") {
		t.Fatalf("the failure is not reported:\n%s", out)
	}
	if strings.Contains(out, "### chan") || strings.Contains(out, "| callbacks ≥4x a chan func() loop | 5.0–5.0x | met |") {
		t.Errorf("the failed system is tabulated and judged:\n%s", out)
	}
}

// An -out directory that cannot be written fails the run before it
// measures anything: it used to fail after the whole run (minutes under
// -full), with the report on stdout and no file.
func TestAnUnwritableOutFailsBeforeMeasuring(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, progress bytes.Buffer
	err := run([]string{"-quick", "-workload", "callbacks", "-systems", "floor-ring", "-out", filepath.Join(file, "dir")}, &out, &progress)
	if err == nil || !strings.Contains(err.Error(), "-out") {
		t.Errorf("-out under a regular file: err %v, want one naming -out", err)
	}
	if out.Len() != 0 || strings.Contains(progress.String(), "done in") {
		t.Errorf("the run measured before failing:\nstdout %q\nstderr %q", out.String(), progress.String())
	}
}

// Under -quick no system has a peak heap, the kept loop included, whose
// untimed run (made so that its one repetition finds its loop made) is no
// warm-up round: the Method says the column is – without one.
func TestQuickShowsNoPeakHeap(t *testing.T) {
	var out, progress bytes.Buffer
	if err := run([]string{"-quick", "-workload", "callbacks", "-systems", "balanced-warm"}, &out, &progress); err != nil {
		t.Fatal(err)
	}
	table := out.String()[strings.Index(out.String(), "### balanced-warm"):]
	table = table[:strings.Index(table, "\n\n#")]
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| 1,000 ") || strings.HasPrefix(line, "| 5,000 ") {
			rows++
			if !strings.HasSuffix(line, "| – |") {
				t.Errorf("a -quick row with a peak heap: %s", line)
			}
		}
	}
	if rows != 2 {
		t.Errorf("%d rows at N=1,000 and 5,000 in:\n%s", rows, table)
	}
}

// -quick and -full ask for opposite runs (one repetition and the smallest
// scales; fifteen repetitions and every scale): -quick won without a word,
// and the report said -quick while -full was dropped.
func TestQuickRefusesFull(t *testing.T) {
	var out, progress bytes.Buffer
	err := run([]string{"-quick", "-full", "-workload", "callbacks", "-systems", "floor-ring"}, &out, &progress)
	if err == nil || !strings.Contains(err.Error(), "-full") {
		t.Errorf("-quick -full: err %v, want one naming -full", err)
	}
	if out.Len() != 0 {
		t.Errorf("-quick -full wrote a report")
	}
}
