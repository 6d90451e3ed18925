package sock

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The loops of a Group translate zones at once, each on its own goroutine
// (a UDP server's WriteTo and its senders' scopes): the table is shared, and
// emptied when it is a minute old meanwhile. Every answer stays right (run
// with -race).
func TestRev12ZonesFromManyLoopsAtOnce(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no interface lo: %v", err)
	}
	index, name := uint32(lo.Index), lo.Name
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				if g == 0 && i%20 == 0 {
					zones.Lock()
					zones.since = time.Now().Add(-zoneLife - time.Second) // expired
					zones.Unlock()
				}
				if got, err := zoneIndex(name); err != nil || got != index {
					errs <- "zoneIndex(" + name + ") = " + strconv.Itoa(int(got))
					return
				}
				if got, err := zoneIndex(strconv.Itoa(int(index))); err != nil || got != index {
					errs <- "zoneIndex of the number"
					return
				}
				if got := zoneName(index); got != name {
					errs <- "zoneName(lo) = " + got
					return
				}
				if got := zoneName(1 << 30); got != "1073741824" {
					errs <- "zoneName(1<<30) = " + got
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
