#!/usr/bin/env bash
# The benchmark (`make bench`, `make bench-quick`). Self-sufficient on a fresh clone:
#   1. installs wrk with apt when it is missing (as root)
#   2. creates/reuses .venv with deskwoot[test] (the same venv and stamp as scripts/test.sh)
#   3. runs python -m bench.main: generates the datasets into bench/data/ when missing or
#      stale, starts the ceiling, the peer and Deskwoot in turn, loads them with wrk and
#      writes bench/results/latest.md and latest.json
#
# Usage: bench/run.sh [--quick] [--size full|small|tiny] [--duration S] [--connections N]
#                     [--threads N] [--workers N] [--no-scaling] [--only NAME,...]
#        (bench/run.sh --help lists every option)
# Environment: BENCH_PYTHON=PATH uses that interpreter instead of .venv (must have deskwoot).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

if ! command -v wrk >/dev/null 2>&1; then
    apt_install /dev/null wrk
fi

PYTHON=${BENCH_PYTHON:-}
if [[ -z $PYTHON ]]; then
    ensure_venv
    PYTHON=$VENV/bin/python
fi

exec "$PYTHON" -m bench.main "$@"
