#!/bin/sh
# with-pg.sh ENVFILE COMMAND [ARGS...]
#
# Run COMMAND ARGS... with the test server's URI (PG_URI from the env
# file that start-pg.sh wrote) as one more, last, argument: the store
# tests take their store as their last argument.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 ENVFILE COMMAND [ARGS...]" >&2; exit 2; }
env=$1
shift
[ -r "$env" ] || { echo "with-pg: $env: no server (pg/start failed?)" >&2; exit 1; }
PG_URI=$(sed -n 's/^PG_URI=//p' "$env")
exec "$@" "$PG_URI"
