package loop_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/loopgen/loop"
)

// TestMain leaves ExampleWithPanicHandler out on a variant generated with
// recover: false: a panicking callback ends the program there, as
// documented, and an example cannot skip itself. It adds the example to
// -test.skip, so every other test and example still runs.
func TestMain(m *testing.M) {
	flag.Parse()
	if l, err := loop.New(); err == nil {
		recovers := l.Variant().Recover
		l.Close()
		if !recovers {
			skip := flag.Lookup("test.skip")
			pattern := "^ExampleWithPanicHandler$"
			if old := skip.Value.String(); old != "" {
				if strings.Contains(old, "/") {
					// A pattern per subtest level cannot take an alternative.
					fmt.Fprintf(os.Stderr, "-skip %q has subtest levels: ExampleWithPanicHandler is left to run (and panic) under recover: false\n", old)
					pattern = old
				} else {
					pattern = old + "|" + pattern
				}
			}
			if err := skip.Value.Set(pattern); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
	os.Exit(m.Run())
}
