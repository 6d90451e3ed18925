//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package poller

func backends() []maker {
	return []maker{
		{"kqueue", func() backend { return new(Kqueue) }, true},
		{"poll", func() backend { return new(Poll) }, true},
		{"none", func() backend { return new(None) }, false},
	}
}
