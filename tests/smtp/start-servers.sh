#!/usr/bin/env bash
# start-servers.sh DIR [--greylist-delay N]
#
# Start the SMTP test servers, all with their state in DIR, all on ONE
# port (SMTP_PORT) of different addresses in 127.77.0.0/24
# (smtphosts.py, README.md):
#   Postfix    one smtpd listener per behaviour (ok, catchall, greylist,
#              busy, ratelimit, noutf8, strict, multimx, bench01-20)
#   postgrey   the greylisting policy server (127.0.0.1:POSTGREY_PORT)
#   faultsmtp  scripted faults, one address per scenario
# then write DIR/env (KEY=VALUE lines, no quoting, shell-sourceable).
#
# Needs root: Postfix's master starts as root and its daemons run as the
# Debian user postfix (postgrey as postgrey); nothing of the system's
# Postfix (/etc/postfix, /var/spool/postfix) is used or touched.  Those
# users must be able to reach DIR; when they cannot (DIR under /root,
# say) the queue and databases go into a mktemp folder in /tmp, linked
# as DIR/run, which stop-servers.sh removes.
#
# The port is a random one in 20000-32767 that is free on every address
# (checked by binding the wildcard address); servers that run already for
# DIR are stopped first (by the PIDs in DIR's pidfiles), so running this
# twice leaves one fresh set.  Fails loudly, with the server's log, when a
# server does not answer within 10 s, after three attempts with new ports.
# Environment: PYTHON (default /usr/bin/python3, else python3),
# MAILVET_SMTP_START_TIMEOUT (default 10 seconds per server),
# MAILVET_GREYLIST_DELAY (default 2 seconds; --greylist-delay wins).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { echo "usage: $0 DIR [--greylist-delay N]" >&2; exit 2; }

[ $# -ge 1 ] || usage
DIR=$1; shift
GREYLIST_DELAY=${MAILVET_GREYLIST_DELAY:-2}
while [ $# -gt 0 ]; do
  case $1 in
    --greylist-delay) [ $# -ge 2 ] || usage; GREYLIST_DELAY=$2; shift 2 ;;
    --greylist-delay=*) GREYLIST_DELAY=${1#--greylist-delay=}; shift ;;
    *) usage ;;
  esac
done
case $GREYLIST_DELAY in
  '' | 0 | *[!0-9]*)
    echo "start-servers: --greylist-delay wants a number > 0" >&2; exit 2 ;;
