// Command echoserver is the echo server of `go run ./bench -workload echo`
// for the servers built from this module:
//
//	echoserver -server net    # a goroutine per connection on Go's net package
//	echoserver -server loop   # this library's sock package (loop.go)
//	echoserver -list          # the servers this build has, one a line
//
// It listens on an ephemeral port of 127.0.0.1, prints "config TEXT" (how it
// is set up) and then "listening ADDR" on stdout, echoes back exactly what it
// reads, and runs until SIGTERM or SIGINT. The gnet and nbio servers live in
// ../peers, a module of their own.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

// server runs one kind of echo server: it calls ready once with the
// listening address and returns when stop is closed, or on an error.
type server func(ready func(net.Addr), stop <-chan struct{}) error

// kind is a server and a line on its configuration.
type kind struct {
	run    server
	config func() string
}

// servers maps -server to its kind; loop.go adds "loop".
var servers = map[string]kind{
	"net": {runNet, func() string {
		return fmt.Sprintf("a goroutine per connection (net.Listen, Accept); each reads into its own %d KiB buffer and writes back what it read", netBufSize>>10)
	}},
}

func main() {
	name := flag.String("server", "", "which server: net or loop")
	list := flag.Bool("list", false, "print the servers this build has and exit")
	flag.Parse()
	if *list {
		for _, n := range names() {
			fmt.Println(n)
		}
		return
	}
	s, ok := servers[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "echoserver: unknown -server %q (this build has: %v)\n", *name, names())
		os.Exit(2)
	}
	raiseNoFile()
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		close(stop)
	}()
	fmt.Printf("config %s\n", s.config())
	ready := func(a net.Addr) { fmt.Printf("listening %s\n", a) }
	if err := s.run(ready, stop); err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
}

func names() []string {
	var out []string
	for n := range servers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// raiseNoFile lifts the soft limit on open files to the hard one: the bench
// holds 10,000 idle connections. (Go does this itself since 1.19; it is
// written down here so the servers do not rely on it.)
func raiseNoFile() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// netBufSize is the read buffer of each connection of the net server: a
// 4 KiB message, the largest the bench sends, fits in one read.
const netBufSize = 4 << 10

// runNet is the plain Go server: a goroutine per connection that reads into
// its own buffer and writes back what it read, until EOF or an error.
func runNet(ready func(net.Addr), stop <-chan struct{}) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ready(ln.Addr())
	go func() {
		<-stop
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-stop:
				return nil
			default:
			}
			// Out of descriptors, or a connection reset before it was
			// accepted: the listener is still good.
			fmt.Fprintln(os.Stderr, "echoserver: accept:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go echoConn(c)
	}
}

func echoConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, netBufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
