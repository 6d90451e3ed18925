//go:build unix

package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// Group runs several loops, one per core by default, each on its own
// goroutine, and listens on each with its own
// SO_REUSEPORT socket on the same address, so that the kernel spreads
// connections (or datagrams, by sender) across them and no two loops share
// anything. Its methods are safe from any goroutine except the group's own
// loop goroutines: Listen, ListenPacket, Each, Shutdown and Close (and the
// Close of what Listen and ListenPacket return) wait for every loop, so a
// callback on one of them that calls them waits for itself for good. Call
// them with go from there.
type Group struct {
	loops []*groupLoop
	wg    sync.WaitGroup // one per loop goroutine

	mu       sync.Mutex
	closedBy string // "shut down" or "closed" once Shutdown or Close was called, "" before
}

// closedError is what a Group's methods and a GroupListener's Close return
// when there is nothing left for them to do. It wraps ErrClosed, which these
// methods returned alone before: its text speaks of a connection, which
// left a reader of a Group's error looking for the wrong thing.
type closedError struct {
	op   string // the method, with the listener's address where there is one
	what string // what closed it
}

func (e *closedError) Error() string { return "sock: " + e.op + ": " + e.what }

// Unwrap makes errors.Is(err, ErrClosed) hold.
func (e *closedError) Unwrap() error { return ErrClosed }

// closedErr is the error of op on a group that is shut down or closed.
func (g *Group) closedErr(op string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return &closedError{op: op, what: "the group is " + g.closedBy}
}

// groupLoop is one loop of a Group and its listeners. Everything but l
// belongs to that loop's goroutine.
type groupLoop struct {
	l        *loop.Loop
	lns      []*Listener
	drain    *drainWait // set by Shutdown: what it waits on
	dialed   *dialDrain // set by Shutdown: the dialed connections it waits for
	reported bool       // the loop has reported itself drained, and not taken it back
}

// drainWait is what a Shutdown waits on: the loops that have yet to report
// themselves drained. A loop that reported takes it back when a connection
// is dialed there to be waited for, as long as the others have not all
// reported yet.
type drainWait struct {
	mu   sync.Mutex
	left int
	done chan struct{} // closed when left reaches 0
}

// report says that one loop has nothing left to drain.
func (w *drainWait) report() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.left--; w.left == 0 {
		close(w.done)
	}
}

// reopen takes a loop's report back, unless the drain is over.
func (w *drainWait) reopen() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.left == 0 {
		return false
	}
	w.left++
	return true
}

// NewGroup starts n loops (runtime.GOMAXPROCS(0) when n <= 0), each running
// on its own goroutine, until Shutdown or Close, and returns once each waits
// for work, so that a Listen, Dial or ListenPacket made on an idle one from
// the caller's goroutine (not through Each) fails with an error wrapping
// loop.ErrWrongGoroutine instead of racing with the loop. A loop whose Run ends before that (a callback called runtime.Goexit, or its
// poller failed) is closed then, with what is open on it; the others run on.
// opts configure every loop (loop.WithPanicHandler, say). A loop waiting
// in the kernel for readiness holds an OS thread: n past the runtime's
// thread limit (debug.SetMaxThreads, 10,000 by default) ends the process,
// as any program that many threads would; more loops than cores gain
// nothing.
func NewGroup(n int, opts ...loop.Option) (*Group, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g := &Group{}
	for range n {
		gl := &groupLoop{}
		started := make(chan error, 1)
		g.wg.Add(1)
		go g.run(gl, started, opts)
		if err := <-started; err != nil {
			g.Close()
			return nil, fmt.Errorf("sock: NewGroup: %w", err)
		}
		g.loops = append(g.loops, gl)
		untilWaiting(gl.l)
	}
	return g, nil
}

