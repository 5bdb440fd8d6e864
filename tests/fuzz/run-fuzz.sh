#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on a copy of its seed corpus (CTest label "fuzz").
# Usage: run-fuzz.sh TARGET_BINARY SEED_DIR WORK_DIR SECONDS [extra libFuzzer flags]
# Seeds named crash-* are reproducers of known, unfixed crashes: left out, so the run checks everything else.
# New inputs land in WORK_DIR/corpus, crashes in WORK_DIR/artifacts; the source tree is never written.
set -euo pipefail
bin=$1 seeds=$2 work=$3 secs=$4
shift 4
[ -x "$bin" ] || { echo "run-fuzz: no fuzz binary $bin" >&2; exit 1; }
[ -d "$seeds" ] || { echo "run-fuzz: no seed corpus $seeds" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
bin=$(realpath "$bin") seeds=$(realpath "$seeds") work=$(realpath "$work") # the run happens in $work
n=0
for f in "$seeds"/*; do
  [ -f "$f" ] || continue
  case $(basename "$f") in crash-*) continue ;; esac
  cp "$f" "$work/corpus/"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "run-fuzz: seed corpus $seeds is empty" >&2; exit 1; }
dict=$(dirname "$seeds")/../dict/$(basename "$seeds").dict
extra=()
[ -f "$dict" ] && extra+=("-dict=$dict")
# UBSan findings abort like ASan's: a report that only prints would pass the test.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
cd "$work"
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "${extra[@]}" "$@" "$work/corpus"
