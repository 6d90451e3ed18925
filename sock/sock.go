//go:build unix

// Package sock puts TCP, Unix-domain and UDP sockets on a loop.Loop: a
// listener that accepts on the loop, connections that read into one buffer
// shared by the whole loop and write without ever blocking it, with flow
// control (OnPause and OnResume around high and low water marks, as asyncio's
// pause_writing and resume_writing), per-connection deadlines on the loop's
// timer wheel, Group, which runs one loop per core behind SO_REUSEPORT, and
// Messages, which cuts a connection's input into messages with a
// bufio.SplitFunc however the reads divide it, for a handler that gets
// whole messages (Splitter does the cutting, for a handler that does it
// itself).
//
// It is callback-driven, like asyncio's protocols: a Handler receives
// OnOpen, OnData, OnClose, OnPause and OnResume, always on the loop
// goroutine. There is no goroutine per connection, and no read buffer per
// connection: an idle connection costs about 185 bytes of Go heap (see the
// README for how that is measured). It builds on Unix systems only: Linux,
// darwin and the BSDs.
//
// # Where to start
//
// A server: Listen (or, one loop per core, NewGroup and Group.Listen) with
// a Handler (embed BaseHandler), or with Messages for a protocol of lines
// or frames. A client: Dial (WithConnectTimeout, WithResolver). UDP:
// ListenPacket, Group.ListenPacket, DialPacket. A socket opened elsewhere
// (systemd's socket activation): FileListener, FilePacketConn. Then, as
// needed: Conn.Write, Close and Abort; Cork for writes from posted
// callbacks; OnPause, OnResume and PauseReading for flow
// control; SetIdleTimeout and the other timeouts, with TimeoutHandler to
// answer one; ShutdownHandler and Group.Shutdown for a graceful stop. The
// optional interfaces (EOFHandler, ShutdownHandler, TimeoutHandler,
// SplitErrorHandler, TruncatedHandler, PacketErrorHandler) add a callback
// to a handler that implements them; nothing else needs registering.
//
// # Goroutines
//
// Every method of Conn, Listener and PacketConn belongs to the goroutine
// that runs the loop the socket was created on, as do Listen, Dial,
// ListenPacket, DialPacket, FileListener and FilePacketConn themselves. From
// another goroutine, hand the call to the loop with l.Post (or, on a
// Group's loops, Group.Each). Those calls, made from another goroutine
// while the loop waits for work, fail with an error wrapping
// loop.ErrWrongGoroutine. Group's methods are
// the exception: they are safe from any goroutine but the group's own
// loops', since they wait for those loops (a callback on one calls them
// with go).
//
// # Errors
//
// Errors from the system are *os.SyscallError values, so errors.Is(err,
// syscall.ECONNRESET) and the like work. An open connection's (a read, a
// write, the shutdown of CloseWrite or Close), from Write and in OnClose,
// come in a *net.OpError that names the network and both addresses, as
// package net's Conn errors do ("read tcp 127.0.0.1:8080->127.0.0.1:50312:
// read: connection reset by peer"). A Dial that fails gives OnClose a
// *net.OpError around its error, naming the network and address, as package
// net's Dial does ("dial tcp 127.0.0.1:9: connect: connection refused").
// ErrClosed, ErrTimeout (ErrIdleTimeout and the others say which),
// ErrAborted, ErrLinger and *UnsentError say what this package decided.
package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/loopgen/loop"
)

var (
	// ErrClosed is returned by Write and Writev after Close, CloseWrite,
	// Abort or a failure; by Close, CloseWrite and Abort on a connection
	// already closed, and by a CloseWrite after the first; by PauseReading,
	// SetIdleTimeout and SetReadTimeout after Close, and by SetWriteTimeout
	// and ResumeReading once the connection is closed; and by a closed
	// Listener's or PacketConn's methods. A Group's methods
	// after its Shutdown or Close, and a GroupListener's Close after the
	// first, return an error of their own that names the method and what
	// closed it, and wraps ErrClosed: test them with errors.Is.
	ErrClosed = errors.New("sock: use of a closed connection")

	// ErrTimeout is wrapped by the error OnClose receives when an idle,
	// read, write, message or connect timeout closed the connection (which
	// one: ErrIdleTimeout and the others below).
	ErrTimeout = errors.New("sock: timeout")

	// ErrAborted is wrapped by the error OnClose receives when Abort
	// discarded bytes that were still waiting to be sent.
	ErrAborted = errors.New("sock: connection aborted with unsent data")

	// ErrLinger is wrapped by the error OnClose receives when, after Close,
	// the peer neither acknowledged everything sent nor finished sending
	// within the linger timeout (WithLingerTimeout), so the bytes it had
	// not acknowledged may never reach it.
	ErrLinger = errors.New("sock: peer did not finish within the linger timeout")
)

