#!/usr/bin/env bash
# `make run`: create/refresh .venv, then `deskwoot serve` (migrates the database,
# seeds a demo workspace on an empty one, prints the login, runs gunicorn).
# Arguments are passed to `deskwoot serve`: scripts/serve.sh --help
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv
STAMP=$VENV/.deskwoot-installed-run # deskwoot alone
TEST_STAMP=$VENV/.deskwoot-installed # deskwoot[test], written by scripts/test.sh
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'serve.sh: error: %s\n' "$*" >&2; exit 1; }
fresh() { [[ -f "$1" && ! pyproject.toml -nt "$1" ]]; }

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    [[ $(id -u) -eq 0 ]] || die "python3 cannot create virtualenvs: apt-get install python3-venv (as root)"
    say "installing python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

if ! "$VENV/bin/python" -c '' 2>/dev/null; then
    say "creating virtualenv .venv"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi

if ! fresh "$STAMP" && ! fresh "$TEST_STAMP"; then
    say "installing deskwoot into .venv"
    "$VENV/bin/pip" install -q --progress-bar off -e .
    touch "$STAMP"
fi

exec "$VENV/bin/deskwoot" serve "$@"
