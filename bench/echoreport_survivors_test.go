package main

// Tests for the mutants of echoreport.go that the rest of the suite let
// through: each names the mistake it guards against. They build on
// syntheticEcho (one repetition per server at C=100, 64 B).

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// withRepetition adds a repetition of server at C=100, 64 B to e, like its
// first but with cpu µs per request and p99 µs.
func withRepetition(e *echoResults, server string, cpu, p99 float64) {
	k := echoKey{server, 100, 64}
	r := e.runs[k][0]
	r.serverCPU = time.Duration(cpu * float64(r.requests) * float64(time.Microsecond))
	r.p99 = time.Duration(p99 * float64(time.Microsecond))
	r.p50 = r.p99 / 2
	e.runs[k] = append(e.runs[k], r)
}

// echoReport is e's report.
func echoReport(e *echoResults) string {
	var b bytes.Buffer
	e.write(&b)
	return b.String()
}

// A ratio of exactly 0.1 reads 0.10, and one of 0.05 reads 0.050, not 0.05:
// three decimals start below 0.1, as ratioText says, not at it or lower.
func TestRatioTextGivesThreeDecimalsJustBelowOneTenth(t *testing.T) {
	for _, tc := range []struct {
		a, b float64
		want string
	}{{1, 10, "0.10"}, {5, 100, "0.050"}, {3, 2, "1.50"}} {
		if got := ratioText(tc.a, tc.b); got != tc.want {
			t.Errorf("ratioText(%v, %v) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

// Where loop's config line does not say how many loops it ran, the node
// section says GOMAXPROCS, not a number it made up.
func TestLoopBesideNodeSaysGOMAXPROCSWithoutAGroupLine(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6, "node": 10},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200, "node": 50},
		map[string]float64{"loop": 250, "node": 2000})
	wantIn(t, echoReport(e), "node runs one event loop, loop GOMAXPROCS.\n")
}

// Ranges that touch overlap: loop's 5–6 µs against nbio's 6 shares 6, at
// either end of loop's range. (Catches < for <= in overlap, either side.)
func TestRangesThatTouchOverlap(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250})
	withRepetition(e, "loop", 6, 100)
	wantIn(t, echoReport(e),
		"| server CPU per request at C=100, 64 B below the best of gnet and nbio | 5.50 µs | 6.00 µs (nbio) | 0.92 | met (ranges overlap) |")

	e = syntheticEcho(
		map[string]float64{"loop": 7, "gnet": 8, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250})
	withRepetition(e, "loop", 6, 100)
	wantIn(t, echoReport(e),
		"| server CPU per request at C=100, 64 B below the best of gnet and nbio | 6.50 µs | 6.00 µs (nbio) | 1.08 | **missed** (ranges overlap) |")
}

// Loop's range (6.5–7.5 µs) is above nbio's median (6) but within nbio's
// range (5–7): the miss is within the noise, and the verdict must say so.
// (Catches overlap held against the peer's median or its range upside
// down.)
func TestOverlapIsWithThePeersRangeNotItsMedian(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 6.5, "gnet": 8, "nbio": 5},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250})
	withRepetition(e, "loop", 7.5, 100)
	withRepetition(e, "nbio", 7, 200)
	wantIn(t, echoReport(e),
		"| server CPU per request at C=100, 64 B below the best of gnet and nbio | 7.00 µs | 6.00 µs (nbio) | 1.17 | **missed** (ranges overlap) |")
}

// p99's ranges are over the repetitions too: loop's 100–240 µs takes in
// nbio's 200. (Catches the p99 range upside down, or cut to the median.)
func TestP99RangesOverlapOverTheRepetitions(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250})
	withRepetition(e, "loop", 5, 240)
	wantIn(t, echoReport(e),
		"| p99 at C=100, 64 B no worse than the better of gnet and nbio | 170 µs | 200 µs (nbio) | 0.85 | met (ranges overlap) |")
}

// The CPU goal is "below" the best peer, p99's "no worse than": at a tie
// the first is missed and the second met.
func TestATieWithTheBestPeerMissesCPUAndMeetsP99(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 6, "gnet": 7, "nbio": 6},
		map[string]float64{"loop": 200, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250})
	wantIn(t, echoReport(e),
		"| server CPU per request at C=100, 64 B below the best of gnet and nbio | 6.00 µs | 6.00 µs (nbio) | 1.00 | **missed** (ranges overlap) |",
		"| p99 at C=100, 64 B no worse than the better of gnet and nbio | 200 µs | 200 µs (nbio) | 1.00 | met (ranges overlap) |")
}

// Where gnet and nbio tie, the report names the first in report order,
// gnet, so that the same figures always read the same.
func TestATieBetweenThePeersNamesTheFirst(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 6, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 200, "nbio": 200},
		map[string]float64{"loop": 250})
	wantIn(t, echoReport(e),
		"| server CPU per request at C=100, 64 B below the best of gnet and nbio | 5.00 µs | 6.00 µs (gnet) | 0.83 | met |",
		"| p99 at C=100, 64 B no worse than the better of gnet and nbio | 100 µs | 200 µs (gnet) | 0.50 | met |")
}

// atEveryPoint sets e's plan to conns × sizes and gives every server there
// the repetitions it has at C=100, 64 B.
func atEveryPoint(e *echoResults, conns, sizes []int) {
	e.plan.conns, e.plan.sizes = conns, sizes
	for _, s := range e.servers {
		rs := e.runs[echoKey{s.name, 100, 64}]
		for _, size := range sizes {
			for _, c := range conns {
				e.runs[echoKey{s.name, c, size}] = rs
			}
		}
	}
}

