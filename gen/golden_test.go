package gen_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/loopgen/loop/gen"
)

var update = flag.Bool("update", false, "rewrite gen/testdata/golden/*.txtar from what Generate gives now")

// goldenInvocation is what every golden case records in its headers.
const goldenInvocation = "loopgen -spec spec.yaml"

// goldenShipped is the golden case of the variants the project ships. Its
// input is shippedSpec, a copy of spec/loop.yaml as shipped, not the file
// itself: the real spec is the user's to edit (docs/variants.md tells them to
// add variants to it, and loopgen tune -write rewrites it), and a golden case
// that read it broke go test ./gen on every such edit until -update. What the
// real spec gives is kept honest by loopgen -check, which compares
// generated/ with it; this case pins the emitter on a fixed input. After
// changing the shipped variants, refresh the copy and the case:
//
//	cp spec/loop.yaml gen/testdata/specs/shipped.yaml
//	go test ./gen -run TestGolden -update
const goldenShipped = "shipped.txtar"

// The golden cases, and the emitter switches each one pins (shipped.txtar
// covers pollers auto, epoll, poll and none, mpsc and mutex inboxes with
// overflow: grow, stats on, and a spin with a poller):
//
//	bounded.txtar  overflow: reject with a mutex inbox, poller none, stats on,
//	               recover off; a spin without a poller; a mutex inbox that grows
//	spin.txtar     spin:20us with poller poll, overflow: reject with an mpsc
//	               inbox; a variant that is all defaults; the default variant last
//	single.txtar   one variant (no select_conflict file), poller kqueue
//
// Each case also pins generic/, the generic build of its default variant (so
// the generic build is pinned with mpsc and mutex inboxes, both overflows,
// spin and block, recover and stats on and off), and all.Generic.
//
// A case's spec.yaml section is its input (shipped.txtar has none: its input
// is gen.ShippedSpec, which the tests of package gen share); every other section
// is a file Generate returns, named by its path below generated/.
const goldenDir = "testdata/golden"

func TestGolden(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(goldenDir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, filepath.Join(goldenDir, goldenShipped)) {
		if !*update {
			t.Fatalf("%s is missing: run go test ./gen -run TestGolden -update", filepath.Join(goldenDir, goldenShipped))
		}
		names = append(names, filepath.Join(goldenDir, goldenShipped))
	}
	for _, name := range names {
		t.Run(strings.TrimSuffix(filepath.Base(name), ".txtar"), func(t *testing.T) {
			testGoldenFile(t, name)
		})
	}
}

