package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// tuneProgress shows how far a tuning run has come, in steps: a build of
// each candidate and each measurement.
type tuneProgress interface {
	describe(phase string) // the phase now running: "build 2/12", "round 1/6"
	add(n int)             // n more steps are done
	finish()               // every step is done
	exit()                 // the run ends, finished or not
}

// newTuneProgress is a bar redrawn in place when w is a terminal, and plain
// lines elsewhere: the bar's \r frames, several a second, filled a log that
// stderr was redirected to, and said nothing a reader of the log could use.
func newTuneProgress(w io.Writer, total int) tuneProgress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return barProgress{progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("tune"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)}
	}
	return &lineProgress{w: w, total: total, now: time.Now, start: time.Now()}
}

// barProgress is the progress bar on a terminal.
type barProgress struct{ bar *progressbar.ProgressBar }

func (b barProgress) describe(phase string) { b.bar.Describe(phase) }
func (b barProgress) add(n int)             { b.bar.Add(n) }
func (b barProgress) finish()               { b.bar.Finish() }
func (b barProgress) exit()                 { b.bar.Exit() }

// lineProgress writes a line as each phase begins (one per candidate's
// build and one per round) and one at the end: a few lines a minute at
// most, each complete, for a log.
type lineProgress struct {
	w           io.Writer
	total, done int
	phase       string
	now         func() time.Time // time.Now; a test's clock
	start       time.Time
}

func (p *lineProgress) describe(phase string) {
	if phase == p.phase {
		return
	}
	p.phase = phase
	fmt.Fprintf(p.w, "loopgen tune: %s; %d of %d builds and measurements done, %v elapsed\n", phase, p.done, p.total, p.elapsed())
}

func (p *lineProgress) add(n int) { p.done += n }

func (p *lineProgress) finish() {
	fmt.Fprintf(p.w, "loopgen tune: %d builds and measurements done in %v\n", p.done, p.elapsed())
}

func (p *lineProgress) exit() {}

func (p *lineProgress) elapsed() time.Duration { return p.now().Sub(p.start).Round(time.Second) }
