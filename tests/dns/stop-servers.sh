#!/usr/bin/env bash
# stop-servers.sh DIR
#
# Stop the servers that start-servers.sh started for DIR, by the PIDs in
# DIR's pidfiles only (never by name): SIGTERM, up to 5 s for the process
# to go, then SIGKILL.  A PID is only signalled when /proc/PID/cmdline
# names DIR (its config file or pidfile is in DIR), so a stale pidfile
# whose PID was reused by another process is left alone.  Fine when DIR,
# a pidfile or the process is already gone.  Exit 1 only when a process
# survived SIGKILL.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
[ -d "$DIR" ] || exit 0
DIR=$(cd "$DIR" && pwd)

gone() {  # true when PID does not run (a zombie counts as gone)
  ! kill -0 "$1" 2>/dev/null && return 0
  grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

rc=0
for name in unbound nsd faultdns blackhole; do
  pidfile="$DIR/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(head -n 1 "$pidfile" 2>/dev/null | tr -dc '0-9')
  if [ -z "$pid" ] || gone "$pid"; then
    rm -f "$pidfile"
    continue
  fi
  if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$DIR/"; then
    echo "stop-servers: $name: pid $pid does not belong to $DIR; not touched" >&2
    rm -f "$pidfile"
    continue
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    gone "$pid" && break
    sleep 0.1
  done
  if ! gone "$pid"; then
    echo "stop-servers: $name (pid $pid) ignored SIGTERM; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 20); do
      gone "$pid" && break
      sleep 0.1
    done
    if ! gone "$pid"; then
      echo "stop-servers: $name (pid $pid) survived SIGKILL" >&2
      rc=1
      continue
    fi
  fi
  rm -f "$pidfile"
  echo "stop-servers: stopped $name (pid $pid)" >&2
done
rm -f "$DIR/blackhole.port" "$DIR/faultdns.port" "$DIR/env"
exit $rc
