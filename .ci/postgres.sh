#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 (Debian's `postgresql` package, installed if missing and we
# are root) for the shared-storage test. Prints the database URL on stdout; `stop` as $1 stops it again.
set -euo pipefail
pointer=/tmp/runner-ci-postgres.path
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
if [ "${1:-}" = stop ]; then
  if [ -f "$pointer" ]; then
    state=$(cat "$pointer")
    as_pg "$(cat "$state/bin")/pg_ctl -D $state/data -m fast stop" >/dev/null 2>&1 || true
    rm -rf "$state" "$pointer"
  fi
  exit 0
fi
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin=$(find_bin)
if [ -z "$bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq postgresql || { apt-get update -qq && apt-get install -y -qq postgresql; }; } >/dev/null 2>&1 || true
  bin=$(find_bin)
fi
[ -n "$bin" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
state=$(mktemp -d /tmp/runner-ci-postgres.XXXXXX)
echo "$bin" > "$state/bin"
echo "$state" > "$pointer"
[ "$(id -u)" = 0 ] && chown -R postgres "$state"
as_pg "$bin/initdb -D $state/data -A trust -U postgres" >/dev/null
as_pg "$bin/pg_ctl -D $state/data -o '-p $port -k $state -c listen_addresses=127.0.0.1' -l $state/log -w start" >/dev/null
as_pg "$bin/createdb -h 127.0.0.1 -p $port -U postgres runner_test"
echo "postgresql://postgres@127.0.0.1:$port/runner_test"
