package sock_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/loopgen/loop/sock"
)

// scanned is what bufio.Scanner gives for the whole stream at once: what
// the Splitter must give however the stream is cut.
func scanned(t *testing.T, stream []byte, split bufio.SplitFunc) []string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(nil, 1<<20)
	sc.Split(split)
	var toks []string
	for sc.Scan() {
		toks = append(toks, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return toks
}

// feedInPieces feeds stream to a new Splitter cut at the given offsets,
// then ends it, and returns the tokens.
func feedInPieces(t testing.TB, stream []byte, cuts []int, split bufio.SplitFunc) ([]string, error) {
	s := sock.NewSplitter(split, 1<<20)
	var toks []string
	collect := func(tok []byte) error { toks = append(toks, string(tok)); return nil }
	prev := 0
	for _, c := range append(cuts, len(stream)) {
		// A copy, scribbled over afterwards: the splitter must not keep p.
		piece := slices.Clone(stream[prev:c])
		if err := s.Feed(piece, collect); err != nil {
			return toks, err
		}
		for i := range piece {
			piece[i] = '#'
		}
		prev = c
	}
	return toks, s.End(collect)
}

func randomCuts(r *rand.Rand, n int) []int {
	var cuts []int
	for i := 0; i < n; {
		i += 1 + r.IntN(max(1, min(n, 1+r.IntN(600))))
		if i < n {
			cuts = append(cuts, i)
		}
	}
	return cuts
}

// TestSplitterGivesWhatScannerGives: lines and length-prefixed frames, short
// and long (past the 512 bytes feedKept copies at first), in pieces cut at
// random, come out as bufio.Scanner cuts the whole stream.
func TestSplitterGivesWhatScannerGives(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var lines, frames bytes.Buffer
	for i := range 300 {
		tok := strings.Repeat(string(rune('a'+i%26)), r.IntN(3000)*(i%3)/2)
		lines.WriteString(tok + "\n")
		if i%7 == 0 {
			lines.WriteString("\r\n") // an empty line, its \r dropped
		}
		frames.Write(binary.BigEndian.AppendUint16(nil, uint16(len(tok))))
		frames.WriteString(tok)
	}
	lines.WriteString("the last line has no newline")
	for _, tc := range []struct {
		name   string
		stream []byte
		split  bufio.SplitFunc
	}{
		{"lines", lines.Bytes(), bufio.ScanLines},
		{"frames", frames.Bytes(), scanFrames},
		{"words", lines.Bytes(), bufio.ScanWords},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := scanned(t, tc.stream, tc.split)
			for trial := range 50 {
				var cuts []int
				switch trial {
				case 0: // the whole stream in one piece
				case 1: // a byte at a time
					for i := 1; i < len(tc.stream); i++ {
						cuts = append(cuts, i)
					}
				default:
					cuts = randomCuts(r, len(tc.stream))
				}
				got, err := feedInPieces(t, tc.stream, cuts, tc.split)
				if err != nil {
					t.Fatalf("trial %d: %v", trial, err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("trial %d (cuts %v): %d tokens, want %d; first difference at %d",
						trial, cuts, len(got), len(want), firstDifference(got, want))
				}
			}
		})
	}
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestSplitterHoldRestStopsAndGoesOn: a handler that returns HoldRest gets
// no more tokens from that Feed; the rest stays kept, and a Feed of nil
// goes on from the token after the one held, also across a read's cut.
func TestSplitterHoldRestStopsAndGoesOn(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 64)
	var got []string
	hold := false
	fn := func(tok []byte) error {
		got = append(got, string(tok))
		if hold {
			return sock.HoldRest
		}
		return nil
	}
	hold = true
	if err := s.Feed([]byte("one\ntwo\nthr"), fn); err != nil {
		t.Fatal(err)
	}
	if want := []string{"one"}; !slices.Equal(got, want) {
		t.Fatalf("after a HoldRest: tokens %q, want %q", got, want)
	}
	if n := s.Buffered(); n != len("two\nthr") {
		t.Errorf("Buffered = %d, want %d", n, len("two\nthr"))
	}
	// Input that comes while held is appended; holding again keeps it all.
	if err := s.Feed([]byte("ee\nfo"), fn); err != nil {
		t.Fatal(err)
	}
	hold = false
	if err := s.Feed(nil, fn); err != nil {
		t.Fatal(err)
	}
	if err := s.Feed([]byte("ur\n"), fn); err != nil {
		t.Fatal(err)
	}
	if want := []string{"one", "two", "three", "four"}; !slices.Equal(got, want) {
		t.Fatalf("tokens %q, want %q", got, want)
	}
	if n := s.Buffered(); n != 0 {
		t.Errorf("Buffered = %d after every token, want 0", n)
	}
}

