// Command bench will run the scaling analysis of
// ../shared/reference/pyloop-scaling-analysis.md against every variant and
// the baselines. Until that lands (the bench issue), it says so; the
// testing.B benchmarks beside it already measure each variant:
//
//	go test -run '^$' -bench . -benchmem ./bench
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	flag.Bool("quick", false, "small scales, one repetition (accepted now, used once the analysis lands)")
	flag.Parse()
	fmt.Println("loop bench: the scaling analysis is not built yet (see the bench issue); per-variant benchmarks: go test -run '^$' -bench . -benchmem ./bench")
	os.Exit(0)
}
