package sock

// SetTestHookDialSocket makes Dial call f with a literal address's socket
// before connecting it, until the test ends.
func SetTestHookDialSocket(t interface{ Cleanup(func()) }, f func(fd int)) {
	testHookDialSocket = f
	t.Cleanup(func() { testHookDialSocket = nil })
}