// timeoutError is what a deadline closes a connection with. It is a
// net.Error whose Timeout is true, and it wraps ErrTimeout.
type timeoutError struct{ which string }

func (e *timeoutError) Error() string   { return "sock: " + e.which + " timeout" }
func (e *timeoutError) Unwrap() error   { return ErrTimeout }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return false }

// Which timeout ended a connection, or was handed to OnTimeout: each wraps
// ErrTimeout (errors.Is(err, ErrTimeout) holds for all four, and
// errors.Is(err, ErrReadTimeout) for the read timeout alone, also under
// an *UnsentError), and is a net.Error whose Timeout is true. One value
// per kind, so that a timeout allocates nothing.
var (
	ErrIdleTimeout    error = &timeoutError{"idle"}    // SetIdleTimeout, WithIdleTimeout
	ErrReadTimeout    error = &timeoutError{"read"}    // SetReadTimeout
	ErrWriteTimeout   error = &timeoutError{"write"}   // SetWriteTimeout
	ErrConnectTimeout error = &timeoutError{"connect"} // WithConnectTimeout
	ErrMessageTimeout error = &timeoutError{"message"} // WithMessageTimeout
)

// UnsentError is what OnClose receives when the connection ended with bytes
// that Write had accepted and that never reached the kernel, or that the peer
// had not acknowledged when a Close's wait for it was cut short (Err wraps
// ErrLinger when the linger timeout ended it, ErrAborted when an Abort or the
// loop's Close did): Unsent says how many, Err why (a reset, a timeout,
// ErrAborted, ErrLinger). Bytes the kernel took are sent by it unless the
// connection is reset; a TCP connection closed with bytes still queued is
// (SO_LINGER 0), and then Unsent also counts what the peer had not
// acknowledged, where the kernel says (Linux).
type UnsentError struct {
	Unsent int
	Err    error
}

// Error says how many bytes did not reach the peer, and why. The words
// avoid "not sent": the count may include bytes the kernel sent and the
// peer never acknowledged, which read as a broken memory bound to a trial
// whose queue was capped far below the count.
func (e *UnsentError) Error() string {
	return fmt.Sprintf("sock: %d written bytes not delivered (queued, or sent and not acknowledged): %v", e.Unsent, e.Err)
}

// Unwrap returns the reason the bytes were not sent.
func (e *UnsentError) Unwrap() error { return e.Err }

// Handler receives a connection's events, on the loop goroutine. One Handler
// may serve many connections (Listen gives every accepted connection the
// same one); keep per-connection state in Conn.Context.
//
// A panic in one of its methods is the loop's: the loop's panic handler
// gets it (loop.WithPanicHandler; a variant with recover: false lets it
// through), and the connection stays as the panic left it, open and served
// unless it had been closed before: a trial's OnData panicked on one
// request and answered the next. OnPause and OnResume run inside the Write
// (or Writev) or the flush that crossed the mark, so a panic there also ends the
// method that called them (the rest of an OnData's replies are not
// written); under a Messages handler OnPause may also run in the send of
// what its OnMessage calls gathered (after they return), or in the Close,
// CloseWrite or Cork that sends it. The exceptions, which close the connection, are
// EOFHandler's OnEOF, ShutdownHandler's OnShutdown and TimeoutHandler's
// OnTimeout.
type Handler interface {
	// OnOpen is called once the connection is established: after accept, or
	// when a Dial connected.
	OnOpen(c *Conn)
	// OnData is called with bytes read from the connection. p is the loop's
	// shared read buffer: it is valid only during the call, so copy what
	// must outlive it (Write copies what it cannot send at once).
	OnData(c *Conn, p []byte)
	// OnClose is called exactly once, after the descriptor is closed. err is
	// nil on a clean close (Close, once everything was sent and the peer has
	// finished or acknowledged it all; or the peer's end of stream);
	// otherwise it says why. It wraps *UnsentError when bytes Write accepted
	// were still queued here, never given to the kernel (a TCP connection
	// is then reset, and on Linux the count includes what the peer had not
	// acknowledged, which the reset discards), or when a Close's wait for
	// the peer's acknowledgement was cut short (then the count includes what
	// the peer had not acknowledged at the last look). Any other error means
	// that bytes the kernel had taken may not have arrived: a reset from the
	// peer discards them, and the kernel does not say how many (nor does it
	// on a Unix socket whose peer closed with bytes it had not read: the
	// ECONNRESET alone says so). A Dial that fails ends here without OnOpen.
	OnClose(c *Conn, err error)
	// OnPause is called when the bytes waiting to be sent rise above the
	// high-water mark: stop writing until OnResume. On a dialed connection
	// written to before it connects, it may come before OnOpen (inside
	// that Write), so a handler that makes its state in OnOpen checks it.
	OnPause(c *Conn)
	// OnResume is called, after an OnPause, when the waiting bytes have
	// drained to the low-water mark or below. A CloseWrite does not change
	// that (its flush calls OnResume when it passes the mark, though there
	// is nothing more to write); a Close does: no OnResume comes after it.
	OnResume(c *Conn)
}

