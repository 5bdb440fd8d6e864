#!/usr/bin/env bash
# Records against a real PostgreSQL: initdb in a temp dir, a server on a loopback port (as an unprivileged user
# when run as root), migrations (new and v1 databases), two concurrent writers, the server killed mid-run and
# restarted (queued records arrive exactly once), the outbox sent at the next start. The server is stopped at
# the end whatever happens.
set -euo pipefail
writer=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
bindir=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  fail "PostgreSQL server binaries not found (scripts/deps.sh installs postgresql)"
fi
command -v psql >/dev/null || fail "psql not found (postgresql-client)"
tmp=$(mktemp -d /tmp/cmboot-pg.XXXXXX)
chmod 755 "$tmp"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  as_pg=(runuser -u nobody --)
  chown nobody "$tmp"
fi
pgdo() { "${as_pg[@]}" "$@"; }
data=$tmp/data
sock=$tmp
stop_server() { pgdo "$bindir/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true; }
cleanup() { stop_server; rm -rf "$tmp"; }
trap cleanup EXIT
pgdo "$bindir/initdb" -D "$data" -U cmboot --auth=trust -E UTF8 >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; fail initdb; }
port=""
start_server() {
  pgdo "$bindir/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 \
    -o "-p $1 -k $sock -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
}
for try in 1 2 3 4 5; do
  p=$((20000 + (RANDOM % 20000)))
  if start_server "$p"; then port=$p; break; fi
  echo "port $p busy? (try $try)" >&2
done
[ -n "$port" ] || { cat "$tmp/server.log" >&2; fail "could not start PostgreSQL"; }
url="postgresql://cmboot@127.0.0.1:$port/postgres"
sql() { psql -X -q -t -A -h 127.0.0.1 -p "$port" -U cmboot -d "${2:-postgres}" -c "$1"; }
work=$tmp/work
mkdir -p "$work"

echo "== migrations: a new database"
read -r have current < <("$writer" schema "$url" "$work/a.db")
[ "$have" = "$current" ] || fail "schema $have, expected $current"
[ "$(sql "SELECT version FROM schema_version")" = "$current" ] || fail "schema_version table"

echo "== migrations: a database as version 1 left it"
sql "CREATE DATABASE v1db" >/dev/null
sql "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
     CREATE TABLE records (attempt_id TEXT PRIMARY KEY, finished_ms BIGINT NOT NULL, station TEXT, port_path TEXT,
       serial TEXT, soc TEXT, metadata_json TEXT, image TEXT, image_size BIGINT, image_sha256 TEXT, bmap TEXT,
       bytes_written BIGINT, boot_ms BIGINT, pair_ms BIGINT, check_ms BIGINT, write_ms BIGINT, sync_ms BIGINT,
       verify_ms BIGINT, result TEXT NOT NULL, error TEXT, report_json TEXT);
     INSERT INTO records (attempt_id, finished_ms, serial, result) VALUES ('old-1', 5, 'old', 'ok')" v1db >/dev/null
v1url="postgresql://cmboot@127.0.0.1:$port/v1db"
out=$("$writer" add "$v1url" "$work/v1.db" 3 v1new)
[ "$out" = "pending 0" ] || fail "v1 writer: $out"
[ "$(sql "SELECT version FROM schema_version" v1db)" = "$current" ] || fail "v1 database not migrated"
[ "$(sql "SELECT COUNT(*) FROM records" v1db)" = 4 ] || fail "v1 database rows"
[ "$(sql "SELECT COUNT(*) FROM records WHERE mac IS NULL" v1db)" = 4 ] || fail "v1 database: mac column"
[ "$("$writer" count "$v1url" "$work/v1.db" old)" = 1 ] || fail "query through the store"

echo "== two processes writing 200 records each at once"
"$writer" add "$url" "$work/p1.db" 200 p1 >"$work/p1.out" &
w1=$!
"$writer" add "$url" "$work/p2.db" 200 p2 >"$work/p2.out" &
w2=$!
wait "$w1" || fail "writer 1"
wait "$w2" || fail "writer 2"
[ "$(cat "$work/p1.out" "$work/p2.out")" = "$(printf 'pending 0\npending 0')" ] || fail "writers left records queued"
[ "$(sql "SELECT COUNT(*), COUNT(DISTINCT attempt_id), COUNT(DISTINCT serial) FROM records WHERE station IN ('p1','p2')")" = "400|400|400" ] ||
  fail "concurrent writers: $(sql "SELECT COUNT(*) FROM records")"

echo "== the same attempts from two stations: stored once (ON CONFLICT)"
"$writer" add "$url" "$work/f1.db" 50 fx --fixed-ids >/dev/null
"$writer" add "$url" "$work/f2.db" 50 fx --fixed-ids >/dev/null
[ "$(sql "SELECT COUNT(*) FROM records WHERE station = 'fx'")" = 50 ] || fail "fixed ids duplicated"

echo "== the server killed mid-run and restarted"
rv=$tmp/rv
mkdir -p "$rv"
"$writer" add "$url" "$work/k.db" 300 kill --pause-at 100 "$rv" --flush-deadline 60 >"$work/k.out" 2>"$work/k.err" &
wk=$!
wait_for() { for _ in $(seq 600); do [ -e "$1" ] && return 0; kill -0 "$wk" 2>/dev/null || fail "writer died"; sleep 0.1; done; fail "timeout waiting for $1"; }
wait_for "$rv/paused.reached"
stop_server # -m immediate: a crash, not a clean shutdown
touch "$rv/paused.go"
wait_for "$rv/written.reached"
[ "$(sql "SELECT COUNT(*) FROM records WHERE station = 'kill'" 2>/dev/null || echo down)" = down ] || fail "server still up"
start_server "$port" || { cat "$tmp/server.log" >&2; fail "restart"; }
touch "$rv/written.go"
wait "$wk" || { cat "$work/k.err" >&2; fail "kill writer"; }
[ "$(cat "$work/k.out")" = "pending 0" ] || fail "after the restart: $(cat "$work/k.out")"
grep -q "unreachable" "$work/k.err" || fail "the lost connection was not logged"
[ "$(sql "SELECT COUNT(*), COUNT(DISTINCT attempt_id) FROM records WHERE station = 'kill'")" = "300|300" ] ||
  fail "after the restart: $(sql "SELECT COUNT(*) FROM records WHERE station = 'kill'")"

echo "== queued while the server is down, sent at the next start"
stop_server
out=$("$writer" add "$url" "$work/n.db" 20 next --flush-deadline 0 2>/dev/null)
[ "$out" = "pending 20" ] || fail "offline writer: $out"
start_server "$port" || fail "restart 2"
out=$("$writer" add "$url" "$work/n.db" 0 next)
[ "$out" = "pending 0" ] || fail "next start: $out"
[ "$(sql "SELECT COUNT(*) FROM records WHERE station = 'next'")" = 20 ] || fail "outbox not sent at the next start"
echo "records.postgresql: all checks passed"
