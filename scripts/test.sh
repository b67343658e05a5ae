#!/usr/bin/env bash
# The test command (`make test` runs this). Self-sufficient on a fresh clone:
#   1. installs missing system packages (chromium, postgresql, wrk, dovecot-imapd) with apt,
#      as root
#   2. creates/reuses .venv and installs deskwoot[test] when pyproject.toml changed
#   3. ruff check .
#   4. runs pytest twice in parallel: on SQLite and on a throwaway PostgreSQL
#      cluster; logs, JUnit XML and temp files go to test-artifacts/<db>/
#   5. prints both logs, then a last line "N passed, M failed, K skipped"
#      totalled over both runs; exits non-zero if anything failed
#
# Usage: scripts/test.sh [PYTEST ARGS...]     e.g. scripts/test.sh -k tickets -x
# Environment:
#   DESKWOOT_TEST_DB=both|sqlite|postgresql   which runs to do (default both)
#   DESKWOOT_TEST_TIMEOUT=SECONDS             per-run limit (default 4500)
#   DESKWOOT_CHROMIUM=PATH                    browser for Playwright (default /usr/bin/chromium)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
ARTIFACTS=$ROOT/test-artifacts
TIMEOUT=${DESKWOOT_TEST_TIMEOUT:-4500}
PYTEST_ARGS=("$@")

say() { printf '==> %s\n' "$*"; }
die() { printf 'test.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

case "${DESKWOOT_TEST_DB:-both}" in
    both) RUNS=(sqlite postgresql) ;;
    sqlite) RUNS=(sqlite) ;;
    postgresql | postgres | pg) RUNS=(postgresql) ;;
    *) die "DESKWOOT_TEST_DB must be both, sqlite or postgresql (got '$DESKWOOT_TEST_DB')" ;;
esac
wants_pg() { [[ " ${RUNS[*]} " == *" postgresql "* ]]; }

export DESKWOOT_CHROMIUM=${DESKWOOT_CHROMIUM:-/usr/bin/chromium}
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

mkdir -p "$ARTIFACTS"

