//go:build linux || freebsd || darwin

package sock

import "golang.org/x/sys/unix"

// setKeepAliveTimes sets k's idle time, interval and count where they are
// not -1.
func setKeepAliveTimes(fd int, k *keepAlive) error {
	for _, o := range [...]struct{ opt, v int }{{tcpKeepIdle, k.idle}, {unix.TCP_KEEPINTVL, k.interval}, {unix.TCP_KEEPCNT, k.count}} {
		if o.v < 0 {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, o.opt, o.v); err != nil {
			return err
		}
	}
	return nil
}
