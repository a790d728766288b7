#!/usr/bin/env bash
# start-pg.sh DIR [--restart]
#
# Start a throw-away PostgreSQL server for the store's tests, with all of
# its state in DIR: initdb into DIR/data (trust authentication, UTF8, C
# locale), then pg_ctl start listening on 127.0.0.1 only, on a free port
# in 20000-32767 (below Linux's ephemeral range), its Unix socket in DIR.
# fsync is off: the cluster is thrown away, and it makes the tests fast.
# Writes DIR/env (KEY=VALUE lines, shell-sourceable):
#   PG_PORT, PG_URI (postgresql://mailvet@127.0.0.1:PORT/mailvet),
#   PG_DIR, PG_LOG, PG_BINDIR, PG_USER
# A server that runs already for DIR is stopped first (stop-pg.sh, by the
# PID in postmaster.pid), so running this twice leaves one fresh server.
# --restart keeps DIR's cluster and its port (DIR/port): the same server
# back after stop-pg.sh, as after an outage.
#
# initdb and postgres refuse to run as root.  As root the server runs as
# the system user mailvet-test (made here when missing, without a home or
# a login shell), or as nobody when no user can be made; DIR is given to
# that user.  As anyone else it runs as that user.
# Environment: PG_BINDIR (default: the newest /usr/lib/postgresql/*/bin),
# PG_PORT (default: a free one), MAILVET_PG_START_TIMEOUT (30 seconds).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { echo "usage: $0 DIR [--restart]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
DIR=$1
RESTART=0
if [ $# -eq 2 ]; then
  [ "$2" = --restart ] || usage
  RESTART=1
fi
case $DIR in
  *[[:space:]\'\"\\\$\`]*)
    echo "start-pg: DIR must not contain spaces, quotes, \\, \$ or \`: $DIR" >&2
    exit 2 ;;
esac
log() { echo "start-pg: $*" >&2; }

if [ -z "${PG_BINDIR:-}" ]; then
  PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
if [ -z "$PG_BINDIR" ] || [ ! -x "$PG_BINDIR/initdb" ]; then
  log "no PostgreSQL server binaries (Debian package: postgresql)"
  exit 1
fi
TIMEOUT=${MAILVET_PG_START_TIMEOUT:-30}

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
"$HERE/stop-pg.sh" "$DIR" >/dev/null 2>&1 || true
if [ "$RESTART" = 1 ] && [ -d "$DIR/data" ] && [ -s "$DIR/port" ]; then
  PG_PORT=$(cat "$DIR/port")
else
  RESTART=0
  rm -rf "$DIR/data" "$DIR/env" "$DIR/port" "$DIR/postgres.log"
fi

# Who runs the server.
AS=()
PG_USER=$(id -un)
if [ "$(id -u)" = 0 ]; then
  PG_USER=mailvet-test
  if ! id "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$PG_USER" 2>/dev/null || PG_USER=nobody
  fi
  AS=(runuser -u "$PG_USER" --)
  chown "$PG_USER" "$DIR"
  chmod 0700 "$DIR"
  if ! "${AS[@]}" test -w "$DIR"; then
    log "$PG_USER cannot write $DIR (is a folder above it closed to others?)"
    exit 1
  fi
fi

if [ -n "${PG_PORT:-}" ]; then
  PORT=$PG_PORT
else
  PORT=$(python3 - <<'EOF'
import random, socket
rng = random.SystemRandom()
for _ in range(2000):
    p = rng.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
EOF
)
fi
[ -n "$PORT" ] || { log "no free port"; exit 1; }

if [ "$RESTART" = 0 ]; then
  "${AS[@]}" "$PG_BINDIR/initdb" -D "$DIR/data" -U mailvet -A trust -E UTF8 \
    --no-locale --no-sync >"$DIR/initdb.log" 2>&1 ||
    { log "initdb failed:"; cat "$DIR/initdb.log" >&2; exit 1; }
fi

if ! "${AS[@]}" "$PG_BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" \
    -w -t "$TIMEOUT" -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 \
    -c fsync=off -c full_page_writes=off -c max_connections=50" \
    start >/dev/null; then
  log "postgres did not start:"
  cat "$DIR/postgres.log" >&2
  exit 1
fi
if [ "$RESTART" = 0 ]; then
  "$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U mailvet mailvet
fi
echo "$PORT" >"$DIR/port"

cat >"$DIR/env" <<EOF
PG_PORT=$PORT
PG_URI=postgresql://mailvet@127.0.0.1:$PORT/mailvet
PG_DIR=$DIR
PG_LOG=$DIR/postgres.log
PG_BINDIR=$PG_BINDIR
PG_USER=$PG_USER
EOF
log "postgres on 127.0.0.1:$PORT as $PG_USER (pid $(head -n 1 "$DIR/data/postmaster.pid"))"
