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
VENV=.venv
STAMP=$VENV/.deskwoot-installed
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: error: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    [[ $(id -u) -eq 0 ]] || die "wrk is missing. Install it as root: apt-get install -y wrk"
    say "installing wrk"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } \
        >/dev/null 2>&1 || die "apt-get install wrk failed"
fi

PYTHON=${BENCH_PYTHON:-}
if [[ -z $PYTHON ]]; then
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        say "creating virtualenv .venv"
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
    if [[ ! -f "$STAMP" || pyproject.toml -nt "$STAMP" ]]; then
        say "installing deskwoot[test] into .venv"
        "$VENV/bin/pip" install -q --progress-bar off -e '.[test]'
        touch "$STAMP"
    fi
    PYTHON=$VENV/bin/python
fi

exec "$PYTHON" -m bench.main "$@"
