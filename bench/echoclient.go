package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The load generator of the echo workload. It runs in the bench process,
// with Go's net package and a goroutine per connection, the same for every
// server; the server is another process.

// echoRun is one measured repetition of the closed loop at one point.
type echoRun struct {
	requests  int           // round trips completed in the window
	wall      time.Duration // the window
	serverCPU time.Duration // the server's user+system time over the window
	p50, p99  time.Duration // round-trip latency
}

func (r echoRun) perSec() float64 { return float64(r.requests) / r.wall.Seconds() }

// cpuPerReq is server CPU per round trip in µs.
func (r echoRun) cpuPerReq() float64 { return micros(r.serverCPU) / float64(max(r.requests, 1)) }

// Phases of a closed-loop run, as the connections' goroutines see them.
const (
	phaseWarm    = iota // round trips run but are not counted
	phaseMeasure        // round trips are counted and timed
	phaseStop           // each goroutine stops after its round trip
)

// dialParallel is how many connections are dialled at once: enough to open
// 10,000 in a second or two, few enough to stay under the accept backlog.
const dialParallel = 16

// closedLoop runs conns connections against the server at addr (process
// pid): each sends a size-byte message, waits for all of it to come back,
// checks it, and sends the next. After warmup it reads the server's CPU
// time, counts and times round trips for span, and reads it again.
func closedLoop(addr string, pid, conns, size int, warmup, span time.Duration) (echoRun, error) {
	cs, err := dialAll(addr, conns)
	if err != nil {
		return echoRun{}, err
	}
	defer closeAll(cs)
	// A server that stalls fails the run instead of hanging it.
	deadline := time.Now().Add(warmup + span + 10*time.Second)
	var phase atomic.Int32
	hists := make([]latHist, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i, c := range cs {
		_ = c.SetDeadline(deadline)
		wg.Go(func() { errs[i] = roundTrips(c, i, size, &hists[i], &phase) })
	}
	time.Sleep(warmup)
	cpu0, err0 := procCPU(pid)
	t0 := time.Now()
	phase.Store(phaseMeasure)
	time.Sleep(span)
	phase.Store(phaseStop)
	wall := time.Since(t0)
	cpu1, err1 := procCPU(pid)
	wg.Wait()
	if err := errors.Join(err0, err1); err != nil {
		return echoRun{}, fmt.Errorf("server CPU: %w", err)
	}
	for _, err := range errs {
		if err != nil {
			return echoRun{}, err
		}
	}
	var all latHist
	for i := range hists {
		all.merge(&hists[i])
	}
	return echoRun{
		requests:  int(all.n),
		wall:      wall,
		serverCPU: cpu1 - cpu0,
		p50:       all.quantile(0.50),
		p99:       all.quantile(0.99),
	}, nil
}

// roundTrips is one connection of the closed loop. Each message carries
// its sequence number and the connection's index (and a body that starts at
// that index), and the echo must match it byte for byte: a server that
// answered from another connection's bytes, echoed a message twice or sent
// back what it had not read fails the run. After the last round trip
// nothing more may arrive.
func roundTrips(c net.Conn, conn, size int, h *latHist, phase *atomic.Int32) error {
	msg := newMessage(conn, size)
	buf := make([]byte, size)
	for seq := uint64(0); phase.Load() != phaseStop; seq++ {
		stamp(msg, seq)
		t := time.Now()
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		d := time.Since(t)
		if !bytes.Equal(buf, msg) {
			return fmt.Errorf("connection %d: echo %d differs from what was sent", conn, seq)
		}
		if phase.Load() == phaseMeasure {
			h.record(d)
		}
	}
	return nothingMore(c, conn)
}

// newMessage is connection conn's message of size bytes, before its
// sequence number goes into its first 8: the connection's index in the next
// 8, and a pattern from the index after that.
func newMessage(conn, size int) []byte {
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(conn + i)
	}
	stamp(msg[min(8, size):], uint64(conn))
	return msg
}

// stamp writes x into the head of msg, as much of it as fits (the
// workload's messages, 64 bytes and more, hold the sequence number and the
// connection's index whole).
func stamp(msg []byte, x uint64) {
	for i := 0; i < 8 && i < len(msg); i++ {
		msg[i] = byte(x >> (8 * i))
	}
}

// extraWait is how long a connection waits, after its last round trip, for
// bytes the server should not send.
const extraWait = 20 * time.Millisecond

// nothingMore fails if c receives anything within extraWait: every echo
// has been read, so more is a duplicate.
func nothingMore(c net.Conn, conn int) error {
	_ = c.SetReadDeadline(time.Now().Add(extraWait))
	var b [1]byte
	n, err := c.Read(b[:])
	if n > 0 {
		return fmt.Errorf("connection %d: the server sent bytes nobody asked for", conn)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return nil
	}
	return err
}

// dialAll opens n connections to addr, dialParallel at a time.
func dialAll(addr string, n int) ([]net.Conn, error) {
	cs := make([]net.Conn, n)
	errs := make([]error, n)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(n, dialParallel) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				cs[i], errs[i] = net.DialTimeout("tcp", addr, 10*time.Second)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(cs)
		return nil, fmt.Errorf("dial %s: %w", addr, firstErr(errs))
	}
	return cs, nil
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// idleRun is one measurement of the memory idle connections cost a server.
type idleRun struct {
	conns         int
	before, after uint64 // server RSS, bytes
}

func (r idleRun) perConn() float64 {
	return (float64(r.after) - float64(r.before)) / float64(max(r.conns, 1))
}

// idleWarmConns is how many connections make the idle baseline.
const idleWarmConns = 16

// idleSettle is how long the server is left alone before its RSS is read.
const idleSettle = 500 * time.Millisecond

// idleConns reads the RSS of the server at addr (process pid), opens n
// connections that each send one byte and wait for its echo (so the server
// has accepted and served every one), leaves them idle, and reads the RSS
// again.
func idleConns(addr string, pid, n int) (idleRun, error) {
	r := idleRun{conns: n}
	// A few round trips first, so that what the first connection of each
	// event loop sets up (read buffers, pollers, goroutines) is in the
	// baseline: with SO_REUSEPORT the kernel picks the loop, and 16
	// connections miss one of two loops once in 32,768 runs.
	warm, err := dialAll(addr, idleWarmConns)
	if err != nil {
		return r, err
	}
	for i, c := range warm {
		if err == nil {
			err = echoOneByte(c, byte(i))
		}
	}
	closeAll(warm)
	if err != nil {
		return r, err
	}
	time.Sleep(idleSettle)
	if r.before, err = procRSS(pid); err != nil {
		return r, err
	}
	cs, err := dialAll(addr, n)
	if err != nil {
		return r, err
	}
	defer closeAll(cs)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range dialParallel {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				errs[i] = echoOneByte(cs[i], byte(i))
			}
		})
	}
	wg.Wait()
	if err := firstErr(errs); err != nil {
		return r, err
	}
	time.Sleep(idleSettle)
	r.after, err = procRSS(pid)
	return r, err
}

// echoOneByte sends x (a different byte on neighbouring connections) and
// waits for it to come back.
func echoOneByte(c net.Conn, x byte) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte{x}); err != nil {
		return err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	if b[0] != x {
		return fmt.Errorf("the echo %q differs from the byte sent, %q", b[0], x)
	}
	return nil
}

// openFileLimit raises this process's soft limit on open files to the hard
// one and returns it. (Go does so at start since 1.19; the bench does not
// rely on it.)
func openFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return uint64(lim.Cur)
}
