#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the PostgreSQL tests (and for trying
# `serve --store postgres://...` by hand): a fresh data directory in a temp dir,
# listening on 127.0.0.1 only, on a free port, with trust authentication.
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # exports SWARMDESK_TEST_POSTGRES and
#                                                # SWARMDESK_PG_CLUSTER (its directory)
#   cargo test --test integration store::conformance
#   scripts/pg-test-cluster.sh stop "$SWARMDESK_PG_CLUSTER"   # stops it, removes the dir
#
# `start` prints the two `export` lines on stdout (everything else goes to stderr).
# PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres`
# user (Debian's package creates it), or as a `swarmdesk-pg` system user created
# here if there is none. Needs initdb and pg_ctl on PATH or in
# /usr/lib/postgresql/*/bin (Debian: `apt-get install postgresql`).
set -euo pipefail

say() { echo "pg-test-cluster: $*" >&2; }

find_bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] || { say "$1 not found (install PostgreSQL: apt-get install postgresql)"; exit 1; }
  echo "$found"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$OWNER" -- "$@"
  else
    "$@"
  fi
}

pick_owner() {
  OWNER=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then
      OWNER=postgres
    else
      id swarmdesk-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin swarmdesk-pg
      OWNER=swarmdesk-pg
    fi
  fi
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local initdb pg_ctl dir port
  initdb=$(find_bin initdb)
  pg_ctl=$(find_bin pg_ctl)
  pick_owner
  dir=$(mktemp -d "${TMPDIR:-/tmp}/swarmdesk-pg.XXXXXX")
  chmod 755 "$dir"
  chown "$OWNER" "$dir"
  as_owner "$initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # A free port: the first one nothing answers on, from a random start; if the
  # server still cannot bind it (a race), try the next one.
  port=$((20000 + RANDOM % 20000))
  for _ in $(seq 1 50); do
    if port_free "$port" && as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=400 -c shared_buffers=64MB" \
        >/dev/null 2>&1; then
      say "PostgreSQL on 127.0.0.1:$port (data in $dir/data, log in $dir/server.log)"
      echo "export SWARMDESK_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres"
      echo "export SWARMDESK_PG_CLUSTER=$dir"
      return
    fi
    port=$((port + 1))
  done
  say "could not start PostgreSQL; its log:"
  cat "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  local dir=${1:?usage: pg-test-cluster.sh stop DIR}
  [ -d "$dir/data" ] || { say "no cluster in $dir"; exit 1; }
  pick_owner
  as_owner "$(find_bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
