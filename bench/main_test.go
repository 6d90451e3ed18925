package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestQuickRunWritesTheReport(t *testing.T) {
	var out, progress bytes.Buffer
	dir := t.TempDir()
	args := []string{"-quick", "-workload", "callbacks,timers", "-systems", "variant,floor-ring,chan", "-out", dir}
	if err := run(args, &out, &progress); err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	report := out.String()
	for _, want := range []string{
		"# Loop scaling analysis", "## Key findings", "### Targets",
		"## Callback scheduling", "## Timer scheduling",
		"### balanced", "### floor-ring", "### chan",
		"### Speedup of balanced by scale", "| 1,000 |",
		"callbacks within 2.5x of a bare ring",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(report, "## Cross-goroutine posts") {
		t.Error("report has a workload that -workload left out")
	}
	if !strings.Contains(progress.String(), "done in") {
		t.Errorf("no progress on stderr: %q", progress.String())
	}
	saved, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !bytes.Contains(saved, []byte("## Key findings")) {
		t.Fatalf("report.md: %v", err)
	}
	for _, w := range []string{"callbacks", "timers"} {
		svg, err := os.ReadFile(filepath.Join(dir, w+".svg"))
		if err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Fatalf("%s.svg: %v", w, err)
		}
	}
}

func TestBadFlagsAreRejectedBeforeAnyWork(t *testing.T) {
	for _, args := range [][]string{
		{"-workload", "nope"},
		{"-systems", "nope"},
		{"-reps", "0"},
		{"extra"},
		{"-workload", "echo", "-server-cpus", "x"},
		{"-workload", "echo", "-server-cpus", "3-1"},
		{"-server-cpus", "0"}, // no echo workload to pin
		{"-echo-bin", "."},    // no echo workload to take servers for
	} {
		var out, progress bytes.Buffer
		if err := run(args, &out, &progress); err == nil {
			t.Errorf("%q: no error", args)
		}
		if out.Len() != 0 {
			t.Errorf("%q: wrote a report", args)
		}
	}
}

