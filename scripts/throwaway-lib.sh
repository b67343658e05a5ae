# shellcheck shell=bash
# Shared by the throwaway servers of the test run, scripts/pg-cluster.sh (PostgreSQL) and
# scripts/dovecot-instance.sh (IMAP): both are `start` (prints shell assignments) | `stop DIR`.
# The caller defines log(), die(), cmd_start and cmd_stop DIR, sets CLEANUP_DIR while a
# start is half done, and ends with `throwaway_main "$@"`.

# as_user USER DIR CMD...: run CMD as USER with DIR as working directory (the caller's cwd,
# e.g. /root, may be unreadable for USER).
as_user() {
    local user=$1 dir=$2
    shift 2
    if [[ $(id -u) -eq 0 && "$user" != root ]]; then
        (cd "$dir" && runuser -u "$user" -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

# free_port: a TCP port on 127.0.0.1 that is free now (the server may still lose it to another
# process before it binds it: callers retry with a fresh one).
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

CLEANUP_DIR=
_throwaway_on_exit() {
    if [[ -n "$CLEANUP_DIR" ]]; then
        log "start failed; removing $CLEANUP_DIR"
        cmd_stop "$CLEANUP_DIR" || true
    fi
}

throwaway_main() {
    trap _throwaway_on_exit EXIT
    case "${1:-}" in
        start) cmd_start ;;
        stop) cmd_stop "${2:-}" ;;
        *) die "usage: $0 start | stop DIR" ;;
    esac
}