// TestSplitterBoundsAnUnfinishedToken: an unfinished token past maxToken is
// bufio.ErrTooLong, whether it came in one read or several, and what the
// splitter keeps does not grow past the bound by more than one read.
func TestSplitterBoundsAnUnfinishedToken(t *testing.T) {
	for _, pieces := range [][]string{
		{strings.Repeat("x", 101)},
		{strings.Repeat("x", 60), strings.Repeat("x", 60)},
		{"ok\n" + strings.Repeat("x", 99), "xx"},
	} {
		s := sock.NewSplitter(bufio.ScanLines, 100)
		var err error
		for _, p := range pieces {
			if err = s.Feed([]byte(p), func([]byte) error { return nil }); err != nil {
				break
			}
		}
		if !errors.Is(err, bufio.ErrTooLong) {
			t.Errorf("pieces of %d bytes: Feed returned %v, want bufio.ErrTooLong", len(strings.Join(pieces, "")), err)
		}
		for range 10 { // a peer that goes on sending
			if err := s.Feed(make([]byte, 1000), func([]byte) error { return nil }); !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("a Feed after bufio.ErrTooLong returned %v, want it again", err)
			}
		}
		if n := s.Buffered(); n > 1100 {
			t.Errorf("the splitter keeps %d bytes after refusing a token; want at most the bound and a read", n)
		}
	}
	// A token longer than the bound is refused whole in one read too, after
	// the tokens before it: whether a token is too long does not depend on
	// how the reads cut the stream. (It was handed out, while the same line
	// cut by two reads was refused.) One of exactly the bound is taken.
	s := sock.NewSplitter(bufio.ScanLines, 10)
	var got []string
	err := s.Feed([]byte("ok\n"+strings.Repeat("y", 10)+"\n"+strings.Repeat("y", 11)+"\nafter\n"), func(tok []byte) error { got = append(got, string(tok)); return nil })
	if !errors.Is(err, bufio.ErrTooLong) || !slices.Equal(got, []string{"ok", strings.Repeat("y", 10)}) || s.Buffered() != 0 {
		t.Errorf("a whole long token: err %v, tokens %q, %d kept; want bufio.ErrTooLong, the two tokens before it, nothing kept", err, got, s.Buffered())
	}
}

