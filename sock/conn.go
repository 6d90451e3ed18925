//go:build unix

package sock

import (
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/loopgen/loop"
	"golang.org/x/sys/unix"
)

// Conn is a stream connection (TCP or Unix) on a loop. All its methods
// belong to the loop goroutine; from another goroutine, use l.Post.
//
// Reads are driven by the loop: whatever arrives goes to the Handler's
// OnData. Writes never block: Write sends what the kernel takes at once and
// keeps the rest in chunks that the loop sends when the socket is writable.
// Under a Messages handler, what is written while it hands out one read's
// messages is gathered and sent in one go when they are all handed out (see
// Messages).
type Conn struct {
	// Context is the handler's per-connection state; sock never touches it.
	Context any

	cfg    *config    // shared with the listener's other connections: the loop, the Handler
	ln     *Listener  // the listener that accepted it; nil when dialed
	prev   *Conn      // in ln's list of connections
	next   *Conn      //
	out    *outbuf    // nil until a write could not be sent at once
	ext    *connExtra // nil until a timeout is set or Messages keeps input
	onRead func()     // c.onReadable, made once: the loop's reader for fd
	peer   netip.AddrPort
	fd     int32
	flags  connFlags
}

// connFlags is a connection's state.
type connFlags uint16

const (
	fConnecting          connFlags = 1 << iota // Dial's connect has not completed
	fReading                                   // onRead is registered with the loop
	fWriting                                   // out.onWrite is registered with the loop
	fEOF                                       // the peer has finished sending
	fShutWrite                                 // CloseWrite was called: no more writes
	fWriteDone                                 // shutdown(SHUT_WR) was done
	fClosing                                   // Close was called: flush, then close
	fClosed                                    // the descriptor is closed; OnClose is queued
	fPaused                                    // OnPause was called, OnResume not yet
	fReadPaused                                // PauseReading was called, ResumeReading not yet
	fReadPausedForWrites                       // Messages paused reading at OnPause, to resume it at OnResume
	fGathering                                 // Messages or WithWriteGathering gathers writes in the loop's gather buffer (see startGathering)
	fCorked                                    // Cork holds writes in the queue until Uncork
)

// chunkSize is the size of the chunks unsent bytes wait in.
const chunkSize = 16 << 10

// outbuf holds what the kernel has not taken yet: chunks[0][off:] and the
// chunks after it, n bytes in all. Chunks come from and go back to the
// loop's free list, so a connection that is not writing holds none.
type outbuf struct {
	chunks  [][]byte
	off     int
	n       int
	onWrite func() // c.onWritable, made once: the loop's writer for fd

	// one is the array chunks starts from again whenever the queue
	// empties, so that a queue of one chunk allocates nothing (Cork's
	// rounds each queue one; consume's slicing loses the array it had).
	one [1][]byte
}

// connExtra is what only some connections need, made on first use, so that
// a connection without it costs nothing for it: its deadlines on the loop's
// timer wheel, the wait after Close, and the input a Messages handler keeps.
// Each timer is re-armed (Reschedule: O(1), no allocation) when the
// activity it watches happens.
type connExtra struct {
	idle, read, write deadline
	message           deadline // WithMessageTimeout's, under Messages
	connectT          loop.Timer

	// After Close: the next look at what the peer has acknowledged, how
	// long the last wait was, and when the linger timeout ends. The end is a
	// time, not a count of what is left less each wait: a wait lasts at
	// least its step and up to a tick more, so on a coarse tick the count
	// ran far past the timeout (1 s ticks made a 10 s timeout last minutes).
	lingerT       loop.Timer
	lingerStep    time.Duration
	lingerEnd     time.Duration // from the loop state's epoch
	lingerFn      func()        // c.lingerCheck, made once
	lingerUnacked int           // what the peer had not acknowledged at the last look: a reset discards it, and then the kernel's count reads 0

	framing *framing // a Messages handler's kept input; nil while it keeps none
}

// deadline is one kind of timeout: how long it allows (0: off), its timer
// while armed, and the callback the timer calls, made when the kind is
// first set, so that a connection without it costs nothing for it.
type deadline struct {
	d    time.Duration
	t    loop.Timer
	fire func()
}

// newConn wraps the connected (or connecting) descriptor fd, on cfg's loop
// and with its Handler.
func newConn(cfg *config, fd int) *Conn {
	c := &Conn{cfg: cfg, fd: int32(fd)}
	c.onRead = c.onReadable
	return c
}

// LocalAddr returns the connection's local address, or nil once it is
// closed.
func (c *Conn) LocalAddr() net.Addr {
	if c.flags&fClosed != 0 {
		return nil
	}
	sa, err := unix.Getsockname(int(c.fd))
	if err != nil {
		return nil
	}
	return netAddr(sa, unix.SOCK_STREAM)
}

// RemoteAddr returns the peer's address: the dialed address for a dialed
// connection, the address accept reported for an accepted one (a Unix
// socket's peer is usually unnamed). It stays available after Close. A Dial
// to a host name has none while it looks the name up (nil), and then the
// address it is trying.
func (c *Conn) RemoteAddr() net.Addr {
	switch {
	case c.cfg.remote != nil:
		return c.cfg.remote
	case c.peer.IsValid():
		return net.TCPAddrFromAddrPort(c.peer)
	case c.cfg.unixStream:
		return &net.UnixAddr{Net: "unix"}
	}
	return nil // a Dial looking its host name up
}

// Loop returns the loop the connection belongs to.
func (c *Conn) Loop() *loop.Loop { return c.cfg.l }

// Buffered returns how many written bytes wait to be sent: queued, held
// by Cork, and gathered by a Messages handler or WithWriteGathering until
// sent. All count as unsent if the connection fails; gathered bytes count
// for OnPause and the write timeout only once queued, and held ones never
// for the write timeout (see Cork).
func (c *Conn) Buffered() int {
	n := 0
	if c.out != nil {
		n = c.out.n
	}
	if c.flags&fGathering != 0 {
		n += len(c.cfg.ls.gathered)
	}
	return n
}

// WritePaused reports whether OnPause has been called and OnResume not
// since: the unsent bytes went above the high-water mark and have not come
// down to the low-water mark. OnPause runs inside the Write that crossed the
// mark (or, under a Messages handler, inside the send of what OnMessage
// gathered, once the queue holds some of it), so a handler answering a
// pipeline of requests can ask this between replies, keep the requests it
// has not answered, and go on in OnResume, with no flag of its own. False
// from Close on (no OnResume comes after it, and writes are refused) and
// once the connection is closed.
func (c *Conn) WritePaused() bool { return c.flags&(fPaused|fClosing|fClosed) == fPaused }

