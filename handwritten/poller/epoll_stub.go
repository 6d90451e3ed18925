//go:build !linux

package poller

// Epoll is the Linux backend; on this platform every method reports
// ErrUnsupported, so code that names it still compiles.
type Epoll struct{}

const errEpoll = unsupported("epoll")

// Open returns an error wrapping ErrUnsupported: epoll is Linux-only.
func (p *Epoll) Open() error { return errEpoll }

// Close does nothing: Open never opened anything.
func (p *Epoll) Close() error { return nil }

// Add returns an error wrapping ErrUnsupported.
func (p *Epoll) Add(fd int, seq uint32, ev Events) error { return errEpoll }

// Modify returns an error wrapping ErrUnsupported.
func (p *Epoll) Modify(fd int, seq uint32, ev Events) error { return errEpoll }

// Delete returns an error wrapping ErrUnsupported.
func (p *Epoll) Delete(fd int) error { return errEpoll }

// Wait returns an error wrapping ErrUnsupported.
func (p *Epoll) Wait(timeout int64) ([]Event, error) { return nil, errEpoll }

// Wake returns an error wrapping ErrUnsupported.
func (p *Epoll) Wake() error { return errEpoll }

// Registered returns 0.
func (p *Epoll) Registered() int { return 0 }

// Fd returns an error wrapping ErrUnsupported.
func (p *Epoll) Fd() (int, error) { return -1, errEpoll }
