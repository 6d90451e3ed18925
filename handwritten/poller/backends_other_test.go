//go:build unix && !linux && !(darwin || freebsd || netbsd || openbsd || dragonfly)

package poller

func backends() []maker {
	return []maker{
		{"poll", func() backend { return new(Poll) }, true},
		{"none", func() backend { return new(None) }, false},
	}
}
