#!/usr/bin/env bash
# Throwaway IMAP server (Debian's dovecot 2.3) for the tests of the email channel.
#
#   scripts/dovecot-instance.sh start      -> prints shell assignments on stdout:
#                                               IMAP_DIR=/tmp/deskwoot-imap.XXXXXX
#                                               IMAP_HOST=127.0.0.1
#                                               IMAP_PORT=PORT      (plain IMAP, STARTTLS offered)
#                                               IMAPS_PORT=PORT     (implicit TLS)
#                                               IMAP_CA=DIR/tls/cert.pem  (the self-signed cert)
#                                               IMAP_USER=support  IMAP_PASSWORD=…
#                                               IMAP_USER2=customer  IMAP_PASSWORD2=…
#                                             (eval them; diagnostics go to stderr)
#   scripts/dovecot-instance.sh stop DIR   -> stops the server and removes DIR
#
# Everything lives in DIR: the config file, the runtime sockets (base_dir), the state dir, the
# log (DIR/dovecot.log), the passwd-file with the two users (random plain passwords) and their
# Maildirs. The server listens only on 127.0.0.1 (free ports picked at random). It runs
# "rootless" (no privilege separation, no chroot), as the invoking user — or, as root, as the
# `dovecot` user the Debian package creates on install — so no system file, user or service is
# touched. Needs /usr/sbin/dovecot and openssl (apt-get install dovecot-imapd; it pulls both).
set -euo pipefail
# shellcheck source=scripts/throwaway-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/throwaway-lib.sh"

MARKER=.deskwoot-imap-instance
DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
RUN_AS_ROOT_USER=dovecot # created by dovecot-core's postinst

die() { echo "dovecot-instance: $*" >&2; exit 1; }
log() { echo "dovecot-instance: $*" >&2; }

# Started as root, dovecot would drop privileges to the system's dovenull/dovecot users per
# service and chroot its login processes; rootless, as one unprivileged user, it needs neither.
pick_run_user() {
    if [[ $(id -u) -ne 0 ]]; then
        id -un
    elif id -u "$RUN_AS_ROOT_USER" >/dev/null 2>&1; then
        echo "$RUN_AS_ROOT_USER"
    else
        die "no '$RUN_AS_ROOT_USER' user: reinstall dovecot-core (apt-get install --reinstall dovecot-core)"
    fi
}

password() { python3 -c 'import secrets; print(secrets.token_hex(12))'; }

# greets PORT [CA]: the server answers "* OK" on PORT within 20 s (over TLS, verified against
# the certificate CA, when CA is given).
greets() {
    python3 - "$@" <<'EOF'
import socket
import ssl
import sys
import time

port = int(sys.argv[1])
tls = ssl.create_default_context(cafile=sys.argv[2]) if len(sys.argv) > 2 else None
deadline = time.monotonic() + 20
while True:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            conn = tls.wrap_socket(s, server_hostname="127.0.0.1") if tls else s
            if conn.recv(200).startswith(b"* OK"):
                sys.exit(0)
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.2)
EOF
}

write_config() {
    local dir=$1 user=$2 uid=$3 gid=$4 group=$5 port=$6 ssl_port=$7
    cat >"$dir/dovecot.conf" <<EOF
# deskwoot throwaway test instance (scripts/dovecot-instance.sh); dovecot 2.3 syntax
instance_name = deskwoot-imap-${dir##*.}
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = imap
listen = 127.0.0.1

# Rootless: every process runs as $user, without chroot.
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid
service anvil {
  chroot =
  # No growing delay for an IP after failed logins: the tests try wrong passwords on purpose
  # and every test connects from 127.0.0.1.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $ssl_port
    ssl = yes
  }
}

# Plain IMAP with plain passwords is fine on loopback; IMAPS and STARTTLS use a self-signed
# certificate made at start (tests trust DIR/tls/cert.pem).
ssl = yes
ssl_cert = <$dir/tls/cert.pem
ssl_key = <$dir/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
# No 2 s wait before a failed login's answer (wrong passwords are tried on purpose).
auth_failure_delay = 0

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/passwd
}
mail_location = maildir:~/Maildir
EOF
}

