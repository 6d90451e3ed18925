//go:build !unix

package sock

// Package sock works on descriptors with the system calls of
// golang.org/x/sys/unix: it builds on Linux, darwin and the BSDs only. This
// name, defined nowhere, makes a build anywhere else fail with an error that
// says so, instead of a page of undefined names from package unix.
var _ = sock_builds_on_unix_systems_only_Linux_darwin_BSD