// EOFHandler may be implemented by a Handler that wants to keep writing
// after the peer has finished sending (a half-closed connection). Without
// it, the peer's end of stream closes the connection as Close would: what
// is buffered is sent, then OnClose(nil). With it, OnEOF decides: true keeps
// the connection open for writing until Close, false (or a panic) closes it
// as above. After CloseWrite there is nothing left to write, so OnEOF is
// not called: the peer's end closes the connection with OnClose(nil).
type EOFHandler interface {
	OnEOF(c *Conn) (keepOpen bool)
}

// ShutdownHandler may be implemented by a Handler whose connections can
// have work in flight when a Group's Shutdown begins: a request handed to
// another loop or goroutine, whose answer is still to be written, or an
// upload a proxy is passing on. Without it, Shutdown Closes each connection
// of the group's listeners at once (an answer that comes later meets
// ErrClosed), and aborts the connections dialed on the group's loops when
// it ends. With it, Shutdown calls OnShutdown instead, for the listeners'
// connections and the dialed ones alike (also those dialed while it drains,
// which may be told before their OnOpen), once for each that Close or Abort
// has not been called on, each in a loop callback of its own, and the
// handler Closes the connection when its work is done: at once if it is
// idle, or after writing the last answer. Until then the connection runs as
// before (OnData too: a handler that takes no new requests says so to its
// peer, or ignores them). Under Messages, requests read and held while
// reading is paused count as work: Held says how many bytes wait, and they
// are handed to OnMessage as reading resumes, so the check for an idle
// connection (nothing in flight, Held 0) belongs where work ends, in the
// posted answer and in OnMessage too (a request dropped while draining
// ends work as well), not in OnShutdown alone: an RPC trial that checked
// only in OnShutdown and in its answers waited for its ctx in 3 of 3
// Shutdowns. Shutdown waits for those Closes until its ctx
// ends, then aborts what is left and returns ctx.Err(). A panic in
// OnShutdown Closes the connection, as if the handler did not implement it,
// and goes on to the loop's panic handler.
type ShutdownHandler interface {
	OnShutdown(c *Conn)
}

// TimeoutHandler may be implemented by a Handler (or a MessageHandler
// under Messages) that answers a timeout before the connection ends: an
// HTTP server's 408, a line server's goodbye. When the connection's idle,
// read, write or message timeout expires (SetIdleTimeout, SetReadTimeout,
// SetWriteTimeout, WithIdleTimeout, WithMessageTimeout), OnTimeout is
// called with ErrIdleTimeout, ErrReadTimeout, ErrWriteTimeout or
// ErrMessageTimeout, instead of the connection closing
// with it; the handler then Closes the connection (after a last Write, say)
// or Aborts it (a write timeout: the peer does not read, and a goodbye
// would wait behind the rest), or leaves it open. The timeout then starts
// again, from the end of OnTimeout, as it does with each activity it
// watches: a connection kept is asked again after another such stretch,
// and one closed whose peer reads nothing fails then with an idle or
// write timeout's error (a Close waits for its queue to be sent, which
// such a peer never lets happen; a read timeout ends with the Close, as
// anywhere, so set a write timeout to bound that wait). A connection
// closed with its queue sent lingers, bounded by the linger timeout, as
// after any Close. It is not asked once Close was called.
// A panic in OnTimeout closes the connection with the timeout's error, as
// if the handler did not implement it, and goes on to the loop's panic
// handler.
type TimeoutHandler interface {
	OnTimeout(c *Conn, err error)
}

// BaseHandler implements every Handler method as a no-op; embed it and
// override what you need.
type BaseHandler struct{}

// OnOpen does nothing.
func (BaseHandler) OnOpen(*Conn) {}

// OnData does nothing.
func (BaseHandler) OnData(*Conn, []byte) {}

// OnClose does nothing.
func (BaseHandler) OnClose(*Conn, error) {}

// OnPause does nothing.
func (BaseHandler) OnPause(*Conn) {}

// OnResume does nothing.
func (BaseHandler) OnResume(*Conn) {}

