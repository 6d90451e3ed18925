package main

import (
	_ "embed"
	"errors"
	"strconv"
	"strings"
)

// Node.js as an echo server ("node"): bench/node/echoserver.js, run by the
// Node.js that the scaling report's Node peer uses (found as node.go finds
// it, and run in the same environment, without the variables that would
// slow it). It needs no build, with or without -echo-bin. It is one process
// with one event loop on one thread, Node's default; the Go servers run
// GOMAXPROCS loops. It is no goal's yardstick: the echo goals hold loop
// against gnet and nbio, and the report sets loop beside node on its own.

//go:embed node/echoserver.js
var echoserverJS []byte

var echoserverJSScript = embeddedScript{name: "echoserver.js", data: echoserverJS}

// echoNode is Node.js's echo server name, which is also the scaling
// report's name for Node (-systems node selects both).
const echoNode = "node"

// nodeEchoServer returns the Node.js echo server, or an error that says what
// was tried and how to get Node.js. candidates are as nodeCandidates.
func nodeEchoServer(candidates []string) (*echoServer, error) {
	probe, err := loopbenchJSScript.file()
	if err != nil {
		return nil, errors.New("cannot write loopbench.js, which finds Node.js: " + err.Error())
	}
	info, tried, ok := findNode(candidates, probe)
	if !ok {
		return nil, errors.New(noNodeFound(tried))
	}
	script, err := echoserverJSScript.file()
	if err != nil {
		return nil, errors.New("cannot write echoserver.js: " + err.Error())
	}
	return &echoServer{name: echoNode, bin: info.ExecPath, args: []string{script}, env: envWithout(slowingNodeEnv)}, nil
}

// noNodeFound says that no usable Node.js was found, what was tried, and how
// to get one.
func noNodeFound(tried []string) string {
	return "no Node.js " + strconv.Itoa(nodeMinMajor) + " or later found; tried " + strings.Join(tried, ", ") + " (apt-get install nodejs)"
}
