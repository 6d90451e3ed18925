//go:build unix && !linux && !(darwin || freebsd || netbsd || openbsd || dragonfly)

package poller

// Auto is the platform's best backend: Poll on a Unix without epoll or
// kqueue (solaris, illumos, aix).
type Auto = Poll