// Defaults of the options.
const (
	DefaultHighWater      = 64 << 10
	DefaultReadBufferSize = 64 << 10
	DefaultBacklog        = 1024
)

// config is what the options set. A Listener's connections share its config,
// which keeps them small.
type config struct {
	highWater, lowWater int
	lowWaterSet         bool
	readBufferSize      int
	backlog             int
	maxConns            int // WithMaxConns's; 0 for no limit
	reusePort           bool
	exclusive           bool // WithExclusiveAddress: SO_REUSEPORT set only once bound
	noDelay             bool
	gatherWrites        bool          // WithWriteGathering: OnData runs gathering
	keepAlive           *keepAlive    // WithKeepAlive's, when on; nil leaves SO_KEEPALIVE off, as a new socket has it
	idleTimeout         time.Duration // WithIdleTimeout's; 0 for none
	messageTimeout      time.Duration // WithMessageTimeout's; 0 for none
	sendBuf, recvBuf    int           // SO_SNDBUF and SO_RCVBUF; 0 leaves the kernel's
	connectTimeout      time.Duration
	lingerTimeout       time.Duration
	unixStream          bool // set by Listen and Dial: the connections are AF_UNIX
	acceptError         func(error)
	resolver            Resolver
	remote              net.Addr // a dialed connection's peer (each Dial has its own config)
	network             string   // the network given to Listen or Dial, for its errors
	dial                *dialing // a Dial's lookup and the addresses it has yet to try

	// Set by Listen and Dial: the loop, its shared state and the Handler of
	// the connections, kept here rather than in each Conn, which keeps an
	// idle one smaller. A config belongs to one Listen or Dial call, so to
	// one loop and one Handler.
	l  *loop.Loop
	ls *loopState
	h  Handler

	kind callKind // the call the options are given to
	err  error    // the first option given a value it refuses, or not applying to the call
}

// Option configures Listen, Dial, ListenPacket, DialPacket, FileListener,
// FilePacketConn, Group.Listen and Group.ListenPacket. An option
// given a value it refuses (a negative size or duration) makes the call it
// was passed to fail with an error that names it, before anything is opened;
// so does one that does not apply to that call (WithIdleTimeout given to
// ListenPacket, WithBacklog to Dial), which would otherwise go unnoticed.
// Each option's doc says where it applies.
type Option func(*config)

// callKind is the kind of call an Option is given to, for the options that
// apply to some of them only.
type callKind uint8

const (
	forListen callKind = 1 << iota // Listen and Group.Listen
	forDial
	forPacket       // ListenPacket and Group.ListenPacket
	forDialPacket   // DialPacket
	forFileListener // FileListener: a socket listening already
	forFilePacket   // FilePacketConn: a datagram socket open already
	forAccept       = forListen | forFileListener
	forStream       = forAccept | forDial
)

// only refuses the option when the call is not of one of kinds.
func (c *config) only(option string, kinds callKind) {
	if c.kind&kinds == 0 && c.err == nil {
		var calls []string
		for _, k := range []struct {
			kind callKind
			name string
		}{{forListen, "Listen"}, {forListen, "Group.Listen"}, {forFileListener, "FileListener"}, {forDial, "Dial"}, {forPacket, "ListenPacket"}, {forPacket, "Group.ListenPacket"}, {forDialPacket, "DialPacket"}} {
			if kinds&k.kind != 0 {
				calls = append(calls, k.name)
			}
		}
		list := calls[len(calls)-1]
		if len(calls) > 1 {
			list = strings.Join(calls[:len(calls)-1], ", ") + " and " + list
		}
		c.err = fmt.Errorf("%s applies to %s only", option, list)
	}
}

// refuse records that an option was given a value it does not take; the
// first such value is the one reported.
func (c *config) refuse(option string, value any, why string) {
	if c.err == nil {
		c.err = fmt.Errorf("%s(%v): %s", option, value, why)
	}
}

// maxSize bounds the options that take a size. Above it a value is a
// mistake, and one that would fail later, after a socket is open: the
// kernel's sizes are C ints, and the read buffer is allocated as a slice.
const maxSize = 1 << 30

// size is the value of an option that takes a byte count or a length where
// 0 means the default: a negative n, or one above 1 GiB, is refused.
func (c *config) size(option string, n int, dst *int) {
	switch {
	case n < 0:
		c.refuse(option, n, "must not be negative (0 means the default)")
	case n > maxSize:
		c.refuse(option, n, "must be at most 1 GiB (1073741824)")
	case n > 0:
		*dst = n
	}
}

