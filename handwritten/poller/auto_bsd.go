//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package poller

// Auto is the platform's best backend: Kqueue on darwin and the BSDs.
type Auto = Kqueue
