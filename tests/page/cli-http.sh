#!/bin/sh
# `cmboot flash --boards N --http`: the real binary serves the page, /api/status, /events, answers 405 to
# writes, binds loopback by default and says so when told to listen elsewhere; SIGTERM ends it with a stream open.
set -eu
cmboot=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/cli-http.XXXXXX")
pid=
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "cli-http: FAIL: $*" >&2
  [ ! -f "$work/err" ] || sed 's/^/  stderr: /' "$work/err" >&2
  exit 1
}
mkdir -p "$work/sys/bus/usb/devices" "$work/dev" "$work/boot"
head -c 65536 /dev/zero >"$work/image.bin"
for f in bootcode.bin bootcode4.bin start.elf start4.elf; do head -c 4096 /dev/zero >"$work/boot/$f"; done

# Runs cmboot flash with --http $1 and --records ${2:-off} (no board ever comes: the fake /sys is empty) until
# its page line shows.
start() {
  CMBOOT_SYS_ROOT=$work/sys CMBOOT_DEV_ROOT=$work/dev "$cmboot" flash --boards 2 --records "${2:-off}" -d "$work/boot" \
    --http "$1" "$work/image.bin" >"$work/out" 2>"$work/err" &
  pid=$!
  i=0
  until grep -q '^Status page: http://' "$work/err"; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "no 'Status page:' line"
    kill -0 "$pid" 2>/dev/null || fail "cmboot flash --http $1 ended early"
    sleep 0.1
  done
  url=$(sed -n 's/^Status page: \(http:[^ ]*\)$/\1/p' "$work/err")
}

stop() {
  kill -TERM "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "cmboot did not end within 10 s of SIGTERM"
    sleep 0.1
  done
  wait "$pid" || true
  pid=
}

start 0
case $url in http://127.0.0.1:[1-9]*/) ;; *) fail "default bind: $url" ;; esac
! grep -q 'not only on this host' "$work/err" || fail "loopback reported as listening elsewhere"
code=$(curl -s -o "$work/page" -w '%{http_code}' "$url")
[ "$code" = 200 ] || fail "GET /: $code"
grep -q 'new EventSource("/events")' "$work/page" || fail "the page has no event stream"
curl -s "${url}api/status" >"$work/status"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["rows"] == [] and s["counts"]["done"] == 0, s' \
  "$work/status" || fail "/api/status: $(cat "$work/status")"
for m in POST PUT DELETE; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "$m" -d '{}' "${url}api/status")
  [ "$code" = 405 ] || fail "$m /api/status: $code (expected 405)"
done
# an event stream stays open while the process is stopped
curl -s -N "${url}events" >"$work/events" &
cpid=$!
i=0
until grep -q '^data: {' "$work/events"; do
  i=$((i + 1))
  [ $i -lt 100 ] || fail "no event on /events"
  sleep 0.1
done
stop
wait "$cpid" || true

start 0.0.0.0:0
i=0
until grep -q 'listens on 0.0.0.0, not only on this host' "$work/err"; do # printed just after the page's line
  i=$((i + 1))
  [ $i -lt 100 ] || fail "no line saying the page listens elsewhere"
  sleep 0.1
done
stop

# with a records store: the page says so and takes the day's counts from it
start 127.0.0.1:0 "$work/records.db"
curl -s "${url}api/status" >"$work/status"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["records_configured"] and s["counts"]["day_source"] == "records", s' \
  "$work/status" || fail "/api/status with --records: $(cat "$work/status")"
stop

if CMBOOT_SYS_ROOT=$work/sys "$cmboot" flash --http 127.0.0.1:80 "$work/image.bin" 2>"$work/err"; then
  fail "--http without --boards/--loop was accepted"
fi
grep -q -- '--http needs --boards or --loop' "$work/err" || fail "no usage line for --http alone"
if "$cmboot" flash --boards 1 --http example.org:80 "$work/image.bin" 2>"$work/err"; then
  fail "--http with a host name was accepted"
fi
grep -q 'is not an IP address' "$work/err" || fail "no reason for a bad --http"
echo "cli-http: ok"
