package sock_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"
)

// A Write too long to gather goes out in one system call with what was
// gathered before it (sendAfterGathered): whether the kernel takes all,
// part or none of the two, the peer reads the gathered bytes, then the
// Write's, each once, and what the kernel did not take is queued in that
// order. Write and Writev alike.
func TestCorkTooLongWriteFollowsWhatWasGathered(t *testing.T) {
	small := bytes.Repeat([]byte("a"), 100)
	for _, tc := range []struct {
		name   string
		full   bool // the kernel takes nothing: both are queued
		partly bool // the kernel has a little room: it takes part
		v      bool // Writev, in two halves
	}{
		{"Write", false, false, false},
		{"Write to a full kernel", true, false, false},
		{"Write to a kernel with a little room", true, true, false},
		{"Writev", false, false, true},
		{"Writev to a full kernel", true, false, true},
		{"Writev to a kernel with a little room", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The kernel takes a Unix stream's write in buffers of up to tens
			// of KiB as long as it has any room: with a little room it takes
			// part only of a write larger than that.
			big := bytes.Repeat([]byte("b"), 20<<10)
			if tc.partly {
				big = bytes.Repeat([]byte("b"), 256<<10)
			}
			l := newLoop(t)
			var peer net.Conn
			junk, buffered, n := 0, -1, 0
			var werr error
			h := &corkHandler{onMessage: func(c *sock.Conn, msg []byte) {
				if tc.full {
					junk = fillKernel(t, sock.ConnFD(c))
				}
				if tc.partly {
					// Room for a few KiB, less than the write.
					peer.SetReadDeadline(time.Now().Add(waitLimit))
					if _, err := io.ReadFull(peer, make([]byte, 8<<10)); err != nil {
						t.Errorf("reading some of the filler: %v", err)
					}
					junk -= 8 << 10
				}
				c.Write(small) // gathered
				if tc.v {
					n, werr = c.Writev(big[:len(big)/2], big[len(big)/2:])
				} else {
					n, werr = c.Write(big)
				}
				buffered = c.Buffered()
				c.Close()
			}}
			ln := listenUnix(t, l, sock.Messages(bufio.ScanLines, 64, h))
			peer = dialPeer(t, ln)
			if _, err := peer.Write([]byte("go\n")); err != nil {
				t.Fatal(err)
			}
			runUntil(t, l, "the answer", func() bool { return buffered >= 0 })
			if n != len(big) || werr != nil {
				t.Errorf("the long write returned %d, %v; want %d, nil", n, werr, len(big))
			}
			if tc.partly && (buffered <= 0 || buffered >= len(small)+len(big)) {
				t.Errorf("Buffered() = %d with a little room in the kernel; want some of the %d queued", buffered, len(small)+len(big))
			}
			if tc.full && !tc.partly && buffered != len(small)+len(big) {
				t.Errorf("Buffered() = %d with the kernel full; want %d, both queued", buffered, len(small)+len(big))
			}
			if !tc.full && buffered != 0 {
				t.Errorf("Buffered() = %d with room in the kernel; want 0, both sent", buffered)
			}
			peer.SetReadDeadline(time.Now().Add(waitLimit))
			if _, err := io.ReadFull(peer, make([]byte, junk)); err != nil {
				t.Fatalf("reading the filler: %v", err)
			}
			got := answersUntilClosed(t, l, peer, h)
			want := append(append([]byte(nil), small...), big...)
			if !bytes.Equal(got, want) {
				t.Errorf("the peer read %d bytes, want %d; first difference at %d", len(got), len(want), firstByteDifference(got, want))
			}
		})
	}
}
