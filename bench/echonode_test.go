package main

import (
	"bytes"
	"io"
	"net"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// withoutNode makes the bench find no Node.js for the rest of the test.
func withoutNode(t *testing.T) {
	t.Helper()
	saved := nodeCandidates
	nodeCandidates = []string{"/nonexistent/node"}
	t.Cleanup(func() { nodeCandidates = saved })
}

// nodeEchoOrSkip returns the Node.js echo server, or skips the test saying
// why there is none.
func nodeEchoOrSkip(t *testing.T) *echoServer {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the echo workload reads /proc")
	}
	s, err := nodeEchoServer(nodeCandidates)
	if err != nil {
		t.Skip(err)
	}
	return s
}

// -systems node selects the Node.js server for echo, alone or beside
// others, in report order; it is in a run without -systems but not in a
// -quick one.
func TestEchoSystemsNodeSelectsTheNodeServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     options
		wants []string
	}{
		{"default", options{}, []string{"loop", "net", "gnet", "nbio", "node"}},
		{"quick", options{quick: true}, []string{"loop", "net"}},
		{"node", options{systemsSet: true, systems: []string{"node"}}, []string{"node"}},
		{"node first, in report order", options{systemsSet: true, systems: []string{"node", "nbio", "loop"}}, []string{"loop", "nbio", "node"}},
		{"quick, named", options{quick: true, systemsSet: true, systems: []string{"loop", "node"}}, []string{"loop", "node"}},
	} {
		if got := echoPlanFor(tc.o).servers; !slices.Equal(got, tc.wants) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.wants)
		}
	}
	// The Command line of a run of the default servers but node names them.
	e := &echoResults{plan: echoPlanFor(options{systemsSet: true, systems: []string{"loop", "net", "gnet", "nbio"}})}
	if cmd := e.command(); !strings.Contains(cmd, "-systems loop,net,gnet,nbio") {
		t.Errorf("command %q does not leave node out", cmd)
	}
}

// Without Node.js the node server is left out with one line that says what
// was tried and how to get it, -echo-bin or not, and the servers beside it
// are not affected; no binary is looked for on node's account.
func TestEchoWithoutNodeSkipsItWithANote(t *testing.T) {
	withoutNode(t)
	want := "node: skipped: no Node.js 18 or later found; tried /nonexistent/node (not found) (apt-get install nodejs)"
	servers, notes := echoServersFrom([]string{"node"}, func(bin string) (string, error) {
		t.Errorf("looked for binary %q for node", bin)
		return "", io.EOF
	})
	if len(servers) != 0 || !slices.Equal(notes, []string{want}) {
		t.Errorf("servers %v, notes %q; want none and [%q]", servers, notes, want)
	}
	servers, notes = prebuiltEchoServers(t.TempDir(), []string{"gnet", "node"})
	if len(servers) != 0 || len(notes) != 2 || !slices.Contains(notes, want) {
		t.Errorf("-echo-bin: servers %v, notes %q; want none, a note for gnet and %q", servers, notes, want)
	}

	// Named alone for echo, it makes a report that says why it is missing,
	// not an error; named for a scaling workload, it is still an error.
	var out, progress bytes.Buffer
	if err := run([]string{"-workload", "echo", "-systems", "node", "-echo-bin", t.TempDir()}, &out, &progress); err != nil {
		t.Fatalf("-workload echo -systems node without Node.js: %v", err)
	}
	if !strings.Contains(out.String(), "- "+want) || strings.Contains(progress.String(), "building") {
		t.Errorf("the report lacks the note %q, or servers were built:\n%s\n%s", want, out.String(), progress.String())
	}
	if err := run([]string{"-quick", "-workload", "callbacks,echo", "-systems", "node"}, &out, &progress); err == nil || !strings.Contains(err.Error(), "node: skipped: no Node.js") {
		t.Errorf("-workload callbacks,echo -systems node without Node.js: error %v; want the scaling report's", err)
	}
}

// With Node.js present it is taken as it is, -echo-bin or not: it needs no
// binary of ours.
func TestEchoBinKeepsNode(t *testing.T) {
	s := nodeEchoOrSkip(t)
	servers, notes := prebuiltEchoServers(t.TempDir(), []string{"net", "node"})
	if len(servers) != 1 || servers[0].name != "node" || servers[0].bin != s.bin || len(notes) != 1 || !strings.HasPrefix(notes[0], "net: skipped: -echo-bin: ") {
		t.Errorf("servers %+v, notes %q; want node from %s, and net skipped", servers, notes, s.bin)
	}
}

// "node" is one name among the systems, where it is both the scaling
// report's Node and the echo server: an unknown system's message lists it once.
func TestUnknownSystemListsNodeOnce(t *testing.T) {
	for _, present := range []bool{true, false} {
		t.Run(map[bool]string{true: "as found", false: "without Node.js"}[present], func(t *testing.T) {
			if !present {
				withoutNode(t)
			}
			var out, progress bytes.Buffer
			err := run([]string{"-workload", "echo", "-systems", "nodejs"}, &out, &progress)
			if err == nil {
				t.Fatal("-systems nodejs: no error")
			}
			if n := len(regexp.MustCompile(`[ (]node[,;)]`).FindAllString(err.Error(), -1)); n != 1 {
				t.Errorf("node named %d times in %q", n, err)
			}
		})
	}
}