// TestSplitterEnd: at the end of the stream the split function's last
// token comes out, an unfinished one is io.ErrUnexpectedEOF, and errors
// from the handler and the split function reach the caller.
func TestSplitterEnd(t *testing.T) {
	collect := func(got *[]string) func([]byte) error {
		return func(tok []byte) error { *got = append(*got, string(tok)); return nil }
	}
	var got []string
	s := sock.NewSplitter(bufio.ScanLines, 100)
	if err := s.Feed([]byte("a\nb"), collect(&got)); err != nil {
		t.Fatal(err)
	}
	if err := s.End(collect(&got)); err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("End: %v, tokens %q; want nil and [a b]", err, got)
	}
	if n := s.Buffered(); n != 0 {
		t.Errorf("Buffered after End = %d", n)
	}

	got = nil
	s = sock.NewSplitter(scanFrames, 100)
	if err := s.Feed([]byte{0, 5, 'h', 'e'}, collect(&got)); err != nil {
		t.Fatal(err)
	}
	if err := s.End(collect(&got)); err != io.ErrUnexpectedEOF {
		t.Errorf("End in the middle of a frame: %v, want io.ErrUnexpectedEOF", err)
	}

	boom := errors.New("boom")
	s = sock.NewSplitter(bufio.ScanLines, 100)
	calls := 0
	err := s.Feed([]byte("a\nb\nc\n"), func([]byte) error { calls++; return boom })
	if err != boom || calls != 1 || s.Buffered() != len("b\nc\n") {
		t.Errorf("a handler's error: Feed %v after %d calls, %d kept; want boom, 1, 4", err, calls, s.Buffered())
	}

	bad := errors.New("bad frame")
	s = sock.NewSplitter(func([]byte, bool) (int, []byte, error) { return 0, nil, bad }, 100)
	if err := s.Feed([]byte("x"), func([]byte) error { return nil }); err != bad {
		t.Errorf("a split function's error: Feed %v, want it", err)
	}
	s = sock.NewSplitter(func(b []byte, _ bool) (int, []byte, error) { return len(b) + 1, nil, nil }, 100)
	if err := s.Feed([]byte("x"), func([]byte) error { return nil }); err == nil {
		t.Error("a split function that advances past the data: Feed returned nil")
	}
	s = sock.NewSplitter(func([]byte, bool) (int, []byte, error) { return 0, []byte{}, nil }, 100)
	if err := s.Feed([]byte("x"), func([]byte) error { return nil }); err == nil {
		t.Error("a split function that never advances: Feed returned nil")
	}
	// At the end of the stream End asks the split function again after
	// each token, as bufio.Scanner does: one that ends the stream with a
	// token of its own gets asked with the input used up, and one that
	// gives empty tokens there for ever is stopped after 100 (Scanner
	// panics), not looped on.
	terminated := func(b []byte, atEOF bool) (int, []byte, error) {
		if atEOF && len(b) == 0 {
			return 0, []byte("END"), bufio.ErrFinalToken
		}
		return bufio.ScanLines(b, atEOF)
	}
	for _, stream := range []string{"a\nb", "a\nb\n"} {
		got = nil
		s = sock.NewSplitter(terminated, 100)
		if err := s.Feed([]byte(stream), collect(&got)); err != nil {
			t.Fatal(err)
		}
		if err := s.End(collect(&got)); err != bufio.ErrFinalToken || !slices.Equal(got, []string{"a", "b", "END"}) {
			t.Errorf("%q with a terminator: End %v, tokens %q; want bufio.ErrFinalToken and [a b END]", stream, err, got)
		}
		if err := s.End(collect(&got)); err != bufio.ErrFinalToken || len(got) != 3 {
			t.Errorf("End again after the final token: %v, %d tokens; want bufio.ErrFinalToken and nothing more", err, len(got))
		}
	}
	s = sock.NewSplitter(func(b []byte, atEOF bool) (int, []byte, error) {
		if atEOF && len(b) == 0 {
			return 0, []byte{}, nil
		}
		return 0, nil, nil
	}, 100)
	calls = 0
	if err := s.End(func([]byte) error { calls++; return nil }); err == nil || calls != 100 {
		t.Errorf("empty tokens for ever at the end: End %v after %d calls; want an error after 100", err, calls)
	}
	s = sock.NewSplitter(func(b []byte, _ bool) (int, []byte, error) { return 1, b[:1], bufio.ErrFinalToken }, 100)
	got = nil
	if err := s.Feed([]byte("xyz"), collect(&got)); err != bufio.ErrFinalToken || !slices.Equal(got, []string{"x"}) || s.Buffered() != 2 {
		t.Errorf("a final token: Feed %v, tokens %q, %d kept; want bufio.ErrFinalToken, [x], 2", err, got, s.Buffered())
	}
}

