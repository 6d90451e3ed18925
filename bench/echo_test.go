package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStatTicksAddsUtimeAndStime(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 1234 and 56 in each line.
	rest := " S 1 2 3 4 5 6 7 8 9 10 1234 56 0 0 20 0 4 0 100 200 300"
	for _, tc := range []struct {
		name, stat string
		want       uint64
		err        string
	}{
		{"plain name", "4242 (echoserver)" + rest, 1290, ""},
		{"name with spaces and parentheses", "4242 (a (b) c)" + rest, 1290, ""},
		{"no closing parenthesis", "4242 (echoserver" + rest, 0, "no ')'"},
		{"line cut short", "4242 (echoserver) S 1 2 3 4 5 6 7 8 9 10 1234", 0, "fields after the command name"},
		{"utime not a number", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 x 56 0", 0, "utime"},
		{"stime not a number", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 1 -5 0", 0, "stime"},
	} {
		got, err := parseStatTicks([]byte(tc.stat))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.err)
		case got != tc.want:
			t.Errorf("%s: %d ticks, want %d", tc.name, got, tc.want)
		}
	}
}

func TestParseVmRSSReadsKilobytes(t *testing.T) {
	status := "Name:\techoserver\nVmPeak:\t  9999 kB\nVmRSS:\t    5120 kB\nRssAnon:\t 100 kB\n"
	if got, err := parseVmRSS([]byte(status)); err != nil || got != 5120<<10 {
		t.Errorf("parseVmRSS = %d, %v; want %d", got, err, 5120<<10)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t5120 MB\n", "VmRSS:\tmany kB\n"} {
		if _, err := parseVmRSS([]byte(bad)); err == nil {
			t.Errorf("parseVmRSS(%q): no error", bad)
		}
	}
}

func TestProcReadsThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	rss, err := procRSS(os.Getpid())
	if err != nil || rss == 0 {
		t.Fatalf("procRSS = %d, %v", rss, err)
	}
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the CPU time moves by a tick; on a busy machine that may
	// take more than a tick of wall time.
	after := before
	for end := time.Now().Add(2 * time.Second); after == before && time.Now().Before(end); {
		if after, err = procCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after < before+clockTick {
		t.Errorf("2 s of spinning moved CPU time from %v to %v", before, after)
	}
}

func TestLatHistBucketsAreContiguousAndNarrow(t *testing.T) {
	last := -1
	for _, v := range []time.Duration{0, 1, 127, 128, 129, 255, 256, 1000, 4095, 4096, 5 * time.Microsecond, 37 * time.Microsecond, time.Millisecond, time.Second, 60 * time.Second} {
		b := latBucket(v)
		if b < last {
			t.Errorf("bucket of %v is %d, below the %d of a smaller value", v, b, last)
		}
		last = b
		mid := latValue(b)
		if diff := float64(mid-v) / float64(max(v, 1)); diff > 1.0/128 || diff < -1.0/128 {
			t.Errorf("%v reads back as %v (%.2f%% off)", v, mid, 100*diff)
		}
	}
	for v := time.Duration(0); v < 1<<14; v++ {
		if b, n := latBucket(v), latBucket(v+1); n != b && n != b+1 {
			t.Fatalf("values %v and %v are in buckets %d and %d: a gap", v, v+1, b, n)
		}
	}
	if b := latBucket(time.Hour); b >= latBuckets {
		t.Errorf("an hour falls in bucket %d of %d", b, latBuckets)
	}
}

func TestLatHistQuantilesAreNearestRank(t *testing.T) {
	var a, b latHist
	if a.quantile(0.5) != 0 {
		t.Error("an empty histogram has a median")
	}
	// 1..1000 µs, split between two histograms that are then merged.
	for i := 1; i <= 1000; i++ {
		h := &a
		if i%2 == 0 {
			h = &b
		}
		h.record(time.Duration(i) * time.Microsecond)
	}
	a.merge(&b)
	if a.n != 1000 {
		t.Fatalf("merged n = %d", a.n)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}, {0, time.Microsecond}} {
		got := a.quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff > 0.01 || diff < -0.01 {
			t.Errorf("quantile(%v) = %v, want %v within 1%%", tc.q, got, tc.want)
		}
	}
}

