#!/usr/bin/env bash
# Tunes the timer wheel for timer-heavy work (CallLater with 0-9 ms delays).
# Ranked on CPU time per timer: the wall time of a timer workload is mostly
# waiting for deadlines, which no parameter changes.
# Extra arguments go to loopgen tune, e.g. -write timers to keep the winner.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./cmd/loopgen tune -base balanced \
	-grid 'batch=64,256,1024 wheel.tick=100us,1ms' \
	-pkg ./bench -bench 'BenchmarkTagged/timers/N=(1000|10000|100000)$' -metric cpu-sec/op "$@"
