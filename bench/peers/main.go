// Command peers is the echo server of `go run ./bench -workload echo` for the
// event-loop libraries we compare against, gnet v2 and nbio. It lives in its
// own module so that the loop library's go.mod never depends on them.
//
//	peers -server gnet|nbio
//
// It listens on an ephemeral port of 127.0.0.1, prints "listening ADDR" on
// stdout, echoes back exactly what it reads, and runs until SIGTERM or SIGINT.
// Each library runs in its normal fast configuration: one event loop per
// core (GOMAXPROCS), everything else at its defaults.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
	nbiolog "github.com/lesismal/nbio/logging"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

func main() {
	server := flag.String("server", "", "gnet or nbio")
	flag.Parse()
	raiseNoFile()
	var err error
	switch *server {
	case "gnet":
		err = runGnet()
	case "nbio":
		err = runNbio()
	default:
		err = fmt.Errorf("unknown -server %q (want gnet or nbio)", *server)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
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

func stopSignal() <-chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	return ch
}

// gnetEcho is gnet's own echo example: take everything buffered, write it back.
type gnetEcho struct {
	gnet.BuiltinEventEngine
	eng gnet.Engine
}

func (e *gnetEcho) OnBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	fd, err := eng.Dup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers: gnet: dup listener:", err)
		return gnet.Shutdown
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers: gnet: getsockname:", err)
		return gnet.Shutdown
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		fmt.Fprintf(os.Stderr, "peers: gnet: listener address %T is not IPv4\n", sa)
		return gnet.Shutdown
	}
	fmt.Printf("config gnet %s: gnet.Run with WithMulticore(true) and WithNumEventLoop(GOMAXPROCS): %d event loops, the default round-robin balancing, other options at their defaults; OnTraffic takes c.Next(-1) and writes it back with c.Write\n", version("github.com/panjf2000/gnet/v2"), runtime.GOMAXPROCS(0))
	fmt.Printf("listening %d.%d.%d.%d:%d\n", in4.Addr[0], in4.Addr[1], in4.Addr[2], in4.Addr[3], in4.Port)
	return gnet.None
}

func (e *gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	_, _ = c.Write(buf)
	return gnet.None
}

func runGnet() error {
	h := &gnetEcho{}
	stop := stopSignal()
	errc := make(chan error, 1)
	go func() {
		errc <- gnet.Run(h, "tcp4://127.0.0.1:0",
			gnet.WithMulticore(true), // one event loop per core, as gnet's docs recommend
			// gnet counts cores with runtime.NumCPU; loop and nbio run
			// GOMAXPROCS loops, which is less under a CPU quota or a
			// GOMAXPROCS setting.
			gnet.WithNumEventLoop(runtime.GOMAXPROCS(0)),
		)
	}()
	select {
	case err := <-errc:
		return err
	case <-stop:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return h.eng.Stop(ctx)
}

func runNbio() error {
	// nbio logs to stdout by default; stdout carries our "listening" line.
	nbiolog.Output = os.Stderr
	eng := nbio.NewEngine(nbio.Config{
		Network: "tcp",
		Addrs:   []string{"127.0.0.1:0"},
		// One poller per core (nbio's SetLTSyncRead default; NewEngine
		// alone would give NumCPU/4, which is 1 here).
		NPoller: runtime.GOMAXPROCS(0),
	})
	eng.OnData(func(c *nbio.Conn, data []byte) {
		_, _ = c.Write(data)
	})
	// Asked for before the address is printed: a signal that came before
	// signal.Notify would kill the server instead of shutting it down.
	stop := stopSignal()
	if err := eng.Start(); err != nil {
		return err
	}
	fmt.Printf("config nbio %s: nbio.NewEngine with NPoller %d (one poller per core), level-triggered epoll, the default %d KiB read buffer per poller, other options at their defaults; OnData writes data back with c.Write\n", version("github.com/lesismal/nbio"), eng.NPoller, eng.ReadBufferSize>>10)
	fmt.Printf("listening %s\n", eng.Addrs[0])
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return eng.Shutdown(ctx)
}

// version is the version of module path this binary was built with.
func version(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "(version unknown)"
}
