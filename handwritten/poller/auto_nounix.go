//go:build !unix

package poller

// Auto is the platform's best backend: None where there are no Unix file
// descriptors (windows, js, wasip1, plan9); such a variant has timers and
// posts but no fd readiness.
type Auto = None
