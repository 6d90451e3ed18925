package sock_test

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/loopgen/loop/sock"
)

// TestSplitterRefusesALongTokenWhereverTheReadCutIt: a line longer than the
// bound is refused wherever the reads cut it, as one whole in a read is,
// and one of exactly the bound is handed out wherever they cut it. (A line
// past the bound that the next read finished was handed out, and one whose
// kept part and feedKept's first copy of the read passed the bound before
// the newline was refused, the first found by a mutation round's helper.)
func TestSplitterRefusesALongTokenWhereverTheReadCutIt(t *testing.T) {
	for _, size := range []int{1000, 1200} {
		for _, kept := range []int{100, 600, 900, 999, 1000} {
			if kept > size {
				continue
			}
			s := sock.NewSplitter(bufio.ScanLines, 1000)
			var got []int
			fn := func(tok []byte) error { got = append(got, len(tok)); return nil }
			err := s.Feed([]byte(strings.Repeat("x", kept)), fn)
			if err == nil {
				err = s.Feed([]byte(strings.Repeat("x", size-kept)+"\n"), fn)
			}
			switch {
			case size <= 1000 && (err != nil || len(got) != 1 || got[0] != size || s.Buffered() != 0):
				t.Errorf("a %d-byte line cut after %d bytes, bound 1000: Feed %v, tokens %v, %d kept; want it handed out, nothing kept",
					size, kept, err, got, s.Buffered())
			case size > 1000 && (!errors.Is(err, bufio.ErrTooLong) || len(got) != 0 || s.Buffered() != 0):
				t.Errorf("a %d-byte line cut after %d bytes, bound 1000: Feed %v, tokens %v, %d kept; want bufio.ErrTooLong, no token, nothing kept",
					size, kept, err, got, s.Buffered())
			}
		}
	}
}

