//go:build unix && !linux && !freebsd && !darwin

package sock

// setKeepAliveTimes leaves the system's times: this system has no
// per-socket options for them that package x/sys/unix names on every one
// of its kinds.
func setKeepAliveTimes(int, *keepAlive) error { return nil }
