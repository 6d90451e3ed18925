//go:build unix

package sock

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// HoldRest is what a token handler given to Splitter.Feed returns to stop
// after the token it was given: the token counts as handled, the input after
// it stays in the Splitter, and Feed returns nil. A handler returns it when it
// cannot take more work now (Conn.WritePaused turned true while it answered,
// say); a later Feed, with nil once OnResume comes, goes on from there. It is
// not an error, as fs.SkipAll is not.
//
//lint:ignore ST1012 a control value, named as fs.SkipAll and io.EOF are
var HoldRest = errors.New("sock: hold the rest of the input")

// maxEmptyTokens bounds tokens in a row that advance nothing: a split
// function that keeps returning them would otherwise loop for ever.
// bufio.Scanner panics after as many at the end of its input; Feed and End
// return an error.
const maxEmptyTokens = 100

// Splitter cuts a stream into tokens, however reads divide it, with a
// bufio.SplitFunc: bufio.ScanLines for a line protocol, or one that finds a
// length-prefixed frame. OnData hands it each read with Feed, which calls a
// function once per whole token, in order; the splitter keeps only what is
// left over (an unfinished token, or tokens after a HoldRest) until the next
// Feed. A Conn's Splitter belongs in its Context, made in OnOpen; Messages
// does all that, and the flow control below, for a handler of its own.
//
// Tokens that lie whole in a read are handed out of it, not copied, and a
// kept unfinished token is copied once, so that a connection whose tokens
// come whole costs no memory and allocates nothing, and one whose tokens are
// cut allocates only until its buffer has grown to its largest token. A
// token (what fn gets) is valid only during the call, as Scanner.Bytes's is:
// copy what must outlive it.
//
// The split function is asked in order and never ahead: it is called for a
// token only once fn has returned for the one before, and after it asked
// for more input, or after fn returned HoldRest, it is asked again from the
// same place. So a split function may keep state that fn sets, as one for
// a protocol of lines and counted blocks does: fn reads a header line that
// announces n bytes, and the split function then hands out the next n
// bytes as one token. A split function scans what is kept each time it is
// asked, so a token that a peer sends a byte at a time costs time
// quadratic in its length, as with bufio.Scanner: keep maxToken no larger
// than the protocol needs.
//
// The zero Splitter is not usable; make one with NewSplitter. A Splitter is
// not safe for use by several goroutines at once, which on a loop does not
// arise.
type Splitter struct {
	split bufio.SplitFunc
	max   int
	buf   []byte // kept input: buf[off:] is not yet handed out
	off   int
	ended error // bufio.ErrTooLong or bufio.ErrFinalToken, once returned
}

// NewSplitter returns a Splitter that cuts tokens with split and refuses
// (with bufio.ErrTooLong) a token longer than maxToken bytes, however the
// reads cut the stream: one that lies whole in a read, as bufio.Scanner
// does with a token larger than its buffer, and one still unfinished at the
// end of a Feed once what is kept of it has grown past maxToken, so that
// what a peer that never finishes one can make it keep is at most maxToken
// and the read that passed it. What is kept counts the token's framing too
// (a length header, the \r of a line's \r\n): leave room for it, or a
// token of maxToken bytes that reads cut is refused where a read that
// brings it whole hands it out. It panics if split is nil or maxToken is not
// positive, as those are mistakes in the program, not in its input.
func NewSplitter(split bufio.SplitFunc, maxToken int) *Splitter {
	if split == nil {
		panic("sock: NewSplitter with a nil split function")
	}
	if maxToken <= 0 {
		panic(fmt.Sprintf("sock: NewSplitter with maxToken %d; it must be positive", maxToken))
	}
	return &Splitter{split: split, max: maxToken}
}

// Buffered returns how many bytes the splitter keeps: an unfinished token,
// or input held after a HoldRest (none after bufio.ErrTooLong).
func (s *Splitter) Buffered() int { return len(s.buf) - s.off }