// The Node.js server starts, prints its lines, echoes what it reads on
// each connection, is measured as the others are (server CPU and RSS from
// /proc), and exits with status 0 on SIGTERM. NODE_OPTIONS is not passed on.
func TestNodeEchoServerEchoes(t *testing.T) {
	nodeEchoOrSkip(t)
	t.Setenv("NODE_OPTIONS", "--no-such-flag-for-the-test")
	s, err := nodeEchoServer(nodeCandidates) // its environment, with NODE_OPTIONS set
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	for _, want := range []string{"Node.js ", "noDelay: true", "one event loop", "socket.pipe(socket)"} {
		if !strings.Contains(s.config, want) {
			t.Errorf("config %q lacks %q", s.config, want)
		}
	}
	c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for i, size := range []int{1, 64, 4096, 100_000} {
		msg := newMessage(i, size)
		buf := make([]byte, size)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("round trip %d (%d B): %v", i, size, err)
		}
		if !bytes.Equal(buf, msg) {
			t.Fatalf("round trip %d (%d B): the echo differs", i, size)
		}
	}
	if err := nothingMore(c, 0); err != nil {
		t.Error(err)
	}
	c.Close()

	r, err := closedLoop(p.addr, p.pid(), 4, 64, 20*time.Millisecond, 200*time.Millisecond)
	if err != nil || r.requests == 0 {
		t.Errorf("closed loop: %+v, %v", r, err)
	}
	idle, err := idleConns(p.addr, p.pid(), 50)
	if err != nil || idle.before == 0 || idle.after == 0 {
		t.Errorf("idle: %+v, %v", idle, err)
	}
	cpu, err := procCPU(p.pid())
	if err != nil || cpu <= 0 {
		t.Errorf("server CPU %v, %v", cpu, err)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("on SIGTERM: %v; want exit status 0", err)
		}
		p.exited <- err // for the deferred stop
	case <-time.After(5 * time.Second):
		t.Error("still running 5 s after SIGTERM")
	}
}

// In the report node is a row of every table and has a section of its own
// beside loop; the targets hold loop against gnet and nbio as before.
func TestEchoReportSetsLoopBesideNode(t *testing.T) {
	e := syntheticEcho(
		map[string]float64{"loop": 5, "gnet": 7, "nbio": 6, "node": 10},
		map[string]float64{"loop": 100, "gnet": 300, "nbio": 200, "node": 50},
		map[string]float64{"loop": 250, "gnet": 500, "nbio": 600, "node": 2000})
	e.servers[0].config = "sock.Group of 2 loops (one per core: GOMAXPROCS), ..."
	var b bytes.Buffer
	e.write(&b)
	out := b.String()
	for _, want := range []string{
		"| node | node config |",
		"node is one process with one event loop on one thread",
		"### loop and node",
		"node runs one event loop, loop 2 (GOMAXPROCS).",
		"| C=100, 64 B | 100,000 ÷ 100,000 = 1.00 | 5.00 ÷ 10.00 = 0.50 | 100.0 ÷ 50.0 = 2.00 |",
		"Memory per idle connection (1,000 connections): loop 250 B, node 2,000 B; loop ÷ node 0.12.",
		"| node | 100,000 | 100,000–100,000 | 25.0 | 50.0 | 10.00 | 10.00–10.00 |",
		"| node | 1.0 MiB |",
		// The goals are unchanged by node, whose p99 is the lowest.
		"| p99 at C=100, 64 B no worse than the better of gnet and nbio | 100 µs | 200 µs (nbio) | 0.50 | met |",
		"| server CPU per request at C=100, 64 B below the best of gnet and nbio | 5.00 µs | 6.00 µs (nbio) | 0.83 | met |",
		"`bench/node/echoserver.js`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	if got := ratioText(250, 30_000); got != "0.008" {
		t.Errorf("ratioText(250, 30,000) = %q, want 0.008", got)
	}

	// Without node, or without loop, there is no such section.
	for _, cpu := range []map[string]float64{{"loop": 5, "gnet": 7}, {"node": 10, "gnet": 7}} {
		b.Reset()
		syntheticEcho(cpu, map[string]float64{}, map[string]float64{}).write(&b)
		if strings.Contains(b.String(), "### loop and node") {
			t.Errorf("servers %v: a loop and node section:\n%s", cpu, b.String())
		}
	}
	// A point node failed is a dash in it.
	e.record(echoKey{"node", 100, 64}, echoRun{}, io.EOF)
	b.Reset()
	e.write(&b)
	if want := "| C=100, 64 B | – | – | – |"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
}
