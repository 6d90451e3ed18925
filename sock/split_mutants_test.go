package sock_test

// Tests from a mutation round over Splitter (split.go): each pins behaviour
// that a one-line change let through the rest of the suite.

import (
	"bufio"
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/loopgen/loop/sock"
)

// splitCollector returns a handler that records the tokens it gets, and
// returns HoldRest while *hold is true.
func splitCollector(got *[]string, hold *bool) func([]byte) error {
	return func(tok []byte) error {
		*got = append(*got, string(tok))
		if *hold {
			return sock.HoldRest
		}
		return nil
	}
}

// TestSplitterTakesABoundOfOne: 1 is a positive maxToken, so NewSplitter
// takes it, and a splitter with it keeps one byte of an unfinished token
// and refuses two.
func TestSplitterTakesABoundOfOne(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 1)
	var got []string
	hold := false
	if err := s.Feed([]byte("a"), splitCollector(&got, &hold)); err != nil {
		t.Fatalf("one byte kept under a bound of 1: %v", err)
	}
	if err := s.Feed([]byte("\n"), splitCollector(&got, &hold)); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Fatalf("Feed %v, tokens %q; want nil and [a]", err, got)
	}
	if err := s.Feed([]byte("bc"), splitCollector(&got, &hold)); !errors.Is(err, bufio.ErrTooLong) {
		t.Fatalf("two bytes kept under a bound of 1: Feed %v, want bufio.ErrTooLong", err)
	}
}

// TestSplitterKeepsAnUnfinishedTokenOfExactlyTheBound: the bound refuses a
// token that has grown past maxToken, not one of maxToken bytes, whether
// it came in one read or was put together from two.
func TestSplitterKeepsAnUnfinishedTokenOfExactlyTheBound(t *testing.T) {
	for _, pieces := range [][]string{
		{strings.Repeat("x", 100)},
		{strings.Repeat("x", 60), strings.Repeat("x", 40)},
		{"ok\n" + strings.Repeat("x", 70), strings.Repeat("x", 30)},
	} {
		s := sock.NewSplitter(bufio.ScanLines, 100)
		var got []string
		hold := false
		for _, p := range pieces {
			if err := s.Feed([]byte(p), splitCollector(&got, &hold)); err != nil {
				t.Fatalf("pieces %d: Feed %v; want nil for 100 bytes kept under a bound of 100", len(pieces), err)
			}
		}
		if n := s.Buffered(); n != 100 {
			t.Fatalf("Buffered = %d, want 100", n)
		}
		got = nil
		if err := s.Feed([]byte("\n"), splitCollector(&got, &hold)); err != nil || len(got) != 1 || got[0] != strings.Repeat("x", 100) {
			t.Fatalf("the end of the line: Feed %v, tokens %q; want the 100 bytes", err, got)
		}
	}
}

// TestSplitterRefusesANegativeAdvance: a split function that returns a
// negative advance is an error Feed and End return, not a panic.
func TestSplitterRefusesANegativeAdvance(t *testing.T) {
	neg := func([]byte, bool) (int, []byte, error) { return -1, nil, nil }
	s := sock.NewSplitter(neg, 100)
	if err := s.Feed([]byte("abc"), func([]byte) error { return nil }); err == nil {
		t.Error("Feed with a split function that advanced -1 returned nil")
	}
	s = sock.NewSplitter(neg, 100)
	if err := s.End(func([]byte) error { return nil }); err == nil {
		t.Error("End with a split function that advanced -1 returned nil")
	}
}

// TestSplitterHoldsOnATokenCutByARead: a HoldRest on the token that joins
// what was kept to the read keeps exactly the input after it, and a Feed of
// nil goes on from there.
func TestSplitterHoldsOnATokenCutByARead(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 100)
	var got []string
	hold := true
	fn := splitCollector(&got, &hold)
	if err := s.Feed([]byte("ab"), fn); err != nil {
		t.Fatal(err)
	}
	if err := s.Feed([]byte("c\nd\ne"), fn); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"abc"}) || s.Buffered() != len("d\ne") {
		t.Fatalf("held on the joined token: tokens %q, %d kept; want [abc] and 3", got, s.Buffered())
	}
	hold = false
	if err := s.Feed(nil, fn); err != nil {
		t.Fatal(err)
	}
	if err := s.Feed([]byte("\n"), fn); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"abc", "d", "e"}) || s.Buffered() != 0 {
		t.Fatalf("tokens %q, %d kept; want [abc d e] and 0", got, s.Buffered())
	}
}