// Closing reports whether the connection is closing or closed: Close or
// Abort was called, or it failed (a reset, a timeout), so that Write
// returns ErrClosed and OnClose has come or will, as asyncio's
// is_closing does. A timer or a posted answer that outlived its request
// asks it before it writes. A CloseWrite alone does not close: reading
// goes on.
func (c *Conn) Closing() bool { return c.flags&(fClosing|fClosed) != 0 }

// ReadPaused reports whether PauseReading is in effect: called, and
// ResumeReading not since, or, under a Messages handler on an accepted
// connection, reading paused for writes (from OnPause to OnResume, which
// ends it: a handler that needs reading paused past OnResume calls
// PauseReading even when this is true). False from Close on (a closing
// connection reads, and discards, what arrives) and once the connection is
// closed.
func (c *Conn) ReadPaused() bool { return c.flags&(fReadPaused|fClosing|fClosed) == fReadPaused }

// Write sends p, or as much of it as the kernel takes at once, and copies
// the rest to be sent when the socket is writable; it never blocks. Under a
// Messages handler, while it hands out one read's messages (OnMessage, and
// the OnEOF it asks), p is instead gathered, when nothing is queued and up
// to 16 KiB, with what was written before it, and sent when the messages are
// handed out, or by Close, CloseWrite or Abort; a p that would pass 16 KiB
// is sent after what was gathered, in one system call with it. Corked (see
// Cork), p is held until Uncork, unless that takes what is held past 16 KiB
// (or the high-water mark, if lower), which sends it all now, or bytes
// already wait for the kernel, behind which p is queued. It returns len(p) and nil when all of p
// was sent, gathered, held or queued. When the queue
// rises above the high-water mark, OnPause is called before Write returns;
// an OnPause that closes or aborts the connection there leaves Write's
// answer as it was (p was taken: an Abort's *UnsentError in OnClose counts
// it), and Closing then says that no more may be written.
// After Close, Abort, CloseWrite or a failure it returns ErrClosed. If the
// connection fails while sending, Write returns that error and the
// connection closes (OnClose follows with the same error). An empty p
// returns 0 and nil, and queues nothing.
func (c *Conn) Write(p []byte) (int, error) {
	if c.flags&(fShutWrite|fClosing|fClosed) != 0 {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.flags&fCorked != 0 {
		return c.hold(len(p), p)
	}
	// The queue as it was before this Write: what was gathered, sent with a
	// p too long to gather, is queued before p where the kernel leaves some,
	// and OnPause comes after both.
	wasEmpty := c.out == nil || c.out.n == 0
	if c.flags&fGathering != 0 && c.gather(p) {
		return len(p), nil
	}
	sent := 0
	if c.flags&fConnecting == 0 && wasEmpty {
		var n int
		var err error
		if c.flags&fGathering != 0 && len(c.cfg.ls.gathered) > 0 {
			// Too long to gather: it goes in one system call with what was.
			n, err = c.sendAfterGathered(p)
		} else {
			n, err = c.send(p)
		}
		if err != nil {
			c.fail(err)
			return n, err
		}
		if n == len(p) {
			return n, nil
		}
		sent = n
	}
	c.appendOut(p[sent:])
	c.queued(wasEmpty)
	return len(p), nil
}

// Writev is Write for several buffers, sent in one system call (up to 64 of
// them) when nothing is queued: a header and a body need not be copied
// together first. Under a Messages handler they are gathered as Write's are,
// and corked they are held as Write's are.
func (c *Conn) Writev(bufs ...[]byte) (int, error) {
	if c.flags&(fShutWrite|fClosing|fClosed) != 0 {
		return 0, ErrClosed
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total == 0 {
		return 0, nil
	}
	if c.flags&fCorked != 0 {
		return c.hold(total, bufs...)
	}
	wasEmpty := c.out == nil || c.out.n == 0 // as in Write
	if c.flags&fGathering != 0 && c.gather(bufs...) {
		return total, nil
	}
	sent := 0
	if c.flags&fConnecting == 0 && wasEmpty {
		var n int
		var err error
		if c.flags&fGathering != 0 && len(c.cfg.ls.gathered) > 0 {
			n, err = c.sendAfterGathered(bufs...) // as in Write
		} else {
			n, err = c.sendv(bufs)
		}
		if err != nil {
			c.fail(err)
			return n, err
		}
		if n == total {
			return n, nil
		}
		sent = n
	}
	// Every buffer is queued before OnPause can run: what OnPause writes
	// comes after all of them, and an Abort from it counts all of them.
	for _, b := range bufs {
		if sent >= len(b) {
			sent -= len(b)
			continue
		}
		c.appendOut(b[sent:])
		sent = 0
	}
	c.queued(wasEmpty)
	return total, nil
}

// maxGather bounds what a gathering connection gathers before it sends: enough
// for the answers to a read's worth of small requests, and small enough
// that flow control sees the rest as queued (OnPause) in good time. Cork's
// limit too (corkLimit).
const maxGather = 16 << 10

// startGathering makes c's writes gather in the loop's gather buffer, to go
// out in one send at sendGathered, instead of one system call each:
// Messages gathers a connection's writes while it hands out one read's
// messages, whose answers are often many and small (a trial's pipelining server made 100,000 sends for
// 531 reads). It reports false, and does nothing, when it cannot: c is not
// open for writing, c is corked (Cork holds its writes instead), or another
// connection of the loop is gathering. No path
// does the latter now (a connection gathers only while its own messages
// are handed out, and handlers' callbacks do not nest: a mutation round
// found the check unobservable), but the buffer is the loop's, and two
// connections' bytes in it would go to one peer.
func (c *Conn) startGathering() bool {
	ls := c.cfg.ls
	if ls.gatherer != nil || c.flags&(fGathering|fCorked|fConnecting|fShutWrite|fClosing|fClosed) != 0 {
		return false
	}
	ls.gatherer = c
	c.flags |= fGathering
	return true
}

// gather adds bufs to the gather buffer and reports true, or reports false
// when they must take the usual way: after bytes already queued (order),
// or too many to gather, which the caller sends after what was gathered
// (sendAfterGathered), in one system call.
func (c *Conn) gather(bufs ...[]byte) bool {
	ls := c.cfg.ls
	if c.out != nil && c.out.n > 0 {
		return false
	}
	n := len(ls.gathered)
	for _, b := range bufs {
		n += len(b)
	}
	if n > maxGather {
		return false
	}
	for _, b := range bufs {
		ls.gathered = append(ls.gathered, b...)
	}
	return true
}

// sendAfterGathered sends what c gathered and then bufs, in one system
// call, for a Write too long to gather: the gather buffer is emptied, and
// what the kernel does not take of it is queued; it returns how much of
// bufs went (none if not all of the gathered bytes did). A failed send is
// returned for the caller to fail c with, which counts the gathered bytes
// as not delivered. It calls nothing of the handler: the caller queues
// the rest of bufs, then calls queued (for the writer and OnPause).
func (c *Conn) sendAfterGathered(bufs ...[]byte) (int, error) {
	ls := c.cfg.ls
	all := append(append(ls.vec[:0], ls.gathered), bufs...)
	n, err := c.sendv(all)
	clear(all) // the scratch must not keep the caller's buffers alive
	ls.vec = all[:0]
	if err != nil {
		return 0, err
	}
	gathered := len(ls.gathered)
	if n < gathered {
		c.appendOut(ls.gathered[n:])
		n = gathered
	}
	ls.gathered = ls.gathered[:0]
	return n - gathered, nil
}

// spill sends what c gathered and empties the gather buffer, appending what
// the kernel does not take to the queue; c goes on gathering. It calls nothing
// of the handler (its caller calls queued, for the writer and OnPause, once
// its own bytes are queued too: an OnPause that Aborts or writes comes
// after all of them). A failed send fails c, counting what was gathered as
// not delivered, and is returned.
func (c *Conn) spill() error {
	ls := c.cfg.ls
	if len(ls.gathered) == 0 {
		return nil
	}
	n, err := c.send(ls.gathered)
	if err != nil {
		c.fail(err) // counts the gathered bytes in Buffered; teardown drops them
		return err
	}
	if n < len(ls.gathered) {
		c.appendOut(ls.gathered[n:])
	}
	ls.gathered = ls.gathered[:0]
	return nil
}

// sendGathered sends what c gathered and ends the gathering, before anything
// of the handler can run (OnPause, which may panic): a gathering must not
// outlive it.
func (c *Conn) sendGathered() {
	if c.flags&fGathering == 0 {
		return
	}
	wasEmpty := c.out == nil || c.out.n == 0 // else nothing was gathered
	err := c.spill()
	c.dropGathered()
	if err == nil && wasEmpty {
		c.queued(true)
	}
}

// dropGathered ends the gathering and forgets what was gathered (teardown counted
// it in Buffered first).
func (c *Conn) dropGathered() {
	if c.flags&fGathering != 0 {
		c.flags &^= fGathering
		c.cfg.ls.gathered = c.cfg.ls.gathered[:0]
		c.cfg.ls.gatherer = nil
	}
}

// Cork holds what is written from now on, to send it in one go at Uncork:
// the writes of many callbacks (requests or answers posted from other
// goroutines, say) then take one system call instead of one each, as Node's
// socket.cork does. In each callback that writes:
//
//	if !c.Corked() {
//		c.Cork()
//		c.Loop().CallSoon(c.Uncork) // after this iteration's callbacks
//	}
//	c.Write(msg)
//
// (c.Uncork, a method value, allocates each time it is made: keep one per
// connection, made once, where that matters.)
//
// The held bytes count in Buffered, but they do not wait for the peer: the
// write timeout does not run for them, and they never reach the high-water
// mark: once more than 16 KiB is held (or more than the high-water mark,
// if that is lower), all of it is sent at once, as when uncorked, and
// while the kernel has not taken it all, later writes queue behind it as
// usual. The same holds when Cork is called with bytes already waiting for
// the kernel: writes join that queue and go out as it drains, in one
// system call with it, before Uncork. Close and CloseWrite send what is held (they Uncork first); Abort
// discards it, and its *UnsentError counts it. Writes made before Cork are
// not held: under a Messages handler or WithWriteGathering, Cork sends the
// answers gathered so far (a send that may call OnPause, or close the
// connection if it fails: OnClose says why), and the gathering stops while
// corked.
// Cork does nothing on a connection that is corked (one Uncork ends it),
// closing or closed, or after CloseWrite. A connection still connecting
// holds its writes until it opens anyway; corked, it goes on holding them.
func (c *Conn) Cork() {
	if c.flags&(fCorked|fShutWrite|fClosing|fClosed) != 0 {
		return
	}
	c.sendGathered() // Messages' answers so far: written before the Cork
	if c.flags&fClosed != 0 {
		return // the send failed, or an OnPause closed c
	}
	c.flags |= fCorked
}

// Uncork ends Cork: what is held is sent now, as far as the kernel takes
// it, and the rest queued, as Write does (it never reaches the high-water
// mark: see Cork); while the connection is still connecting, or bytes
// already wait for the kernel, it goes out with them when the socket is
// writable. A send that fails closes the connection: OnClose says why. It
// does nothing on a connection that is not corked.
func (c *Conn) Uncork() {
	if c.flags&fCorked == 0 {
		return
	}
	c.flags &^= fCorked
	if c.flags&(fWriting|fConnecting|fClosed) != 0 || c.out == nil || c.out.n == 0 {
		return // nothing held, or the queue waits already: the writer sends it
	}
	c.release()
}

// Corked reports whether Cork is in effect: called, and Uncork not since,
// on a connection that is not closing or closed.
func (c *Conn) Corked() bool { return c.flags&(fCorked|fClosing|fClosed) == fCorked }

// hold is Write and Writev on a corked connection: bufs, total bytes in
// all, join the queue unsent, unless they take what it holds past
// corkLimit, or the queue waits for the kernel or a connect already (then
// they wait with it, as uncorked).
func (c *Conn) hold(total int, bufs ...[]byte) (int, error) {
	wasEmpty := c.out == nil || c.out.n == 0
	for _, b := range bufs {
		c.appendOut(b)
	}
	if c.flags&(fWriting|fConnecting) != 0 {
		c.queued(wasEmpty)
		return total, nil
	}
	if c.out.n <= c.corkLimit() {
		return total, nil
	}
	if err := c.release(); err != nil {
		return 0, err
	}
	return total, nil
}

// corkLimit is the most a corked connection holds before it sends: below
// the high-water mark, so that holding alone never calls OnPause.
func (c *Conn) corkLimit() int { return min(maxGather, c.cfg.highWater) }

// release sends what the queue holds, which nothing waits to send (no
// writer is registered), and then waits for the kernel with the rest, as a
// Write that the kernel took part of does; a failed send fails c and is
// returned.
func (c *Conn) release() error {
	if err := c.flush(); err != nil {
		c.fail(err)
		return err
	}
	if c.out.n > 0 {
		c.queued(true)
	} else {
		c.drained()
	}
	return nil
}

// send writes p directly. EAGAIN is not an error: it sent 0 bytes.
func (c *Conn) send(p []byte) (int, error) {
	for {
		n, err := sysSend(int(c.fd), p)
		if err != unix.EINTR {
			return c.sent(n, err, "write")
		}
	}
}

// sendv is send for several buffers.
func (c *Conn) sendv(bufs [][]byte) (int, error) {
	for {
		n, err := sysSendv(&c.cfg.ls.sysVec, int(c.fd), bufs)
		if err != unix.EINTR {
			return c.sent(n, err, "writev")
		}
	}
}

// sent is the outcome of a send or sendv that was not interrupted: the
// bytes the kernel took, 0 for EAGAIN, or the error named after op.
func (c *Conn) sent(n int, err error, op string) (int, error) {
	switch err {
	case nil:
		c.wrote(n)
		return n, nil
	case unix.EAGAIN:
		return 0, nil
	}
	return 0, c.opError(op, err)
}

// opError is the error of a system call on the open connection, named as
// package net names a Conn's: the operation, the network and both addresses
// ("read tcp 127.0.0.1:8080->127.0.0.1:50312: read: connection reset by
// peer"), so that a log line of OnClose's error alone says which connection.
// Built on the failure path only; errors.Is(err, syscall.ECONNRESET) holds.
func (c *Conn) opError(op string, errno error) error {
	return &net.OpError{Op: op, Net: c.cfg.network, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}

// wrote notes that the kernel took n bytes: the idle timer starts over,
// from the clock's present: a send may come late in a long callback (a
// handler's Write, or the gathered answers at the end of its messages),
// and a Reschedule would count from the callback's first reading. (About
// 30 ns more a send, on a connection with an idle timeout.)
func (c *Conn) wrote(n int) {
	if n > 0 && c.ext != nil {
		c.restart(&c.ext.idle)
	}
}

// appendOut appends p to the unsent bytes.
func (c *Conn) appendOut(p []byte) {
	if c.out == nil {
		c.out = &outbuf{onWrite: c.onWritable}
	}
	o := c.out
	o.n += len(p)
	for len(p) > 0 {
		if k := len(o.chunks); k > 0 {
			last := o.chunks[k-1]
			if m := copy(last[len(last):cap(last)], p); m > 0 {
				o.chunks[k-1] = last[:len(last)+m]
				p = p[m:]
				continue
			}
		}
		o.chunks = append(o.chunks, c.cfg.ls.getChunk())
	}
}

// queued follows appendOut: it watches for writability, starts the write
// timeout if the queue was empty before, and calls OnPause on crossing the
// high-water mark.
func (c *Conn) queued(wasEmpty bool) {
	o := c.out
	if o == nil || o.n == 0 || c.flags&fClosed != 0 {
		return
	}
	if c.flags&fWriting == 0 && c.fd >= 0 { // a Dial's lookup: connect adds the writer
		if err := c.cfg.l.AddWriter(int(c.fd), o.onWrite); err != nil {
			c.fail(err)
			return
		}
		c.flags |= fWriting
	}
	if wasEmpty && c.ext != nil && c.flags&fConnecting == 0 {
		// While connecting nothing can be sent: the connect timeout bounds
		// that wait, and connected starts this one.
		c.restart(&c.ext.write)
	}
	if c.flags&fPaused == 0 && o.n > c.cfg.highWater {
		c.flags |= fPaused
		c.cfg.h.OnPause(c)
	}
}

// onWritable is the loop's writer: it completes a connect or sends what is
// queued.
func (c *Conn) onWritable() {
	if c.flags&fClosed != 0 {
		return
	}
	if c.flags&fConnecting != 0 {
		c.connected()
		return
	}
	if err := c.flush(); err != nil {
		c.fail(err)
		return
	}
	c.drained()
}

// flush sends queued bytes until the kernel takes no more.
func (c *Conn) flush() error {
	o := c.out
	for o != nil && o.n > 0 {
		vec := append(c.cfg.ls.vec[:0], o.chunks[0][o.off:])
		for _, ch := range o.chunks[1:] {
			if len(vec) == maxVec {
				break
			}
			vec = append(vec, ch)
		}
		want := 0
		for _, b := range vec {
			want += len(b)
		}
		var n int
		var err error
		if len(vec) == 1 {
			n, err = c.send(vec[0])
		} else {
			n, err = c.sendv(vec)
		}
		clear(vec) // the loop's scratch must not keep chunks alive
		c.cfg.ls.vec = vec[:0]
		if err != nil {
			return err
		}
		c.consume(n)
		if n < want {
			return nil // the kernel is full: wait for the next writable event
		}
	}
	return nil
}

// consume drops n sent bytes from the front of the queue and gives emptied
// chunks back to the loop. Progress re-arms the write timeout.
func (c *Conn) consume(n int) {
	if n == 0 {
		return
	}
	o := c.out
	o.n -= n
	for n > 0 {
		first := o.chunks[0]
		if left := len(first) - o.off; n < left {
			o.off += n
			break
		} else {
			n -= left
		}
		c.cfg.ls.putChunk(first)
		o.chunks[0] = nil
		o.chunks = o.chunks[1:]
		o.off = 0
	}
	if o.n == 0 {
		// A queue that grew past one chunk left its first in one[0]: it
		// was given back above, and must not be held from here.
		o.one[0] = nil
		o.chunks = o.one[:0]
	}
	if c.ext != nil && o.n > 0 {
		c.rearm(&c.ext.write)
	}
}

// drained runs after a flush: it stops watching writability once the
// queue is empty (an idle connection costs the poller nothing), calls
// OnResume at the low-water mark, and completes a pending Close or
// CloseWrite.
func (c *Conn) drained() {
	o := c.out
	if o.n > 0 {
		if c.flags&(fPaused|fClosing) == fPaused && o.n <= c.cfg.lowWater {
			c.flags &^= fPaused
			c.cfg.h.OnResume(c)
		}
		return
	}
	if c.flags&fWriting != 0 {
		c.cfg.l.RemoveWriter(int(c.fd))
		c.flags &^= fWriting
	}
	if c.ext != nil {
		c.cfg.l.Cancel(c.ext.write.t)
	}
	o.chunks = o.one[:0] // a grown array would outlive its use
	if c.flags&fClosing != 0 {
		c.linger()
		return
	}
	if c.flags&(fShutWrite|fWriteDone) == fShutWrite {
		// Not done yet: a CloseWrite from OnOpen with nothing queued did
		// it at once, and a second shutdown fails with ENOTCONN once the
		// peer has finished too.
		c.shutdownWrite()
	}
	// After CloseWrite too, as when the queue passes the low-water mark on
	// its way down: a handler that paused its reading in OnPause must be
	// told, or it never reads the peer's end, and the connection never ends.
	if c.flags&(fPaused|fClosed) == fPaused {
		c.flags &^= fPaused
		c.cfg.h.OnResume(c)
	}
}

// onReadable is the loop's reader: one read per readiness event (readiness
// is level-triggered, so what is left comes with the next one, and one busy
// connection cannot starve the others).
func (c *Conn) onReadable() {
	if c.flags&(fClosed|fReading) != fReading {
		return
	}
	n, err := sysRead(int(c.fd), c.cfg.ls.rbuf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
	case err != nil:
		c.fail(c.opError("read", err))
	case n == 0:
		c.gotEOF()
	case c.flags&fClosing != 0:
		// Read only so that the descriptor is not closed with unread input:
		// Close promised the handler no more data.
	default:
		if c.ext != nil {
			c.rearm(&c.ext.read)
			c.rearm(&c.ext.idle)
		}
		if c.cfg.gatherWrites && c.startGathering() {
			c.onDataGathered(n)
			return
		}
		c.cfg.h.OnData(c, c.cfg.ls.rbuf[:n])
	}
}

// onDataGathered calls OnData with c gathering (WithWriteGathering), and
// sends what it wrote when it returns, or panics: a gathering must not
// outlive it.
func (c *Conn) onDataGathered(n int) {
	defer c.sendGathered()
	c.cfg.h.OnData(c, c.cfg.ls.rbuf[:n])
}

// gotEOF handles the peer's end of stream.
func (c *Conn) gotEOF() {
	c.flags |= fEOF
	c.stopReading()
	if m := c.messages(); m != nil && c.flags&(fShutWrite|fClosing) == fShutWrite {
		// After CloseWrite too, Messages hands out what the end of stream
		// finishes (OnEOF is not asked): the last message, or the error.
		if m.OnEOF(c) || c.flags&fClosed != 0 {
			return // messages wait; Messages closes the connection after them
		}
	}
	switch {
	case c.flags&fWriteDone != 0:
		c.teardown(nil) // both directions are finished
	case c.flags&(fShutWrite|fClosing) != 0:
		// A flush is under way; its end completes the close.
	default:
		if eh, ok := c.cfg.h.(EOFHandler); ok {
			c.askEOF(eh)
			return
		}
		c.Close()
	}
}

// askEOF calls OnEOF and closes the connection unless it says to keep it
// open. A panic in OnEOF closes it too, on its way to the loop: the
// connection no longer reads, so nothing else would.
func (c *Conn) askEOF(eh EOFHandler) {
	keep := false
	defer func() {
		if !keep && c.flags&(fClosing|fClosed) == 0 {
			c.Close()
		}
	}()
	keep = eh.OnEOF(c)
}

func (c *Conn) stopReading() {
	if c.flags&fReading != 0 {
		c.cfg.l.RemoveReader(int(c.fd))
		c.flags &^= fReading
	}
	if c.ext != nil {
		c.cfg.l.Cancel(c.ext.read.t)
		c.stopMessageTimeout()
	}
}

// PauseReading stops reading until ResumeReading (asyncio's
// pause_reading): the kernel's receive buffer fills and the peer's sends
// stall. An echo server or a proxy calls it from OnPause, to pass a slow
// reader's back-pressure on to the sender instead of buffering. The read
// timeout does not run while reading is paused; the idle timeout does, and
// then only sending counts (no byte is read): a paused connection is closed
// once the kernel has taken nothing written for that long (its peer stopped
// reading), not while a slow peer's reading lets the kernel take more. What
// reading would have found waits too: the peer's end of stream
// (OnEOF or OnClose) comes after ResumeReading, and so does a reset, unless
// bytes are queued to write (the write fails) or a deadline ends it first.
// It returns ErrClosed after Close: a closing connection reads (and
// discards) until it ends, so that a peer blocked on sending to it can go on
// to read what it flushes.
func (c *Conn) PauseReading() error {
	if c.flags&(fClosing|fClosed) != 0 {
		return ErrClosed
	}
	// The pause is the handler's now, also if Messages paused reading for
	// writes before: OnResume must not undo it.
	c.flags = c.flags&^fReadPausedForWrites | fReadPaused
	c.stopReading()
	return nil
}

// ResumeReading undoes PauseReading. It does nothing once the peer has
// finished sending or Close was called, since there is nothing left to
// read then, and returns ErrClosed once the connection is closed (which a
// Close with nothing to send may be at once, on return).
func (c *Conn) ResumeReading() error {
	if c.flags&fClosed != 0 {
		return ErrClosed
	}
	c.flags &^= fReadPaused
	if m := c.messages(); m != nil && c.flags&fClosing == 0 && m.resumeReading(c) {
		return nil // writes are paused: reading resumes at OnResume
	}
	if c.flags&(fReading|fConnecting|fEOF|fClosing) != 0 {
		return nil
	}
	if err := c.cfg.l.AddReader(int(c.fd), c.onRead); err != nil {
		return err
	}
	c.flags |= fReading
	if c.ext != nil {
		c.restart(&c.ext.read) // a handler's call, maybe late in a long callback
	}
	return nil
}

// CloseWrite sends what is queued, then shuts down the sending direction
// (the peer reads end of stream); reading goes on. Once the peer has
// finished too, the connection closes with OnClose(nil). Later writes
// return ErrClosed, and so does a second CloseWrite, or one after Close.
func (c *Conn) CloseWrite() error {
	if c.flags&(fShutWrite|fClosing|fClosed) != 0 {
		return ErrClosed
	}
	c.sendGathered()
	c.Uncork()
	if c.flags&fClosed != 0 {
		return nil // the send failed: OnClose says why
	}
	c.flags |= fShutWrite
	if c.flags&fConnecting == 0 && c.Buffered() == 0 {
		c.shutdownWrite()
	}
	return nil
}

func (c *Conn) shutdownWrite() {
	if err := unix.Shutdown(int(c.fd), unix.SHUT_WR); err != nil {
		c.fail(c.shutdownError(err))
		return
	}
	c.flags |= fWriteDone
	if c.flags&fEOF != 0 {
		c.teardown(nil)
	}
}

// Close ends the connection gracefully: OnData is not called again (what
// arrives is read and discarded), what is queued is sent, the sending
// direction is shut down (the peer reads end of stream), and once the peer
// has acknowledged all of it, or has finished sending too, the descriptor is
// closed. OnClose follows, from a later callback, with nil or with the
// reason the queued bytes may not all have reached the peer.
//
// The wait matters: a descriptor closed while sent bytes are unacknowledged
// and input is unread or still arriving makes the kernel reset the
// connection, and the reset discards what it had not delivered. The wait is
// bounded by the linger timeout (WithLingerTimeout); past it the descriptor
// is closed anyway, and OnClose receives an error wrapping ErrLinger if the
// peer had not acknowledged everything sent. Off Linux the kernel does not
// say what the peer has acknowledged: there only the peer's end of stream ends
// the wait early, and past the linger timeout OnClose receives ErrLinger
// itself, with no count. A Unix socket does not wait for what it sent,
// which is in the peer's queue already: it closes once its own input is
// drained, or, if the peer was still sending, once the peer ends its
// stream or the linger timeout passes (OnClose then has nil), since a close
// with the peer's input still arriving would make the peer's read end in
// ECONNRESET after what was sent instead of the end of stream. A peer that
// never reads keeps a
// closing connection open while bytes are queued: set a write timeout, or use
// Abort. Close returns ErrClosed if already called.
//
// A nil says the peer's kernel has what was written, not that the peer has
// read it: a peer that answers after the close draws a reset, and the reset
// discards on its side what it had not read yet (a server with its reading
// paused loses pipelined requests it had not handled). A client that wants
// every answer calls CloseWrite and waits for the peer's end of stream.
func (c *Conn) Close() error {
	if c.flags&(fClosing|fClosed) != 0 {
		return ErrClosed
	}
	c.sendGathered()
	c.Uncork()
	if c.flags&fClosed != 0 {
		return nil // the send failed: OnClose says why
	}
	c.flags |= fClosing
	if c.ext != nil {
		c.cfg.l.Cancel(c.ext.read.t) // no more data is expected for the handler
		c.stopMessageTimeout()
	}
	// Even if the handler paused reading: input is discarded from now on,
	// and a peer blocked on sending to us can then read what we flush.
	if c.flags&fConnecting == 0 && !c.readToDiscard() {
		return nil
	}
	if c.Buffered() == 0 {
		c.linger()
	}
	return nil
}

// readToDiscard makes sure a closing connection's reader is registered (it
// discards what it reads), and reports false if the connection failed.
func (c *Conn) readToDiscard() bool {
	if c.flags&(fReading|fEOF) != 0 {
		return true
	}
	if err := c.cfg.l.AddReader(int(c.fd), c.onRead); err != nil {
		c.fail(err)
		return false
	}
	c.flags |= fReading
	return true
}

// linger follows a Close whose queue is empty: it shuts down the sending
// direction and waits, up to the linger timeout, for the peer's end of
// stream, which closes the connection (gotEOF). A connection whose peer has
// finished already, or that never connected, closes at once.
func (c *Conn) linger() {
	if c.ext != nil && c.ext.lingerFn != nil {
		// Lingering already: a Close from a dialed connection's OnOpen began
		// it, and connected's flush then ends here again.
		return
	}
	if c.flags&(fEOF|fConnecting) != 0 {
		c.teardown(nil)
		return
	}
	if c.flags&fWriteDone == 0 {
		if err := unix.Shutdown(int(c.fd), unix.SHUT_WR); err != nil {
			c.fail(c.shutdownError(err))
			return
		}
		c.flags |= fWriteDone
	}
	if c.cfg.unixStream {
		// What a Unix socket sent is in the peer's queue already, and its
		// SIOCOUTQ counts buffer memory until the peer reads: nothing to
		// wait for once the input is drained (unread input would make the
		// peer's next read fail with ECONNRESET).
		read, err := c.drainInput()
		if err != nil {
			// ECONNRESET: the peer closed with what we sent still unread in
			// its queue, so that was lost.
			c.fail(err)
			return
		}
		if !read || c.flags&fEOF != 0 {
			c.teardown(nil)
			return
		}
		// The peer is still sending (a client pipelining requests): input
		// that came between the drain and the close would make its reads
		// end in ECONNRESET once it has read what we sent, not in the end
		// of stream (a trial's RPC server did that to 2 of 200 clients in
		// a Shutdown). So wait for its end of stream, which it sends once
		// it has read ours, discarding what comes meanwhile, up to the
		// linger timeout (lingerCheck).
	}
	// Close came while connecting, or reading was paused since: input must
	// be read, to see the peer's end and to discard it.
	if !c.readToDiscard() {
		return
	}
	tm := c.extra()
	// The peer's end is what is awaited now, with a timeout of its own.
	c.cfg.l.Cancel(tm.idle.t)
	c.cfg.l.Cancel(tm.read.t)
	tm.lingerEnd, tm.lingerStep, tm.lingerFn = c.sinceEpoch()+c.cfg.lingerTimeout, 0, c.lingerCheck
	c.lingerCheck()
}

// shutdownError is the error for a failed shutdown(SHUT_WR): the socket's
// pending error when it has one, else err. A reset that arrived before the
// shutdown leaves the socket unconnected, and shutdown then says only ENOTCONN.
func (c *Conn) shutdownError(err error) error {
	if soerr, e := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR); e == nil && soerr != 0 {
		err = unix.Errno(soerr)
	}
	return c.opError("shutdown", err)
}

// maxLingerStep bounds the wait between two looks at what the peer of a
// lingering connection has acknowledged: the first is at once, the next
// after a millisecond, then twice as long each time, up to this.
const maxLingerStep = 100 * time.Millisecond

// drainInput reads and discards what has arrived, until the kernel has no
// more, so that closing the descriptor finds no unread input. It reads into
// the loop's discard buffer, not its read buffer: a Close from inside an
// OnData, this connection's or another's, would overwrite the p that OnData
// holds. It reports whether it read anything (the peer was still sending),
// noting the peer's end of stream in fEOF if it came, and returns a read
// error other than EAGAIN.
func (c *Conn) drainInput() (read bool, err error) {
	buf := c.cfg.ls.discardBuffer()
	for {
		n, err := sysRead(int(c.fd), buf)
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return read, nil
		case err != nil:
			return read, c.opError("read", err)
		case n == 0:
			c.flags |= fEOF
			return read, nil
		}
		read = true
	}
}

// lingerCheck closes a lingering connection as soon as the peer has
// acknowledged everything sent, end of stream included: what the peer has
// not read is then in its kernel, and a reset that input arriving after the
// close provokes does not take it away (the peer reads it, then end of
// stream). The kernel says so through no event, so it is asked again, less
// and less often, until the peer's end of stream (gotEOF) or the linger
// timeout, which closes anyway and tells OnClose what was not acknowledged.
func (c *Conn) lingerCheck() {
	if c.flags&fClosed != 0 {
		return
	}
	tm := c.ext
	left := tm.lingerEnd - c.sinceEpoch()
	if c.cfg.unixStream {
		// Only the peer's end of stream (gotEOF) or the timeout ends a Unix
		// socket's wait: what it sent is in the peer's queue already.
		if left <= 0 {
			c.teardown(nil)
		} else {
			tm.lingerT = c.cfg.l.CallLater(left, tm.lingerFn)
		}
		return
	}
	n, known := unackedBytes(int(c.fd))
	if n > 0 {
		n-- // the FIN's sequence number: shutdown queued it
	}
	if known {
		tm.lingerUnacked = n
	}
	switch {
	case known && n == 0:
		c.teardown(nil)
		return
	case left <= 0 && !known:
		c.teardown(ErrLinger)
		return
	case left <= 0:
		c.teardown(&UnsentError{Unsent: n, Err: ErrLinger})
		return
	}
	step := min(max(2*tm.lingerStep, time.Millisecond), maxLingerStep, left)
	if !known {
		step = left // nothing to ask: wait for the end of stream
	}
	tm.lingerStep = step
	tm.lingerT = c.cfg.l.CallLater(step, tm.lingerFn)
}

// Abort closes the connection at once, discarding what is queued (what a
// Messages handler's OnMessage wrote before it and gathered is sent first,
// as far as the kernel takes it at once, as it would have been if written
// without the gathering). With
// bytes queued a TCP connection is reset (SO_LINGER 0), so that its peer
// reads ECONNRESET instead of an end of stream that would pass the cut-short
// stream off as whole; the reset discards what the kernel had not delivered
// too. OnClose follows with nil if nothing was lost, or with an
// *UnsentError wrapping ErrAborted that counts what was queued and, on a
// TCP connection, what the peer had not acknowledged yet (as far as the
// kernel says: Linux does). Those may be lost: a reset discards them (the
// one for bytes queued, or for received bytes not yet read, which closing
// sends), and without one the kernel goes on sending them only until the
// peer writes to the closed socket, which is answered with a reset. On a
// connection already closed it returns ErrClosed.
func (c *Conn) Abort() error {
	if c.flags&fClosed != 0 {
		return ErrClosed
	}
	if c.flags&fGathering != 0 {
		// An answer written just before an Abort went out before the
		// gathering; it still does. What the kernel does not take is
		// queued, and counted below.
		if c.spill() != nil {
			return nil // the send failed: OnClose says why
		}
	}
	n := c.Buffered()
	if !c.cfg.unixStream && c.flags&fConnecting == 0 {
		if u, known := unackedBytes(int(c.fd)); known && u > 0 {
			if c.flags&fWriteDone != 0 {
				u-- // the FIN's sequence number: shutdown queued it
			}
			// A close that discards queued bytes is a reset (teardown),
			// and so is closing a socket with input not read: a reset
			// discards what the peer has not acknowledged. Without one the
			// kernel goes on sending it, but not for long if the peer
			// writes: data that comes to a closed socket is answered with
			// a reset, which discards it all the same (a trial's peer, its
			// reading paused, got 40 KiB of 1 MiB). So it counts as not
			// delivered either way.
			n += u
		}
	}
	var err error
	if n > 0 {
		err = &UnsentError{Unsent: n, Err: ErrAborted}
	}
	c.teardown(err)
	return nil
}

// fail closes the connection because of err, noting unsent bytes: those
// queued, and those the peer has not acknowledged when closing with bytes
// queued resets the connection (teardown), or, during a Close's wait (a
// reset that ends it), at the last look.
func (c *Conn) fail(err error) {
	if c.flags&fClosed != 0 {
		return
	}
	if _, named := err.(*net.OpError); c.flags&fConnecting != 0 && !named {
		err = c.dialError(err)
	}
	n := c.Buffered()
	if c.cutsShort() {
		// teardown resets the connection, which discards what the peer
		// has not acknowledged too.
		if u, known := unackedBytes(int(c.fd)); known {
			n += u
		}
	} else if c.flags&fClosing != 0 && c.ext != nil {
		n += c.ext.lingerUnacked
	}
	if n > 0 {
		err = &UnsentError{Unsent: n, Err: err}
	}
	c.teardown(err)
}

// cutsShort reports whether closing the connection now discards bytes Write
// accepted, on a connected TCP socket: a close that is then a reset. A Unix
// socket has no reset to send (its peer reads end of stream).
func (c *Conn) cutsShort() bool {
	return c.Buffered() > 0 && !c.cfg.unixStream && c.flags&fConnecting == 0
}

// teardown releases everything and queues OnClose(err). OnClose runs from
// its own callback, so that it never runs inside the caller's Close, Write
// or handler method.
func (c *Conn) teardown(err error) {
	if c.flags&fClosed != 0 {
		return
	}
	c.flags |= fClosed
	fd := int(c.fd)
	if c.flags&fReading != 0 {
		c.cfg.l.RemoveReader(fd)
	}
	if c.flags&fWriting != 0 {
		c.cfg.l.RemoveWriter(fd)
	}
	c.flags &^= fReading | fWriting
	if tm := c.ext; tm != nil {
		c.cfg.l.Cancel(tm.idle.t)
		c.cfg.l.Cancel(tm.read.t)
		c.cfg.l.Cancel(tm.write.t)
		c.cfg.l.Cancel(tm.message.t)
		c.cfg.l.Cancel(tm.connectT)
		c.cfg.l.Cancel(tm.lingerT)
	}
	cutShort := c.cutsShort()
	c.dropGathered() // what it gathered is counted in Buffered, and discarded
	if fd >= 0 {     // -1 while a Dial looks its host name up
		if cutShort {
			// Bytes Write accepted are discarded: a reset, not an end of
			// stream, tells the peer that the stream was cut short (it
			// would read a truncated stream as a whole one). It discards
			// what the kernel has not delivered too; the count says so.
			_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		}
		unix.Close(fd)
	}
	if d := c.cfg.dial; d != nil {
		d.cancel() // a lookup under way ends
		c.cfg.l.Cancel(d.attemptT)
		c.cfg.dial = nil
	}
	if o := c.out; o != nil {
		for _, ch := range o.chunks {
			c.cfg.ls.putChunk(ch)
		}
		o.chunks, o.n, o.off = nil, 0, 0
		o.one[0] = nil // given back above
	}
	c.cfg.l.CallSoon(func() {
		if ln := c.ln; ln != nil {
			// Deferred, so that a panicking OnClose (which the loop
			// recovers) cannot leave a Group's Shutdown waiting for it.
			defer ln.forget(c)
		} else {
			defer c.cfg.ls.forgetDialed(c)
		}
		c.cfg.h.OnClose(c, err)
	})
}

// SetIdleTimeout closes the connection with an error wrapping ErrTimeout
// when for d nothing was read and the kernel took nothing written. Set on a
// connection still connecting, it starts when the connection opens (the
// connect has WithConnectTimeout). Once Close was called, what arrives is
// discarded and does not count as read: a peer that sends and never reads
// what Close is flushing cannot hold the connection open that way. What
// the server sends counts too, so heartbeats keep a silent peer from ever
// being idle: SetReadTimeout drops one that stopped talking. d <= 0
// turns it off. It returns ErrClosed after Close (the linger timeout
// bounds a closing connection once its queue is sent) and once the
// connection is closed.
//
// This timeout and the read and write ones count from the clock as it
// reads at the call that sets or restarts them (this, ResumeReading for
// the read timeout, the Write that starts a queue for the write timeout),
// not as the loop read it earlier in the callback: set late in a long
// callback, they come no earlier for it. So does the idle timeout's
// restart at each send the kernel takes; a read restarts the idle and
// read timeouts at the start of the callback that brings it.
func (c *Conn) SetIdleTimeout(d time.Duration) error {
	if c.flags&(fClosing|fClosed) != 0 {
		return ErrClosed
	}
	c.setTimeout(&c.extra().idle, d, ErrIdleTimeout, c.flags&fConnecting == 0)
	return nil
}

// SetReadTimeout closes the connection with an error wrapping ErrTimeout
// when for d nothing was read. It does not run while reading is paused or
// over. d <= 0 turns it off. It returns ErrClosed after Close.
func (c *Conn) SetReadTimeout(d time.Duration) error {
	if c.flags&(fClosing|fClosed) != 0 {
		return ErrClosed
	}
	c.setTimeout(&c.extra().read, d, ErrReadTimeout, c.flags&fReading != 0)
	return nil
}

// SetWriteTimeout closes the connection with an error wrapping ErrTimeout
// (and *UnsentError) when queued bytes made no progress for d: the peer
// stopped reading. It runs only while bytes are queued on an open
// connection (not for bytes Cork holds: see Cork): a Dial's connect is
// bounded by WithConnectTimeout instead.
// d <= 0 turns it off. It returns ErrClosed once the connection is closed.
func (c *Conn) SetWriteTimeout(d time.Duration) error {
	if c.flags&fClosed != 0 {
		return ErrClosed
	}
	// Only bytes queued: what a Messages handler gathered (see startGathering) is sent
	// when OnMessage returns, and the timeout starts if some stay queued.
	// Bytes held by Cork wait for Uncork, not for the peer.
	waiting := c.out != nil && c.out.n > 0 && c.flags&fConnecting == 0 && (c.flags&fCorked == 0 || c.flags&fWriting != 0)
	c.setTimeout(&c.extra().write, d, ErrWriteTimeout, waiting)
	return nil
}

// sinceEpoch is the loop's time as a duration from its state's epoch.
func (c *Conn) sinceEpoch() time.Duration { return c.cfg.l.Now().Sub(c.cfg.ls.epoch) }

// extra returns the connection's connExtra, made on first use.
func (c *Conn) extra() *connExtra {
	if c.ext == nil {
		c.ext = &connExtra{}
	}
	return c.ext
}

// setTimeout sets dl to d, making its callback (which fails the connection
// with err) on first use, and starts its timer over when armNow.
func (c *Conn) setTimeout(dl *deadline, d time.Duration, err error, armNow bool) {
	if dl.fire == nil && d > 0 {
		dl.fire = func() { c.timedOut(dl, err) }
	}
	dl.d = max(d, 0)
	c.cfg.l.Cancel(dl.t)
	dl.t = loop.Timer{}
	if armNow {
		c.restart(dl)
	}
}

// timedOut acts on dl's expired timeout: the handler's OnTimeout decides,
// if it is a TimeoutHandler and Close has not been called; otherwise, or if
// OnTimeout panics, the connection fails with err. After OnTimeout the
// timeout starts again, where it runs (reading, for a read timeout; bytes
// queued, for a write timeout): a handler that kept the connection is asked
// again after another d without activity, and one that closed it with a
// peer that reads nothing sees the connection fail then, instead of its
// Close waiting for ever.
func (c *Conn) timedOut(dl *deadline, err error) {
	if dl.d == 0 {
		return // turned off since: a timer no Cancel could stop (timerAfter)
	}
	if dl == &c.ext.message && !c.messageUnfinished() {
		dl.t = loop.Timer{} // the message was cut off meanwhile: no message can time out
		return
	}
	th := c.timeoutHandler()
	if th == nil || c.flags&(fClosing|fClosed) != 0 {
		c.fail(err)
		return
	}
	done := false
	defer func() {
		if !done {
			c.fail(err)
		}
	}()
	th.OnTimeout(c, err)
	done = true
	// A Close in OnTimeout ends the read timeout, and once the queue is
	// sent the linger timeout bounds the close, as after a Close anywhere
	// else; until then the idle and write timeouts bound its flush.
	runs := c.flags&fClosed == 0 && c.ext.lingerFn == nil
	switch {
	case dl == &c.ext.read:
		runs = runs && c.flags&(fReading|fClosing) == fReading
	case dl == &c.ext.write:
		runs = runs && c.out != nil && c.out.n > 0
	case dl == &c.ext.message:
		runs = runs && c.messageUnfinished()
	}
	if runs {
		c.restart(dl) // after OnTimeout, which may have worked a while
	} else {
		dl.t = loop.Timer{} // spent: the message timeout's start looks at it
	}
}

// timeoutHandler returns c's handler as a TimeoutHandler, looking under
// Messages at the MessageHandler, or nil.
func (c *Conn) timeoutHandler() TimeoutHandler {
	if th, ok := c.cfg.h.(TimeoutHandler); ok {
		return th
	}
	if m := c.messages(); m != nil {
		th, _ := m.h.(TimeoutHandler)
		return th
	}
	return nil
}

// restart starts dl's timer over, if dl is set, from the clock's present:
// for a handler's call, which may come late in a long callback, where
// rearm's Reschedule would count from the loop's reading of the clock at
// the callback's first timer, and could fire early by the work done since.
func (c *Conn) restart(dl *deadline) {
	if dl.d > 0 {
		c.cfg.l.Cancel(dl.t)
		dl.t = timerAfter(c.cfg.l, dl.d, dl.fire)
	}
}

// minCallAt is the shortest timeout that timerAfter schedules from the
// clock's present (CallAt); a shorter one is scheduled with CallLater.
const minCallAt = time.Millisecond

// timerAfter schedules fn d after the clock's present, as read now, as a
// timer that Cancel stops. CallAt of a time that has passed by the time it
// reads the clock again is a CallSoon that no Cancel stops (a connect
// timeout of 1 ns then failed a connection after its OnOpen), so a d under
// minCallAt is scheduled with CallLater, from the callback's first reading
// of the clock: a timeout that short cannot tell the work done since from
// its own lateness.
func timerAfter(l *loop.Loop, d time.Duration, fn func()) loop.Timer {
	if d < minCallAt {
		return l.CallLater(d, fn)
	}
	return l.CallAt(l.Now().Add(d), fn)
}

// rearm starts dl's timer over, if dl is set: the activity it watches
// just happened, at the start of the loop's callback for it.
func (c *Conn) rearm(dl *deadline) {
	// Reschedule moves a pending timer in place; one that was cancelled (a
	// read deadline while reading is paused, say) or never made is made anew.
	if dl.d > 0 && !c.cfg.l.Reschedule(dl.t, dl.d) {
		dl.t = c.cfg.l.CallLater(dl.d, dl.fire)
	}
}

// getChunk returns an empty write chunk, reused when one is free.
func (s *loopState) getChunk() []byte {
	if k := len(s.free); k > 0 {
		ch := s.free[k-1]
		s.free[k-1] = nil
		s.free = s.free[:k-1]
		return ch
	}
	return make([]byte, 0, chunkSize)
}

// putChunk keeps ch for reuse, up to maxFreeChunks.
func (s *loopState) putChunk(ch []byte) {
	if len(s.free) < maxFreeChunks && cap(ch) == chunkSize {
		s.free = append(s.free, ch[:0])
	}
}