// WithHighWater sets the number of buffered, unsent bytes above which
// OnPause is called (default DefaultHighWater). 0 keeps the default; a
// negative n, or one above 1 GiB, is refused. The bytes counted are those
// the kernel has not taken yet, and the kernel takes far more on a TCP
// connection (on Linux its send buffer grows to net.ipv4.tcp_wmem's largest,
// 4 MiB by default) than on a Unix one (net.core.wmem_default, 208 KiB): the
// same mark pauses a Unix connection sooner.
func WithHighWater(n int) Option {
	return func(c *config) {
		c.only("WithHighWater", forStream)
		c.size("WithHighWater", n, &c.highWater)
	}
}

// WithLowWater sets the number of buffered bytes at or below which OnResume
// is called after an OnPause (default a quarter of the high-water mark,
// rounded down: 0 for a mark under 4); 0 means OnResume waits for an empty
// buffer. It is clamped to the high-water
// mark; a negative n is refused.
func WithLowWater(n int) Option {
	return func(c *config) {
		c.only("WithLowWater", forStream)
		if n < 0 {
			c.refuse("WithLowWater", n, "must not be negative")
			return
		}
		c.lowWater, c.lowWaterSet = n, true
	}
}

// WithReusePort sets SO_REUSEPORT on the listening socket (Listen's or
// ListenPacket's), so that several sockets (one per loop, as Group does)
// can listen on the same address and the kernel spreads connections, or
// datagrams by their sender, among them.
func WithReusePort() Option {
	return func(c *config) {
		c.only("WithReusePort", forListen|forPacket)
		c.reusePort = true
	}
}

// WithExclusiveAddress makes Group.Listen, or Listen or ListenPacket with
// WithReusePort, fail with EADDRINUSE when a socket holds the address already, also one
// with SO_REUSEPORT: another copy of the server, which would otherwise get
// a share of the connections (a trial's second key-value server did, and
// answered half its clients from an empty map). The first listening socket
// binds without SO_REUSEPORT and sets it only once bound, which Linux
// allows, so the group's own listeners still share the address. It keeps
// no later socket out: a copy started afterwards without this option still
// joins. Without SO_REUSEPORT, Listen is exclusive anyway.
func WithExclusiveAddress() Option {
	return func(c *config) {
		c.only("WithExclusiveAddress", forListen|forPacket)
		c.exclusive = true
	}
}

// WithReadBufferSize sets the size of the loop's shared read buffer: the
// most one OnData can receive (default DefaultReadBufferSize). The loop's
// buffer is as large as the largest size any socket on it asked for. 0
// keeps the default; a negative n, or one above 1 GiB, is refused.
func WithReadBufferSize(n int) Option {
	return func(c *config) { c.size("WithReadBufferSize", n, &c.readBufferSize) }
}

// WithBacklog sets the listen backlog (default DefaultBacklog; the kernel
// caps it at net.core.somaxconn). 0 keeps the default; a negative n, or
// one above 1 GiB, is refused.
func WithBacklog(n int) Option {
	return func(c *config) {
		c.only("WithBacklog", forListen)
		c.size("WithBacklog", n, &c.backlog)
	}
}

// WithMaxConns makes a Listener stop accepting while n of the connections
// it accepted are open (their OnClose not yet called), and take the next
// waiting one as each of them closes, as golang.org/x/net/netutil's
// LimitListener does: a server with a known capacity (descriptors, memory)
// stays within it, and the connections beyond it wait in the kernel's
// accept queue (see WithBacklog) instead of being accepted and starved.
// With Group.Listen the limit is per loop: n on each of the group's loops.
// The kernel spreads connections among the loops by a hash of their
// addresses, not by load, so a loop at its limit leaves those hashed to it
// waiting while another loop may have room (a trial saw [3 0] open with
// five waiting).
// 0 sets no limit (the default); a negative n is refused. It applies to
// Listen, Group.Listen and FileListener; the others refuse it.
func WithMaxConns(n int) Option {
	return func(c *config) {
		c.only("WithMaxConns", forAccept)
		c.size("WithMaxConns", n, &c.maxConns)
	}
}

// WithIdleTimeout gives every stream connection of the call an idle
// timeout of d, as SetIdleTimeout(d) would (a listener's connections before
// OnOpen, which may change it; a dialed one's starts when it opens): a
// server's default for silent peers in one place. 0 sets none (the
// default); a negative d is refused.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) {
		c.only("WithIdleTimeout", forStream)
		c.duration("WithIdleTimeout", d, "none", &c.idleTimeout)
	}
}