// TestSplitterForgetsWhatItCopiedOfARead: a read that ends a kept token
// and more than the part feedKept copies of it, ending at a token's end,
// leaves nothing kept; the next read's tokens come alone.
func TestSplitterForgetsWhatItCopiedOfARead(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 4096)
	var got []string
	hold := false
	fn := splitCollector(&got, &hold)
	long := strings.Repeat("x", 600)
	for _, p := range []string{"ab", "c\n" + long + "\n"} {
		if err := s.Feed([]byte(p), fn); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Buffered(); n != 0 {
		t.Errorf("Buffered = %d after every token, want 0", n)
	}
	if err := s.Feed([]byte("y\n"), fn); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"abc", long, "y"}) {
		t.Fatalf("tokens %q (%d), want [abc, 600 x, y]", got, len(got))
	}
}

// TestSplitterEndHoldsAndGoesOn: End, like Feed, stops at a HoldRest,
// returns nil (not io.ErrUnexpectedEOF for what it holds) and records what
// it handed out, so that End again goes on from the token after; a
// handler's error there is End's error.
func TestSplitterEndHoldsAndGoesOn(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 100)
	var got []string
	hold := true
	fn := splitCollector(&got, &hold)
	if err := s.Feed([]byte("a\nb\nc\nd"), fn); err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := s.End(fn); err != nil || !slices.Equal(got, []string{"b"}) || s.Buffered() != len("c\nd") {
		t.Fatalf("End holding: %v, tokens %q, %d kept; want nil, [b], 3", err, got, s.Buffered())
	}
	if err := s.End(fn); err != nil || !slices.Equal(got, []string{"b", "c"}) || s.Buffered() != len("d") {
		t.Fatalf("End again, holding: %v, tokens %q, %d kept; want nil, [b c], 1", err, got, s.Buffered())
	}
	hold = false
	if err := s.End(fn); err != nil || !slices.Equal(got, []string{"b", "c", "d"}) || s.Buffered() != 0 {
		t.Fatalf("End again: %v, tokens %q, %d kept; want nil, [b c d], 0", err, got, s.Buffered())
	}

	boom := errors.New("boom")
	s = sock.NewSplitter(bufio.ScanLines, 100)
	if err := s.Feed([]byte("a\nb"), func([]byte) error { return sock.HoldRest }); err != nil {
		t.Fatal(err)
	}
	if err := s.End(func([]byte) error { return boom }); err != boom {
		t.Errorf("End with a handler that fails with input left: %v, want its error", err)
	}
}

// TestSplitterServesAnotherStreamAfterEndHeldItsLastToken: End that held
// the last token returns nil with nothing kept, and then the splitter
// serves another stream from its start.
func TestSplitterServesAnotherStreamAfterEndHeldItsLastToken(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 100)
	var got []string
	hold := true
	fn := splitCollector(&got, &hold)
	if err := s.Feed([]byte("last"), fn); err != nil {
		t.Fatal(err)
	}
	if err := s.End(fn); err != nil || !slices.Equal(got, []string{"last"}) || s.Buffered() != 0 {
		t.Fatalf("End holding the last token: %v, tokens %q, %d kept; want nil, [last], 0", err, got, s.Buffered())
	}
	hold = false
	if err := s.Feed([]byte("ne"), fn); err != nil {
		t.Fatal(err)
	}
	if n := s.Buffered(); n != len("ne") {
		t.Fatalf("a new stream's unfinished token: Buffered = %d, want 2", n)
	}
	if err := s.Feed([]byte("xt\n"), fn); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"last", "next"}) || s.Buffered() != 0 {
		t.Fatalf("tokens %q, %d kept; want [last next] and 0", got, s.Buffered())
	}
}

