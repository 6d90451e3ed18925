// Examples cannot skip, and the compute variant has no poller, so they are
// left out of its build; the tests skip there one by one.

//go:build !loop_compute

package sock_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// echoHandler writes back what it reads, and passes a slow reader's
// back-pressure on by pausing its reads while its writes are paused.
type echoHandler struct{ sock.BaseHandler }

func (echoHandler) OnData(c *sock.Conn, p []byte) { c.Write(p) }
func (echoHandler) OnPause(c *sock.Conn)          { c.PauseReading() }
func (echoHandler) OnResume(c *sock.Conn)         { c.ResumeReading() }

// greeter sends one line when connected and prints what comes back.
type greeter struct {
	sock.BaseHandler
	l *loop.Loop
}

func (g greeter) OnOpen(c *sock.Conn) { c.Write([]byte("hello, loop\n")) }
func (g greeter) OnData(c *sock.Conn, p []byte) {
	fmt.Printf("echoed: %s", p)
	c.Close()
}
func (g greeter) OnClose(c *sock.Conn, err error) {
	fmt.Println("closed:", err)
	g.l.Stop()
}

// An echo server and a client on one loop.
func ExampleListen() {
	l, err := loop.New()
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	ln, err := sock.Listen(l, "tcp", "127.0.0.1:0", echoHandler{})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	if _, err := sock.Dial(l, "tcp", ln.Addr().String(), greeter{l: l}); err != nil {
		log.Fatal(err)
	}
	l.Run() // until the greeter's OnClose stops it
	// Output:
	// echoed: hello, loop
	// closed: <nil>
}

// A server on every core: one loop per core, each with its own
// SO_REUSEPORT listener, shut down gracefully.
func ExampleGroup() {
	g, err := sock.NewGroup(0) // runtime.GOMAXPROCS(0) loops
	if err != nil {
		log.Fatal(err)
	}
	ln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return echoHandler{} })
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprint(c, "ping")
	buf := make([]byte, 4)
	n, _ := c.Read(buf)
	fmt.Printf("%s\n", buf[:n])
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println("shutdown:", g.Shutdown(ctx))
	// Output:
	// ping
	// shutdown: <nil>
}

// slowAnswers hands each request to a worker goroutine and writes the
// answer when the worker posts it back to the connection's loop. Its maps
// belong to that loop's goroutine.
type slowAnswers struct {
	sock.BaseHandler
	working  map[*sock.Conn]bool // an answer is being worked out
	draining map[*sock.Conn]bool // Shutdown began: close after the answer
	handed   chan<- struct{}     // for the example: a request was handed off
}

func (h *slowAnswers) OnData(c *sock.Conn, p []byte) {
	req := string(p)
	h.working[c] = true
	go func() {
		time.Sleep(20 * time.Millisecond) // the work
		c.Loop().Post(func() {
			c.Write([]byte("answer to " + req))
			delete(h.working, c)
			if h.draining[c] {
				c.Close()
			}
		})
	}()
	h.handed <- struct{}{}
}

// OnShutdown makes slowAnswers a sock.ShutdownHandler: an idle connection
// closes at once, a busy one once its answer is written. A client that does
// not read what it was sent would keep its Close waiting for the rest of the
// Shutdown: it is aborted if it is that far behind already (WritePaused),
// and given five seconds to read otherwise.
func (h *slowAnswers) OnShutdown(c *sock.Conn) {
	if c.WritePaused() {
		c.Abort()
		return
	}
	c.SetWriteTimeout(5 * time.Second)
	if !h.working[c] {
		c.Close()
		return
	}
	h.draining[c] = true
}

func (h *slowAnswers) OnClose(c *sock.Conn, _ error) {
	delete(h.working, c)
	delete(h.draining, c)
}

// A Shutdown that lets an answer computed elsewhere reach its client: with
// OnShutdown the handler closes each connection when its work is done.
func ExampleShutdownHandler() {
	g, err := sock.NewGroup(1)
	if err != nil {
		log.Fatal(err)
	}
	handed := make(chan struct{}, 1)
	ln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		return &slowAnswers{working: map[*sock.Conn]bool{}, draining: map[*sock.Conn]bool{}, handed: handed}
	})
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "question")
	<-handed

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdown <- g.Shutdown(ctx)
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, err := io.ReadAll(c) // until the server closes
	fmt.Printf("%s (%v)\n", answer, err)
	fmt.Println("shutdown:", <-shutdown)
	// Output:
	// answer to question (<nil>)
	// shutdown: <nil>
}

