#!/usr/bin/env bash
# `make check`: the quick edit-run loop. ruff, then the suite on SQLite without the tests that
# need a browser, Node, the mail servers or a long run (markers browser, node, mail, slow). Needs
# no root and installs nothing but .venv; `make test` is the whole suite on SQLite and PostgreSQL.
# Arguments go to pytest: scripts/check.sh -k drafts -x
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'check.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_venv test
say "ruff check ."
"$VENV/bin/ruff" check .
say "pytest on SQLite (not browser, node, mail or slow)"
exec env -u DESKWOOT_TEST_DATABASE_URL "$VENV/bin/python" -m pytest -q \
    -m "not browser and not node and not mail and not slow" -p no:cacheprovider "$@"