// The CPU goal is at C=100 and C=1,000, not at C=1; p99's is at every point.
func TestTheCPUGoalsAreAtOneHundredAndOneThousandConnections(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250})
	atEveryPoint(e, []int{1, 100, 1000}, []int{64})
	out := echoReport(e)
	for _, c := range []string{"100", "1,000"} {
		wantIn(t, out, "| server CPU per request at C="+c+", 64 B below the best of gnet and nbio | 5.00 µs | 6.00 µs (nbio) | 0.83 | met |")
	}
	for _, c := range []string{"1", "100", "1,000"} {
		wantIn(t, out, "| p99 at C="+c+", 64 B no worse than the better of gnet and nbio | 100 µs | 200 µs (nbio) | 0.50 | met |")
	}
	if strings.Contains(out, "server CPU per request at C=1, ") {
		t.Errorf("a CPU goal at C=1:\n%s", out)
	}
}

// The Run line lists C and S as they were run, each in its own words.
// (Catches the two lists swapped, or joined without their spaces.)
func TestTheRunLineListsTheConnectionsAndSizes(t *testing.T) {
	e := syntheticEcho(map[string]float64{"loop": 5}, map[string]float64{"loop": 100}, map[string]float64{"loop": 250})
	atEveryPoint(e, []int{1, 100, 1000}, []int{64, 4096})
	wantIn(t, echoReport(e), "; C = 1, 100, 1,000; S = 64 B, 4 KiB; idle point 1,000 connections; ")
}

// The idle goal is "at most 300 B": 300 meets it, and a median under 300
// meets it even if a repetition went over, with the ranges overlapping.
func TestTheIdleGoalIsAtMostItsBytesByTheMedian(t *testing.T) {
	e := syntheticEcho(map[string]float64{"loop": 5}, map[string]float64{"loop": 100}, map[string]float64{"loop": 300})
	wantIn(t, echoReport(e), "| at most 300 B of server memory per idle connection | 300 B | 300 B | 1.00 | met (ranges overlap) |")

	e.idle["loop"] = []idleRun{
		{conns: 1000, before: 1 << 20, after: 1<<20 + 250_000},
		{conns: 1000, before: 1 << 20, after: 1<<20 + 350_000},
		{conns: 1000, before: 1 << 20, after: 1<<20 + 280_000},
	}
	wantIn(t, echoReport(e),
		"| at most 300 B of server memory per idle connection | 280 B | 300 B | 0.93 | met (ranges overlap) |",
		// The idle table's range runs from the least to the most.
		"| 280 | 250–350 |")
}

// Without an idle point (idle 0) nothing in the report speaks of idle
// memory: no goal, no table, no line beside node.
func TestWithoutAnIdlePointTheReportHasNoIdleMemory(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6, "node": 10},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200, "node": 50},
		nil)
	e.plan.idle, e.idle = 0, map[string][]idleRun{}
	out := echoReport(e)
	for _, no := range []string{"per idle connection", "Memory per idle"} {
		if strings.Contains(out, no) {
			t.Errorf("without an idle point, the report has %q:\n%s", no, out)
		}
	}
}

// Beside node, each ratio is loop's over node's: at half node's req/s and
// node's memory unmeasured it says so, and loop's bytes are rounded, not
// cut.
func TestLoopBesideNodeTakesLoopOverNode(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6, "node": 10},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200, "node": 50},
		map[string]float64{"loop": 249.6, "node": 2000})
	e.runs[echoKey{"node", 100, 64}][0].wall = 2 * time.Second
	wantIn(t, echoReport(e),
		"| C=100, 64 B | 100,000 ÷ 50,000 = 2.00 | 5.00 ÷ 10.00 = 0.50 | 100.0 ÷ 50.0 = 2.00 |",
		"Memory per idle connection (1,000 connections): loop 250 B, node 2,000 B; loop ÷ node 0.12.")

	delete(e.idle, "node")
	wantIn(t, echoReport(e), "\nMemory per idle connection: not measured on both.\n")
}

// Node's paragraph in the server notes is there only where node ran.
func TestTheNodeNoteOnlyWhereNodeRan(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250})
	if out := echoReport(e); strings.Contains(out, "node is one process") {
		t.Errorf("a run without node has its note:\n%s", out)
	}
}

// The opening says whether the servers ran pinned, and to which CPUs.
func TestTheEchoReportSaysWhetherTheServersWerePinned(t *testing.T) {
	e := syntheticEcho(map[string]float64{"loop": 5}, map[string]float64{"loop": 100}, map[string]float64{"loop": 250})
	out := echoReport(e)
	if !strings.Contains(out, "Client and server share this machine's") || strings.Contains(out, "pinned") {
		t.Errorf("an unpinned run does not say it shares the CPUs:\n%s", out)
	}
	e.plan.cpus = "1"
	wantIn(t, echoReport(e), "The servers run pinned to CPUs 1 (taskset")
}

// The Command line is the command that reproduces the run, exactly: -quick
// without -reps (which it rejects), -reps only where given, and
// -server-cpus under taskset with the bench's own CPUs.
func TestTheEchoCommandReproducesTheRun(t *testing.T) {
	pinned := "go run ./bench -workload echo -reps 7 -server-cpus 1"
	if c := allowedCPUs(); c != "" {
		pinned = "taskset -c " + c + " " + pinned
	}
	for _, tc := range []struct {
		o    options
		want string
	}{
		{options{}, "go run ./bench -workload echo"},
		{options{quick: true}, "go run ./bench -workload echo -quick"},
		{options{repsSet: true, reps: 7, serverCPUs: "1"}, pinned},
	} {
		e := &echoResults{plan: echoPlanFor(tc.o)}
		if got := e.command(); got != tc.want {
			t.Errorf("%+v: command %q, want %q", tc.o, got, tc.want)
		}
	}
}
