#!/usr/bin/env bash
# .venv with deskwoot[test], for the Makefile's lint and fmt targets (see scripts/lib.sh).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'venv.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_venv test
