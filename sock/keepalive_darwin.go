package sock

import "golang.org/x/sys/unix"

// tcpKeepIdle is the option for keep-alive's idle time: Darwin names it
// TCP_KEEPALIVE.
const tcpKeepIdle = unix.TCP_KEEPALIVE
