package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

func init() {
	servers["loop"] = kind{runLoop, func() string {
		variant := "?"
		if l, err := loop.New(); err == nil {
			variant = l.Variant().Name
			l.Close()
		}
		return fmt.Sprintf("sock.Group of %d loops (one per core: GOMAXPROCS), each on its own goroutine with its own SO_REUSEPORT listener; variant %s; sock's defaults (one %d KiB read buffer per loop); OnData writes p back with c.Write",
			runtime.GOMAXPROCS(0), variant, sock.DefaultReadBufferSize>>10)
	}}
}

// echoHandler writes back whatever arrives. Write sends at once what the
// kernel takes and copies the rest, so p may be handed to it as is.
type echoHandler struct{ sock.BaseHandler }

func (echoHandler) OnData(c *sock.Conn, p []byte) { _, _ = c.Write(p) }

// runLoop is this library's server: a Group with one loop per core.
func runLoop(ready func(net.Addr), stop <-chan struct{}) error {
	g, err := sock.NewGroup(0)
	if err != nil {
		return err
	}
	ln, err := g.Listen("tcp", "127.0.0.1:0", func(*loop.Loop) sock.Handler { return echoHandler{} })
	if err != nil {
		g.Close()
		return err
	}
	ready(ln.Addr())
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
