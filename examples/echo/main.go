// Command echo is a TCP echo server on package sock: one loop per core
// (sock.Group), each accepting on its own SO_REUSEPORT socket, every
// connection echoing what it reads, with flow control and an idle timeout.
// It shuts down gracefully on SIGINT or SIGTERM: it stops accepting and gives
// connections -grace to send what they have and close; if some are still open
// then, it aborts them and exits with status 1.
//
//	go run ./examples/echo -addr 127.0.0.1:7000
//	go run ./examples/client -addr 127.0.0.1:7000
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// echo writes back what it reads. When the peer reads more slowly than it
// sends, the write buffer grows past the high-water mark and OnPause stops
// reading, so the peer feels the back-pressure instead of our memory.
type echo struct{ sock.BaseHandler }

func (echo) OnOpen(c *sock.Conn)           { c.SetIdleTimeout(*idle) }
func (echo) OnData(c *sock.Conn, p []byte) { c.Write(p) }
func (echo) OnPause(c *sock.Conn)          { c.PauseReading() }
func (echo) OnResume(c *sock.Conn)         { c.ResumeReading() }

var idle = flag.Duration("idle", time.Minute, "close connections idle this long (0: never)")

func main() {
	network := flag.String("net", "tcp", "network: tcp, tcp4, tcp6, or unix (-addr is then the socket's path)")
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	loops := flag.Int("loops", 0, "event loops (0: one per core)")
	grace := flag.Duration("grace", 5*time.Second, "on SIGINT or SIGTERM, how long connections may take to drain and close")
	flag.Parse()
	// sock reads both as "the default" when negative: one loop per core,
	// and no idle timeout. Say so instead of guessing what was meant.
	if *loops < 0 {
		log.Fatalf("echo: -loops must be 0 (one per core) or more (got %d)", *loops)
	}
	if *idle < 0 {
		log.Fatalf("echo: -idle must be 0 (never) or more (got %v)", *idle)
	}
	if *grace < 0 {
		log.Fatalf("echo: -grace must be 0 (close at once) or more (got %v)", *grace)
	}

	// Before the server says it listens: a signal that comes right after
	// must find it ready to shut down, not kill it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	g, err := sock.NewGroup(*loops)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := g.Listen(*network, *addr, func(*loop.Loop) sock.Handler { return echo{} })
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("echo: listening on %v with %d loops", ln.Addr(), len(g.Loops()))

	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), *grace)
	err = g.Shutdown(ctx)
	cancel()
	if err != nil {
		// Connections were aborted, perhaps with echoes unsent: a process
		// manager should hear that the shutdown was not clean.
		log.Fatalf("echo: shutdown cut short: %v", err)
	}
	log.Printf("echo: shut down")
}
