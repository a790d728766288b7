#!/usr/bin/env bash
# stop-pg.sh DIR
#
# Stop the server that start-pg.sh started for DIR, by the PID in
# DIR/data/postmaster.pid only (never by name): pg_ctl stop -m fast, run
# as the owner of DIR/data (pg_ctl refuses root); when that fails, SIGINT
# (the postmaster's own "fast shutdown") to that PID, then SIGQUIT.  The
# PID is only signalled while /proc/PID/cmdline names DIR, so a stale
# pidfile whose PID was reused is left alone.  Fine when DIR, the
# pidfile or the server is already gone.  Exit 1 only when it survived.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
[ -d "$DIR" ] || exit 0
DIR=$(cd "$DIR" && pwd)
PIDFILE=$DIR/data/postmaster.pid
[ -f "$PIDFILE" ] || exit 0
pid=$(head -n 1 "$PIDFILE" 2>/dev/null | tr -dc '0-9')

gone() {  # true when PID does not run (a zombie counts as gone)
  ! kill -0 "$1" 2>/dev/null && return 0
  grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null
}
ours() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$DIR/"; }

if [ -z "$pid" ] || gone "$pid"; then
  exit 0
fi
if ! ours "$pid"; then
  echo "stop-pg: pid $pid does not belong to $DIR; not touched" >&2
  exit 0
fi

BINDIR=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
AS=()
if [ "$(id -u)" = 0 ]; then
  AS=(runuser -u "$(stat -c %U "$DIR/data")" --)
fi
"${AS[@]}" "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop \
  >/dev/null 2>&1 || true

for sig in INT QUIT KILL; do
  gone "$pid" && break
  ours "$pid" || break
  echo "stop-pg: pid $pid still runs; SIG$sig" >&2
  kill -"$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    gone "$pid" && break
    sleep 0.1
  done
done
if ! gone "$pid"; then
  echo "stop-pg: postgres (pid $pid) survived" >&2
  exit 1
fi
echo "stop-pg: stopped postgres (pid $pid)" >&2
rm -f "$DIR/env"
exit 0