func TestEchoPlanPicksServers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     options
		wants []string
	}{
		{"default: all", options{}, echoServerNames},
		{"quick: ours only", options{quick: true}, []string{"loop", "net"}},
		{"named, in report order", options{systemsSet: true, systems: []string{"nbio", "net"}}, []string{"net", "nbio"}},
		{"the server kind", options{systemsSet: true, systems: []string{echoKind}}, echoServerNames},
		{"loop systems only", options{systemsSet: true, systems: []string{"balanced"}}, nil},
	} {
		if got := echoPlanFor(tc.o).servers; !slices.Equal(got, tc.wants) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.wants)
		}
	}
	if p := echoPlanFor(options{repsSet: true, reps: 7}); p.reps != 7 || p.defaultN {
		t.Errorf("-reps 7: %d repetitions", p.reps)
	}
	if p := echoPlanFor(options{reps: 15}); p.reps != echoDefaultReps {
		t.Errorf("without -reps: %d repetitions, want %d", p.reps, echoDefaultReps)
	}
}

// syntheticEcho is echo results with one repetition per server at C=100,
// 64 B: cpu µs per request and p99 µs each, and idle bytes per connection.
func syntheticEcho(cpu, p99, idle map[string]float64) *echoResults {
	e := &echoResults{
		plan: echoPlan{conns: []int{100}, sizes: []int{64}, reps: 1, idle: 1000},
		runs: map[echoKey][]echoRun{}, idle: map[string][]idleRun{}, errs: map[echoKey]error{},
	}
	for _, name := range echoServerNames {
		c, ok := cpu[name]
		if !ok {
			continue
		}
		e.servers = append(e.servers, &echoServer{name: name, config: name + " config"})
		e.runs[echoKey{name, 100, 64}] = []echoRun{{
			requests: 100_000, wall: time.Second,
			serverCPU: time.Duration(c * 100_000 * float64(time.Microsecond)),
			p50:       time.Duration(p99[name]/2) * time.Microsecond, p99: time.Duration(p99[name]) * time.Microsecond,
		}}
		e.idle[name] = []idleRun{{conns: 1000, before: 1 << 20, after: 1<<20 + uint64(idle[name]*1000)}}
	}
	return e
}

func TestEchoTargetsAreComputedFromTheData(t *testing.T) {
	for _, tc := range []struct {
		name           string
		cpu, p99, idle map[string]float64
		want           []string
	}{
		{"loop ahead",
			map[string]float64{"loop": 5, "gnet": 7, "nbio": 6},
			map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
			map[string]float64{"loop": 250, "gnet": 500, "nbio": 600},
			[]string{"| server CPU per request at C=100, 64 B below the best of gnet and nbio | 5.00 µs | 6.00 µs (nbio) | 0.83 | met |",
				"| p99 at C=100, 64 B no worse than the better of gnet and nbio | 100 µs | 200 µs (nbio) | 0.50 | met |",
				"| at most 300 B of server memory per idle connection | 250 B | 300 B | 0.83 | met |"}},
		{"loop behind",
			map[string]float64{"loop": 8, "gnet": 7, "nbio": 9},
			map[string]float64{"loop": 400, "gnet": 300, "nbio": 200},
			map[string]float64{"loop": 301},
			[]string{"| server CPU per request at C=100, 64 B below the best of gnet and nbio | 8.00 µs | 7.00 µs (gnet) | 1.14 | **missed** |",
				"| p99 at C=100, 64 B no worse than the better of gnet and nbio | 400 µs | 200 µs (nbio) | 2.00 | **missed** |",
				"| at most 300 B of server memory per idle connection | 301 B | 300 B | 1.00 | **missed** |"}},
		{"no peers",
			map[string]float64{"loop": 5, "net": 7},
			map[string]float64{"loop": 100, "net": 300},
			map[string]float64{"loop": 250, "net": 4000},
			[]string{"| server CPU per request at C=100, 64 B below the best of gnet and nbio | not measured (neither gnet nor nbio measured) |"}},
		{"no loop",
			map[string]float64{"net": 7, "gnet": 6},
			map[string]float64{"net": 300, "gnet": 200},
			map[string]float64{"net": 4000, "gnet": 500},
			[]string{"| at most 300 B of server memory per idle connection | not measured (loop not measured) |"}},
	} {
		var b bytes.Buffer
		syntheticEcho(tc.cpu, tc.p99, tc.idle).write(&b)
		for _, want := range tc.want {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s: report lacks %q:\n%s", tc.name, want, b.String())
			}
		}
	}
}

