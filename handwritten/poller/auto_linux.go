package poller

// Auto is the platform's best backend: Epoll on Linux.
type Auto = Epoll
