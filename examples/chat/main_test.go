package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loopgen/loop/sock"

	"github.com/loopgen/loop"
)

func TestMain(m *testing.M) {
	// Under a variant without a poller (go test -tags loop_compute ./...)
	// there are no sockets, and nothing here to test.
	if l, err := loop.New(); err == nil && l.Variant().Poller == "none" {
		fmt.Printf("skipped: variant %s has no poller, and chat needs sockets\n", l.Variant().Name)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startChat runs the chat on a group of two loops on a loopback port, and
// shuts it down when the test ends.
func startChat(t *testing.T, cfg config) (*sock.Group, string) {
	t.Helper()
	g, err := sock.NewGroup(2)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := listen(g, "127.0.0.1:0", cfg)
	if err != nil {
		g.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g, ln.Addr().String()
}

var defaults = config{maxLine: 4096, backlog: 1 << 20}

// chatter is a client: its connection and the lines it reads, in order.
type chatter struct {
	id    string // "#N", from the welcome
	conn  net.Conn
	lines chan string // closed at the end of the stream or an error
	err   error       // why the reading stopped, once lines is closed
}

// join connects to the chat and waits for the welcome, which says the
// server has opened the connection: lines said from then on reach it.
func join(t *testing.T, addr string) *chatter {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := &chatter{conn: conn, lines: make(chan string, 1024)}
	go func() {
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				ch.err = err
				close(ch.lines)
				return
			}
			ch.lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	welcome := ch.next(t)
	if !strings.HasPrefix(welcome, "welcome, you are #") {
		t.Fatalf("first line %q, want the welcome", welcome)
	}
	ch.id = strings.TrimPrefix(welcome, "welcome, you are ")
	return ch
}

// next returns the next line; it fails the test after 10 s or at the end
// of the stream.
func (ch *chatter) next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-ch.lines:
		if !ok {
			t.Fatalf("%s: the stream ended: %v", ch.id, ch.err)
		}
		return line
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no line for 10 s", ch.id)
		return ""
	}
}

// Every line a client says reaches every other client once, in the order
// said, whichever loops the two are on, and never comes back to its sender.
func TestEveryClientHearsEveryOtherInOrder(t *testing.T) {
	_, addr := startChat(t, defaults)
	const clients, lines = 6, 200
	cs := make([]*chatter, clients)
	for i := range cs {
		cs[i] = join(t, addr)
	}
	for i, c := range cs {
		go func() {
			var b bytes.Buffer
			for j := range lines {
				fmt.Fprintf(&b, "c%d m%d\n", i, j)
			}
			c.conn.Write(b.Bytes()) // in one write: the server cuts the lines
		}()
	}
	for i, c := range cs {
		heard := make([]int, clients) // from each client, the next m expected
		for got := 0; got < (clients-1)*lines; {
			line := c.next(t)
			from, said, ok := strings.Cut(line, ": ")
			if !ok {
				continue // "#N joined", said while others joined
			}
			var k, m int
			if _, err := fmt.Sscanf(said, "c%d m%d", &k, &m); err != nil || k < 0 || k >= clients {
				t.Fatalf("client %d heard %q", i, line)
			}
			if k == i {
				t.Fatalf("client %d heard its own line %q", i, line)
			}
			if from != cs[k].id || m != heard[k] {
				t.Fatalf("client %d heard %q; want \"%s: c%d m%d\"", i, line, cs[k].id, k, heard[k])
			}
			heard[k]++
			got++
		}
	}
}

// Joins and leaves are told to the others.
func TestJoinsAndLeavesAreTold(t *testing.T) {
	_, addr := startChat(t, defaults)
	a := join(t, addr)
	b := join(t, addr)
	if got, want := a.next(t), b.id+" joined"; got != want {
		t.Fatalf("a heard %q, want %q", got, want)
	}
	b.conn.Close()
	if got, want := a.next(t), b.id+" left"; got != want {
		t.Fatalf("a heard %q, want %q", got, want)
	}
}

// A line past -max-line is answered and the connection closed; the others
// hear nothing of it. Whole in one read, or unfinished past the bound.
func TestALineTooLongIsRefused(t *testing.T) {
	for _, line := range [][]byte{
		append(bytes.Repeat([]byte("x"), 101), '\n'),
		bytes.Repeat([]byte("x"), 101),
	} {
		t.Run(fmt.Sprintf("%d bytes", len(line)), func(t *testing.T) { lineTooLong(t, line) })
	}
}

func lineTooLong(t *testing.T, line []byte) {
	_, addr := startChat(t, config{maxLine: 100, backlog: 1 << 20})
	a := join(t, addr)
	b := join(t, addr)
	a.next(t) // b joined
	b.conn.Write(line)
	got := b.next(t)
	if got == a.id+" joined" {
		// a's join, told to b's loop while b joined it: b may hear of it.
		got = b.next(t)
	}
	if want := "line too long (at most 100 bytes): bye"; got != want {
		t.Fatalf("b heard %q, want %q", got, want)
	}
	if _, ok := <-b.lines; ok || b.err == nil {
		t.Fatalf("b's connection is still open after the refusal")
	}
	if got, want := a.next(t), b.id+" left"; got != want {
		t.Fatalf("a heard %q, want %q (and nothing of b's line)", got, want)
	}
}

// A client that does not read is cut off once more than -backlog bytes
// wait for it, instead of the server keeping all it is sent.
func TestAClientThatDoesNotReadIsCutOff(t *testing.T) {
	_, addr := startChat(t, config{maxLine: 4096, backlog: 64 << 10})
	talker := join(t, addr)
	deaf := join(t, addr) // reads nothing from here on
	if got, want := talker.next(t), deaf.id+" joined"; got != want {
		t.Fatalf("talker heard %q, want %q", got, want)
	}
	line := append(bytes.Repeat([]byte("y"), 4000), '\n')
	sent := 0
	for {
		select {
		case got := <-talker.lines:
			if got != deaf.id+" left" {
				t.Fatalf("talker heard %q, want %q", got, deaf.id+" left")
			}
			return
		default:
		}
		// The kernel's buffers take a few MiB before the server has to keep
		// any; 256 MiB unread and still connected is a server that keeps
		// everything.
		if sent > 256<<20 {
			t.Fatal("the server took 256 MiB for a client that reads nothing and kept it")
		}
		talker.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		n, err := talker.conn.Write(line)
		if err != nil {
			t.Fatal(err)
		}
		sent += n
	}
}

// Shutdown tells every client the server is going, and returns once each
// has read that and closed.
func TestShutdownTellsEveryClient(t *testing.T) {
	g, addr := startChat(t, defaults)
	cs := []*chatter{join(t, addr), join(t, addr), join(t, addr)}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- g.Shutdown(ctx)
	}()
	for _, c := range cs {
		for {
			line := c.next(t)
			if line == "server shutting down: bye" {
				break
			}
			if !strings.HasSuffix(line, " joined") && !strings.HasSuffix(line, " left") {
				t.Fatalf("%s heard %q before the shutdown's", c.id, line)
			}
		}
		for range c.lines {
			// the others leaving, told before their ends
		}
		c.conn.Close()
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// Flags out of range are refused with a message that says what is allowed.
func TestBadFlagsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-loops", "-1"}, "-loops must be 0 (one per core) or more (got -1)"},
		{[]string{"-max-line", "0"}, "-max-line must be 1 or more (got 0)"},
		{[]string{"-backlog", "0"}, "-backlog must be 1 or more (got 0)"},
		{[]string{"-grace", "-1s"}, "-grace must be 0 (close at once) or more (got -1s)"},
		{[]string{"127.0.0.1:7001"}, `unexpected arguments ["127.0.0.1:7001"]`},
	} {
		if _, err := parseFlags(tc.args); err == nil || err.Error() != tc.want {
			t.Errorf("%q: %v, want %s", tc.args, err, tc.want)
		}
	}
	o, err := parseFlags([]string{"-max-line", "80", "-loops", "3"})
	if err != nil || o.maxLine != 80 || o.loops != 3 || o.backlog != 1<<20 || o.grace != 5*time.Second || o.addr != "127.0.0.1:7001" {
		t.Errorf("parseFlags: %+v, %v", o, err)
	}
}