// TestEchoTinyMatrixAgainstOurServers builds bench/echoserver and runs a
// tiny matrix against its servers: every point must be measured and sane.
func TestEchoTinyMatrixAgainstOurServers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the echo workload reads /proc")
	}
	if testing.Short() {
		t.Skip("builds and runs servers")
	}
	p := echoPlan{
		conns: []int{1, 10}, sizes: []int{64},
		warmup: 50 * time.Millisecond, span: 250 * time.Millisecond,
		reps: 1, idle: 100, servers: []string{"loop", "net"}, quick: true,
	}
	var progress bytes.Buffer
	e := measureEcho(p, &progress)
	if failed := e.failures(); len(failed) > 0 {
		t.Fatalf("failures: %v\n%s", failed, progress.String())
	}
	var ran []string
	for _, s := range e.servers {
		ran = append(ran, s.name)
		if s.config == "" {
			t.Errorf("%s printed no config line", s.name)
		}
	}
	if !slices.Contains(ran, "net") {
		t.Fatalf("net did not run; notes: %v", e.notes)
	}
	if !slices.Contains(ran, "loop") {
		t.Logf("loop did not run: %v", e.notes)
	}
	for _, name := range ran {
		var cpu time.Duration
		for _, conns := range p.conns {
			rs := e.runs[echoKey{name, conns, 64}]
			if len(rs) != 1 {
				t.Fatalf("%s at C=%d: %d runs", name, conns, len(rs))
			}
			r := rs[0]
			if r.requests <= 0 || r.p50 <= 0 || r.p50 > r.p99 || r.p99 > 5*time.Second || r.wall < p.span {
				t.Errorf("%s at C=%d: implausible %+v", name, conns, r)
			}
			cpu += r.serverCPU
		}
		// Ticks are 10 ms: one point alone may show none.
		if cpu <= 0 {
			t.Errorf("%s: no server CPU over %d points", name, len(p.conns))
		}
		idle := e.idle[name]
		if len(idle) != 1 || idle[0].before == 0 || idle[0].after == 0 {
			t.Errorf("%s: idle %+v", name, idle)
		}
	}
	var b bytes.Buffer
	e.write(&b)
	for _, want := range []string{"## Echo over TCP loopback", "### C=10, 64 B", "| net | ", "### Memory per idle connection (100 connections)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestEchoRunsOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		list string
		o    options
		echo bool
	}{
		{"", options{}, false},
		{"", options{full: true}, true},
		{"", options{quick: true}, true},
		{"echo", options{}, true},
		{"timers", options{full: true}, false},
	} {
		got, err := pickWorkloads(tc.list, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(got, WorkEcho) != tc.echo {
			t.Errorf("-workload %q, full %v, quick %v: %v", tc.list, tc.o.full, tc.o.quick, got)
		}
	}
}

func TestEchoWithNoServerSelectedSaysSo(t *testing.T) {
	var out, progress bytes.Buffer
	// Named in -workload, echo without a server is an error (see
	// TestSystemsThatRunNoneOfTheWorkloadsAreAnError); added by -quick, its
	// section says why it is empty.
	if err := run([]string{"-workload", "echo", "-systems", "balanced"}, &out, &progress); err == nil {
		t.Fatal("-workload echo -systems balanced: no error")
	}
	out.Reset()
	if err := run([]string{"-quick", "-systems", "chan"}, &out, &progress); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Echo over TCP loopback", "echo: no server selected"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// An echo-only report has no findings of the other workloads.
	o := options{workloads: []string{WorkEcho}}
	rep := newReport(o, nil, nil, results{runs: map[key][]Result{}, errs: map[key]error{}, ranFor: map[string][]int{}})
	rep.echo = measureEcho(echoPlan{}, io.Discard)
	out.Reset()
	if err := rep.write(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "echo: no server selected") || strings.Contains(out.String(), "## Key findings") {
		t.Errorf("an echo-only report lacks its note or has the other workloads' findings:\n%s", out.String())
	}
}

