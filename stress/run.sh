#!/usr/bin/env bash
# The stress run (`make stress`). Self-sufficient on a fresh clone:
#   1. installs Debian's PostgreSQL server binaries with apt when they are missing (as root)
#   2. creates/reuses .venv with deskwoot[test] (the same venv and stamp as scripts/test.sh)
#   3. runs python -m stress: on SQLite, then on a throwaway PostgreSQL cluster, 64 clients
#      for 60 s each with kill -9 crashes; writes stress/results/latest.md and latest.json
#      and exits non-zero when any check failed
#
# Usage: stress/run.sh [--db sqlite|postgresql|both] [--clients N] [--duration S]
#                      [--crashes N] [--workers N] [--pg-url URL] [--seed N]
#        (stress/run.sh --help lists every option)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv
STAMP=$VENV/.deskwoot-installed
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'stress/run.sh: error: %s\n' "$*" >&2; exit 1; }

# PostgreSQL server binaries, unless the run is on SQLite only or on a server given by URL.
needs_pg=1
case " $* " in
    *" --db sqlite "* | *" --db=sqlite "* | *" --pg-url"*) needs_pg=0 ;;
esac
if [[ $needs_pg -eq 1 ]] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    [[ $(id -u) -eq 0 ]] || die "PostgreSQL is missing. Install it as root: apt-get install -y postgresql"
    say "installing postgresql"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
        >/dev/null 2>&1 || die "apt-get install postgresql failed"
fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    [[ $(id -u) -eq 0 ]] || die "python3-venv is missing. Install it as root: apt-get install -y python3-venv"
    say "installing python3-venv"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; } \
        >/dev/null 2>&1 || die "apt-get install python3-venv failed"
fi

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

exec "$VENV/bin/python" -m stress "$@"
