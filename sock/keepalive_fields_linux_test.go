package sock

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKeepAliveNegativeFieldsKeepWhatTheSocketHad: a negative field leaves
// the socket's own value, even where that is not the system's default, and
// the fields are independent: a negative one does not stop the others being
// set. (A test through Listen cannot reach a socket before sock sets its
// keep-alive: on Linux that is the listening socket, inside Listen, which
// accepted connections inherit it from. The older "system's" case could not
// tell a negative Count from a zero one, since Linux's default count is 9 as
// package net's is.)
func TestKeepAliveNegativeFieldsKeepWhatTheSocketHad(t *testing.T) {
	for _, tc := range []struct {
		name string
		ka   net.KeepAliveConfig
		want [4]int // SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT
	}{
		{"all negative", net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}, [4]int{1, 100, 7, 4}},
		{"idle negative", net.KeepAliveConfig{Enable: true, Idle: -1, Interval: 5 * time.Second, Count: 3}, [4]int{1, 100, 5, 3}},
		{"interval negative", net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: -1, Count: 3}, [4]int{1, 30, 7, 3}},
		{"count negative", net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: -1}, [4]int{1, 30, 5, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			own := [...]struct{ opt, v int }{{unix.TCP_KEEPIDLE, 100}, {unix.TCP_KEEPINTVL, 7}, {unix.TCP_KEEPCNT, 4}}
			for _, o := range own {
				if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, o.opt, o.v); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := newConfig(forDial, []Option{WithKeepAlive(tc.ka)})
			if err != nil {
				t.Fatal(err)
			}
			if err := setKeepAlive(fd, cfg.keepAlive); err != nil {
				t.Fatal(err)
			}
			var got [4]int
			for i, o := range [...]struct{ level, opt int }{
				{unix.SOL_SOCKET, unix.SO_KEEPALIVE}, {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
				{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}, {unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
			} {
				if got[i], err = unix.GetsockoptInt(fd, o.level, o.opt); err != nil {
					t.Fatal(err)
				}
			}
			if got != tc.want {
				t.Errorf("SO_KEEPALIVE, idle, interval, count = %v, want %v", got, tc.want)
			}
		})
	}
}