// maxLine bounds a line: a longer one is refused, so that a peer that never
// sends a newline cannot make the server keep its input without end.
const maxLine = 4 << 10

// shoutLines answers each line with it in upper case. sock.Messages cuts
// the lines however the reads split them, holds them while the answers
// outrun the peer, and hands out a last line that comes without its
// newline at the peer's end of stream.
type shoutLines struct{ sock.BaseHandler }

func (shoutLines) OnMessage(c *sock.Conn, line []byte) {
	c.Write(append(bytes.ToUpper(line), '\n'))
}

// OnSplitError makes shoutLines a sock.SplitErrorHandler: a line longer
// than maxLine is answered, not just cut off by a close.
func (shoutLines) OnSplitError(c *sock.Conn, err error) {
	c.Write([]byte("line too long\n"))
	c.Close()
}

// A line protocol: OnData would get whatever each read returned, so
// sock.Messages cuts it into lines for the handler, with bufio.ScanLines.
func Example_lines() {
	g, err := sock.NewGroup(1)
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	ln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler {
		return sock.Messages(bufio.ScanLines, maxLine, shoutLines{})
	})
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "one line, then the st")
	time.Sleep(10 * time.Millisecond) // most likely two reads on the server
	fmt.Fprint(c, "art of another\nand a last line, without its newline")
	c.(*net.TCPConn).CloseWrite() // the end of stream: the last line is answered
	answers, err := io.ReadAll(c) // until the server closes
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(answers))
	// Output:
	// ONE LINE, THEN THE START OF ANOTHER
	// AND A LAST LINE, WITHOUT ITS NEWLINE
}

// udpEcho sends every datagram back to where it came from.
type udpEcho struct{}

func (udpEcho) OnPacket(pc *sock.PacketConn, p []byte, from netip.AddrPort) { pc.WriteTo(p, from) }

// A UDP echo server; a plain net.UDPConn talks to it.
func ExampleListenPacket() {
	l, err := loop.New()
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	pc, err := sock.ListenPacket(l, "udp", "127.0.0.1:0", udpEcho{})
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	go func() {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		fmt.Printf("%s\n", buf[:n])
		l.Post(l.Stop)
	}()
	c.Write([]byte("datagram"))
	l.Run()
	// Output: datagram
}

// countingEcho answers each datagram with it and how many its sender has
// sent. counts is one loop's: its senders' datagrams come to it alone.
type countingEcho struct{ counts map[netip.AddrPort]int }

func (h countingEcho) OnPacket(pc *sock.PacketConn, p []byte, from netip.AddrPort) {
	h.counts[from]++
	pc.WriteTo(fmt.Appendf(nil, "%s #%d", p, h.counts[from]), from)
}

// A UDP server on every loop of a group: each sender's datagrams go to
// one loop, which keeps that sender's count without a lock.
func ExampleGroup_ListenPacket() {
	g, err := sock.NewGroup(2)
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	gpc, err := g.ListenPacket("udp", "127.0.0.1:0", func(*loop.Loop) sock.PacketHandler {
		return countingEcho{counts: map[netip.AddrPort]int{}}
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := net.Dial("udp", gpc.LocalAddr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	for range 3 {
		c.Write([]byte("ping"))
		n, err := c.Read(buf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\n", buf[:n])
	}
	// Output:
	// ping #1
	// ping #2
	// ping #3
}

// Stopping accepting on one port while the group serves on the other:
// connections already accepted there are served on, and drained by the
// group's Shutdown as the others are.
func ExampleGroupListener_Close() {
	g, err := sock.NewGroup(2)
	if err != nil {
		log.Fatal(err)
	}
	old, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return echoHandler{} })
	if err != nil {
		log.Fatal(err)
	}
	if _, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return echoHandler{} }); err != nil {
		log.Fatal(err)
	}
	fmt.Println("close:", old.Close())
	_, err = net.Dial("tcp", old.Addr().String())
	fmt.Println("refused:", errors.Is(err, syscall.ECONNREFUSED))
	err = old.Close()
	fmt.Println("close again is ErrClosed:", errors.Is(err, sock.ErrClosed))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println("shutdown:", g.Shutdown(ctx))
	_, err = g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return echoHandler{} })
	fmt.Println(err)
	// Output:
	// close: <nil>
	// refused: true
	// close again is ErrClosed: true
	// shutdown: <nil>
	// sock: Group.Listen tcp 127.0.0.1:0: the group is shut down
}