func TestMedianAndCount(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
	for n, want := range map[int]string{1: "1", 1000: "1,000", 1234567: "1,234,567", 100: "100"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestRunGuessWeighsRepeatedShortSpans: the progress estimate's guesses
// follow what a run costs here: a span shorter than minSpan is repeated, so
// 1,000 callbacks cost more than 100,000 (weighing by n made the first
// minutes of a two-minute run show an hour left); a Python run pays for
// its interpreter; and the guesses grow with n once a span fills minSpan.
func TestRunGuessWeighsRepeatedShortSpans(t *testing.T) {
	p := plans[0]
	if p.workload != WorkCallbacks {
		t.Fatalf("plans[0] is %s; want callbacks", p.workload)
	}
	if small, large := runGuess(p, "variant", 1_000), runGuess(p, "variant", 100_000); small <= large {
		t.Errorf("guess for 1,000 callbacks %.4fs <= for 100,000 %.4fs; want more (repeated to fill minSpan)", small, large)
	}
	if py := runGuess(p, "python", 1); py < 0.05 {
		t.Errorf("python guess %.4fs at N=1; want at least 0.05 s (an interpreter starts: about 60 ms here)", py)
	}
	if a, b := runGuess(p, "variant", 1_000_000), runGuess(p, "variant", 10_000_000); a >= b {
		t.Errorf("guess at 1M %.4fs >= at 10M %.4fs; want it to grow once a span fills minSpan", a, b)
	}
	for _, q := range plans {
		for _, n := range q.scales {
			for _, kind := range []string{"variant", "python"} {
				if g := runGuess(q, kind, n); !(g > 0) {
					t.Errorf("runGuess(%s, %s, %d) = %v; want > 0", q.workload, kind, n, g)
				}
			}
		}
	}
}

// TestScaleZeroTellsWhatASystemDoesWithoutWork pins the contract measureAll's
// estimate relies on: Run(w, 0) measures nothing and returns ErrUnsupported
// exactly for the workloads the system does not do. The variants checked the
// scale first, so every workload looked supported.
func TestScaleZeroTellsWhatASystemDoesWithoutWork(t *testing.T) {
	systems, _ := allSystems()
	script, err := loopbenchScript()
	if err != nil {
		t.Fatal(err)
	}
	pythons, _ := findPythons(pythonCandidates, script)
	for _, s := range systems {
		for _, w := range allWorkloads {
			r, err := s.Run(w, 0)
			if err == nil || r != (Result{}) {
				t.Errorf("%s %s at scale 0: result %+v, error %v; want no result and an error", s.Name, w, r, err)
				continue
			}
			said := !errors.Is(err, ErrUnsupported)
			var does bool
			switch {
			case supportedWorkloads[s.Name] != nil:
				does = slices.Contains(supportedWorkloads[s.Name], w)
			case s.Kind == "python":
				// The script's own answer, from a run at a small scale.
				i := slices.IndexFunc(pythons, func(p pythonInfo) bool { return s.Name != "uvloop" || p.UVLoop != nil })
				_, err := runLoopbench(pythons[i].Executable, script, s.Name, w, 10)
				does = !errors.Is(err, ErrUnsupported)
			default:
				_, err := s.Run(w, 100)
				does = !errors.Is(err, ErrUnsupported)
			}
			if said != does {
				t.Errorf("%s %s: scale 0 says supported %v, a real run %v", s.Name, w, said, does)
			}
		}
		if s.Close != nil {
			s.Close()
		}
	}
}

// A system that keeps its loop from span to span gets one untimed run
// before its repetitions at each scale also when the run has no warm-up
// round (-quick): its only repetition would otherwise make the loop, and a
// fresh loop would be reported as one kept from span to span.
func TestKeptSystemIsWarmedWithoutAWarmupRound(t *testing.T) {
	for _, warmup := range []bool{false, true} {
		runs := 0
		kept := System{Name: "fake-warm", Kind: "diagnostic", Close: func() {},
			Run: func(w string, n int) (Result, error) {
				if n > 0 {
					runs++
				}
				return Result{Ops: max(n, 1), Wall: 2 * minSpan}, nil
			}}
		o := options{reps: 1, warmup: warmup, quick: true, workloads: []string{WorkTimeouts}}
		res := measureAll(o, []System{kept}, io.Discard)
		scales := scalesFor(o, planOf(WorkTimeouts))
		if want := 2 * len(scales); runs != want {
			t.Errorf("warm-up round %v: %d runs, want %d (one untimed and one measured per scale)", warmup, runs, want)
		}
		for _, n := range scales {
			if got := len(res.runs[key{WorkTimeouts, kept.Name, n}]); got != 1 {
				t.Errorf("warm-up round %v: N=%d has %d measured repetitions, want 1", warmup, n, got)
			}
		}
	}
}

// The command's exit status: 2 and one line on stderr for bad input, 0
// and the usage alone for -h (as the flag package's own ExitOnError has
// it). -h exited 2 with "bench: flag: help requested" after the usage.
// The cases run main in a child process (this test binary, told by
// BENCH_TEST_MAIN_ARGS to be the command).
func TestTheExitStatusIsTwoForBadInputAndZeroForHelp(t *testing.T) {
	if args, ok := os.LookupEnv("BENCH_TEST_MAIN_ARGS"); ok {
		os.Args = append([]string{"bench"}, strings.Fields(args)...)
		main()
		return
	}
	for _, c := range []struct {
		args   string
		code   int
		stderr string
	}{
		{"-h", 0, "Usage of bench:"},
		{"-reps 0", 2, "bench: -reps 0: want at least 1\n"},
		{"-workload nope", 2, `bench: unknown workload "nope"`},
		{"-nope", 2, "flag provided but not defined: -nope"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTheExitStatusIsTwoForBadInputAndZeroForHelp$")
		cmd.Env = append(os.Environ(), "BENCH_TEST_MAIN_ARGS="+c.args)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := 0
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatal(err)
			}
			code = exit.ExitCode()
		}
		if code != c.code || !strings.Contains(stderr.String(), c.stderr) || strings.Contains(stdout.String(), "# Loop") {
			t.Errorf("bench %s: exit %d, stderr %q, stdout %q; want exit %d, %q on stderr, no report", c.args, code, stderr.String(), stdout.String(), c.code, c.stderr)
		}
		if c.code == 0 && strings.Contains(stderr.String(), "bench: ") {
			t.Errorf("bench %s: an error on stderr: %q", c.args, stderr.String())
		}
	}
}