// TestSplitterHandsOutTheTokensAfterACutOneFromTheRead: once a read
// finishes a kept token, the whole tokens after it come out of the read
// itself, as the doc says, not out of the splitter's copy of its start.
// (They came out of the copy, up to 512 bytes of the read. Found by a
// mutation round's helper.)
func TestSplitterHandsOutTheTokensAfterACutOneFromTheRead(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 1000)
	if err := s.Feed([]byte("ab"), func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	p := []byte("c\nwhole\nand another\n")
	var cut string
	fromRead := 0
	if err := s.Feed(p, func(tok []byte) error {
		if string(tok) == "abc" {
			cut = string(tok)
			return nil
		}
		for i := range p {
			if &tok[0] == &p[i] {
				fromRead++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if cut != "abc" || fromRead != 2 {
		t.Errorf("the cut token %q, %d of the 2 whole ones handed out of the read; want abc and 2", cut, fromRead)
	}
}

// TestSplitterRestIsWhatFollows: Rest is the input kept and not handed out:
// what follows the final token (for a protocol that switches framing
// there), or what a HoldRest kept; after bufio.ErrTooLong nothing is kept.
func TestSplitterRestIsWhatFollows(t *testing.T) {
	upgrade := func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if string(tok) == "UPGRADE" {
			return adv, tok, bufio.ErrFinalToken
		}
		return adv, tok, err
	}
	s := sock.NewSplitter(upgrade, 100)
	if err := s.Feed([]byte("a\nUP"), func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Feed([]byte("GRADE\n\x00\x01raw"), func([]byte) error { return nil }); err != bufio.ErrFinalToken {
		t.Fatalf("Feed = %v, want bufio.ErrFinalToken", err)
	}
	if got := string(s.Rest()); got != "\x00\x01raw" {
		t.Errorf("Rest after the final token = %q, want what followed it", got)
	}

	s = sock.NewSplitter(bufio.ScanLines, 100)
	if err := s.Feed([]byte("one\ntwo\nthr"), func([]byte) error { return sock.HoldRest }); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Rest()); got != "two\nthr" || s.Buffered() != len(got) {
		t.Errorf("Rest after a HoldRest = %q (Buffered %d), want the held input", got, s.Buffered())
	}

	s = sock.NewSplitter(bufio.ScanLines, 10)
	if err := s.Feed([]byte(strings.Repeat("x", 50)), func([]byte) error { return nil }); err != bufio.ErrTooLong {
		t.Fatalf("Feed = %v, want bufio.ErrTooLong", err)
	}
	if s.Buffered() != 0 || len(s.Rest()) != 0 {
		t.Errorf("after bufio.ErrTooLong the splitter keeps %d bytes, want none", s.Buffered())
	}
}

// boundOutcome feeds stream (whole, or in pieces cut at cuts) to a Splitter
// of lines bounded at bound, ends it, and returns the tokens and whether it
// refused a token as too long.
func boundOutcome(t testing.TB, stream []byte, cuts []int, bound int) ([]string, bool) {
	s := sock.NewSplitter(bufio.ScanLines, bound)
	var toks []string
	collect := func(tok []byte) error { toks = append(toks, string(tok)); return nil }
	prev := 0
	for _, c := range append(cuts, len(stream)) {
		if err := s.Feed(stream[prev:c], collect); err != nil {
			if !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("Feed: %v", err)
			}
			return toks, true
		}
		prev = c
	}
	if err := s.End(collect); err != nil {
		t.Fatalf("End: %v", err)
	}
	return toks, false
}

// checkBoundIgnoresCuts: the lines handed out, and whether one is refused
// as too long, are the same whether the stream comes whole or in pieces;
// every line handed out is within the bound, and one is refused exactly
// when some line is past it. (Lines without \r: a line of exactly the bound
// whose \r\n a read cuts between the two bytes is kept as one byte past it,
// and refused.)
func checkBoundIgnoresCuts(t testing.TB, stream []byte, seed uint64, bound int) {
	stream = bytes.ReplaceAll(stream, []byte("\r"), []byte("r"))
	whole, wholeRefused := boundOutcome(t, stream, nil, bound)
	cuts := randomCuts(rand.New(rand.NewPCG(seed, 0)), len(stream))
	cut, cutRefused := boundOutcome(t, stream, cuts, bound)
	if !slices.Equal(whole, cut) || wholeRefused != cutRefused {
		t.Fatalf("bound %d, stream %q: whole gives %q (refused %v), cut at %v gives %q (refused %v)",
			bound, stream, whole, wholeRefused, cuts, cut, cutRefused)
	}
	longest := 0
	for _, line := range strings.Split(strings.TrimSuffix(string(stream), "\n"), "\n") {
		longest = max(longest, len(line))
	}
	if wholeRefused != (longest > bound) {
		t.Fatalf("bound %d, stream %q: refused %v, but its longest line is %d bytes", bound, stream, wholeRefused, longest)
	}
}

// TestSplitterBoundIgnoresCuts runs checkBoundIgnoresCuts over random
// streams of short lines and bounds near their lengths.
func TestSplitterBoundIgnoresCuts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		var b strings.Builder
		for range r.IntN(20) {
			b.WriteString(strings.Repeat("x", r.IntN(40)))
			if r.IntN(10) > 0 {
				b.WriteByte('\n')
			}
		}
		checkBoundIgnoresCuts(t, []byte(b.String()), uint64(i), 1+r.IntN(40))
	}
}

// FuzzSplitterBoundIgnoresCuts is checkBoundIgnoresCuts on any stream.
func FuzzSplitterBoundIgnoresCuts(f *testing.F) {
	f.Add([]byte("short\nand a longer line\n"), uint64(1), uint8(10))
	f.Add([]byte("exactly10!\nexactly10!"), uint64(2), uint8(10))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64, bound uint8) {
		if len(stream) > 1<<14 {
			return
		}
		checkBoundIgnoresCuts(t, stream, seed, 1+int(bound))
	})
}