// TestNewSplitterRefusesAProgrammingMistake: a nil split function or a
// bound that is not positive panics at once, naming itself.
func TestNewSplitterRefusesAProgrammingMistake(t *testing.T) {
	for name, mk := range map[string]func(){
		"nil split":  func() { sock.NewSplitter(nil, 10) },
		"zero bound": func() { sock.NewSplitter(bufio.ScanLines, 0) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "NewSplitter") {
					t.Errorf("%s: recovered %v, want a panic naming NewSplitter", name, r)
				}
			}()
			mk()
		}()
	}
}

// TestSplitterAllocatesNothingOnceGrown: whole tokens, tokens cut by the
// reads, and a held rest cost no allocation once the splitter's buffer has
// grown to the largest of them.
func TestSplitterAllocatesNothingOnceGrown(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 4096)
	n := 0
	count := func([]byte) error { n++; return nil }
	whole := []byte("GET a\nGET b\nGET c\n")
	cut1, cut2 := []byte("GET a\nGE"), []byte("T b\nGET c\n")
	feed := func() {
		for _, p := range [][]byte{whole, cut1, cut2} {
			if err := s.Feed(p, count); err != nil {
				t.Fatal(err)
			}
		}
	}
	feed() // grows the buffer once
	if allocs := testing.AllocsPerRun(100, feed); allocs != 0 {
		t.Errorf("Feed allocates %v times a run, want 0", allocs)
	}
}

// FuzzSplitterMatchesScanner: any stream, cut anywhere, gives the lines
// bufio.Scanner gives for the whole of it.
func FuzzSplitterMatchesScanner(f *testing.F) {
	f.Add([]byte("one\ntwo\r\n\nthree"), uint64(7))
	f.Add([]byte("\n\n\n"), uint64(1))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		if len(stream) > 1<<16 {
			return
		}
		want := scanned(t, stream, bufio.ScanLines)
		got, err := feedInPieces(t, stream, randomCuts(rand.New(rand.NewPCG(seed, 0)), len(stream)), bufio.ScanLines)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q tokens, want %q", got, want)
		}
	})
}

// BenchmarkSplitter cuts 64 KiB reads of 40-byte lines (a pipelining
// client's), whole in each read or cut across reads at an odd offset, and
// reports ns and bytes a line alongside bufio.Scanner over the same stream.
func BenchmarkSplitter(b *testing.B) {
	var stream bytes.Buffer
	for i := 0; stream.Len() < 1<<20; i++ {
		fmt.Fprintf(&stream, "SET key:%08d value:%016d\n", i, i)
	}
	data := stream.Bytes()
	lines := bytes.Count(data, []byte("\n"))
	reads := func(size int) [][]byte {
		var out [][]byte
		for p := data; len(p) > 0; {
			n := min(size, len(p))
			out = append(out, p[:n])
			p = p[n:]
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		reads [][]byte
	}{
		{"whole", nil}, // reads cut at line ends, filled below
		{"cut", reads(64<<10 - 7)},
	} {
		if tc.reads == nil {
			for p := data; len(p) > 0; {
				n := bytes.LastIndexByte(p[:min(64<<10, len(p))], '\n') + 1
				tc.reads = append(tc.reads, p[:n])
				p = p[n:]
			}
		}
		b.Run(tc.name, func(b *testing.B) {
			s := sock.NewSplitter(bufio.ScanLines, 4096)
			n := 0
			count := func([]byte) error { n++; return nil }
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range tc.reads {
					if err := s.Feed(p, count); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
		})
	}
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		r := bytes.NewReader(data)
		buf := make([]byte, 64<<10)
		for b.Loop() {
			r.Reset(data)
			sc := bufio.NewScanner(r)
			sc.Buffer(buf, 64<<10)
			for sc.Scan() {
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
	})
}
