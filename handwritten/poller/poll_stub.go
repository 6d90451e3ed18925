//go:build !unix

package poller

// Poll is the poll(2) backend; on this platform every method reports
// ErrUnsupported, so code that names it still compiles.
type Poll struct{}

const errPoll = unsupported("poll")

// Open returns an error wrapping ErrUnsupported: poll needs a Unix kernel.
func (p *Poll) Open() error { return errPoll }

// Close does nothing: Open never opened anything.
func (p *Poll) Close() error { return nil }

// Add returns an error wrapping ErrUnsupported.
func (p *Poll) Add(fd int, seq uint32, ev Events) error { return errPoll }

// Modify returns an error wrapping ErrUnsupported.
func (p *Poll) Modify(fd int, seq uint32, ev Events) error { return errPoll }

// Delete returns an error wrapping ErrUnsupported.
func (p *Poll) Delete(fd int) error { return errPoll }

// Wait returns an error wrapping ErrUnsupported.
func (p *Poll) Wait(timeout int64) ([]Event, error) { return nil, errPoll }

// Wake returns an error wrapping ErrUnsupported.
func (p *Poll) Wake() error { return errPoll }

// Registered returns 0.
func (p *Poll) Registered() int { return 0 }

// Fd returns an error wrapping ErrUnsupported.
func (p *Poll) Fd() (int, error) { return -1, errPoll }
