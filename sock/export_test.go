package sock

// SetTestHookDialSocket makes Dial call f with a literal address's socket
// before connecting it, until the test ends.
func SetTestHookDialSocket(t interface{ Cleanup(func()) }, f func(fd int)) {
	testHookDialSocket = f
	t.Cleanup(func() { testHookDialSocket = nil })
}

// GroupListeners returns how many listeners each of g's loops keeps for
// Shutdown and Close to reach, asking each loop on its goroutine.
func GroupListeners(g *Group) ([]int, error) {
	ns := make([]int, len(g.loops))
	for i, gl := range g.loops {
		if err := g.on(gl, "GroupListeners", func() error { ns[i] = len(gl.lns); return nil }); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

// ConnFD returns c's descriptor, for a test to read its socket options.
func ConnFD(c *Conn) int { return int(c.fd) }

// MessagesKept returns how many bytes of input a Messages handler keeps for
// c, and the capacity of the buffer it keeps them in.
func MessagesKept(c *Conn) (n, capacity int) {
	if f := c.framing(); f != nil {
		return f.s.Buffered(), cap(f.s.buf)
	}
	return 0, 0
}

// SpareKept returns the capacity of the buffer that c's loop keeps for the
// next connection whose messages must wait.
func SpareKept(c *Conn) int { return cap(c.cfg.ls.spareKept) }
