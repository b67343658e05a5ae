#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the test suite.
#
#   scripts/pg-cluster.sh start        -> prints shell assignments on stdout:
#                                           PGDIR=/tmp/deskwoot-pg.XXXXXX
#                                           PGURL=postgresql://deskwoot@127.0.0.1:PORT/deskwoot_test
#                                         (eval them; diagnostics go to stderr)
#   scripts/pg-cluster.sh stop DIR     -> stops the server and removes DIR
#
# The cluster listens only on 127.0.0.1 (free port picked at random), keeps its
# unix socket inside DIR, trusts every local connection, and trades durability
# for speed (fsync, synchronous_commit and full_page_writes off).
# Needs Debian's PostgreSQL server binaries (apt-get install postgresql).
set -euo pipefail
# shellcheck source=scripts/throwaway-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/throwaway-lib.sh"

MARKER=.deskwoot-pg-cluster
DB_USER=deskwoot
DB_NAME=deskwoot_test

die() { echo "pg-cluster: $*" >&2; exit 1; }
log() { echo "pg-cluster: $*" >&2; }

find_bindir() {
    local initdb
    initdb=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null \
        | sort -V | tail -n 1)
    [[ -n "$initdb" ]] \
        || die "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
    dirname "$initdb"
}

# PostgreSQL refuses to run as root: as root, run the server as an unprivileged
# system user (Debian's "postgres" if the package created it).
pick_run_user() {
    if [[ $(id -u) -ne 0 ]]; then
        id -un
    elif id -u postgres >/dev/null 2>&1; then
        echo postgres
    else
        id -u deskwoot-pg >/dev/null 2>&1 \
            || useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin deskwoot-pg
        echo deskwoot-pg
    fi
}

cmd_start() {
    local bindir user dir port attempt started=0
    bindir=$(find_bindir)
    user=$(pick_run_user)

    dir=$(mktemp -d /tmp/deskwoot-pg.XXXXXX)
    touch "$dir/$MARKER"
    # From here on, any failure removes the half-made cluster (see on_exit).
    CLEANUP_DIR=$dir
    chmod 700 "$dir"
    chown "$user" "$dir" "$dir/$MARKER"

    as_user "$user" "$dir" "$bindir/initdb" --pgdata="$dir/data" --username="$DB_USER" \
        --auth=trust --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

    cat >>"$dir/data/postgresql.conf" <<EOF

# --- deskwoot throwaway test cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    # The port is chosen before postgres binds it, so another process may grab
    # it in between: retry with a fresh port when the start fails.
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        echo "port = $port" >>"$dir/data/postgresql.conf"
        if as_user "$user" "$dir" "$bindir/pg_ctl" --pgdata="$dir/data" \
            --log="$dir/postgres.log" --wait --timeout=60 start >/dev/null 2>&1; then
            started=1
            break
        fi
        log "start on port $port failed (attempt $attempt), retrying"
        as_user "$user" "$dir" "$bindir/pg_ctl" --pgdata="$dir/data" stop -m immediate \
            >/dev/null 2>&1 || true
    done
    if [[ $started -ne 1 ]]; then
        tail -n 30 "$dir/postgres.log" >&2 || true
        die "could not start postgres"
    fi

    local i
    for i in $(seq 1 60); do
        "$bindir/pg_isready" --quiet --host=127.0.0.1 --port="$port" && break
        [[ $i -eq 60 ]] && { tail -n 30 "$dir/postgres.log" >&2; die "server not ready"; }
        sleep 0.5
    done

    "$bindir/createdb" --host=127.0.0.1 --port="$port" --username="$DB_USER" \
        --owner="$DB_USER" "$DB_NAME"
    CLEANUP_DIR=

    log "PostgreSQL $(basename "$(dirname "$bindir")") running as $user on 127.0.0.1:$port ($dir)"
    printf 'PGDIR=%q\n' "$dir"
    printf 'PGURL=%q\n' "postgresql://$DB_USER@127.0.0.1:$port/$DB_NAME"
}

cmd_stop() {
    local dir=${1:-}
    [[ -n "$dir" ]] || die "usage: $0 stop DIR"
    [[ -d "$dir" ]] || return 0 # already gone: stopping twice is fine
    [[ -f "$dir/$MARKER" ]] || die "$dir is not a cluster made by $0; refusing to remove it"
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        local bindir user
        bindir=$(find_bindir)
        user=$(stat -c %U "$dir")
        as_user "$user" "$dir" "$bindir/pg_ctl" --pgdata="$dir/data" stop -m immediate \
            --wait --timeout=30 >/dev/null 2>&1 || log "pg_ctl stop failed for $dir"
    fi
    rm -rf -- "$dir"
}

throwaway_main "$@"
