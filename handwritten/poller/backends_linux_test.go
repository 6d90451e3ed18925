package poller

func backends() []maker {
	return []maker{
		{"epoll", func() backend { return new(Epoll) }, true},
		// The fallback for kernels without epoll_pwait2: millisecond epoll_wait.
		{"epoll-ms", func() backend { return &Epoll{noPwait2: true} }, true},
		{"poll", func() backend { return new(Poll) }, true},
		{"none", func() backend { return new(None) }, false},
	}
}