// Rest returns the input the splitter keeps, not yet handed out: after
// bufio.ErrFinalToken, what followed the last token, for a protocol that
// switches to another framing there (an upgrade, a raw transfer) to take
// on. The slice is the splitter's own, valid until the next Feed or End.
func (s *Splitter) Rest() []byte { return s.buf[s.off:] }

// Feed adds p, the next bytes of the stream, to what the splitter kept, and
// calls fn with each whole token found, in order. It returns nil once every
// whole token was handed out or fn returned HoldRest, and otherwise the
// first error: fn's, the split function's, bufio.ErrFinalToken after the
// token that the split function said was the last, or bufio.ErrTooLong for
// a token past the bound (after the tokens before it), or an unfinished one. The input after the token that
// stopped it stays kept (see Rest), so that a Feed of nil (or of more
// input) goes on where it stopped; bufio.ErrTooLong lets it go. After
// bufio.ErrTooLong or bufio.ErrFinalToken the stream cannot be cut
// further: every later Feed and End returns the same error, hands out
// nothing and drops what it is given (close the connection, or, after the
// final token, take Rest and read what follows some other way).
//
// fn must not call Feed or End on the same Splitter: the Feed under way
// has not yet recorded what it handed out.
//
// Feed does not keep p: what it keeps, it copies. A handler that holds input
// should also PauseReading: every Feed appends its p to what is kept, held
// input included, and only each token is bounded by maxToken, not input held.
func (s *Splitter) Feed(p []byte, fn func(token []byte) error) error {
	if s.ended != nil {
		return s.ended
	}
	if s.off < len(s.buf) {
		var err error
		if p, err = s.feedKept(p, fn); err != nil || p == nil {
			return s.stopped(err)
		}
	}
	// Nothing is kept: cut p itself, and keep what is left of it.
	rest, err := s.cut(p, false, fn, len(p)+1)
	if len(rest) > 0 {
		s.buf = append(s.buf[:0], rest...)
		s.off = 0
		if err == nil && len(rest) > s.max {
			err = bufio.ErrTooLong
		}
	}
	return s.stopped(err)
}

// stopped is Feed's and End's result for cut's error: HoldRest is not one,
// and the errors after which the stream can be cut no further are kept.
func (s *Splitter) stopped(err error) error {
	switch err {
	case HoldRest:
		return nil
	case bufio.ErrTooLong:
		// Nothing more will be cut or handed out: let the buffer go.
		s.ended, s.buf, s.off = err, nil, 0
	case bufio.ErrFinalToken:
		s.ended = err
	}
	return err
}

// feedKept cuts the kept input, taking from p as its unfinished token needs,
// until what was kept before this Feed is handed out. It returns the part of
// p to go on with, for Feed to cut without copying, or nil when there is
// nothing more to do: all of p is kept, or cut's error (HoldRest included)
// stopped it.
func (s *Splitter) feedKept(p []byte, fn func([]byte) error) ([]byte, error) {
	base := len(s.buf)
	copied := 0 // s.buf[base:] holds copies of p[:copied]
	for {
		// Cut no further than the first token that ends in the copies: the
		// tokens after it lie whole in p, and are handed out of it.
		rest, err := s.cut(s.buf[s.off:], false, fn, base-s.off)
		s.off = len(s.buf) - len(rest)
		if s.off >= base {
			// What was kept before is handed out: forget the copies and go
			// on in p itself, from where the handed-out tokens ended.
			p = p[s.off-base:]
			s.buf, s.off = s.buf[:0], 0
			if err != nil {
				s.buf = append(s.buf, p...)
				return nil, err
			}
			return p, nil
		}
		if err != nil {
			s.buf = append(s.buf, p[copied:]...)
			return nil, err
		}
		// The kept token is unfinished. Past the bound it is refused once
		// all of p is in: until then p may finish it, and the kept input
		// may be tokens held by HoldRest, each within the bound, followed
		// by an unfinished one (cut refuses a finished token too long).
		if copied == len(p) && s.Buffered() > s.max {
			s.compact()
			return nil, bufio.ErrTooLong
		}
		if copied == len(p) {
			s.compact()
			return nil, nil
		}
		// Copy more of p, at least as much as is kept, so that a long token
		// is cut O(its length) times in all.
		n := min(len(p)-copied, max(s.Buffered(), 512))
		s.buf = append(s.buf, p[copied:copied+n]...)
		copied += n
	}
}

