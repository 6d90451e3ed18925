'use strict';
// The echo server of `go run ./bench -workload echo` for Node.js ("node").
//
//     node echoserver.js
//
// It listens on an ephemeral port of 127.0.0.1, prints "config TEXT" (how it
// is set up) and then "listening ADDR" on stdout, echoes back exactly what it
// reads, and runs until SIGTERM or SIGINT, on which it closes the listener
// and exits with status 0, as bench/echoserver's net server does (the
// connections still open close with the process).
//
// It is the echo server a Node programmer writes, the one in the net
// module's documentation: net.createServer, and each connection piped into
// itself. pipe honours back-pressure as Node's streams do: when write
// returns false (the socket's write buffer is above its highWaterMark) it
// pauses reading until 'drain'; and when the client ends its side, pipe ends
// ours. A 'data' handler that writes and pauses when write returns false
// measured the same (2 s per point, three alternated runs each, Node
// 20.20.2 on the 2-core VM, 2026-11-28: server CPU per request at C=100,
// 64 B 7.04-7.12 µs piped, 7.06-7.31 with the handler; at C=1,000,
// 9.00-9.67 and 9.58-10.90; at C=1 25.1-26.0 and 24.5-26.1), so the
// idiom stays. noDelay sets TCP_NODELAY on every accepted socket, as the Go
// servers have it: Go's net package (net, and nbio, which accepts through
// it) sets it by default, and loop's sock and gnet set it by default too.
//
// One process, one event loop on one thread: Node's default, with no
// cluster or worker_threads. The Go servers run GOMAXPROCS event loops, so
// where the load needs more than one core Node's requests per second stop
// growing where theirs need not. Node's other threads (V8's, libuv's) count
// in the server CPU the bench reads, which is the whole process's.
// The bench (bench/echo.go) runs it with no flags, and without NODE_OPTIONS
// and the other variables that would slow Node (bench/node.go).
//
// Exit status: 0 after SIGTERM or SIGINT; 1 when it cannot listen (one line
// on stderr).

const net = require('net');

const server = net.createServer({ noDelay: true }, (socket) => {
  // An error (a reset by the client) destroys the socket; without a
  // listener it would also throw and end the process.
  socket.on('error', () => {});
  socket.pipe(socket);
});

let listening = false;
server.on('error', (err) => {
  if (!listening) {
    process.stderr.write(`echoserver.js: listen: ${err.message}\n`);
    process.exit(1);
  }
  // Out of descriptors, say: the listener is still good, as in the Go servers.
  process.stderr.write(`echoserver.js: ${err.message}\n`);
});

server.listen(0, '127.0.0.1', () => {
  listening = true;
  const a = server.address();
  const v = process.versions;
  process.stdout.write(`config Node.js ${v.node} (${process.execPath}), V8 ${v.v8}, libuv ${v.uv}, no flags: ` +
    'net.createServer({noDelay: true}) in one process on one event loop, one thread (Node\'s default; ' +
    'the Go servers run GOMAXPROCS loops); each connection is piped into itself (socket.pipe(socket), ' +
    'which pauses reading while a write is buffered past the highWaterMark)\n');
  process.stdout.write(`listening ${a.address}:${a.port}\n`);
});

function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