// WithMessageTimeout bounds how long a Messages handler's connection may
// take to bring a message whole: an unfinished message kept for d from the
// read that brought its first byte times out with ErrMessageTimeout (an
// ErrTimeout), to OnTimeout if the handler is a TimeoutHandler, and
// otherwise closing the connection. A peer that sends a request a byte at
// a time (slowloris), which a read timeout never catches, is caught so;
// an HTTP server's 408 answers it. It does not run while reading is paused
// (PauseReading, or, on an accepted connection, writes paused): the peer
// cannot finish a message then; it starts again, for the message kept,
// when reading resumes. A dialed connection reads on while its writes
// wait (see Messages), and so does its message timeout. A message
// that a read brings whole never starts it. For Listen, Group.Listen and
// Dial with a handler made by Messages or MessagesPerConn; with another
// handler the call fails. 0 (the default) sets none; a negative d is
// refused.
func WithMessageTimeout(d time.Duration) Option {
	return func(c *config) {
		c.only("WithMessageTimeout", forStream)
		c.duration("WithMessageTimeout", d, "none", &c.messageTimeout)
	}
}

// forHandler refuses an option that h cannot use.
func (c *config) forHandler(h Handler) error {
	if c.messageTimeout > 0 {
		switch h.(type) {
		case *messages, messagesShutdown:
		default:
			return errors.New("WithMessageTimeout applies to a handler made by Messages or MessagesPerConn only")
		}
	}
	return nil
}

// WithNoDelay sets TCP_NODELAY on TCP connections (default true, as in
// package net: small writes go out at once instead of waiting for Nagle).
func WithNoDelay(on bool) Option {
	return func(c *config) {
		c.only("WithNoDelay", forStream)
		c.noDelay = on
	}
}

// WithWriteGathering gathers what a Handler's OnData writes on its own
// connection into one send, made when OnData returns (or sooner: with a
// write that would take it past 16 KiB, in that write's system call, or
// at Close, CloseWrite or Abort), as Messages does for OnMessage: a
// handler that answers a pipeline of requests one Write each makes one
// system call a read, not one a request. The bytes gathered are copied
// once more than a Write that sends at once copies them: a handler that
// writes once per read gains nothing from it. Until they are sent they
// count in Buffered, and as unsent if the connection fails; OnPause and the
// write timeout see them once queued. It applies to Listen, Group.Listen,
// FileListener and Dial.
func WithWriteGathering() Option {
	return func(c *config) {
		c.only("WithWriteGathering", forStream)
		c.gatherWrites = true
	}
}

// WithSendBufferSize sets the kernel's send buffer (SO_SNDBUF) of each
// connection, and of a PacketConn (Linux doubles the value; without this option it sizes the
// buffer itself, up to megabytes). A small one makes flow control set in
// early, as a slow network would. 0 leaves the kernel's size; a negative
// n, or one above 1 GiB, is refused.
func WithSendBufferSize(n int) Option {
	return func(c *config) { c.size("WithSendBufferSize", n, &c.sendBuf) }
}

// WithRecvBufferSize sets the kernel's receive buffer (SO_RCVBUF) of each
// connection, and of a PacketConn. 0 leaves the kernel's size; a negative n,
// or one above 1 GiB, is refused.
func WithRecvBufferSize(n int) Option {
	return func(c *config) { c.size("WithRecvBufferSize", n, &c.recvBuf) }
}

// WithConnectTimeout bounds how long Dial waits for the connection: past d
// from the Dial call (read from the clock then, so a callback that dials
// many gives the last as long as the first), OnClose receives an error
// wrapping ErrTimeout. For a host name with
// several addresses, d is shared among them as package net shares it (see
// Dial). 0 (the default) waits as long as the kernel does, on each address;
// a negative d is refused.
func WithConnectTimeout(d time.Duration) Option {
	return func(c *config) {
		c.only("WithConnectTimeout", forDial)
		c.duration("WithConnectTimeout", d, "no limit", &c.connectTimeout)
	}
}

// duration records d, a duration option's value, at dst, and refuses a
// negative one; zero says what 0 means.
func (c *config) duration(option string, d time.Duration, zero string, dst *time.Duration) {
	if d < 0 {
		c.refuse(option, d, "must not be negative (0 means "+zero+")")
		return
	}
	*dst = d
}

// DefaultLingerTimeout is how long a closing connection waits for the peer
// (see Conn.Close) unless WithLingerTimeout says otherwise.
const DefaultLingerTimeout = 5 * time.Second

// WithLingerTimeout bounds how long Close, once everything queued was sent,
// waits for the peer to acknowledge it all or finish sending before closing
// the descriptor (default DefaultLingerTimeout; 0 keeps the default, and a
// negative d is refused).
func WithLingerTimeout(d time.Duration) Option {
	return func(c *config) {
		c.only("WithLingerTimeout", forStream)
		switch {
		case d < 0:
			c.refuse("WithLingerTimeout", d, "must not be negative (0 means the default)")
		case d > 0:
			c.lingerTimeout = d
		}
	}
}