# --- 1. system packages -------------------------------------------------------
ensure_system_packages() {
    local missing=()
    if [[ ! -x "$DESKWOOT_CHROMIUM" ]]; then
        [[ "$DESKWOOT_CHROMIUM" == /usr/bin/chromium ]] \
            || die "DESKWOOT_CHROMIUM=$DESKWOOT_CHROMIUM is not an executable"
        missing+=(chromium)
    fi
    if wants_pg && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
        missing+=(postgresql)
    fi
    if [[ ! -x /usr/sbin/dovecot ]]; then
        missing+=(dovecot-imapd) # the IMAP server of the mail tests (scripts/dovecot-instance.sh)
    fi
    if ! command -v wrk >/dev/null 2>&1; then
        missing+=(wrk) # tests/bench/test_bench_quick.py drives the benchmark with it
    fi
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        missing+=(python3-venv)
    fi
    [[ ${#missing[@]} -eq 0 ]] && return 0
    apt_install "$ARTIFACTS/apt.log" "${missing[@]}"
}

# --- cleanup: stop runs and the PostgreSQL cluster, whatever happens --------------
PGDIR=
declare -A PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$PGDIR" ]]; then
        bash scripts/pg-cluster.sh stop "$PGDIR" || true
    fi
    [[ -z "${IMAP_DIR:-}" ]] || bash scripts/dovecot-instance.sh stop "$IMAP_DIR" || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_suite NAME: one pytest process, output to test-artifacts/NAME/pytest.log
run_suite() {
    local name=$1 dir=$ARTIFACTS/$1
    local -a env_cmd=(env -u DESKWOOT_TEST_DATABASE_URL)
    if [[ $name == postgresql ]]; then
        env_cmd=(env "DESKWOOT_TEST_DATABASE_URL=$PGURL")
    fi
    # timeout(1) puts pytest in its own process group and interrupts the whole group
    # (live servers, browsers) when the limit is hit; exec makes $! its pid.
    exec "${env_cmd[@]}" DESKWOOT_TEST_ARTIFACTS="$dir" \
        timeout --signal=INT --kill-after=30 "$TIMEOUT" \
        "$VENV/bin/python" -m pytest \
        --junitxml="$dir/junit.xml" \
        --basetemp="$dir/tmp" \
        -o cache_dir="$dir/.pytest_cache" \
        "${PYTEST_ARGS[@]}" \
        </dev/null >"$dir/pytest.log" 2>&1
}

# counts FILE: prints "PASSED FAILED SKIPPED" from a JUnit XML file ("" if unreadable)
counts() {
    python3 - "$1" <<'EOF' 2>/dev/null || true
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
tests = failed = skipped = 0
for s in suites:
    tests += int(s.get("tests", 0))
    failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
    skipped += int(s.get("skipped", 0))
print(tests - failed - skipped, failed, skipped)
EOF
}

ensure_system_packages
ensure_venv
bash scripts/node-tools-setup.sh \
    || say "Node tools setup failed: tests/mcp/test_conformance.py and test_ts_clients.py will fail"
export DESKWOOT_CONFORMANCE_BIN=$ROOT/.tools/node/node_modules/.bin
export DESKWOOT_MCP_CLIENTS=$ROOT/.tools/node/node_modules

# --- 3. lint --------------------------------------------------------------------
say "ruff check ."
lint_rc=0
"$VENV/bin/ruff" check . || lint_rc=$?

# --- 4. the two pytest runs -------------------------------------------------------
if wants_pg; then
    say "starting a throwaway PostgreSQL cluster"
    pg_env=$(bash scripts/pg-cluster.sh start)
    eval "$pg_env" # sets PGDIR and PGURL
    [[ -n "${PGURL:-}" && -n "$PGDIR" ]] || die "pg-cluster.sh start printed no PGURL/PGDIR"
fi

# One throwaway IMAP server (dovecot) for both runs; each test works in a folder of its own
# (tests/mail_servers.py). Without it the `mail` tests fail, never skip.
export DESKWOOT_TEST_REQUIRE_MAIL=1
say "starting a throwaway IMAP server (dovecot)"
if imap_env=$(bash scripts/dovecot-instance.sh start); then
    eval "$imap_env" # sets IMAP_DIR, IMAP_HOST, IMAP_PORT, IMAPS_PORT, IMAP_CA, IMAP_USER…
    export DESKWOOT_TEST_IMAP_URL="imap://$IMAP_USER:$IMAP_PASSWORD@$IMAP_HOST:$IMAP_PORT/INBOX"
    export DESKWOOT_TEST_IMAPS_URL="imaps://$IMAP_USER:$IMAP_PASSWORD@$IMAP_HOST:$IMAPS_PORT/INBOX"
    export DESKWOOT_TEST_IMAP_URL_2="imap://$IMAP_USER2:$IMAP_PASSWORD2@$IMAP_HOST:$IMAP_PORT/INBOX"
    export DESKWOOT_TEST_IMAP_CA=$IMAP_CA
else
    say "dovecot did not start: the mail tests will fail"
fi

for name in "${RUNS[@]}"; do
    rm -rf "${ARTIFACTS:?}/$name"
    mkdir -p "$ARTIFACTS/$name"
    run_suite "$name" &
    PIDS[$name]=$!
done
say "pytest running on: ${RUNS[*]} (in parallel; follow with: tail -f test-artifacts/*/pytest.log)"

# --- 5. report ----------------------------------------------------------------------
total_passed=0 total_failed=0 total_skipped=0 failed_runs=()
recap=()
for name in "${RUNS[@]}"; do
    rc=0
    wait "${PIDS[$name]}" || rc=$?
    unset "PIDS[$name]"
    log=test-artifacts/$name/pytest.log

    echo
    say "pytest on $name (exit $rc, $log)"
    cat "$ARTIFACTS/$name/pytest.log"

    read -r passed failed skipped <<<"$(counts "$ARTIFACTS/$name/junit.xml")" || true
    passed=${passed:-0} failed=${failed:-0} skipped=${skipped:-0}
    note=""
    case $rc in
        0) ;;
        1) ;; # tests failed: already counted
        5) note=" -- no tests were collected" ;;
        124 | 137) note=" -- timed out after ${TIMEOUT}s" ;;
        *) note=" -- pytest did not finish normally" ;;
    esac
    if [[ $rc -ne 0 ]]; then
        failed_runs+=("$name")
        # a broken run counts as at least one failure, never as a green total
        [[ $failed -eq 0 ]] && failed=1
    fi
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    total_skipped=$((total_skipped + skipped))
    recap+=("-- $name: exit $rc, passed=$passed failed=$failed skipped=$skipped$note ($log)")
done

echo
[[ $lint_rc -eq 0 ]] && echo "-- ruff check: clean" || echo "-- ruff check: FAILED (exit $lint_rc, see above)"
printf '%s\n' "${recap[@]}"
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"

[[ $lint_rc -eq 0 && ${#failed_runs[@]} -eq 0 ]]
