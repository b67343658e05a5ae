#!/usr/bin/env bash
# The stress run (`make stress`). Self-sufficient on a fresh clone:
#   1. installs Debian's PostgreSQL server binaries with apt when they are missing (as root)
#   2. creates/reuses .venv with deskwoot[test] (the same venv and stamp as scripts/test.sh)
#   3. runs python -m stress: on SQLite, then on a throwaway PostgreSQL cluster, 64 clients
#      for 60 s each with kill -9 crashes of the server and of the delivery workers; writes
#      stress/results/latest.md and latest.json and exits non-zero when any check failed
#
# Usage: stress/run.sh [--db sqlite|postgresql|both] [--clients N] [--duration S]
#                      [--crashes N] [--workers N] [--delivery-workers N] [--worker-kills N]
#                      [--pg-url URL] [--seed N]
#        (stress/run.sh --help lists every option)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'stress/run.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# PostgreSQL server binaries, unless the run is on SQLite only or on a server given by URL.
needs_pg=1
case " $* " in
    *" --db sqlite "* | *" --db=sqlite "* | *" --pg-url"*) needs_pg=0 ;;
esac
if [[ $needs_pg -eq 1 ]] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    apt_install /dev/null postgresql
fi
ensure_venv

exec "$VENV/bin/python" -m stress "$@"
