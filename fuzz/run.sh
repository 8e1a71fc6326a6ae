#!/usr/bin/env bash
# fuzz/run.sh TARGET... -- fuzzes each target for FUZZ_SECONDS (default 60),
# one after the other, and prints a summary (runs, exec/s, cov, ft, corpus).
# `make fuzz` runs it on every target once they are built.
#
# Starts from the committed seeds (fuzz/corpus/<t>, fuzz/regressions/<t>,
# read only) plus what earlier runs found (build/fuzz/corpus/<t>, where new
# inputs go). Crashes go to build/fuzz/artifacts/<t>/; the summary says how
# to reproduce one. FUZZ_ARGS adds libFuzzer flags (e.g. -jobs=2).
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
FB=$B/fuzz
S=${FUZZ_SECONDS:-60}

# Leaks are checked after each input (libFuzzer); the check at exit is off,
# since with fast unwinding GLib's load-time allocations would count.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0:leak_check_at_exit=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

summary=()
crashed=0
for t in "$@"; do
  bin=$FB/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz: $bin is not built (make fuzz-build)" >&2; exit 1; }
  work=$FB/corpus/$t art=$FB/artifacts/$t/ log=$FB/logs/$t.log
  mkdir -p "$work" "$art" "$(dirname "$log")"
  dirs=("$work" "fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  echo "=== fuzz $t for ${S}s"
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$S" -timeout=10 -rss_limit_mb=4096 -close_fd_mask=2 \
    -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" ${FUZZ_ARGS:-} "${dirs[@]}" \
    </dev/null >"$log" 2>&1
  rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+' "$log" | tail -1)
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  line=$(printf '%-12s %-6s runs=%-9s %s' "$t" "$([ $rc -eq 0 ] && echo ok || echo CRASH)" \
    "${runs:-?}" "$(echo "$done_line" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+|exec/s: [0-9]+' | tr '\n' ' ')")
  summary+=("$line")
  if [ $rc -ne 0 ]; then
    crashed=$((crashed + 1))
    grep -E 'ERROR|SUMMARY|fuzz check failed|Test unit written' "$log" | head -5
    echo "  reproduce: $bin $(ls -t "$art" | head -1 | sed "s|^|$art|")"
    echo "  once fixed, keep it: cp that file fuzz/regressions/$t/<what-it-was>"
  fi
done
echo
echo "fuzz summary (${S}s per target; logs in $FB/logs/):"
printf '  %s\n' "${summary[@]}"
[ "$crashed" -eq 0 ]