func TestBuildErrorSkipsDownloadLines(t *testing.T) {
	stderr := "go: downloading github.com/lesismal/nbio v1.6.8\ngo: downloading go.uber.org/zap v1.27.0\nmain.go:24:2: module lookup disabled by GOPROXY=off\nmore\n"
	if got := buildError(stderr); got != "main.go:24:2: module lookup disabled by GOPROXY=off" {
		t.Errorf("buildError = %q", got)
	}
	if got := buildError("go: downloading x v1\n"); got != "go: downloading x v1" {
		t.Errorf("only download lines: %q", got)
	}
}

func TestEchoTargetsSayWhenRangesOverlap(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250})
	// A second, slower repetition of loop: median 5.75 µs, range 5–6.5,
	// which takes in nbio's 6.
	k := echoKey{"loop", 100, 64}
	slow := e.runs[k][0]
	slow.serverCPU = time.Duration(6.5 * 100_000 * float64(time.Microsecond))
	e.runs[k] = append(e.runs[k], slow)
	var b bytes.Buffer
	e.write(&b)
	want := "| server CPU per request at C=100, 64 B below the best of gnet and nbio | 5.75 µs | 6.00 µs (nbio) | 0.96 | met (ranges overlap) |"
	if !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
	if !strings.Contains(b.String(), "| p99 at C=100, 64 B no worse than the better of gnet and nbio | 100 µs | 200 µs (nbio) | 0.50 | met |") {
		t.Errorf("p99, whose ranges do not overlap, is marked:\n%s", b.String())
	}
}

// TestEchoBinTakesTheServersFromItsDirectory builds bench/echoserver into
// a directory as the -echo-bin hint says, and checks that the servers it
// holds are taken from there while a missing binary leaves its servers out
// with a note saying how to build it.
func TestEchoBinTakesTheServersFromItsDirectory(t *testing.T) {
	dir := filepath.Dir(echoServerBinary(t))
	servers, notes := prebuiltEchoServers(dir, []string{"net", "gnet", "nbio"})
	if len(servers) != 1 || servers[0].name != "net" || servers[0].bin != filepath.Join(dir, "echoserver") {
		t.Fatalf("servers %+v, want net from %s", servers, dir)
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "gnet, nbio: skipped: -echo-bin: ") || !strings.Contains(notes[0], echoBinHint) {
		t.Errorf("notes %q, want one saying gnet and nbio have no binary and how to build it", notes)
	}

	// "-echo-bin ." names the working directory, not $PATH.
	t.Chdir(dir)
	if servers, notes := prebuiltEchoServers(".", []string{"net"}); len(servers) != 1 || servers[0].bin != filepath.Join(dir, "echoserver") {
		t.Errorf("-echo-bin . from %s: servers %+v, notes %q; want net from %s", dir, servers, notes, filepath.Join(dir, "echoserver"))
	}

	// measureEcho takes them from -echo-bin rather than building: from an
	// empty directory, nothing runs and the note says why.
	p := echoPlan{conns: []int{1}, sizes: []int{64}, span: time.Millisecond, reps: 1, servers: []string{"net"}, binDir: t.TempDir()}
	var progress bytes.Buffer
	e := measureEcho(p, &progress)
	if len(e.servers) != 0 || len(e.notes) != 1 || !strings.Contains(e.notes[0], "net: skipped: -echo-bin: ") {
		t.Errorf("from an empty -echo-bin: servers %v, notes %q", e.servers, e.notes)
	}
	if strings.Contains(progress.String(), "building") {
		t.Errorf("built servers despite -echo-bin: %s", progress.String())
	}
}