// TestSplitterHandsOutTokensOfTheReadItself: tokens that lie whole in a
// read are handed out of it, not copied: after held input that ended at a
// token's end, every token of the read; after a token the read finished,
// those past the part feedKept copies to finish it (here, the last of a
// 64 KiB read).
func TestSplitterHandsOutTokensOfTheReadItself(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 1<<10)
	hold := true
	if err := s.Feed([]byte("a\nb\n"), func([]byte) error {
		if hold {
			return sock.HoldRest
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p := []byte("c\nd\n")
	var fromRead []bool
	if err := s.Feed(p, func(tok []byte) error {
		switch string(tok) {
		case "c":
			fromRead = append(fromRead, &tok[0] == &p[0])
		case "d":
			fromRead = append(fromRead, &tok[0] == &p[2])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fromRead, []bool{true, true}) {
		t.Errorf("after a held rest: tokens c and d handed out of the read: %v, want [true true]", fromRead)
	}

	s = sock.NewSplitter(bufio.ScanLines, 1<<10)
	if err := s.Feed([]byte("ab"), func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("c\n")
	for b.Len() < 64<<10 {
		b.WriteString("012345678\n")
	}
	p = b.Bytes()
	lastAt := len(p) - len("012345678\n")
	var last []byte
	if err := s.Feed(p, func(tok []byte) error { last = tok; return nil }); err != nil {
		t.Fatal(err)
	}
	if &last[0] != &p[lastAt] {
		t.Error("the last token of a 64 KiB read that finished a kept token was not handed out of the read")
	}
}

// TestSplitterCostIsLinearInALongToken: a long token cut by a read and
// finished by the next is shown to the split function O(its length) times
// in all, not once per 512 bytes of it.
func TestSplitterCostIsLinearInALongToken(t *testing.T) {
	const n = 256 << 10
	shown := 0
	s := sock.NewSplitter(func(data []byte, atEOF bool) (int, []byte, error) {
		shown += len(data)
		return bufio.ScanLines(data, atEOF)
	}, 2*n)
	var got []string
	hold := false
	for _, p := range []string{"x", strings.Repeat("x", n-1) + "\n"} {
		if err := s.Feed([]byte(p), splitCollector(&got, &hold)); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || len(got[0]) != n {
		t.Fatalf("%d tokens, want one of %d bytes", len(got), n)
	}
	if shown > 4*n {
		t.Errorf("the split function was shown %d bytes for a token of %d; want at most %d", shown, n, 4*n)
	}
}

// TestSplitterBoundsEmptyTokensAsScannerDoes: as bufio.Scanner, the
// splitter takes 100 tokens in a row that advance nothing and refuses the
// 101st; a token that advances starts the count again.
func TestSplitterBoundsEmptyTokensAsScannerDoes(t *testing.T) {
	// emptyThen gives k empty tokens without advancing, then the rest.
	emptyThen := func(k int) bufio.SplitFunc {
		n := 0
		return func(data []byte, _ bool) (int, []byte, error) {
			if n < k {
				n++
				return 0, []byte{}, nil
			}
			return len(data), data, nil
		}
	}
	calls := 0
	count := func([]byte) error { calls++; return nil }
	if err := sock.NewSplitter(emptyThen(100), 100).Feed([]byte("x"), count); err != nil || calls != 101 {
		t.Errorf("100 empty tokens in a row: Feed %v after %d tokens; want nil after 101", err, calls)
	}
	calls = 0
	if err := sock.NewSplitter(emptyThen(101), 100).Feed([]byte("x"), count); err == nil || calls != 100 {
		t.Errorf("101 empty tokens in a row: Feed %v after %d tokens; want an error after 100", err, calls)
	}
	// An empty token that does not advance, then a byte, again and again.
	flip := false
	alternate := func(data []byte, _ bool) (int, []byte, error) {
		if flip = !flip; flip {
			return 0, []byte{}, nil
		}
		return 1, data[:1], nil
	}
	calls = 0
	if err := sock.NewSplitter(alternate, 100).Feed(make([]byte, 300), count); err != nil || calls != 600 {
		t.Errorf("empty tokens between tokens that advance: Feed %v after %d tokens; want nil after 600", err, calls)
	}
}

// TestSplitterFinalTokenWithoutAToken: a split function that returns
// bufio.ErrFinalToken with a nil token stops the stream there, as it stops
// bufio.Scanner: Feed returns bufio.ErrFinalToken, fn gets no token for
// it, and the input after it stays kept.
func TestSplitterFinalTokenWithoutAToken(t *testing.T) {
	quitAtQ := func(data []byte, atEOF bool) (int, []byte, error) {
		if len(data) > 0 && data[0] == 'Q' {
			return 1, nil, bufio.ErrFinalToken
		}
		return bufio.ScanLines(data, atEOF)
	}
	s := sock.NewSplitter(quitAtQ, 100)
	var got []string
	nilTokens := 0
	err := s.Feed([]byte("a\nQb\n"), func(tok []byte) error {
		if tok == nil {
			nilTokens++
		}
		got = append(got, string(tok))
		return nil
	})
	if err != bufio.ErrFinalToken || !slices.Equal(got, []string{"a"}) || nilTokens != 0 || s.Buffered() != len("b\n") {
		t.Errorf("Feed %v, tokens %q (%d nil), %d kept; want bufio.ErrFinalToken, [a], none nil, 2",
			err, got, nilTokens, s.Buffered())
	}
}

// TestSplitterGoesOnAfterASkip: a split function that advances past bytes
// without a token (a separator, one call at a time) is called again at
// once: the tokens after it come out of the same Feed.
func TestSplitterGoesOnAfterASkip(t *testing.T) {
	skipSpace := func(data []byte, atEOF bool) (int, []byte, error) {
		if len(data) > 0 && data[0] == ' ' {
			return 1, nil, nil
		}
		return bufio.ScanLines(data, atEOF)
	}
	s := sock.NewSplitter(skipSpace, 100)
	var got []string
	hold := false
	if err := s.Feed([]byte("  a\n b\n"), splitCollector(&got, &hold)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a", "b"}) || s.Buffered() != 0 {
		t.Errorf("tokens %q, %d kept; want [a b] and 0", got, s.Buffered())
	}
}

// TestSplitterKeepsAllInputAfterASplitError: a split function that fails
// only once it sees more than was kept (a frame's length, here, when its
// second byte comes) leaves every byte of the stream kept, each once: the
// input after the token that stopped it, where no token was.
func TestSplitterKeepsAllInputAfterASplitError(t *testing.T) {
	bad := errors.New("frame too long")
	frames := func(data []byte, atEOF bool) (int, []byte, error) {
		if len(data) >= 2 && int(data[0])<<8|int(data[1]) > 100 {
			return 0, nil, bad
		}
		return scanFrames(data, atEOF)
	}
	s := sock.NewSplitter(frames, 100)
	none := func([]byte) error { return nil }
	if err := s.Feed([]byte{0x7f}, none); err != nil {
		t.Fatal(err)
	}
	if err := s.Feed([]byte{0xff, 1, 2, 3, 4, 5, 6, 7, 8}, none); err != bad {
		t.Fatalf("Feed %v, want the split function's error", err)
	}
	if n := s.Buffered(); n != 10 {
		t.Errorf("Buffered = %d after the split function's error, want the 10 bytes fed", n)
	}
	if err := s.Feed(nil, none); err != bad || s.Buffered() != 10 {
		t.Errorf("a Feed of nil: %v, %d kept; want the error again and 10", err, s.Buffered())
	}
}

// TestSplitterCompactsWhatItKeepsAfterHeldInput: once held input is handed
// out up to an unfinished token, that token moves to the start of the
// buffer, so that growing it there allocates nothing while the buffer
// (grown to the held input) is large enough. AllocsPerRun's warm-up call
// sets the splitter up; the call it counts releases the held input and
// grows the token.
func TestSplitterCompactsWhatItKeepsAfterHeldInput(t *testing.T) {
	var held bytes.Buffer
	held.WriteString("h\n")
	for rem := 4096 - 3; rem > 0; {
		n := 16
		if rem < 32 {
			n = rem
		}
		held.WriteString(strings.Repeat("l", n-1) + "\n")
		rem -= n
	}
	held.WriteString("ccc") // with the lines, the 4096 bytes held after "h"
	stream := held.Bytes()
	more := bytes.Repeat([]byte("c"), 1000)
	var s *sock.Splitter
	hold := func([]byte) error { return sock.HoldRest }
	none := func([]byte) error { return nil }
	calls := 0
	var err error
	allocs := testing.AllocsPerRun(1, func() {
		if calls++; calls == 1 {
			s = sock.NewSplitter(bufio.ScanLines, 4096)
			err = s.Feed(stream, hold)
			return
		}
		if err == nil {
			err = s.Feed(nil, none)
		}
		if err == nil {
			err = s.Feed(more, none)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Buffered(); n != 3+len(more) {
		t.Fatalf("Buffered = %d, want %d", n, 3+len(more))
	}
	if allocs != 0 {
		t.Errorf("growing a token after held input allocated %v times, want 0", allocs)
	}
}