// WithAcceptErrorHandler sets a function that receives each error that made
// a Listener pause accepting (EMFILE, ENFILE, ENOBUFS, ENOMEM and anything
// unexpected), for logging. It runs on the loop goroutine. The listener
// retries by itself on a timer that backs off from 10ms to 1s.
func WithAcceptErrorHandler(fn func(error)) Option {
	return func(c *config) {
		c.only("WithAcceptErrorHandler", forAccept)
		c.acceptError = fn
	}
}

// Resolver looks up the addresses of a host name for Dial. *net.Resolver
// is one; network is "ip", "ip4" or "ip6".
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// WithResolver sets what Dial looks host names up with (default
// net.DefaultResolver). The lookup runs on a goroutine of its own, never on
// the loop; it is cancelled when the connection is closed first. A
// resolver that panics fails the dial (OnClose's error says so), and the
// panic is raised again on the loop, as a callback's would be, for
// loop.WithPanicHandler.
func WithResolver(r Resolver) Option {
	return func(c *config) {
		c.only("WithResolver", forDial)
		if r == nil {
			c.refuse("WithResolver", r, "must not be nil")
			return
		}
		c.resolver = r
	}
}

// newConfig applies opts, given to a call of kind, to the defaults. It fails
// when an option refused its value, or does not apply to the call.
func newConfig(kind callKind, opts []Option) (*config, error) {
	c := &config{
		kind:           kind,
		highWater:      DefaultHighWater,
		readBufferSize: DefaultReadBufferSize,
		backlog:        DefaultBacklog,
		noDelay:        true,
		lingerTimeout:  DefaultLingerTimeout,
		resolver:       net.DefaultResolver,
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("option %d is nil", i)
		}
		o(c)
	}
	if !c.lowWaterSet {
		c.lowWater = c.highWater / 4
	}
	c.lowWater = min(c.lowWater, c.highWater)
	return c, c.err
}

// loopState is what every socket on one loop shares: the read buffer, the
// free write chunks, the scratch space of the send path, and what is open on
// the loop. It is owned by the loop goroutine. Its sockets point at the loop,
// so the registry below holds it only weakly: the loop itself keeps it alive
// (through the AtClose closure), and a loop dropped without Close is
// collected with everything on it.
type loopState struct {
	rbuf    []byte
	discard []byte   // what a closing Unix connection drains goes here, not into rbuf
	free    [][]byte // write chunks to reuse, at most maxFreeChunks
	vec     [][]byte // Writev's gather list, reused
	sysVec  sysVec   // the platform's scratch for writev

	// What is open on the loop, for closeAll: listeners until they are
	// closed and their connections gone, dialed connections (a list through
	// prev/next; accepted ones are on their listener's), packet sockets.
	listeners map[*Listener]struct{}
	dialed    *Conn
	packets   map[*PacketConn]struct{}

	// drain is set by a Group's Shutdown on its loops: the dialed
	// connections it waits for.
	drain *dialDrain

	// gathered holds the writes of the gathering connection, gatherer (at
	// most one at a time: see Conn.startGathering).
	gathered []byte
	gatherer *Conn

	// spareKept is a buffer that held a connection's waiting messages, for
	// the next to reuse (see takeSpare).
	spareKept []byte

	// epoch is a time of the loop's clock that connections measure their
	// linger deadlines from, so that each keeps 8 bytes for one, not a
	// time.Time's 24.
	epoch time.Time
}

// dialDrain is what a Group's Shutdown waits for on one loop besides its
// listeners: the dialed connections whose Handler is a ShutdownHandler,
// those dialed while it drains included.
type dialDrain struct {
	open  map[*Conn]struct{}
	gone  func() // one of open has closed
	added func() // one was added to open
}

// drainDialed makes a Shutdown wait for c if its Handler is a
// ShutdownHandler, and tells it (OnShutdown) unless it is closing already.
func (s *loopState) drainDialed(c *Conn) {
	if _, ok := c.cfg.h.(ShutdownHandler); !ok || c.flags&fClosed != 0 {
		return
	}
	s.drain.open[c] = struct{}{}
	s.drain.added()
	c.beginShutdown()
}

// lookupState finds l's state in states, or makes and records it.
func lookupState(l *loop.Loop) (s *loopState, made bool) {
	key := weak.Make(l)
	statesMu.Lock()
	defer statesMu.Unlock()
	ws, known := states[key]
	if s = ws.Value(); s != nil {
		return s, false
	}
	s = &loopState{listeners: map[*Listener]struct{}{}, packets: map[*PacketConn]struct{}{}, epoch: l.Now()}
	states[key] = weak.Make(s)
	if !known {
		runtime.AddCleanup(l, func(k weak.Pointer[loop.Loop]) {
			statesMu.Lock()
			delete(states, k)
			statesMu.Unlock()
		}, key)
	}
	return s, true
}

