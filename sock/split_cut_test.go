package sock_test

import (
	"bufio"
	"strings"
	"testing"

	"github.com/loopgen/loop/sock"
)

// TestSplitterHandsOutALongTokenWhereverTheReadCutIt: a line longer than
// the bound that the next read finishes is handed out wherever the reads
// cut it, as one whole in a read is: the bound is on an unfinished token.
// (It was refused when the kept part and feedKept's first copy of the read
// passed the bound before the newline: cut after 600 of 1,200 bytes, not
// after 900. Found by a mutation round's helper.)
func TestSplitterHandsOutALongTokenWhereverTheReadCutIt(t *testing.T) {
	for _, kept := range []int{100, 600, 900, 999, 1000} {
		s := sock.NewSplitter(bufio.ScanLines, 1000)
		var got []int
		fn := func(tok []byte) error { got = append(got, len(tok)); return nil }
		if err := s.Feed([]byte(strings.Repeat("x", kept)), fn); err != nil {
			t.Fatal(err)
		}
		err := s.Feed([]byte(strings.Repeat("x", 1200-kept)+"\n"), fn)
		if err != nil || len(got) != 1 || got[0] != 1200 || s.Buffered() != 0 {
			t.Errorf("a 1200-byte line cut after %d bytes, bound 1000: Feed %v, tokens %v, %d kept; want it handed out, nothing kept",
				kept, err, got, s.Buffered())
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