esac
case $DIR in
  *[[:space:]\'\"\\\$\`]*)
    echo "start-servers: DIR must not contain spaces, quotes, \\, \$ or \`: $DIR" >&2
    exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "start-servers: must run as root (Postfix's master starts as root)" >&2
  exit 2
fi

if [ -z "${PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
TIMEOUT=${MAILVET_SMTP_START_TIMEOUT:-10}
SLOW_BANNER=3
HOLD_SECONDS=60

find_bin() {
  local b
  for b in "$(command -v "$1" 2>/dev/null || true)" "/usr/sbin/$1" "/usr/bin/$1"; do
    if [ -n "$b" ] && [ -x "$b" ]; then echo "$b"; return 0; fi
  done
  echo "start-servers: $1 not found (Debian package: $2; scripts/setup installs it)" >&2
  return 1
}
POSTFIX=$(find_bin postfix postfix)
POSTGREY=$(find_bin postgrey postgrey)
OPENSSL=$(find_bin openssl openssl)
POSTCONF=$(find_bin postconf postfix)
meta=$("$POSTCONF" -d -h meta_directory 2>/dev/null || true)
POSTFIX_FILES=${meta:-/etc/postfix}/postfix-files
for u in postfix postgrey; do
  id "$u" >/dev/null 2>&1 ||
    { echo "start-servers: no user $u (Debian package $u makes it)" >&2; exit 2; }
done

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# Leftovers of an earlier run in DIR: stop them by their pidfiles.
"$HERE/stop-servers.sh" "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR/env" "$DIR"/*.log "$DIR"/*.stderr "$DIR/run" "$DIR/conf" "$DIR/tls"

log() { echo "start-servers: $*" >&2; }
net() { "$PYTHON" "$HERE/smtpnet.py" "$@"; }
hosts() { "$PYTHON" "$HERE/smtphosts.py" "$@"; }

# ---------------------------------------------------------------- state
# Queue, data and greylist database: where the postfix and postgrey
# users can get to.
reachable() { runuser -u "$1" -- test -x "$2" 2>/dev/null; }
if reachable postfix "$DIR" && reachable postgrey "$DIR"; then
  mkdir "$DIR/run"
  RUN=$DIR/run
else
  RUN=$(mktemp -d /tmp/mailvet-smtp.XXXXXX)
  chmod 755 "$RUN"
  ln -s "$RUN" "$DIR/run"
  log "postfix/postgrey cannot reach $DIR; state in $RUN (DIR/run)"
fi
mkdir "$RUN/postgrey"
chown postgrey:postgrey "$RUN/postgrey"
chmod 700 "$RUN/postgrey"
: >"$DIR/postgrey-whitelist"

# A self-signed certificate for STARTTLS.
mkdir -m 700 "$DIR/tls"
san=$(hosts --tls-names)
"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" -days 30 \
  -subj "/CN=mx.smtp.mvtest" -addext "subjectAltName=$san" \
  >"$DIR/tls/openssl.stderr" 2>&1 ||
  { cat "$DIR/tls/openssl.stderr" >&2; exit 1; }

mapfile -t LISTEN < <(hosts --addresses)
mapfile -t POSTFIX_ADDRS < <(hosts --postfix-addresses)
mapfile -t FAULT_ADDRS < <(hosts --fault-addresses)
mapfile -t DEAD < <(hosts --dead)
OK_ADDR=$(hosts --env | sed -n 's/^SMTP_IP_OK=//p')

pid_of() { head -n 1 "$1" 2>/dev/null | tr -dc '0-9' || true; }
alive() {
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    ! grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null
}
at_port() { local a; for a in "$@"; do printf '%s:%s ' "$a" "$PORT"; done; }

fail_with_logs() {
  local what=$1 f
  shift
  log "$what did not come up on port $PORT (waited up to ${TIMEOUT}s); its output:"
  for f in "$@"; do
    if [ -s "$f" ]; then echo "----- $f" >&2; tail -n 40 "$f" >&2; fi
  done
}

# start_all runs in an `if`, where set -e does not apply: every step
# that can fail says so.
start_all() {
  PORT=$(net pick-port "${LISTEN[@]}" "${DEAD[@]}") || return 1
  POSTGREY_PORT=$(net pick-port --not "$PORT" 127.0.0.1) || return 1
  POSTFIX_PIDFILE=$DIR/run/queue/pid/master.pid
  rm -f "$POSTFIX_PIDFILE"

  # The queue folders as Postfix's postfix-files lists them, made here
  # (then a quick start: `postfix start`'s own checks take seconds).
  local make_dirs=()
  if [ -f "$POSTFIX_FILES" ]; then make_dirs=(--make-dirs "$POSTFIX_FILES"); fi
  "$PYTHON" "$HERE/gen-postfix.py" --conf "$DIR/conf" --queue "$RUN/queue" \
    --data "$RUN/data" --log "$DIR/postfix.log" --tls "$DIR/tls" \
    --port "$PORT" --greylist-port "$POSTGREY_PORT" "${make_dirs[@]}" ||
    return 1
  if [ -f "$POSTFIX_FILES" ]; then
    touch "$RUN/queue/quick-start"
  else
    mkdir -p "$RUN/queue" "$RUN/data"
    chown postfix "$RUN/data"
  fi

  # postgrey in the foreground of its own session (logs on stderr); the
  # shell writes its own PID, which exec hands to postgrey.
  # shellcheck disable=SC2016
  setsid sh -c 'echo $$ >"$0"; exec "$@"' "$DIR/postgrey.pid" \
    "$POSTGREY" --inet="127.0.0.1:$POSTGREY_PORT" --dbdir="$RUN/postgrey" \
    --delay="$GREYLIST_DELAY" --greylist-action=450 \
    "--greylist-text=4.2.0 Greylisted, retry in %s seconds" \
    --auto-whitelist-clients=0 \
    --whitelist-clients="$DIR/postgrey-whitelist" \
    --whitelist-recipients="$DIR/postgrey-whitelist" \
    --user=postgrey --group=postgrey \
    </dev/null >>"$DIR/postgrey.log" 2>&1 &
  # The fault server: own session, no inherited stdio (ctest waits for
  # the pipes of its test to close), pidfile written once bound.
  setsid "$PYTHON" "$HERE/faultsmtp.py" --port "$PORT" \
    --pidfile "$DIR/faultsmtp.pid" --slow-seconds "$SLOW_BANNER" \
    --hold-seconds "$HOLD_SECONDS" \
    </dev/null >>"$DIR/faultsmtp.log" 2>&1 &
  # Postfix: postfix-script checks the configuration, creates the queue
  # folders, and starts master, which daemonises.
  "$POSTFIX" -c "$DIR/conf" start </dev/null >"$DIR/postfix.stderr" 2>&1 || true

  local t0=$SECONDS
  # shellcheck disable=SC2046
  { net wait-connect --timeout "$TIMEOUT" --pidfile "$DIR/postgrey.pid" \
      "127.0.0.1:$POSTGREY_PORT" && alive "$DIR/postgrey.pid"; } ||
    { fail_with_logs postgrey "$DIR/postgrey.log"; return 1; }
  # shellcheck disable=SC2046
  { net wait-listen --timeout "$TIMEOUT" --pidfile "$DIR/faultsmtp.pid" \
      $(at_port "${FAULT_ADDRS[@]}") && alive "$DIR/faultsmtp.pid"; } ||
    { fail_with_logs faultsmtp "$DIR/faultsmtp.log"; return 1; }
  # Listening everywhere, then a banner from the ok listener: smtpd
  # runs.  (No connection to ratelimit: it would count.)
  # shellcheck disable=SC2046
  { net wait-listen --timeout "$TIMEOUT" --pidfile "$POSTFIX_PIDFILE" \
      $(at_port "${POSTFIX_ADDRS[@]}") &&
    net wait-banner --timeout "$TIMEOUT" "$OK_ADDR:$PORT" &&
    alive "$POSTFIX_PIDFILE"; } ||
    { fail_with_logs postfix "$DIR/postfix.stderr" "$DIR/postfix.log"; return 1; }
  # shellcheck disable=SC2046
  net refused $(at_port "${DEAD[@]}") ||
    { log "something listens on port $PORT of a dead address"; return 1; }
  log "all up in $((SECONDS - t0))s: port=$PORT postgrey=$POSTGREY_PORT" \
      "greylist-delay=${GREYLIST_DELAY}s dir=$DIR"
}

ok=0
for attempt in 1 2 3; do
  if start_all; then ok=1; break; fi
  "$HERE/stop-servers.sh" "$DIR" >/dev/null 2>&1 || true
  [ $attempt = 3 ] || log "attempt $attempt failed; retrying with new ports"
done
if [ $ok != 1 ]; then
  log "giving up"
  exit 1
fi

{
  echo "# written by tests/smtp/start-servers.sh; KEY=VALUE, no quoting"
  echo "SMTP_DIR=$DIR"
  echo "SMTP_PORT=$PORT"
  echo "SMTP_NET=127.77.0.0/24"
  echo "POSTFIX_CONF_DIR=$DIR/conf"
  echo "POSTFIX_QUEUE_DIR=$RUN/queue"
  echo "POSTFIX_LOG=$DIR/postfix.log"
  echo "POSTFIX_PIDFILE=$POSTFIX_PIDFILE"
  echo "POSTGREY_PORT=$POSTGREY_PORT"
  echo "POSTGREY_LOG=$DIR/postgrey.log"
  echo "POSTGREY_PIDFILE=$DIR/postgrey.pid"
  echo "GREYLIST_DELAY=$GREYLIST_DELAY"
  echo "FAULTSMTP_LOG=$DIR/faultsmtp.log"
  echo "FAULTSMTP_PIDFILE=$DIR/faultsmtp.pid"
  echo "SMTP_SLOW_BANNER=$SLOW_BANNER"
  echo "SMTP_HOLD_SECONDS=$HOLD_SECONDS"
  echo "SMTP_TLS_CERT=$DIR/tls/cert.pem"
  hosts --env
} >"$DIR/env.tmp"
mv "$DIR/env.tmp" "$DIR/env"
echo "$DIR/env"