// loopUsable says why l cannot take sockets: its variant has no poller
// (loop.ErrNoPoller, which Listen, Dial, ListenPacket, DialPacket,
// FileListener and FilePacketConn report before any other check of l or of
// the options), or Close has been called
// (loop.ErrClosed; also while the callbacks queued before it run, before
// closeAll closes the loop's sockets), or the caller is not on the loop
// goroutine, as the loop waiting for work shows (loop.ErrWrongGoroutine).
func loopUsable(l *loop.Loop) error {
	if l.Variant().Poller == "none" {
		return loop.ErrNoPoller
	}
	if l.Closed() {
		return loop.ErrClosed
	}
	if l.Waiting() {
		// Called from another goroutine (main, setting up a socket on a
		// Group's loop): say so before touching the loop's state.
		return loop.ErrWrongGoroutine
	}
	return nil
}

// callConfig makes the checks a call that opens a socket begins with, in
// this order: a nil loop, a nil handler (noHandler; handler names its
// type), a loop that cannot take sockets (loopUsable), and opts given to a
// call of kind (newConfig), whose config it returns.
func callConfig(l *loop.Loop, noHandler bool, handler string, kind callKind, opts []Option) (*config, error) {
	switch {
	case l == nil:
		return nil, errNilLoop
	case noHandler:
		return nil, errors.New("nil " + handler)
	}
	if err := loopUsable(l); err != nil {
		return nil, err
	}
	return newConfig(kind, opts)
}

// errNilLoop is what Listen, Dial, ListenPacket, DialPacket, FileListener and
// FilePacketConn return for a nil loop.
var errNilLoop = errors.New("nil *loop.Loop")

// closeAll closes what is still open on a loop that is closing (it runs
// through loop.AtClose): listeners, the connections they accepted, dialed
// connections, packet sockets. Connections are aborted, since the loop
// will not run to send what they have queued: OnClose says what was lost.
func (s *loopState) closeAll() {
	for ln := range s.listeners {
		ln.Close()
		ln.eachConn(func(c *Conn) { c.Abort() })
	}
	for c := s.dialed; c != nil; c = c.next {
		c.Abort() // the list changes only when OnClose has run
	}
	for pc := range s.packets {
		pc.Close()
	}
}

// trackDialed puts a dialed connection on the list closeAll goes through.
func (s *loopState) trackDialed(c *Conn) {
	c.next = s.dialed
	if s.dialed != nil {
		s.dialed.prev = c
	}
	s.dialed = c
	if s.drain != nil {
		s.drainDialed(c)
	}
}

// forgetDialed takes a dialed connection off that list, after its OnClose.
func (s *loopState) forgetDialed(c *Conn) {
	switch {
	case c.prev != nil:
		c.prev.next = c.next
	case s.dialed == c:
		s.dialed = c.next
	default:
		return // not on the list
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	if d := s.drain; d != nil {
		if _, ok := d.open[c]; ok {
			delete(d.open, c)
			d.gone()
		}
	}
}

// maxVec is the most buffers one gathered send passes to the kernel (the
// kernel's IOV_MAX is 1024 on Linux and darwin).
const maxVec = 64

// maxFreeChunks bounds what a loop keeps for reuse after a burst of
// buffered writes: 16 chunks of 16 KiB.
const maxFreeChunks = 16

var (
	statesMu sync.Mutex
	states   = map[weak.Pointer[loop.Loop]]weak.Pointer[loopState]{}
)

// discardSize is the size of a loop's discard buffer.
const discardSize = 16 << 10

// discardBuffer returns the loop's buffer for input that is thrown away,
// made on first use (loop goroutine only).
func (s *loopState) discardBuffer() []byte {
	if s.discard == nil {
		s.discard = make([]byte, discardSize)
	}
	return s.discard
}

// stateOf returns l's shared state, with a read buffer of at least rbufSize
// bytes. The entry is dropped when l is garbage collected. Its callers
// reject a nil l first.
func stateOf(l *loop.Loop, rbufSize int) *loopState {
	s, made := lookupState(l)
	if made {
		// Outside statesMu: on a closed loop, closeAll runs at once. This
		// closure is also what keeps s alive for as long as the loop is.
		l.AtClose(s.closeAll)
	}
	if len(s.rbuf) < rbufSize {
		// Only the loop goroutine reads rbuf, and this runs on it.
		s.rbuf = make([]byte, rbufSize)
	}
	return s
}
