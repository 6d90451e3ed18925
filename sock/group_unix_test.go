package sock_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/loopgen/loop"
	"github.com/loopgen/loop/sock"
)

// A Group's Unix listener: every loop accepts from the one socket, every
// connection is served, Conns counts them on the loops that took them,
// Shutdown drains them, and Close removes the socket's file once.
func TestGroupListenUnix(t *testing.T) {
	g, _, _ := newGroup(t, 2)
	path := filepath.Join(t.TempDir(), "s")
	newHandler := func(*loop.Loop) sock.Handler { return plainEcho{} }
	gln, err := g.Listen("unix", path, newHandler)
	if err != nil {
		t.Fatal(err)
	}
	if gln.Addr().Network() != "unix" || gln.Addr().String() != path {
		t.Errorf("Addr() = %s %s; want unix %s", gln.Addr().Network(), gln.Addr(), path)
	}
	const clients = 40
	peers := make([]net.Conn, clients)
	for i := range peers {
		peers[i], err = net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer peers[i].Close()
		msg := []byte("client " + strconv.Itoa(i))
		peers[i].Write(msg)
		got := make([]byte, len(msg))
		peers[i].SetReadDeadline(time.Now().Add(waitLimit))
		if _, err := io.ReadFull(peers[i], got); err != nil || string(got) != string(msg) {
			t.Fatalf("client %d: echoed %q, %v", i, got, err)
		}
	}
	conns := gln.Conns()
	t.Logf("connections per loop: %v", conns)
	if len(conns) != 2 || conns[0]+conns[1] != clients {
		t.Errorf("Conns() = %v; want %d in all on 2 loops", conns, clients)
	}
	// A second Group.Listen on the path fails while this one holds it.
	if _, err := g.Listen("unix", path, newHandler); err == nil {
		t.Error("a second Group.Listen on the same Unix path succeeded")
	}
	if err := gln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file after Close: %v; want it removed", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for i, p := range peers {
		p.SetReadDeadline(time.Now().Add(waitLimit))
		if n, err := p.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("client %d after Shutdown: read %d, %v; want the end of stream", i, n, err)
		}
	}
}
