package sock_test

import (
	"bufio"
	"encoding/binary"
	"fmt"

	"github.com/loopgen/loop/sock"
)

// scanFrames is a bufio.SplitFunc for frames of a 2-byte big-endian length
// and that many bytes: it asks for more (0, nil, nil) until a whole frame is
// there.
func scanFrames(data []byte, atEOF bool) (int, []byte, error) {
	if len(data) < 2 {
		return 0, nil, nil
	}
	n := 2 + int(binary.BigEndian.Uint16(data))
	if len(data) < n {
		return 0, nil, nil
	}
	return n, data[2:n], nil
}

// A Splitter with a split function of one's own: length-prefixed frames,
// fed as reads would cut them. In a Handler, the Splitter lives in
// Conn.Context and OnData feeds it each p.
func ExampleSplitter() {
	s := sock.NewSplitter(scanFrames, 64<<10)
	stream := []byte("\x00\x05hello\x00\x00\x00\x05world")
	for _, read := range [][]byte{stream[:4], stream[4:9], stream[9:]} {
		err := s.Feed(read, func(frame []byte) error {
			fmt.Printf("frame %q\n", frame)
			return nil
		})
		if err != nil {
			fmt.Println("error:", err)
		}
		fmt.Println("kept", s.Buffered())
	}
	// Output:
	// kept 4
	// frame "hello"
	// frame ""
	// kept 0
	// frame "world"
	// kept 0
}

// At the end of the stream, End hands out what the split function makes of
// the rest: bufio.ScanLines gives a last line without its newline.
func ExampleSplitter_End() {
	s := sock.NewSplitter(bufio.ScanLines, 1024)
	show := func(line []byte) error { fmt.Printf("%q\n", line); return nil }
	_ = s.Feed([]byte("first\nsecond\nno newline"), show)
	if err := s.End(show); err != nil {
		fmt.Println("error:", err)
	}
	// Output:
	// "first"
	// "second"
	// "no newline"
}