cmd_start() {
    [[ -x "$DOVECOT" ]] || die "no $DOVECOT (apt-get install dovecot-imapd)"
    command -v openssl >/dev/null || die "no openssl (apt-get install openssl)"
    local user uid gid group dir port ssl_port attempt started=0 pw1 pw2
    user=$(pick_run_user)
    uid=$(id -u "$user")
    gid=$(id -g "$user")
    group=$(id -gn "$user")

    dir=$(mktemp -d /tmp/deskwoot-imap.XXXXXX)
    touch "$dir/$MARKER"
    # From here on, any failure removes the half-made instance (see on_exit).
    CLEANUP_DIR=$dir
    chmod 700 "$dir"
    mkdir -p "$dir/run" "$dir/state" "$dir/tls" "$dir/mail"

    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
        -subj /CN=127.0.0.1 -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
        -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" >"$dir/openssl.log" 2>&1 \
        || { cat "$dir/openssl.log" >&2; die "openssl could not make a certificate"; }

    pw1=$(password)
    pw2=$(password)
    # passwd-file: user:password:uid:gid:gecos:home:shell
    {
        echo "support:{PLAIN}$pw1:$uid:$gid::$dir/mail/support::"
        echo "customer:{PLAIN}$pw2:$uid:$gid::$dir/mail/customer::"
    } >"$dir/passwd"
    chmod 600 "$dir/passwd" "$dir/tls/key.pem"
    chown -R "$user:$group" "$dir"

    # The ports are chosen before dovecot binds them, so another process may grab one in
    # between: retry with fresh ports when the start fails.
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        ssl_port=$(free_port)
        [[ $port != "$ssl_port" ]] || continue
        write_config "$dir" "$user" "$uid" "$gid" "$group" "$port" "$ssl_port"
        chown "$user:$group" "$dir/dovecot.conf"
        if as_user "$user" "$dir" "$DOVECOT" -c "$dir/dovecot.conf" >>"$dir/start.log" 2>&1 \
            && greets "$port" && greets "$ssl_port" "$dir/tls/cert.pem"; then
            started=1
            break
        fi
        log "start on ports $port/$ssl_port failed (attempt $attempt), retrying"
        stop_server "$dir"
    done
    if [[ $started -ne 1 ]]; then
        tail -n 30 "$dir/start.log" "$dir/dovecot.log" >&2 2>/dev/null || true
        die "could not start dovecot"
    fi
    CLEANUP_DIR=

    log "dovecot $("$DOVECOT" --version | cut -d' ' -f1) running as $user on 127.0.0.1:$port (IMAPS $ssl_port) ($dir)"
    printf 'IMAP_DIR=%q\n' "$dir"
    printf 'IMAP_HOST=%q\n' 127.0.0.1
    printf 'IMAP_PORT=%q\n' "$port"
    printf 'IMAPS_PORT=%q\n' "$ssl_port"
    printf 'IMAP_CA=%q\n' "$dir/tls/cert.pem"
    printf 'IMAP_USER=%q\nIMAP_PASSWORD=%q\n' support "$pw1"
    printf 'IMAP_USER2=%q\nIMAP_PASSWORD2=%q\n' customer "$pw2"
}

# stop_server DIR: SIGTERM to the master (its children follow it), then wait for it to go.
stop_server() {
    local dir=$1 pid i
    [[ -f "$dir/run/master.pid" ]] || return 0
    pid=$(cat "$dir/run/master.pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "dovecot (pid $pid) ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
    local dir=${1:-}
    [[ -n "$dir" ]] || die "usage: $0 stop DIR"
    [[ -d "$dir" ]] || return 0 # already gone: stopping twice is fine
    [[ -f "$dir/$MARKER" ]] || die "$dir is not an instance made by $0; refusing to remove it"
    stop_server "$dir"
    rm -rf -- "$dir"
}

throwaway_main "$@"
