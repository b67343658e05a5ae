# shellcheck shell=bash
# Shared by scripts/test.sh, check.sh, serve.sh, venv.sh, node-tools-setup.sh, bench/run.sh and
# stress/run.sh: sourced from the repository root after the caller has defined say() and die().
# One place decides how the project's virtualenv is made and how a missing Debian package is
# installed.

VENV=${VENV:-$PWD/.venv}
STAMP=$VENV/.deskwoot-installed
export PIP_DISABLE_PIP_VERSION_CHECK=1

# apt_install LOG PACKAGE...: install Debian packages as root (output to LOG), or say how.
apt_install() {
    local log=$1
    shift
    if [[ $(id -u) -ne 0 ]]; then
        die "missing system packages: $*. Install them as root:
    apt-get update && apt-get install -y $*"
    fi
    say "installing system packages: $*"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } \
        >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "apt-get install $* failed"
    fi
}

# ensure_venv [test|run]: .venv with deskwoot[test] (default) or deskwoot alone (`run`),
# reinstalled when pyproject.toml changes. A test install also serves `run`.
ensure_venv() {
    local kind=${1:-test}
    local run_stamp=$VENV/.deskwoot-installed-run
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        apt_install /dev/null python3-venv
    fi
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        say "creating virtualenv .venv"
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
    if _fresh "$STAMP"; then
        return 0
    fi
    if [[ $kind == run ]]; then
        _fresh "$run_stamp" && return 0
        say "installing deskwoot into .venv"
        "$VENV/bin/pip" install -q --progress-bar off -e .
        touch "$run_stamp"
        return 0
    fi
    say "installing deskwoot[test] into .venv"
    "$VENV/bin/pip" install -q --progress-bar off -e '.[test]'
    touch "$STAMP"
}

# _fresh STAMP: the stamp exists and is newer than pyproject.toml.
_fresh() { [[ -f "$1" && ! pyproject.toml -nt "$1" ]]; }
