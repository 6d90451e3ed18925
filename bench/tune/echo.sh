#!/usr/bin/env bash
# Tunes a variant for a TCP echo server: a 64-byte round trip over loopback
# through package sock, client and server on one loop. Batch size and the
# poller decide how often readiness is looked at.
# Extra arguments go to loopgen tune, e.g. -write echo to keep the winner.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./cmd/loopgen tune -base latency \
	-grid 'batch=8,32,256 poller=epoll,poll idle=block,spin:50us' \
	-pkg ./sock -bench 'BenchmarkEchoRoundTrip$' "$@"