// untilWaiting returns once l waits for work (or after a second, or once
// closed: a loop whose Run failed). NewGroup returns only then, so that the
// mistake of a Listen, Dial or ListenPacket on the loop from the goroutine
// that made the group, in place of Each, meets a loop that Waiting shows
// is elsewhere and fails with loop.ErrWrongGoroutine: just after Run began
// it was taken, racing with the loop (in 90 of 100 tries on a 2-core VM).
func untilWaiting(l *loop.Loop) {
	deadline := time.Now().Add(time.Second)
	for tries := 0; !l.Waiting() && !l.Closed() && time.Now().Before(deadline); tries++ {
		if tries < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// run is a loop's goroutine. The loop is made here, on the goroutine that
// runs it, since a loop belongs to its goroutine from the start.
func (g *Group) run(gl *groupLoop, started chan<- error, opts []loop.Option) {
	defer g.wg.Done()
	// Not locked to its thread (runtime.LockOSThread), as it was until
	// 2026-11-29: on a 2-core Intel Xeon VM, in one echo run with both
	// builds side by side (3 repetitions), the locked loops served C=1 at
	// 15.4k requests/s, p50 64 µs, 23.1 µs of server CPU a request, and the
	// unlocked ones at 35.0k, 7.3 µs and 10.6 µs; at C=100 and 1,000 CPU a
	// request was within 5% either way (3.90 against 4.11 µs at C=100, 64 B)
	// and p99 at C=100 5% higher unlocked (2,802 against 2,671 µs). Why the
	// lock cost so much at C=1 was not pinned down: an earlier perf record
	// showed each of a locked loop's yields handing its P to another thread
	// and back (two futex wake-ups), but a request's own wake-up path was
	// not traced. docs/performance-notes.md has the runs.
	l, err := loop.New(opts...)
	if err != nil {
		started <- err
		return
	}
	gl.l = l
	started <- nil
	// Run returns nil after a Stop; the Close that Shutdown or Close makes
	// (ErrClosed on the next Run) ends the loop's goroutine. Run can also end
	// without it: with a failing poller's error, or when a callback calls
	// runtime.Goexit (t.Fatal in a handler). The loop is closed here then,
	// on its own goroutine, so that what is open on it is closed (its
	// listener stayed bound, taking connections nobody accepted) and
	// Shutdown's drain does not wait for a loop that will never run it.
	// Close on a closed loop does nothing. A panic that ends the goroutine
	// (a panic handler that panics) runs it too, with the sockets' OnClose,
	// before the panic ends the process.
	defer l.Close()
	for l.Run() == nil {
	}
}

// Loops returns the group's loops, for Dial, Listen or Post on them.
// Shutdown drains listeners opened there with Listen as it drains the
// group's own (opened before Shutdown began). Connections dialed there take
// part in it when their Handler is a ShutdownHandler; the others are not
// closed gracefully: they are aborted when the loops close, as everything
// still open on a closing loop is.
func (g *Group) Loops() []*loop.Loop {
	ls := make([]*loop.Loop, len(g.loops))
	for i, gl := range g.loops {
		ls[i] = gl.l
	}
	return ls
}

// Index returns l's index in Loops (the index Each gives its fn), or -1 if
// l is not one of the group's loops: for a newHandler, which Listen gives
// the loop, to find per-loop state that Each made by index. Safe from any
// goroutine, the group's loops included.
func (g *Group) Index(l *loop.Loop) int {
	for i, gl := range g.loops {
		if gl.l == l {
			return i
		}
	}
	return -1
}

// GroupListener is what a Group's Listen opened: one listener on each of
// the group's loops, all bound to one address. Its methods are safe from any
// goroutine except the group's loop goroutines, as the Group's are.
type GroupListener struct {
	g       *Group
	network string
	addr    net.Addr
	lns     []*Listener   // lns[i] accepts on g.loops[i]; each *Listener is touched on its loop only
	closed  atomic.Bool   // Close was called
	done    chan struct{} // closed when the first Close has returned
}

// Addr returns the address the group's listeners share, with the port the
// kernel picked when port 0 was asked for.
func (gln *GroupListener) Addr() net.Addr { return gln.addr }

// Conns returns how many of the connections accepted on this address are
// open on each of the group's loops, in the order of Loops. It reads counts
// the loops keep as they accept and close, so it is safe from any
// goroutine, the group's loops included (a handler's STATS command), and
// after Shutdown or Close; the counts may be a moment behind the loops.
func (gln *GroupListener) Conns() []int {
	ns := make([]int, len(gln.lns))
	for i, ln := range gln.lns {
		ns[i] = int(ln.shared.Load())
	}
	return ns
}

// Close stops accepting on this address: it closes the listener of every
// loop, on that loop's goroutine, and waits until they are all closed.
// Connections they accepted stay open and are served as before: the
// group's Shutdown still drains them, and its Close still aborts them. A
// second Close returns an error wrapping ErrClosed. Once the group's
// Shutdown or Close was called, the group closes its listeners itself, and
// Close returns an error wrapping ErrClosed that says which of the two
// did. A loop whose goroutine has ended (a callback called
// runtime.Goexit) closed its listener then, and is skipped. A Close made
// while the first still runs waits for it, so that no Close returns while
// the address still accepts. Like Listen, it waits for every loop: from a
// callback on one of the group's loops, call it with go.
func (gln *GroupListener) Close() error {
	op := "GroupListener.Close " + gln.network + " " + gln.addr.String()
	if !gln.closed.CompareAndSwap(false, true) {
		<-gln.done
		return &closedError{op: op, what: "the listener is closed already"}
	}
	defer close(gln.done)
	for i, gl := range gln.g.loops {
		ln := gln.lns[i]
		err := gln.g.on(gl, op, func() error {
			gl.unlisten(ln)
			return nil
		})
		if errors.Is(err, loop.ErrClosed) {
			// The loop's goroutine ended (a callback called runtime.Goexit)
			// and closed the loop, and the listener with it.
			continue
		}
		if err != nil {
			// The group is shut down or closed, and has closed the rest
			// (or is about to): there is no waiting for those loops.
			return err
		}
	}
	return nil
}

// unlisten closes ln, one of this loop's group listeners. It stays in lns
// while it has connections: Shutdown tells them through it and check waits
// for them, stop aborts them. Loop goroutine only.
func (gl *groupLoop) unlisten(ln *Listener) {
	ln.Close()
	gl.prune()
}

// prune drops the listeners that are closed and have no connection left:
// neither Shutdown nor stop has anything to do with them, and a program
// that opens and closes a listener over and over must not grow lns for
// ever. Not while lns is being walked (Shutdown's and stop's loops close
// listeners). Loop goroutine only.
func (gl *groupLoop) prune() {
	gl.lns = slices.DeleteFunc(gl.lns, func(ln *Listener) bool { return ln.closed && ln.nconns == 0 })
}

// Listen opens one listener per loop on network ("tcp", "tcp4", "tcp6" or
// "unix") and addr, each with SO_REUSEPORT, and returns them as a
// GroupListener, whose Addr is the address they share (with the port picked, for port 0)
// and whose Close stops accepting there while the group's other listeners
// and every connection are served on. newHandler is called once per loop,
// on that loop's goroutine and with that loop, and the handler it returns
// serves every connection that loop accepts: a handler's state (a cache, a
// timer made with l.CallEvery) is then confined to one loop and needs no
// lock. The loop's index, where per-loop state made with Each is kept by
// index, is g.Index(l). If any loop fails to listen, none listens (and a
// connection accepted in the meantime is aborted). An address held by a
// socket without SO_REUSEPORT fails with EADDRINUSE; one held by
// SO_REUSEPORT sockets of the same user (another Group, this one's earlier
// Listen, a second copy of the server) does not: the kernel then spreads
// the connections over both sets of listeners, unless WithExclusiveAddress
// is given. A Unix socket is one socket that every loop accepts from
// (SO_REUSEPORT does not spread Unix connections: Linux gives them all to
// one socket), each connection waking the loops and going to whichever
// accepts it first; its file is made by Listen and removed at Close, and an
// existing file fails with EADDRINUSE. Once Shutdown or Close was
// called, it returns an error wrapping ErrClosed that says which.
func (g *Group) Listen(network, addr string, newHandler func(*loop.Loop) Handler, opts ...Option) (*GroupListener, error) {
	if !isTCP(network) && network != "unix" {
		return nil, fmt.Errorf("sock: Group.Listen: network %q is not tcp, tcp4, tcp6 or unix (for udp, Group.ListenPacket)", network)
	}
	if newHandler == nil {
		return nil, fmt.Errorf("sock: Group.Listen %s %s: nil newHandler", network, addr)
	}
	// Checked here too, so that a refused option fails before any loop is asked.
	if _, err := newConfig(forListen, opts); err != nil {
		return nil, fmt.Errorf("sock: Group.Listen %s %s: %w", network, addr, err)
	}
	opts = append(opts[:len(opts):len(opts)], WithReusePort())
	var bound net.Addr
	shared := network == "unix"
	return g.listenEach("Group.Listen "+network+" "+addr, network, shared, func(gl *groupLoop, first *Listener, dup int) (*Listener, error) {
		h := newHandler(gl.l)
		switch {
		case first == nil:
			return Listen(gl.l, network, addr, h, opts...)
		case shared:
			return listenBeside(gl.l, dup, h, forListen, opts)
		}
		// The first listener picked the port; the others bind that one,
		// beside it (WithExclusiveAddress is for the first only).
		if bound == nil {
			bound = first.Addr()
		}
		return Listen(gl.l, network, bound.String(), h, append(opts[:len(opts):len(opts)], joinExisting)...)
	})
}

// FileListener accepts on every loop of the group from a listening socket
// opened elsewhere (systemd's socket activation: see the package-level
// FileListener, whose checks, options and duplicate it shares): the first
// loop takes a duplicate of f's descriptor, the others duplicates of that,
// and each connection goes to whichever loop accepts it first, as with a
// Unix Group.Listen. newHandler, the GroupListener, a failure on one loop,
// Shutdown and Close are as for Listen; Close leaves a Unix socket's file
// in place.
func (g *Group) FileListener(f *os.File, newHandler func(*loop.Loop) Handler, opts ...Option) (*GroupListener, error) {
	if f == nil {
		return nil, errors.New("sock: Group.FileListener: nil *os.File")
	}
	if newHandler == nil {
		return nil, fmt.Errorf("sock: Group.FileListener %s: nil newHandler", f.Name())
	}
	if _, err := newConfig(forFileListener, opts); err != nil {
		return nil, fmt.Errorf("sock: Group.FileListener %s: %w", f.Name(), err)
	}
	return g.listenEach("Group.FileListener "+f.Name(), "", true, func(gl *groupLoop, first *Listener, dup int) (*Listener, error) {
		h := newHandler(gl.l)
		if first == nil {
			return FileListener(gl.l, f, h, opts...)
		}
		ln, err := listenBeside(gl.l, dup, h, forFileListener, opts)
		if err == nil {
			ln.fromFile = true
		}
		return ln, err
	})
}

// listenEach opens a listener on every loop of the group with open, which
// is given the first loop's listener once it is open (nil for the first),
// and returns them as a GroupListener named network (the first listener's
// network where that is ""); if one loop fails, the listeners opened are
// closed, and what they accepted meanwhile aborted. open runs on its
// loop's goroutine. Where the loops share one socket (shared), the first
// listener's descriptor is duplicated for each other loop on the first's
// own goroutine, right after it opens, so that no other loop touches it
// (a Shutdown could be closing it), and open is given its loop's
// duplicate, which it owns (it closes it on failure); the others have -1.
func (g *Group) listenEach(op, network string, shared bool, open func(gl *groupLoop, first *Listener, dup int) (*Listener, error)) (*GroupListener, error) {
	type opening struct {
		gl *groupLoop
		ln *Listener
	}
	var opened []opening
	var dups []int // shared: dups[i-1] is loop i's until handed to open, then -1
	defer func() {
		for _, fd := range dups {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	gln := &GroupListener{g: g, network: network, done: make(chan struct{})}
	for i, gl := range g.loops {
		var first *Listener
		dup := -1
		if len(opened) > 0 {
			first = opened[0].ln
			if shared {
				dup, dups[i-1] = dups[i-1], -1
			}
		}
		var ln *Listener
		err := g.on(gl, op, func() error {
			var err error
			ln, err = open(gl, first, dup)
			if err == nil && shared && first == nil {
				if dups, err = dupEach(ln.fd, len(g.loops)-1); err != nil {
					ln.Close() // fresh: it has accepted nothing yet
					err = fmt.Errorf("sock: %s: %w", op, err)
				}
			}
			if err == nil {
				ln.onGone = gl.check
				gl.prune()
				gl.lns = append(gl.lns, ln)
			}
			return err
		})
		if err != nil {
			err = g.loopErr(op, i, err)
			for _, o := range opened {
				g.on(o.gl, op, func() error {
					o.gl.lns = slices.DeleteFunc(o.gl.lns, func(x *Listener) bool { return x == o.ln })
					err := o.ln.Close()
					// What it accepted meanwhile would be out of
					// Shutdown's and Close's reach.
					o.ln.eachConn(func(c *Conn) { c.Abort() })
					return err
				})
			}
			return nil, err
		}
		opened = append(opened, opening{gl, ln})
		gln.lns = append(gln.lns, ln)
	}
	gln.addr = gln.lns[0].Addr()
	if gln.network == "" {
		gln.network = gln.addr.Network()
	}
	return gln, nil
}

// loopErr is the error of op that loop i's part returned: after the first
// loop, it names the call and the loop (the part's own error names the
// address the first loop bound, not the one asked for); a closed group's
// error stays as it is.
func (g *Group) loopErr(op string, i int, err error) error {
	var closed *closedError
	if i == 0 || errors.As(err, &closed) {
		return err
	}
	return fmt.Errorf("sock: %s: loop %d: %w", op, i, err)
}

// listenBeside accepts on l from fd, a duplicate of the socket of the
// group's first listener, with options of the kind given: for a Unix Listen
// (SO_REUSEPORT does not spread Unix connections among sockets: Linux
// gives them all to one) and for FileListener, the loops share one socket,
// and each connection goes to whichever loop accepts it first. Only the
// first removes a Unix socket's file at Close (Listen's). It owns fd, and
// closes it on failure. Loop goroutine only (l's).
func listenBeside(l *loop.Loop, fd int, h Handler, kind callKind, opts []Option) (*Listener, error) {
	cfg, err := newConfig(kind, opts)
	if err == nil {
		err = cfg.forHandler(h)
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return listenerOn(l, fd, cfg, h)
}

// dupEach returns n close-on-exec duplicates of fd, or none and the error.
func dupEach(fd, n int) ([]int, error) {
	fds := make([]int, 0, n)
	for range n {
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			for _, d := range fds {
				unix.Close(d)
			}
			return nil, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
		}
		fds = append(fds, d)
	}
	return fds, nil
}

// joinExisting undoes WithExclusiveAddress for the group's listeners after
// the first, which bind beside it.
func joinExisting(c *config) { c.exclusive = false }

// Each calls fn once for every loop of the group, with the loop's index in
// Loops() and the loop, on that loop's goroutine, and waits until every
// call has returned: the way to make per-loop state that belongs on its
// loop (a timer, a PacketConn, a dialed connection) once the loops run.
// The calls run at the same time, one on each loop. Each returns the
// errors fn returned, joined with errors.Join, each naming its loop; a
// panic in fn goes to the loop's panic handler (loop.WithPanicHandler) and
// is reported as that loop's error; a loop whose goroutine has ended
// (its Run failed) reports loop.ErrClosed. Once Shutdown or Close was
// called, fn runs on no loop and Each returns an error wrapping ErrClosed;
// one called while Each runs may keep fn from the loops it reaches first,
// and Each then returns that error alone.
// Like Listen, it waits for every loop: from a callback on one of the
// group's loops, call it with go.
func (g *Group) Each(fn func(i int, l *loop.Loop) error) error {
	if fn == nil {
		return errors.New("sock: Group.Each: nil fn")
	}
	errs := make([]error, len(g.loops))
	var wg sync.WaitGroup
	for i, gl := range g.loops {
		wg.Go(func() {
			err := g.on(gl, "Group.Each", func() error { return fn(i, gl.l) })
			var closed *closedError
			switch {
			case err == nil:
			case errors.As(err, &closed):
				errs[i] = err // the same for every loop: the group's, not the loop's
			default:
				errs[i] = fmt.Errorf("sock: Group.Each: loop %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		var closed *closedError
		if errors.As(err, &closed) {
			return err
		}
	}
	return errors.Join(errs...)
}

// errPanicked is what on returns when fn panicked (the loop recovered the
// panic and handed it to its panic handler).
var errPanicked = errors.New("sock: Group: panic on the loop goroutine (see the loop's panic handler)")

// on runs fn on gl's loop and waits for it. A panic in fn (in a user's
// newHandler, say) is answered with errPanicked, so that the wait ends.
// Once Shutdown or Close was called, fn does not run and on returns op's
// closedErr: the group is checked again on the loop, since a Shutdown that
// began after the first check may have posted its drain before fn, and a
// listener opened after the drain would never be closed by it.
func (g *Group) on(gl *groupLoop, op string, fn func() error) error {
	if g.Closing() {
		return g.closedErr(op)
	}
	done := make(chan error, 1)
	if err := post(gl.l, func() {
		err := errPanicked
		defer func() { done <- err }()
		if g.Closing() {
			err = g.closedErr(op)
			return
		}
		err = fn()
	}); err != nil {
		return err
	}
	return <-done
}

// post is l.Post that waits out a full inbox (a variant built with
// overflow: reject): a group's own message, or a Dial's looked-up
// addresses, must not be dropped, or Shutdown and Close would wait for ever
// and the Dial would never connect. It fails only when the loop is closed.
func post(l *loop.Loop, fn func()) error {
	for wait := time.Microsecond; ; wait = min(2*wait, time.Millisecond) {
		err := l.Post(fn)
		if !errors.Is(err, loop.ErrQueueFull) {
			return err
		}
		time.Sleep(wait)
	}
}

// Closing reports whether Shutdown or Close has been called, from the
// moment the call begins: a handler busy with a long piece of work (a
// fan-out to many connections) can ask it to stop early, where the loop
// itself learns of the Shutdown only when the callback that drains it
// runs. Safe from any goroutine, the group's loops included.
func (g *Group) Closing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closedBy != ""
}

// check reports, once, that a shutting-down loop has no listener and no
// connection left open. Loop goroutine only.
func (gl *groupLoop) check() {
	if gl.drain == nil || gl.reported {
		return
	}
	for _, ln := range gl.lns {
		if !ln.closed || ln.nconns > 0 {
			return
		}
	}
	if gl.dialed != nil && len(gl.dialed.open) > 0 {
		return
	}
	gl.reported = true
	gl.drain.report()
}

// waitFor notes that a connection was dialed on a shutting-down loop to be
// waited for: a loop that had reported itself drained takes that back, so
// that Shutdown waits for it, unless every loop has reported already (the
// loops are being stopped). Loop goroutine only.
func (gl *groupLoop) waitFor() {
	if gl.reported && gl.drain.reopen() {
		gl.reported = false
	}
}

// Shutdown closes the group gracefully: it stops accepting, Closes every
// connection (each sends what it has queued, shuts its sending side down and
// waits until the peer has acknowledged what was sent or ended its own
// stream, as Conn.Close does; OnClose runs as usual), or, where the
// connection's Handler is a ShutdownHandler, calls its OnShutdown instead,
// and the handler Closes the connection once its work in flight is done;
// connections dialed on the group's loops with a ShutdownHandler are told
// and waited for too. It waits until they are all closed or ctx ends. Then
// it aborts what is left, stops the loops and waits for their goroutines.
// Listeners closed by GroupListener.Close are stopped already, and their
// connections are drained and waited for as the others are. A peer that
// never reads keeps its connection's Close waiting until ctx ends: a
// ShutdownHandler whose OnShutdown Aborts a connection that is WritePaused,
// or sets a write timeout before it Closes one, ends such connections
// sooner, as ExampleShutdownHandler does.
// It returns ctx.Err() if it had to cut the drain short (a connection was
// still open when ctx ended, and was aborted), an error wrapping ErrClosed
// that says which if Shutdown or Close was called before, and nil
// otherwise, also for a ctx that ended before Shutdown found nothing to
// drain.
func (g *Group) Shutdown(ctx context.Context) error {
	if !g.markClosed("shut down") {
		return g.closedErr("Group.Shutdown")
	}
	drain := &drainWait{left: len(g.loops), done: make(chan struct{})}
	for _, gl := range g.loops {
		err := post(gl.l, func() {
			gl.drain = drain
			// A listener opened on the loop with Listen (or FileListener)
			// drains as the group's own do: left out, its
			// connections were aborted when the loops closed, and Shutdown
			// returned nil.
			for ln := range stateOf(gl.l, 0).listeners {
				if !slices.Contains(gl.lns, ln) {
					ln.onGone = gl.check
					gl.lns = append(gl.lns, ln)
				}
			}
			// The dialed connections are counted first: closing a listener
			// with no connection checks whether the loop is drained.
			ls := stateOf(gl.l, 0)
			ls.drain = &dialDrain{open: map[*Conn]struct{}{}, gone: gl.check, added: gl.waitFor}
			gl.dialed = ls.drain
			for c := ls.dialed; c != nil; c = c.next {
				ls.drainDialed(c)
			}
			for _, ln := range gl.lns {
				ln.Close()
				ln.eachConn((*Conn).beginShutdown)
			}
			gl.check()
		})
		if err != nil {
			// Closed already (by a user holding Loops()): closing it closed
			// what sock had open on it, so there is nothing to wait for.
			drain.report()
		}
	}
	var err error
	select {
	case <-drain.done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if !g.stop() {
		// ctx ended first, but nothing was left to cut short: the drains had
		// not reported yet (a ctx done already wins that race), or a loop
		// had just finished.
		return nil
	}
	return err
}

// beginShutdown is a connection's part of a Shutdown: Close, or OnShutdown
// for a ShutdownHandler. OnShutdown runs in a callback of its own, so that a
// panic in it keeps no other connection from being told, and a handler
// that closes other connections there does not cut eachConn's walk short.
func (c *Conn) beginShutdown() {
	sh, ok := c.cfg.h.(ShutdownHandler)
	if !ok {
		c.Close()
		return
	}
	c.cfg.l.CallSoon(func() {
		if c.flags&(fClosing|fClosed) != 0 {
			return // closed meanwhile: there is nothing to tell
		}
		told := false
		defer func() {
			if !told && c.flags&(fClosing|fClosed) == 0 {
				c.Close()
			}
		}()
		sh.OnShutdown(c)
		told = true
	})
}

// Close aborts every listener and connection of the group (queued bytes are
// discarded; OnClose says so), those accepted by a listener closed with
// GroupListener.Close too, stops the loops and waits for their goroutines.
// It returns an error wrapping ErrClosed that says which if Shutdown or
// Close was called before: unlike http.Server's Close, it does not cut a
// running Shutdown short (its ctx does that).
func (g *Group) Close() error {
	if !g.markClosed("closed") {
		return g.closedErr("Group.Close")
	}
	g.stop()
	return nil
}

// markClosed notes how the group was closed, and reports whether it was
// the first to.
func (g *Group) markClosed(how string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closedBy != "" {
		return false
	}
	g.closedBy = how
	return true
}

// stop aborts what is still open, closes each loop from its own goroutine
// (the OnClose callbacks queued by the aborts still run: Close runs what
// was queued before it), and waits for the goroutines to end. It reports
// whether it aborted a connection Shutdown waited for (of the group's
// listeners, or dialed with a ShutdownHandler).
func (g *Group) stop() (aborted bool) {
	var cut atomic.Bool
	for _, gl := range g.loops {
		// An error is ErrClosed: the loop is closed already, and its
		// goroutine has ended or is ending.
		post(gl.l, func() {
			for _, ln := range gl.lns {
				ln.Close()
				ln.eachConn(func(c *Conn) {
					if c.Abort() == nil { // ErrClosed: closed already, its OnClose queued
						cut.Store(true)
					}
				})
			}
			if gl.dialed != nil {
				for c := range gl.dialed.open {
					if c.Abort() == nil {
						cut.Store(true)
					}
				}
			}
			gl.l.Close()
		})
	}
	g.wg.Wait()
	return cut.Load()
}