// cut hands out the whole tokens of b and returns what is left of it: an
// unfinished token, or the rest after fn returned HoldRest or an error
// stopped it (the error is then returned, HoldRest included). It stops,
// too, after the first token that ends past b's first until bytes.
func (s *Splitter) cut(b []byte, atEOF bool, fn func([]byte) error, until int) ([]byte, error) {
	empty := 0
	for start := len(b); len(b) > 0 || atEOF; {
		advance, token, err := s.split(b, atEOF)
		final := err == bufio.ErrFinalToken
		if err != nil && !final {
			return b, err
		}
		if advance < 0 || advance > len(b) {
			return b, fmt.Errorf("sock: split function advanced %d bytes of %d", advance, len(b))
		}
		b = b[advance:]
		if token == nil && !final {
			if advance == 0 {
				return b, nil // an unfinished token: wait for more
			}
			continue
		}
		if advance > 0 {
			empty = 0
		} else if empty++; empty > maxEmptyTokens {
			return b, fmt.Errorf("sock: split function returned %d tokens in a row without advancing", empty)
		}
		if token != nil {
			if len(token) > s.max {
				return b, bufio.ErrTooLong
			}
			// HoldRest on the last token still ends the stream.
			if err := fn(token); err != nil && !(final && err == HoldRest) {
				return b, err
			}
		}
		if final {
			return b, bufio.ErrFinalToken
		}
		if start-len(b) >= until {
			return b, nil
		}
	}
	return b, nil
}

// compact moves the kept input to the start of the buffer, so that it does
// not creep towards the end and grow the buffer for nothing.
func (s *Splitter) compact() {
	if s.off > 0 {
		n := copy(s.buf, s.buf[s.off:])
		s.buf, s.off = s.buf[:n], 0
	}
}

// End is Feed at the end of the stream (from OnEOF, or from OnClose with a
// nil error): it hands out what is kept as the split function cuts it when
// no more input will come (bufio.ScanLines, for one, gives a last line
// without its newline), and returns io.ErrUnexpectedEOF if input is left
// that the split function does not make a token of. With nothing kept, End
// cannot tell a split function that waits for more from one that has
// finished, and returns nil, as bufio.Scanner ends without an error: one
// whose protocol is in the middle of a message then (a counted block
// announced and not begun) says so itself. Input that fn holds again
// with HoldRest stays kept, and End returns nil: End again goes on. As
// bufio.Scanner does, End asks the split function again after each token,
// until it returns none, so that one that ends the stream with a token of
// its own (an empty last field) is asked with the kept input used up. Once
// End returns nil with nothing kept, the splitter may serve another stream;
// after bufio.ErrTooLong or bufio.ErrFinalToken it may not.
func (s *Splitter) End(fn func(token []byte) error) error {
	if s.ended != nil {
		return s.ended
	}
	b := s.buf[s.off:]
	if b == nil {
		// Nothing was ever kept. The split function gets an empty slice,
		// not nil, as Scanner gives it: one that returns its data as the
		// last token (bufio's ExampleScanner_emptyFinalToken) would
		// otherwise return nil, which is no token.
		b = []byte{}
	}
	rest, err := s.cut(b, true, fn, len(b)+1)
	s.off = len(s.buf) - len(rest)
	switch {
	case err != nil:
		return s.stopped(err)
	case len(rest) > 0:
		// A split function that asks for more at the end of the stream:
		// an unfinished token.
		return io.ErrUnexpectedEOF
	}
	s.buf, s.off = s.buf[:0], 0
	return nil
}
