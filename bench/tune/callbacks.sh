#!/usr/bin/env bash
# Tunes the ready queue for callback-heavy work (CallSoon from the loop
# goroutine): its initial depth and how many callbacks run per iteration.
# Extra arguments go to loopgen tune, e.g. -write callbacks to keep the winner.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./cmd/loopgen tune -base balanced \
	-grid 'queue_depth=1024,4096,65536 batch=64,256,1024' \
	-pkg ./bench -bench 'BenchmarkTagged/callbacks/N=(10000|100000|1000000)$' "$@"