// A repetition that fails drops the point's earlier repetitions: the report
// says a failed point is missing from the tables, and a server must not be
// judged on the repetitions that happened to succeed. A peer missing at a
// point is named in the targets it would have counted in.
func TestAFailedRepetitionDropsItsPoint(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250, "gnet": 500, "nbio": 600})
	k := echoKey{"loop", 100, 64}
	e.record(k, e.runs[k][0], nil) // a second repetition went well
	e.record(k, echoRun{}, errors.New("EOF"))
	delete(e.runs, echoKey{"gnet", 100, 64})
	e.errs[echoKey{"gnet", 100, 64}] = errors.New("reset")
	e.recordIdle(echoKey{"nbio", 1000, 0}, idleRun{}, errors.New("refused"))
	if got := len(e.runs[k]); got != 0 {
		t.Fatalf("%d repetitions of the failed point kept, want none", got)
	}
	var b bytes.Buffer
	e.write(&b)
	out := b.String()
	for _, want := range []string{
		"**3 echo points failed**; they are missing from the tables below",
		"| loop | – | – | – | – | – | – |",
		"| server CPU per request at C=100, 64 B below the best of gnet and nbio | not measured (loop not measured) |",
		"| nbio | – | – | – | – |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	// With loop measured and gnet failed, the comparison says gnet is missing.
	e = syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 250})
	e.record(echoKey{"gnet", 100, 64}, echoRun{}, errors.New("reset"))
	b.Reset()
	e.write(&b)
	if want := "| p99 at C=100, 64 B no worse than the better of gnet and nbio | 100 µs | 200 µs (nbio; gnet not measured) | 0.50 | met |"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
}

// Under -quick (one repetition of a tiny matrix, a check that it runs) the
// targets show the figures but judge none of them.
func TestQuickEchoJudgesNoTarget(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 8, "gnet": 7, "nbio": 6},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200},
		map[string]float64{"loop": 389})
	e.plan.quick = true
	var b bytes.Buffer
	e.write(&b)
	out := b.String()
	if strings.Contains(out, "met |") || strings.Contains(out, "**missed**") {
		t.Errorf("a -quick report judges targets:\n%s", out)
	}
	if want := "| at most 300 B of server memory per idle connection | 389 B | 300 B | 1.30 | not judged (-quick) |"; !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out)
	}
}

// The idle table's RSS columns come from the repetition that gave the median
// bytes per connection, so that (after − before) / N agrees with it; of an
// even count, the lower middle one's, as idleStat says.
func TestIdleColumnsAgree(t *testing.T) {
	for _, tc := range []struct {
		name          string
		runs          []idleRun
		lo, hi        float64
		before, after uint64
	}{
		// Ordered differently by RSS before, by RSS after and by bytes per
		// connection: medians taken column by column (5 MiB, 5 MiB +
		// 200,000) are no one run's, and disagree with the median 250 B.
		{"odd", []idleRun{
			{conns: 1000, before: 1 << 20, after: 1<<20 + 300_000},
			{conns: 1000, before: 5 << 20, after: 5<<20 + 200_000},
			{conns: 1000, before: 10 << 20, after: 10<<20 + 250_000},
		}, 200, 300, 10 << 20, 10<<20 + 250_000},
		// The middles give 200 and 300 B; the median is their mean, and
		// the columns the lower one's. (Catches the upper one.)
		{"even", []idleRun{
			{conns: 1000, before: 4 << 20, after: 4<<20 + 400_000},
			{conns: 1000, before: 1 << 20, after: 1<<20 + 100_000},
			{conns: 1000, before: 3 << 20, after: 3<<20 + 300_000},
			{conns: 1000, before: 2 << 20, after: 2<<20 + 200_000},
		}, 100, 400, 2 << 20, 2<<20 + 200_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := syntheticEcho(map[string]float64{"loop": 5}, map[string]float64{"loop": 100}, map[string]float64{"loop": 200})
			e.idle["loop"] = tc.runs
			med, lo, hi, before, after, ok := e.idleStat("loop")
			if !ok || med != 250 || lo != tc.lo || hi != tc.hi {
				t.Fatalf("idleStat = %v %v %v, %v; want median 250, range %v-%v", med, lo, hi, ok, tc.lo, tc.hi)
			}
			if before != tc.before || after != tc.after {
				t.Errorf("RSS before %d, after %d; want the median repetition's %d and %d", before, after, tc.before, tc.after)
			}
		})
	}
}
