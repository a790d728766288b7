#!/usr/bin/env bash
# stop-servers.sh DIR
#
# Stop the servers that start-servers.sh started for DIR, by the PIDs in
# their pidfiles only (never by name): SIGTERM, up to 5 s for the process
# to go, then SIGKILL.  Postfix's master, on SIGTERM, stops its own
# daemons (they share its process group); after a SIGKILL the rest of
# that group is killed by its ID.  A PID is only signalled when it
# belongs to DIR: its command line names DIR (postgrey, faultsmtp.py),
# or, for master, its environment has MAIL_CONFIG=DIR/conf; so a stale
# pidfile whose PID was reused by another process is left alone.  Then
# the state folder in /tmp, if start-servers.sh had to use one (DIR/run
# a link to /tmp/mailvet-smtp.*), is removed.  Fine when DIR, a pidfile
# or the process is already gone.  Exit 1 only when a process survived
# SIGKILL.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
[ -d "$DIR" ] || exit 0
DIR=$(cd "$DIR" && pwd)

gone() {  # true when PID does not run (a zombie counts as gone)
  ! kill -0 "$1" 2>/dev/null && return 0
  grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

ours() {  # ours NAME PID
  if [ "$1" = postfix ]; then
    tr '\0' '\n' <"/proc/$2/environ" 2>/dev/null |
      grep -qxF "MAIL_CONFIG=$DIR/conf"
  else
    tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null | grep -qF "$DIR/"
  fi
}

wait_gone() {  # wait_gone PID TENTHS
  local i
  for ((i = 0; i < $2; i++)); do
    gone "$1" && return 0
    sleep 0.1
  done
  gone "$1"
}

rc=0
stop_one() {  # stop_one NAME PIDFILE
  local name=$1 pidfile=$2 pid pgid
  [ -f "$pidfile" ] || return 0
  pid=$(head -n 1 "$pidfile" 2>/dev/null | tr -dc '0-9')
  if [ -z "$pid" ] || gone "$pid"; then
    rm -f "$pidfile"
    return 0
  fi
  if ! ours "$name" "$pid"; then
    echo "stop-servers: $name: pid $pid does not belong to $DIR; not touched" >&2
    rm -f "$pidfile"
    return 0
  fi
  pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -dc '0-9')
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" 50; then
    echo "stop-servers: $name (pid $pid) ignored SIGTERM; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    # master's daemons: its process group (master leads it).
    if [ "$name" = postfix ] && [ "$pgid" = "$pid" ]; then
      kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
    if ! wait_gone "$pid" 20; then
      echo "stop-servers: $name (pid $pid) survived SIGKILL" >&2
      rc=1
      return 0
    fi
  fi
  rm -f "$pidfile"
  echo "stop-servers: stopped $name (pid $pid)" >&2
}

stop_one postfix "$DIR/run/queue/pid/master.pid"
stop_one postgrey "$DIR/postgrey.pid"
stop_one faultsmtp "$DIR/faultsmtp.pid"

# The state folder in /tmp, when DIR/run links there.
if [ -L "$DIR/run" ]; then
  real=$(readlink "$DIR/run")
  case $real in
    /tmp/mailvet-smtp.*) [ $rc != 0 ] || rm -rf "$real" ;;
  esac
  [ $rc != 0 ] || rm -f "$DIR/run"
fi
rm -f "$DIR/env"
exit $rc
