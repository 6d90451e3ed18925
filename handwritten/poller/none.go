package poller

// None's methods that are the same on every platform; the type, its waits
// and its wake-ups are in none_unix.go and none_other.go.

// Add returns ErrNoPoller: None watches no fds.
func (n *None) Add(fd int, seq uint32, ev Events) error { return ErrNoPoller }

// Modify returns ErrNoPoller: None watches no fds.
func (n *None) Modify(fd int, seq uint32, ev Events) error { return ErrNoPoller }

// Delete returns ErrNoPoller: None watches no fds.
func (n *None) Delete(fd int) error { return ErrNoPoller }

// Registered returns 0: None watches no fds.
func (n *None) Registered() int { return 0 }

// Fd returns ErrNoPoller: None watches no fds.
func (n *None) Fd() (int, error) { return -1, ErrNoPoller }
