#!/usr/bin/env bash
# `make run`: create/refresh .venv, then `deskwoot serve` (migrates the database,
# seeds a demo workspace on an empty one, prints the login, runs gunicorn).
# Arguments are passed to `deskwoot serve`: scripts/serve.sh --help
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'serve.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_venv run
exec "$VENV/bin/deskwoot" serve "$@"
