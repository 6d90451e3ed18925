//go:build unix

package sock_test

import (
	"bufio"
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/loopgen/loop/sock"
)

// splitOnComma is the split function of bufio's ExampleScanner_emptyFinalToken:
// comma-separated fields, the last of which (possibly empty) ends the
// stream with bufio.ErrFinalToken.
func splitOnComma(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, ','); i >= 0 {
		return i + 1, data[:i], nil
	}
	if !atEOF {
		return 0, nil, nil
	}
	return 0, data, bufio.ErrFinalToken
}

// TestSplitterEmptyFinalTokenWhateverTheCuts: "1,2,3,4," gives an empty last
// field, as bufio.Scanner gives it, whether the stream came in one read or
// in two. End hands the split function a nil slice when the splitter never
// kept anything (its buffer was never made), so the token it returns (data
// itself) is nil and is dropped; once a read has been cut, the slice is
// empty but not nil, and the token comes out.
func TestSplitterEmptyFinalTokenWhateverTheCuts(t *testing.T) {
	want := []string{"1", "2", "3", "4", ""}
	for _, pieces := range [][]string{{"1,2,3,4,"}, {"1,2", ",3,4,"}} {
		s := sock.NewSplitter(splitOnComma, 100)
		var got []string
		fn := func(tok []byte) error { got = append(got, string(tok)); return nil }
		for _, p := range pieces {
			if err := s.Feed([]byte(p), fn); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.End(fn); err != nil && err != bufio.ErrFinalToken {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("pieces %q: tokens %q, want %q (bufio.Scanner's)", pieces, got, want)
		}
	}
}

// TestSplitterHoldRestOnTheFinalTokenStillSaysItWasFinal: a handler that
// returns HoldRest for the token the split function gave with
// bufio.ErrFinalToken made Feed return nil, so the caller never learned that
// the stream had ended; the Feed(nil) of its OnResume then handed out the
// input after the last token. At End the same token came out again on each
// End.
func TestSplitterHoldRestOnTheFinalTokenStillSaysItWasFinal(t *testing.T) {
	stopAtSTOP := func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if string(tok) == "STOP" {
			return adv, tok, bufio.ErrFinalToken
		}
		return adv, tok, err
	}
	s := sock.NewSplitter(stopAtSTOP, 100)
	var got []string
	hold := func(tok []byte) error { got = append(got, string(tok)); return sock.HoldRest }
	take := func(tok []byte) error { got = append(got, string(tok)); return nil }
	if err := s.Feed([]byte("a\nSTOP\nafter\n"), take); err != bufio.ErrFinalToken {
		t.Fatalf("without HoldRest: Feed = %v, want bufio.ErrFinalToken", err)
	}

	s = sock.NewSplitter(stopAtSTOP, 100)
	got = nil
	err := s.Feed([]byte("STOP\nafter\n"), hold)
	if err != bufio.ErrFinalToken {
		// What the caller sees instead: Feed(nil), as OnResume makes it,
		// goes on past the final token.
		_ = s.Feed(nil, take)
		t.Errorf("HoldRest on the final token: Feed = %v, want bufio.ErrFinalToken; then Feed(nil) gave %q", err, got)
	}
}

// TestSplitterEndAfterTooLongHandsOutNothing: after bufio.ErrTooLong "the
// stream cannot be cut further, and Feed drops what it is given"; End (from
// OnClose with a nil error, once the handler has closed the connection as
// told) handed out the refused token's kept prefix as the stream's last
// token, a line the peer never sent, and returned nil.
func TestSplitterEndAfterTooLongHandsOutNothing(t *testing.T) {
	s := sock.NewSplitter(bufio.ScanLines, 10)
	var got []string
	fn := func(tok []byte) error { got = append(got, string(tok)); return nil }
	if err := s.Feed([]byte(strings.Repeat("x", 20)), fn); !errors.Is(err, bufio.ErrTooLong) {
		t.Fatalf("Feed = %v, want bufio.ErrTooLong", err)
	}
	if err := s.Feed([]byte("yyy\n"), fn); !errors.Is(err, bufio.ErrTooLong) {
		t.Fatalf("Feed after bufio.ErrTooLong = %v, want it again", err)
	}
	err := s.End(fn)
	if len(got) != 0 || err == nil {
		t.Errorf("End after bufio.ErrTooLong: %v, tokens %q; want an error and no token", err, got)
	}
}

// TestSplitterHeldInputPastTheBoundFinishedByARead: input held by HoldRest
// is not bounded, and may be longer than maxToken in all while each of its
// tokens is not; a Feed whose p finishes its last token hands them all out.
// It refused them with bufio.ErrTooLong at once (feedKept took kept input
// past the bound, before any of p was copied, for a token that an earlier
// Feed refused, which after a HoldRest no Feed did). A held token that
// comes out longer than maxToken is refused, as any is.
func TestSplitterHeldInputPastTheBoundFinishedByARead(t *testing.T) {
	for _, tc := range []struct {
		held string
		want []string
		err  error
	}{
		{"bbbbbbbb\ncccccc", []string{"a", "bbbbbbbb", "ccccccy"}, nil},
		{strings.Repeat("x", 20), []string{"a"}, bufio.ErrTooLong},
	} {
		s := sock.NewSplitter(bufio.ScanLines, 10)
		var got []string
		first := true
		fn := func(tok []byte) error {
			got = append(got, string(tok))
			if first {
				first = false
				return sock.HoldRest
			}
			return nil
		}
		if err := s.Feed([]byte("a\n"+tc.held), fn); err != nil {
			t.Fatalf("Feed with a HoldRest = %v, want nil", err)
		}
		err := s.Feed([]byte("y\n"), fn)
		if err != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("held %q finished by a read: Feed = %v, tokens %q; want %v and %q", tc.held, err, got, tc.err, tc.want)
		}
	}
}
