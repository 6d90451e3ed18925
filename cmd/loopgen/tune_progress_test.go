package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Off a terminal (a log that stderr is redirected to, a pipe), tune's
// progress bar wrote its \r frames several times a second; it now writes a
// line as each phase begins and one at the end, and the bar is drawn only
// on a terminal.
func TestTuneProgressIsPlainLinesOffATerminal(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var buf bytes.Buffer
	for _, w := range []io.Writer{file, &buf} {
		p := newTuneProgress(w, 6)
		if _, ok := p.(*lineProgress); !ok {
			t.Fatalf("progress on a %T is a %T, want plain lines", w, p)
		}
	}

	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &lineProgress{w: &buf, total: 6, now: func() time.Time { return clock }, start: clock}
	for i, phase := range []string{"build 1/2", "build 2/2", "round 1/2", "round 1/2", "round 2/2", "round 2/2"} {
		p.describe(phase)
		clock = clock.Add(1500 * time.Millisecond)
		p.add(1)
		if i == 5 {
			p.finish()
		}
	}
	p.exit()
	want := "loopgen tune: build 1/2; 0 of 6 builds and measurements done, 0s elapsed\n" +
		"loopgen tune: build 2/2; 1 of 6 builds and measurements done, 2s elapsed\n" +
		"loopgen tune: round 1/2; 2 of 6 builds and measurements done, 3s elapsed\n" +
		"loopgen tune: round 2/2; 4 of 6 builds and measurements done, 6s elapsed\n" +
		"loopgen tune: 6 builds and measurements done in 9s\n"
	if got := buf.String(); got != want {
		t.Errorf("progress lines:\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("a carriage return off a terminal")
	}
}
