//go:build !(darwin || freebsd || netbsd || openbsd || dragonfly)

package poller

// Kqueue is the darwin and BSD backend; on this platform every method reports
// ErrUnsupported, so code that names it still compiles.
type Kqueue struct{}

const errKqueue = unsupported("kqueue")

// Open returns an error wrapping ErrUnsupported: kqueue is darwin and BSD only.
func (p *Kqueue) Open() error { return errKqueue }

// Close does nothing: Open never opened anything.
func (p *Kqueue) Close() error { return nil }

// Add returns an error wrapping ErrUnsupported.
func (p *Kqueue) Add(fd int, seq uint32, ev Events) error { return errKqueue }

// Modify returns an error wrapping ErrUnsupported.
func (p *Kqueue) Modify(fd int, seq uint32, ev Events) error { return errKqueue }

// Delete returns an error wrapping ErrUnsupported.
func (p *Kqueue) Delete(fd int) error { return errKqueue }

// Wait returns an error wrapping ErrUnsupported.
func (p *Kqueue) Wait(timeout int64) ([]Event, error) { return nil, errKqueue }

// Wake returns an error wrapping ErrUnsupported.
func (p *Kqueue) Wake() error { return errKqueue }

// Registered returns 0.
func (p *Kqueue) Registered() int { return 0 }

// Fd returns an error wrapping ErrUnsupported.
func (p *Kqueue) Fd() (int, error) { return -1, errKqueue }
