package sock_test

import (
	"strings"
	"testing"

	"github.com/loopgen/loop/sock"
)

// TestUnsentErrorSaysNotDelivered: the message gives the count and the
// reason, and does not call bytes the kernel sent unacknowledged "not sent".
func TestUnsentErrorSaysNotDelivered(t *testing.T) {
	msg := (&sock.UnsentError{Unsent: 2900000, Err: sock.ErrAborted}).Error()
	for _, want := range []string{"2900000 written bytes not delivered", "not acknowledged", sock.ErrAborted.Error()} {
		if !strings.Contains(msg, want) {
			t.Errorf("UnsentError says %q; want it to contain %q", msg, want)
		}
	}
}