func testGoldenFile(t *testing.T, name string) {
	ar := &txtar.Archive{}
	if data, err := os.ReadFile(name); err == nil {
		ar = txtar.Parse(data)
	} else if !*update || !os.IsNotExist(err) {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, f := range ar.Files {
		if _, dup := want[f.Name]; dup {
			t.Fatalf("%s: section %s appears twice", name, f.Name)
		}
		want[f.Name] = f.Data
	}

	spec, ok := want["spec.yaml"]
	shipped := filepath.Base(name) == goldenShipped
	switch {
	case shipped && ok && !*update:
		t.Fatalf("%s: has a spec.yaml section; its input is %s (remove the section)", name, gen.ShippedSpec)
	case shipped:
		data, err := os.ReadFile(gen.ShippedSpec)
		if err != nil {
			t.Fatal(err)
		}
		spec = data
	case !ok:
		t.Fatalf("%s: no spec.yaml section", name)
	}
	delete(want, "spec.yaml")

	s, err := gen.Parse("spec.yaml", spec)
	if err != nil {
		t.Fatalf("%s: spec.yaml: %v", name, err)
	}
	got, err := gen.Generate(s, gen.Options{Invocation: goldenInvocation})
	if err != nil {
		t.Fatalf("%s: Generate: %v", name, err)
	}
	if _, clash := got["spec.yaml"]; clash {
		t.Fatalf("%s: Generate returned a file named spec.yaml, which the golden format reserves", name)
	}

	if *update {
		out := &txtar.Archive{Comment: ar.Comment}
		if shipped {
			if len(out.Comment) == 0 {
				out.Comment = []byte("What the shipped variants generate. The input is gen/" + gen.ShippedSpec + ",\n" +
					"a copy of spec/loop.yaml as shipped (there is no spec.yaml section here), so\n" +
					"that editing spec/loop.yaml does not change this case; a change to the emitter\n" +
					"shows up as a diff of this file.\n" +
					"Regenerate with: go test ./gen -run TestGolden -update\n")
			}
		} else {
			out.Files = append(out.Files, txtar.File{Name: "spec.yaml", Data: spec})
		}
		for _, p := range gen.Paths(got) {
			out.Files = append(out.Files, txtar.File{Name: p, Data: got[p]})
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, txtar.Format(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}

	for _, p := range gen.Paths(got) {
		w, ok := want[p]
		switch {
		case !ok:
			t.Errorf("%s: Generate returns %s, which the golden file lacks", name, p)
		case !bytes.Equal(got[p], w):
			t.Errorf("%s: %s differs from the golden file (-golden +generated):\n%s", name, p, lineDiff(w, got[p]))
		}
	}
	for _, p := range gen.Paths(want) {
		if _, ok := got[p]; !ok {
			t.Errorf("%s: the golden file has %s, which Generate no longer returns", name, p)
		}
	}
	if t.Failed() {
		t.Log("if the change is intended: go test ./gen -run TestGolden -update, and review git diff gen/testdata/golden")
	}
}

// lineDiff shows where a and b first differ: a few common lines of context,
// then the lines that differ, - for a and + for b, up to a limit. It is no
// minimal diff; it only points at the first change.
func lineDiff(a, b []byte) string {
	const context, limit = 3, 12
	al, bl := splitLines(a), splitLines(b)
	i := 0
	for i < len(al) && i < len(bl) && al[i] == bl[i] {
		i++
	}
	// Common suffix, not reaching back into the common prefix.
	ja, jb := len(al), len(bl)
	for ja > i && jb > i && al[ja-1] == bl[jb-1] {
		ja--
		jb--
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "@@ line %d @@\n", i+1)
	for k := max(0, i-context); k < i; k++ {
		sb.WriteString("  " + showLine(al[k]))
	}
	side := func(prefix string, lines []string) {
		for k, l := range lines {
			if k == limit {
				fmt.Fprintf(&sb, "%s ... %d more lines\n", prefix, len(lines)-limit)
				break
			}
			sb.WriteString(prefix + " " + showLine(l))
		}
	}
	side("-", al[i:ja])
	side("+", bl[i:jb])
	for k := ja; k < min(len(al), ja+context); k++ {
		sb.WriteString("  " + showLine(al[k]))
	}
	return sb.String()
}

// splitLines splits s after each newline; a final line without one is kept.
func splitLines(s []byte) []string {
	lines := strings.SplitAfter(string(s), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// showLine makes a line printable on one line, marking a missing final newline.
func showLine(l string) string {
	if s, ok := strings.CutSuffix(l, "\n"); ok {
		return s + "\n"
	}
	return l + "⏎ (no newline at end)\n"
}

func TestLineDiff(t *testing.T) {
	a := []byte("a\nb\nc\nd\ne\nf\n")
	b := []byte("a\nb\nc\nD\ne\nf\n")
	want := "@@ line 4 @@\n  a\n  b\n  c\n- d\n+ D\n  e\n  f\n"
	if got := lineDiff(a, b); got != want {
		t.Errorf("lineDiff =\n%s\nwant\n%s", got, want)
	}
	if got := lineDiff([]byte("x\n"), []byte("x")); !strings.Contains(got, "- x\n+ x⏎ (no newline at end)\n") {
		t.Errorf("lineDiff of a missing final newline =\n%s", got)
	}
}

// goldenSpecs returns the specs of every golden case (the shipped one from
// gen.ShippedSpec), by case name.
func goldenSpecs(t *testing.T) map[string]*gen.Spec {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(goldenDir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]*gen.Spec{}
	for _, name := range names {
		var data []byte
		if filepath.Base(name) == goldenShipped {
			data, err = os.ReadFile(gen.ShippedSpec)
		} else {
			data, err = goldenSection(name, "spec.yaml")
		}
		if err != nil {
			t.Fatal(err)
		}
		s, err := gen.Parse("spec.yaml", data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		specs[strings.TrimSuffix(filepath.Base(name), ".txtar")] = s
	}
	if len(specs) < 4 {
		t.Fatalf("found %d golden cases in %s, want at least 4", len(specs), goldenDir)
	}
	return specs
}

// goldenSection returns one section of a golden file.
func goldenSection(name, section string) ([]byte, error) {
	ar, err := txtar.ParseFile(name)
	if err != nil {
		return nil, err
	}
	for _, f := range ar.Files {
		if f.Name == section {
			return f.Data, nil
		}
	}
	return nil, fmt.Errorf("%s: no %s section", name, section)
}

func TestGenerateIsDeterministic(t *testing.T) {
	for name, s := range goldenSpecs(t) {
		a, err := gen.Generate(s, gen.Options{Invocation: goldenInvocation})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := gen.Generate(s, gen.Options{Invocation: goldenInvocation})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !maps.EqualFunc(a, b, bytes.Equal) {
			t.Errorf("%s: two Generate runs on the same spec differ", name)
		}
	}
}

// generatedHeader is how go/ast.IsGenerated, gopls and linters recognise
// generated code.
var generatedHeader = regexp.MustCompile(`^// Code generated .* DO NOT EDIT\.$`)

func TestGeneratedFilesStartWithHeader(t *testing.T) {
	for name, s := range goldenSpecs(t) {
		files, err := gen.Generate(s, gen.Options{Invocation: goldenInvocation})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range gen.Paths(files) {
			lines := strings.SplitN(string(files[p]), "\n", 4)
			if strings.HasPrefix(lines[0], "//go:build ") {
				if len(lines) < 3 || lines[1] != "" {
					t.Errorf("%s: %s: //go:build line not followed by a blank line", name, p)
					continue
				}
				lines = lines[2:]
			}
			if !generatedHeader.MatchString(lines[0]) {
				t.Errorf("%s: %s starts with %q, want a line matching %s", name, p, lines[0], generatedHeader)
			}
			if !bytes.HasSuffix(files[p], []byte("\n")) {
				t.Errorf("%s: %s does not end with a newline", name, p)
			}
		}
	}
}

// TestGoldenCasesCoverEverySwitch guards the golden cases themselves: if one
// is edited so that a switch of the emitter is no longer exercised, this says
// which.
func TestGoldenCasesCoverEverySwitch(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range goldenSpecs(t) {
		seen[fmt.Sprintf("variants=%t", len(s.Variants) > 1)] = true
		for _, v := range s.Variants {
			for _, k := range []string{
				"overflow=" + string(v.Overflow) + "/" + string(v.Inbox.Kind),
				"poller=" + string(v.Poller),
				fmt.Sprintf("spin=%t/poller=%t", v.Spin > 0, v.Poller != gen.PollerNone),
				fmt.Sprintf("recover=%t", v.Recover),
				fmt.Sprintf("stats=%t", v.Stats),
			} {
				seen[k] = true
			}
		}
	}
	for _, k := range []string{
		"variants=true", "variants=false",
		"overflow=grow/mpsc", "overflow=grow/mutex", "overflow=reject/mpsc", "overflow=reject/mutex",
		"poller=auto", "poller=epoll", "poller=poll", "poller=kqueue", "poller=none",
		"spin=false/poller=false", "spin=false/poller=true", "spin=true/poller=false", "spin=true/poller=true",
		"recover=true", "recover=false", "stats=true", "stats=false",
	} {
		if !seen[k] {
			t.Errorf("no golden case has %s", k)
		}
	}
}

// e2eSmokeTest is written into the all package of each end-to-end tree: it
// runs every variant of the case for real. ALL is replaced by the import path
// of that all package.
const e2eSmokeTest = `package all_test

import (
	"errors"
	"testing"
	"time"

	"ALL"
	"github.com/loopgen/loop/handwritten/core"
)

// TestEveryVariantRuns posts one callback more than the inbox holds (so a
// variant with overflow: reject refuses exactly the last one), then runs the
// loop until a timer stops it, and closes it. The generic build runs too.
func TestEveryVariantRuns(t *testing.T) {
	for _, v := range append(all.Variants[:len(all.Variants):len(all.Variants)], all.Generic) {
		t.Run(v.Name, func(t *testing.T) {
			p := v.Params
			l, err := v.New(core.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Variant(); got != p {
				t.Errorf("Variant() = %v, want %v", got, p)
			}
			var ran []int
			posted := 0
			for i := range p.InboxDepth + 1 {
				err := l.Post(func() { ran = append(ran, i) })
				switch {
				case err == nil:
					posted++
				case p.Overflow == "reject" && i == p.InboxDepth && errors.Is(err, core.ErrQueueFull):
				default:
					t.Fatalf("Post #%d: %v (overflow %s, inbox depth %d)", i, err, p.Overflow, p.InboxDepth)
				}
			}
			if want := p.InboxDepth + map[string]int{"grow": 1}[p.Overflow]; posted != want {
				t.Errorf("%d posts accepted, want %d (overflow %s)", posted, want, p.Overflow)
			}
			// The timer stops the loop once every post has run, looking again each
			// millisecond: a Run that starts late (a loaded machine) finds it due
			// before the posts have run, and must not stop there. After a second it
			// stops anyway, and the checks below say what is missing.
			fired, timers := false, 0
			var stopWhenDone func()
			stopWhenDone = func() {
				fired, timers = true, timers+1
				if len(ran) == posted || timers == 1000 {
					l.Stop()
					return
				}
				l.CallLater(time.Millisecond, stopWhenDone)
			}
			l.CallLater(time.Millisecond, stopWhenDone)
			done := make(chan error, 1)
			go func() { done <- l.Run() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return after the timer called Stop")
			}
			if !fired {
				t.Error("the timer did not fire")
			}
			if len(ran) != posted {
				t.Errorf("%d posted callbacks ran, want %d", len(ran), posted)
			}
			for i, got := range ran {
				if got != i {
					t.Fatalf("posted callback %d ran in place %d: not FIFO", got, i)
				}
			}
			st := l.Stats()
			if p.Stats {
				if st.Callbacks != uint64(posted) || st.Timers != uint64(timers) || st.Iterations == 0 {
					t.Errorf("Stats() = %+v, want %d callbacks, %d timers", st, posted, timers)
				}
			} else if st != (core.Stats{}) {
				t.Errorf("Stats() = %+v with stats: false, want zeros", st)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := l.Post(func() {}); !errors.Is(err, core.ErrClosed) {
				t.Errorf("Post after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestRunOnceBlockRunsTheTimerItWaitedFor: each RunOnce(true) waits for a
// timer a microsecond out and runs it in the iteration that waited. With
// stats on, an iteration that woke at the deadline and ran nothing shows as
// an extra one; RunOnce(true) hides it otherwise, by waiting again. Only
// this tree has a variant that spins with stats on (spin.txtar's spin),
// whose spin once ended at the deadline with the loop's time left from
// before it.
func TestRunOnceBlockRunsTheTimerItWaitedFor(t *testing.T) {
	for _, v := range append(all.Variants[:len(all.Variants):len(all.Variants)], all.Generic) {
		t.Run(v.Name, func(t *testing.T) {
			p := v.Params
			if !p.Stats {
				t.Skip("stats: false; the conformance suite checks the rest")
			}
			l, err := v.New(core.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			rounds := min(200, max(10, int(2*time.Second/p.Tick)))
			before := l.Stats().Iterations
			for range rounds {
				fired := false
				l.CallLater(time.Microsecond, func() { fired = true })
				if err := l.RunOnce(true); err != nil {
					t.Fatal(err)
				}
				if !fired {
					t.Fatal("RunOnce(true) returned without running the timer")
				}
			}
			// A signal may end a wait early (EINTR), rarely. Without the fix
			// this tree found 4 to 62 extra iterations in 200 rounds (ten runs),
			// and none with it.
			if extra := l.Stats().Iterations - before - uint64(rounds); extra > 2 {
				t.Errorf("%d of %d iterations ran nothing", extra, rounds)
			}
		})
	}
}

// TestRejectBoundsWhatWaits fills a reject variant's inbox, lets one
// iteration drain a batch of it, and fills it again: the inbox then takes
// exactly the batch the loop drained, whatever the inbox's kind.
func TestRejectBoundsWhatWaits(t *testing.T) {
	for _, v := range all.Variants {
		t.Run(v.Name, func(t *testing.T) {
			p := v.Params
			if p.Overflow != "reject" {
				t.Skip("overflow: grow")
			}
			l, err := v.New(core.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			fill := func() int {
				n := 0
				for n <= 2*p.InboxDepth && l.Post(func() {}) == nil {
					n++
				}
				return n
			}
			if n := fill(); n != p.InboxDepth {
				t.Fatalf("an empty inbox took %d posts, want its depth %d", n, p.InboxDepth)
			}
			if err := l.RunOnce(false); err != nil {
				t.Fatal(err)
			}
			if n, want := fill(), min(p.Batch, p.InboxDepth); n != want {
				t.Fatalf("after an iteration that drained %d, the inbox took %d more posts", want, n)
			}
		})
	}
}
`

// e2eGenericTest is written into the generic package of each end-to-end tree:
// it runs the generic build with parameters other than the default variant's,
// through NewWithParams, and checks that bad parameters are refused. GENERIC
// is replaced by the import path of that package.
const e2eGenericTest = `package generic_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"GENERIC"
	"github.com/loopgen/loop/handwritten/clock"
	"github.com/loopgen/loop/handwritten/core"
	"github.com/loopgen/loop/handwritten/poller"
)

// small are parameters far from every default: a ready ring that must grow, a
// batch of 3, a small inbox, and a wheel of 4 slots × 3 levels of 100us, whose
// horizon (6.4ms) the later timers are beyond.
func small(poll string) core.Params {
	p := generic.Params
	p.Name = "ignored"
	p.QueueDepth, p.Batch, p.InboxDepth = 16, 3, 32
	p.Tick, p.Slots, p.Levels = 100*time.Microsecond, 4, 3
	p.Poller = poll
	if p.Spin > 0 {
		p.Spin = 50 * time.Microsecond
	}
	return p
}

func TestNewWithParamsRunsCallbacksAndTimers(t *testing.T) {
	p := small("none")
	vc := clock.NewVirtual(time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC))
	l, err := generic.NewWithParams(p, core.Config{Clock: vc})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := p
	want.Name = "generic"
	if got := l.Variant(); got != want {
		t.Errorf("Variant() = %v, want %v", got, want)
	}

	// 100 callbacks through a ring of 16, 3 per iteration.
	var ran []int
	for i := range 100 {
		l.CallSoon(func() { ran = append(ran, i) })
	}
	if err := l.RunOnce(false); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 3 {
		t.Errorf("one iteration ran %d callbacks, want the batch of 3", len(ran))
	}
	for l.Pending() > 0 {
		if err := l.RunOnce(false); err != nil {
			t.Fatal(err)
		}
	}
	for i, got := range ran {
		if got != i {
			t.Fatalf("callback %d ran in place %d: not FIFO", got, i)
		}
	}
	if len(ran) != 100 {
		t.Fatalf("%d callbacks ran, want 100", len(ran))
	}

	// Posts: one more than the inbox holds.
	posted := 0
	for range p.InboxDepth + 1 {
		switch err := l.Post(func() {}); {
		case err == nil:
			posted++
		case p.Overflow == "reject" && errors.Is(err, core.ErrQueueFull):
		default:
			t.Fatalf("Post: %v", err)
		}
	}
	if want := p.InboxDepth + map[string]int{"grow": 1}[p.Overflow]; posted != want {
		t.Errorf("%d posts accepted, want %d (overflow %s)", posted, want, p.Overflow)
	}

	// Timers every 700us out to 14ms, scheduled backwards, two at each deadline,
	// one of them cancelled: each fires once, in deadline order, never early,
	// at most a tick and a step late.
	type fired struct {
		i  int
		at time.Duration
	}
	var got []fired
	start := vc.Elapsed()
	for i := 20; i >= 1; i-- {
		d := time.Duration(i) * 700 * time.Microsecond
		l.CallLater(d, func() { got = append(got, fired{i, vc.Elapsed() - start}) })
		if !l.Cancel(l.CallLater(d, func() { t.Errorf("cancelled timer %d fired", i) })) {
			t.Errorf("Cancel of timer %d failed", i)
		}
	}
	const step = 250 * time.Microsecond
	for vc.Elapsed()-start < 20*time.Millisecond {
		vc.Advance(step)
		for range 4 {
			if err := l.RunOnce(false); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got) != 20 {
		t.Fatalf("%d timers fired, want 20", len(got))
	}
	for k, f := range got {
		d := time.Duration(f.i) * 700 * time.Microsecond
		if f.i != k+1 {
			t.Errorf("timer %d fired in place %d", f.i, k)
		}
		if f.at < d || f.at > d+p.Tick+step {
			t.Errorf("timer %d (%v) fired at %v", f.i, d, f.at)
		}
	}
	if err := l.AddReader(0, func() {}); !errors.Is(err, poller.ErrNoPoller) {
		t.Errorf("AddReader with poller none: %v, want ErrNoPoller", err)
	}
}

// TestNewWithParamsPollsThroughTheInterface runs a reader on a pipe with the
// poll backend, whichever the default is.
func TestNewWithParamsPollsThroughTheInterface(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Skip(err)
	}
	defer r.Close()
	defer w.Close()
	l, err := generic.NewWithParams(small("poll"), core.Config{})
	if errors.Is(err, poller.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd := int(r.Fd())
	if err := l.AddReader(fd, func() {
		l.RemoveReader(fd)
		l.Stop()
	}); err != nil {
		t.Fatal(err)
	}
	l.CallLater(time.Millisecond, func() { w.Write([]byte{1}) })
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the reader did not run")
	}
}

func TestNewWithParamsRefusesBadParams(t *testing.T) {
	p := generic.Params
	p.QueueDepth, p.Batch, p.InboxDepth = 100, 0, 8
	p.Slots, p.Levels, p.Tick = 3, 9, 0
	p.Poller = "select"
	p.Recover, p.Stats = !p.Recover, !p.Stats
	_, err := generic.NewWithParams(p, core.Config{})
	if err == nil {
		t.Fatal("NewWithParams accepted bad parameters")
	}
	for _, want := range []string{
		"generic: queue_depth: must be a power of two", "generic: batch: must be in", "generic: inbox.depth:",
		"generic: wheel.slots:", "generic: wheel.levels:", "generic: wheel.tick:", "generic: poller:",
		"generic: recover:", "generic: stats:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	p = generic.Params
	p.Slots, p.Levels, p.Tick = 4096, 5, time.Second // 60 bits: past the horizon rule
	if _, err := generic.NewWithParams(p, core.Config{}); err == nil || !strings.Contains(err.Error(), "generic: wheel: horizon") {
		t.Errorf("a wheel past the horizon: %v", err)
	}
	p = generic.Params
	p.Spin = map[bool]time.Duration{true: 0, false: time.Millisecond}[p.Spin > 0]
	if _, err := generic.NewWithParams(p, core.Config{}); err == nil || !strings.Contains(err.Error(), "generic: idle:") {
		t.Errorf("the other idle switch: %v", err)
	}
	p = generic.Params
	p.Gather = map[bool]time.Duration{true: 0, false: 4 * time.Microsecond}[p.Gather > 0]
	if _, err := generic.NewWithParams(p, core.Config{}); err == nil || !strings.Contains(err.Error(), "generic: inbox.gather:") {
		t.Errorf("the other gather switch: %v", err)
	}
	p = generic.Params
	p.Gather = 2 * time.Millisecond
	if _, err := generic.NewWithParams(p, core.Config{}); err == nil || !strings.Contains(err.Error(), "generic: inbox.gather:") {
		t.Errorf("a gather past its limit: %v", err)
	}
	p = generic.Params
	p.Overflow = map[string]string{"grow": "reject", "reject": "grow"}[p.Overflow]
	if _, err := generic.NewWithParams(p, core.Config{}); err == nil || !strings.Contains(err.Error(), "generic: overflow:") {
		t.Errorf("the other overflow switch: %v", err)
	}
}
`

// e2eInboxInternalTest is a white-box test of a variant with the spec's
// default inbox (mpsc, overflow: grow), written into its package in the e2e
// tree: it plays a producer stopped between claiming its slot and publishing
// it, which no test from outside the package can arrange. It is written as
// package plain; the package clause is rewritten for the other variants.
const e2eInboxInternalTest = `package plain

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopgen/loop/handwritten/core"
)

// claimThenPublish claims the next slot as a Post's CAS does, and publishes
// fn in it from another goroutine after stall, as a producer whose thread
// stopped between the two steps would (without the wake-up a Post makes
// after it publishes).
func claimThenPublish(t *testing.T, l *Loop, stall time.Duration, fn func()) {
	t.Helper()
	pos := l.inbox.tail.Load()
	if !l.inbox.tail.CompareAndSwap(pos, pos+1) {
		t.Fatal("claim: tail moved")
	}
	go func() {
		time.Sleep(stall)
		s := &l.inbox.slots[pos&inboxMask]
		s.fn = fn
		s.seq.Store(pos + 1)
	}()
}

// processCPU is the CPU time this process has used.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A loop that finds a post claimed by a producer that then stalls waits for
// the publish without keeping a CPU busy (it yielded in a loop, and a 300 ms
// stall cost 300 ms of CPU), and runs the post in that iteration. Close
// waits for such a post the same way, and runs it too.
func TestAStalledPublishIsAwaitedWithoutSpinning(t *testing.T) {
	const stall = 300 * time.Millisecond
	for _, closing := range []bool{false, true} {
		l, err := New(core.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ran := false
		claimThenPublish(t, l, stall, func() { ran = true })
		cpu0, start := processCPU(t), time.Now()
		if closing {
			err = l.Close()
		} else {
			err = l.RunOnce(true)
		}
		if err != nil {
			t.Fatal(err)
		}
		wall, cpu := time.Since(start), processCPU(t)-cpu0
		if !ran {
			t.Errorf("closing %v: the post did not run", closing)
		}
		// Spinning costs about as much CPU as wall time; waiting, a few per cent.
		if cpu > wall/2 {
			t.Errorf("closing %v: %v of CPU while waiting %v for a publish: the wait spins", closing, cpu, wall)
		}
		l.Close()
	}
}

// A blocking RunOnce that finds a post claimed and not yet published, alone
// or with a spill behind it, waits for the publish and runs what was posted
// in that iteration, in order, instead of returning with nothing run.
func TestRunOnceWaitsForAClaimedPost(t *testing.T) {
	for _, spill := range []bool{false, true} {
		l, err := New(core.Config{})
		if err != nil {
			t.Fatal(err)
		}
		var ran []string
		claimThenPublish(t, l, time.Millisecond, func() { ran = append(ran, "claimed") })
		want := "claimed"
		if spill {
			if err := l.inbox.pushSpill(func() { ran = append(ran, "spilled") }); err != nil {
				t.Fatal(err)
			}
			want = "claimed spilled"
		}
		if err := l.RunOnce(true); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(ran, " "); got != want {
			t.Errorf("spill %v: RunOnce(true) ran %q, want %q", spill, got, want)
		}
		l.Close()
	}
}

// Producers that find the spill in use yield while its budget lasts, then
// spill without yielding; the loop refills the budget when it takes the
// spill, and everything runs in the order posted.
func TestSpillYieldsAreBudgetedPerSpill(t *testing.T) {
	l, err := New(core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const total = inboxDepth + 1000 // the loop is not running: a full ring, then a spill
	var ran []int
	for i := range total {
		if err := l.Post(func() { ran = append(ran, i) }); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.inbox.spillYields.Load(); got > 0 {
		t.Errorf("after 1,000 posts into a spill nobody takes: %d yields left, want none", got)
	}
	for i := 0; len(ran) < total; i++ {
		if i > total {
			t.Fatalf("ran %d of %d callbacks", len(ran), total)
		}
		if err := l.RunOnce(false); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.inbox.spillYields.Load(); got != spillYieldBudget {
		t.Errorf("after the loop took the spill: %d yields left, want the budget of %d", got, spillYieldBudget)
	}
	for i, v := range ran {
		if v != i {
			t.Fatalf("callback %d ran %dth: posts ran out of order", v, i)
		}
	}
}
`

// e2eWatchInternalTest is a white-box test of the generic build's watch,
// written into its package in the e2e tree: it puts a poller in front of
// the real one that refuses Modify as a kernel would, which no Linux
// backend can be made to do (FreeBSD's kqueue refuses a write filter on a
// pipe whose reader has gone).
const e2eWatchInternalTest = `package generic

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/loopgen/loop/handwritten/core"
	"github.com/loopgen/loop/handwritten/poller"
)

// refusing is a poller that fails the next Modify with err.
type refusing struct {
	poller.Backend
	err error
}

func (p *refusing) Modify(fd int, seq uint32, ev poller.Events) error {
	if err := p.err; err != nil {
		p.err = nil
		return err
	}
	return p.Backend.Modify(fd, seq, ev)
}

// A Modify refused for a reason of its own leaves the fd's registration,
// its reader included, and AddWriter returns the refusal; one that says
// the poller forgot the fd (ENOENT) drops the old registration and adds the
// fd afresh, as for a number closed and reused.
func TestWatchKeepsTheRegistrationWhenModifyIsRefused(t *testing.T) {
	for _, tc := range []struct {
		refusal    syscall.Errno
		readerKept bool
	}{{syscall.EPIPE, true}, {syscall.ENOENT, false}} {
		p := Params
		p.Poller = "poll"
		l, err := NewWithParams(p, core.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		read := 0
		if err := l.AddReader(fds[0], func() { read++; syscall.Read(fds[0], make([]byte, 8)) }); err != nil {
			t.Fatal(err)
		}
		rp := &refusing{Backend: l.poller, err: os.NewSyscallError("kevent", tc.refusal)}
		l.poller = rp
		err = l.AddWriter(fds[0], func() {})
		switch {
		case tc.readerKept && !errors.Is(err, tc.refusal):
			t.Errorf("%v: AddWriter returned %v, want the refusal", tc.refusal, err)
		case !tc.readerKept && err != nil:
			t.Errorf("%v: AddWriter returned %v, want the fd added afresh", tc.refusal, err)
		}
		syscall.Write(fds[1], []byte("x"))
		if err := l.RunOnce(false); err != nil {
			t.Fatal(err)
		}
		if got := read > 0; got != tc.readerKept {
			t.Errorf("%v: the reader ran %d times after the refused Modify, want it kept %v", tc.refusal, read, tc.readerKept)
		}
		l.RemoveReader(fds[0])
		l.RemoveWriter(fds[0])
		l.Close()
		syscall.Close(fds[0])
		syscall.Close(fds[1])
	}
}
`

// TestGeneratedCodeBuildsAndRuns writes what Generate gives for the bounded
// and spin cases into a tree inside this module (testdata is invisible to
// ./..., but explicit paths build), then vets it with and without variant
// tags, runs every variant and the generic build (with other parameters too,
// through NewWithParams), and checks that two variant tags at once fail to
// compile with the conflict guard's message.
func TestGeneratedCodeBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds generated code with the go command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	root, err := os.MkdirTemp("testdata", "e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	base := gen.Module + "/gen/testdata/" + filepath.Base(root)

	var otherTags []string // one non-default variant of each case
	conflict := map[string][]string{}
	for _, name := range []string{"bounded", "spin"} {
		data, err := goldenSection(filepath.Join(goldenDir, name+".txtar"), "spec.yaml")
		if err != nil {
			t.Fatal(err)
		}
		s, err := gen.Parse("spec.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		files, err := gen.Generate(s, gen.Options{Invocation: goldenInvocation})
		if err != nil {
			t.Fatal(err)
		}
		pkg := base + "/" + name
		for p, src := range files {
			src = bytes.ReplaceAll(src, []byte(`"`+gen.Module+`/generated/`), []byte(`"`+pkg+`/`))
			if bytes.Contains(src, []byte(gen.Module+"/generated")) {
				t.Fatalf("%s: %s still refers to %s/generated after rewriting imports", name, p, gen.Module)
			}
			files[p] = src
		}
		files["all/smoke_test.go"] = []byte(strings.ReplaceAll(e2eSmokeTest, "ALL", pkg+"/all"))
		files["generic/smoke_test.go"] = []byte(strings.ReplaceAll(e2eGenericTest, "GENERIC", pkg+"/generic"))
		if name == "spin" {
			// plain has the spec's defaults: an mpsc inbox that spills, and a loop
			// that blocks when idle; spinspill the same inbox, with a loop that spins.
			files["plain/inbox_internal_test.go"] = []byte(e2eInboxInternalTest)
			files["spinspill/inbox_internal_test.go"] = []byte(strings.Replace(e2eInboxInternalTest, "package plain", "package spinspill", 1))
			files["generic/watch_internal_test.go"] = []byte(e2eWatchInternalTest)
		}
		if err := gen.WriteTree(filepath.Join(root, name), files); err != nil {
			t.Fatal(err)
		}
		for _, v := range s.Variants {
			if !v.Default {
				otherTags = append(otherTags, "loop_"+v.Name)
				break
			}
		}
		for _, v := range s.Variants {
			conflict[name] = append(conflict[name], "loop_"+v.Name)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	goRun := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, goCmd, args...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	all := "./" + filepath.ToSlash(root) + "/..."
	for _, args := range [][]string{
		{"vet", all},
		{"vet", "-tags", strings.Join(otherTags, ","), all},
		{"test", "-count=1", "./" + filepath.ToSlash(root) + "/bounded/all", "./" + filepath.ToSlash(root) + "/spin/all",
			"./" + filepath.ToSlash(root) + "/bounded/generic", "./" + filepath.ToSlash(root) + "/spin/generic",
			"./" + filepath.ToSlash(root) + "/spin/plain", "./" + filepath.ToSlash(root) + "/spin/spinspill"},
	} {
		if out, err := goRun(args...); err != nil {
			t.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for name, tags := range conflict {
		args := []string{"build", "-tags", strings.Join(tags, ","), "./" + filepath.ToSlash(root) + "/" + name}
		out, err := goRun(args...)
		if err == nil || !strings.Contains(out, "MoreThanOneLoopVariantTagGiven_ChooseOne") {
			t.Errorf("go %s: err %v, want a compile error naming MoreThanOneLoopVariantTagGiven_ChooseOne; output:\n%s",
				strings.Join(args, " "), err, out)
		}
	}
}

func TestGenerateWithoutInvocationNamesLoopgen(t *testing.T) {
	s, err := gen.Parse("spec.yaml", []byte("variants:\n  - name: a\n    default: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := gen.Generate(s, gen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const want = "// Code generated by \"loopgen\"; DO NOT EDIT.\n"
	for _, p := range gen.Paths(files) {
		if !bytes.Contains(files[p], []byte(want)) {
			t.Errorf("%s: no %q header", p, want)
		}
	}
}
