// Command chat is a line-based chat server on package sock: every line a
// client sends goes to every other client, as "#N: line", N being the
// sender's number. Try it with two or more terminals:
//
//	go run ./examples/chat -addr 127.0.0.1:7001
//	nc 127.0.0.1 7001
//
// It runs one loop per core (sock.Group). A connection belongs to the loop
// that accepted it, and so do its writes: each loop keeps a room of its own
// connections, and the lines said on one loop in one iteration reach the
// other rooms in one Post to each loop, the same copy of each line, which
// every loop only reads. Nothing is locked.
//
// sock.Messages cuts the input into lines, however the reads split them, and
// gathers the answers to one read into one send. A client that stops reading
// is not buffered for without bound: past the high-water mark its own input
// is paused (so it cannot send more while it does not read), and past
// -backlog bytes waiting for it, it is cut off.
//
// On SIGINT or SIGTERM the server tells every client it is going, lets each
// take what is queued for it (for -grace at most) and exits; 1 if some
// client had not taken everything by then.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// config is what the flags set.
type config struct {
	maxLine int // longest line taken, in bytes
	backlog int // bytes waiting for one client past which it is cut off
}

// room is one loop's share of the chat: the connections that loop accepted.
// Its methods run on that loop's goroutine, so they need no lock.
type room struct {
	sock.BaseHandler
	cfg   config
	l     *loop.Loop
	conns map[*sock.Conn]struct{}
	rooms []*room       // every loop's room, this one included
	ids   *atomic.Int64 // client numbers, shared by the rooms

	outbox   [][][]byte // by room: lines said here since the last flush, for that room's loop
	flushing bool       // a flush is queued
}

// client is a connection's Context.
type client struct{ id int64 }

func (r *room) OnOpen(c *sock.Conn) {
	id := r.ids.Add(1)
	c.Context = &client{id: id}
	r.conns[c] = struct{}{}
	c.Write(fmt.Appendf(nil, "welcome, you are #%d\n", id))
	r.say(c, fmt.Appendf(nil, "#%d joined\n", id))
}

func (r *room) OnMessage(c *sock.Conn, msg []byte) {
	if len(msg) == 0 {
		return
	}
	// msg lies in the loop's read buffer and is valid only during this
	// call: the other loops get a copy, made once, which nobody changes.
	line := fmt.Appendf(make([]byte, 0, len(msg)+24), "#%d: %s\n", c.Context.(*client).id, msg)
	r.say(c, line)
}

func (r *room) OnClose(c *sock.Conn, err error) {
	if _, ok := r.conns[c]; !ok {
		return // its OnOpen never ran
	}
	delete(r.conns, c)
	r.say(nil, fmt.Appendf(nil, "#%d left\n", c.Context.(*client).id))
}

// OnSplitError answers a line longer than -max-line (bufio.ErrTooLong),
// then closes: what follows it cannot be cut into lines any more.
func (r *room) OnSplitError(c *sock.Conn, err error) {
	fmt.Fprintf(c, "line too long (at most %d bytes): bye\n", r.cfg.maxLine)
	c.Close()
}

// OnShutdown tells the client the server is going; Close then sends
// everything still queued for it before the connection ends.
func (r *room) OnShutdown(c *sock.Conn) {
	c.Write([]byte("server shutting down: bye\n"))
	c.Close()
}

// say sends line to every client but from (nil: to all of them): this
// room's now, the other rooms' with the next flush, after what this loop
// has said before. A client that joins another loop meanwhile hears it too:
// it may hear of a join that came just before its own.
func (r *room) say(from *sock.Conn, line []byte) {
	r.deliver(from, line)
	for i, other := range r.rooms {
		if other != r {
			r.outbox[i] = append(r.outbox[i], line)
		}
	}
	if !r.flushing {
		r.flushing = true
		r.l.CallSoon(r.flush) // next iteration: after this one's reads
	}
}

// flush hands each other room what was said here since the last flush, in
// one Post: a Post a line would cost the other loop an inbox slot and
// perhaps a wake-up for every line, where a busy loop says many lines in
// one iteration.
func (r *room) flush() {
	r.flushing = false
	for i, lines := range r.outbox {
		if len(lines) == 0 {
			continue
		}
		other := r.rooms[i]
		r.outbox[i] = nil // the batch is the other loop's now
		// An error here means the other loop is closing (the server is
		// shutting down): its clients are being told, and no more.
		other.l.Post(func() {
			for _, line := range lines {
				other.deliver(nil, line)
			}
		})
	}
}

// deliver writes line to this room's clients but from, and cuts off those
// that have let more than -backlog bytes wait for them.
func (r *room) deliver(from *sock.Conn, line []byte) {
	for c := range r.conns {
		if c == from {
			continue
		}
		c.Write(line) // an error says c is closing, and OnClose will drop it
		if c.Buffered() > r.cfg.backlog {
			c.Abort()
		}
	}
}

// listen opens the chat on addr, on every loop of g.
func listen(g *sock.Group, addr string, cfg config) (*sock.GroupListener, error) {
	loops := g.Loops()
	rooms := make([]*room, len(loops))
	ids := new(atomic.Int64)
	for i, l := range loops {
		rooms[i] = &room{cfg: cfg, l: l, conns: make(map[*sock.Conn]struct{}), rooms: rooms, ids: ids, outbox: make([][][]byte, len(loops))}
	}
	return g.Listen("tcp", addr, func(l *loop.Loop) sock.Handler {
		return sock.Messages(bufio.ScanLines, cfg.maxLine, rooms[g.Index(l)])
	})
}

// options are the command line's.
type options struct {
	addr  string
	loops int
	grace time.Duration
	config
}

// parseFlags reads the command line (without the program's name).
func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:7001", "address to listen on")
	fs.IntVar(&o.loops, "loops", 0, "event loops (0: one per core)")
	fs.IntVar(&o.maxLine, "max-line", 4096, "longest line taken, in bytes")
	fs.IntVar(&o.backlog, "backlog", 1<<20, "bytes waiting for one client past which it is cut off")
	fs.DurationVar(&o.grace, "grace", 5*time.Second, "on SIGINT or SIGTERM, how long clients may take to read what is queued for them")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.loops < 0:
		return o, fmt.Errorf("-loops must be 0 (one per core) or more (got %d)", o.loops)
	case o.maxLine < 1:
		return o, fmt.Errorf("-max-line must be 1 or more (got %d)", o.maxLine)
	case o.backlog < 1:
		return o, fmt.Errorf("-backlog must be 1 or more (got %d)", o.backlog)
	case o.grace < 0:
		return o, fmt.Errorf("-grace must be 0 (close at once) or more (got %v)", o.grace)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		log.Fatalf("chat: %v", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	g, err := sock.NewGroup(o.loops)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := listen(g, o.addr, o.config)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("chat: listening on %v with %d loops", ln.Addr(), len(g.Loops()))

	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), o.grace)
	err = g.Shutdown(ctx)
	cancel()
	if err != nil {
		log.Fatalf("chat: shutdown cut short: %v", err)
	}
	log.Printf("chat: shut down")
}
