//go:build linux || freebsd

package sock

import "golang.org/x/sys/unix"

// tcpKeepIdle is the option for keep-alive's idle time.
const tcpKeepIdle = unix.TCP_KEEPIDLE