// Per-loop state made on its own loop once the group runs: a heartbeat
// timer on each loop, and a count that only its loop touches, read back on
// that loop by a second Each.
func ExampleGroup_Each() {
	g, err := sock.NewGroup(2)
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	beats := make([]int, len(g.Loops())) // beats[i] belongs to loop i
	err = g.Each(func(i int, l *loop.Loop) error {
		l.CallEvery(time.Millisecond, func() { beats[i]++ })
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	beaten := func(i int, l *loop.Loop) error {
		if beats[i] == 0 {
			return fmt.Errorf("loop %d: no heartbeat yet", i)
		}
		return nil
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if err = g.Each(beaten); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("every loop beat:", err == nil)
	// Output: every loop beat: true
}

// A stateful server (its data in its loops' memory) that must not run
// twice on one address: with WithExclusiveAddress a second copy started by
// mistake fails to listen, where without it SO_REUSEPORT would hand it
// half the connections.
func ExampleWithExclusiveAddress() {
	newHandler := func(*loop.Loop) sock.Handler { return echoHandler{} }
	first, err := sock.NewGroup(2)
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	ln, err := first.Listen("tcp", "127.0.0.1:0", newHandler, sock.WithExclusiveAddress())
	if err != nil {
		log.Fatal(err)
	}

	second, err := sock.NewGroup(2)
	if err != nil {
		log.Fatal(err)
	}
	defer second.Close()
	_, err = second.Listen("tcp", ln.Addr().String(), newHandler, sock.WithExclusiveAddress())
	fmt.Println("second copy refused:", errors.Is(err, syscall.EADDRINUSE))
	// Output: second copy refused: true
}

// stopAtClose stops its loop when its connection closes.
type stopAtClose struct {
	sock.BaseHandler
	l *loop.Loop
}

func (h stopAtClose) OnClose(*sock.Conn, error) { h.l.Stop() }

// Requests posted from other goroutines, written with one system call per
// loop iteration instead of one each: the first callback of an iteration
// corks the connection and queues the Uncork.
func ExampleConn_Cork() {
	l, err := loop.New()
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	server, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	read := make(chan int)
	go func() { // a server that counts the lines it reads
		c, err := server.Accept()
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		n := 0
		for s := bufio.NewScanner(c); s.Scan(); {
			n++
		}
		read <- n
	}()
	c, err := sock.Dial(l, "tcp", server.Addr().String(), stopAtClose{l: l})
	if err != nil {
		log.Fatal(err)
	}
	send := func(req []byte) error { // from any goroutine
		return l.Post(func() {
			if !c.Corked() {
				c.Cork()
				l.CallSoon(c.Uncork) // after this iteration's posts
			}
			c.Write(req)
		})
	}
	go func() {
		for i := range 100 {
			send(fmt.Appendf(nil, "request %d\n", i))
		}
		l.Post(func() { c.Close() }) // Close sends what is held first
	}()
	l.Run() // until OnClose
	fmt.Println("the server read", <-read, "requests")
	// Output:
	// the server read 100 requests
}

// A server started by systemd's socket activation takes its listening
// socket from descriptor 3, the first of those passed (LISTEN_FDS says how
// many, and LISTEN_PID to which process), and listens itself when started
// by hand.
func ExampleFileListener() {
	l, err := loop.New()
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	var ln *sock.Listener
	if n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS")); n >= 1 && os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) {
		f := os.NewFile(3, "systemd socket")
		ln, err = sock.FileListener(l, f, echoHandler{})
		f.Close() // the listener has a descriptor of its own
	} else {
		ln, err = sock.Listen(l, "tcp", "127.0.0.1:7000", echoHandler{})
	}
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	log.Printf("listening on %s", ln.Addr())
	if err := l.Run(); err != nil {
		log.Fatal(err)
	}
}
