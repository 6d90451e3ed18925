// Command client checks an echo server: it opens -conns connections on one
// loop with sock.Dial, sends -msgs numbered messages on each, and checks
// that every byte comes back, in order. It exits 1 on any mismatch, error
// or timeout.
//
//	go run ./examples/echo -addr 127.0.0.1:7000 &
//	go run ./examples/client -addr 127.0.0.1:7000 -conns 100 -msgs 1000
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// checker sends its messages and compares what comes back with what went
// out. It is the one handler of all the client's connections; each
// connection's progress is its Context.
type checker struct {
	sock.BaseHandler
	msgs      int
	open      int // connections not closed yet
	failed    int
	done      func()
	startedAt time.Time
	bytes     int
}

// progress is one connection's state.
type progress struct {
	sent []byte // everything written, to compare the echo with
	got  int    // how much of sent has come back
	bad  bool   // the echo differed, which OnData reported
}

func (h *checker) OnOpen(c *sock.Conn) {
	p := &progress{}
	c.Context = p
	for i := range h.msgs {
		msg := fmt.Appendf(nil, "message %d from %v|", i, c.LocalAddr())
		p.sent = append(p.sent, msg...)
	}
	// One Write: what the kernel does not take at once is queued and
	// sent as the server reads.
	c.Write(p.sent)
}

func (h *checker) OnData(c *sock.Conn, data []byte) {
	p := c.Context.(*progress)
	if len(data) > len(p.sent)-p.got || !bytes.Equal(data, p.sent[p.got:p.got+len(data)]) {
		log.Printf("client: %v: the echo differs from what was sent at byte %d", c.LocalAddr(), p.got)
		p.bad = true
		c.Abort() // OnClose counts the failure
		return
	}
	p.got += len(data)
	h.bytes += len(data)
	if p.got == len(p.sent) {
		c.Close()
	}
}

func (h *checker) OnClose(c *sock.Conn, err error) {
	p, _ := c.Context.(*progress)
	switch {
	case p != nil && p.bad: // reported by OnData
		h.failed++
	case p == nil: // the dial failed: OnOpen never ran
		log.Printf("client: could not connect: %v", err) // err names the address
		h.failed++
	case err != nil:
		log.Printf("client: %v: %v (after %d of %d bytes were echoed)", c.RemoteAddr(), err, p.got, len(p.sent))
		h.failed++
	case p.got != len(p.sent):
		log.Printf("client: %v: the server ended the connection after echoing %d of %d bytes", c.RemoteAddr(), p.got, len(p.sent))
		h.failed++
	}
	if h.open--; h.open == 0 {
		h.done()
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "echo server address")
	network := flag.String("net", "tcp", "tcp, tcp4, tcp6 or unix")
	conns := flag.Int("conns", 10, "connections")
	msgs := flag.Int("msgs", 100, "messages per connection")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	flag.Parse()
	if *conns < 1 || *msgs < 1 {
		// With nothing to send a connection would wait for an echo forever.
		log.Fatalf("client: -conns and -msgs must be at least 1 (got %d and %d)", *conns, *msgs)
	}
	if *timeout <= 0 {
		// CallLater with no delay runs at once: every run would time out.
		log.Fatalf("client: -timeout must be greater than 0 (got %v)", *timeout)
	}

	l, err := loop.New()
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	h := &checker{msgs: *msgs, open: *conns, done: l.Stop, startedAt: time.Now()}
	for range *conns {
		if _, err := sock.Dial(l, *network, *addr, h); err != nil {
			log.Fatal(err)
		}
	}
	timedOut := false
	l.CallLater(*timeout, func() { timedOut = true; l.Stop() })
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
	switch {
	case timedOut:
		log.Printf("client: timed out after %v with %d connections still open", *timeout, h.open)
		os.Exit(1)
	case h.failed > 0:
		log.Printf("client: %d of %d connections failed", h.failed, *conns)
		os.Exit(1)
	}
	fmt.Printf("client: %d connections x %d messages: %d bytes echoed intact in %v\n",
		*conns, *msgs, h.bytes, time.Since(h.startedAt).Round(time.Millisecond))
}
