#!/usr/bin/env bash
# fuzz/replay.sh -- runs every committed fuzz input once through its target,
# without mutating: fuzz/corpus/<target>/ and fuzz/regressions/<target>/.
# A step of `make test` (tests/run_all.sh). Builds the targets first (a
# no-op when they are up to date). Fails, loudly, when clang or libFuzzer is
# missing, when a target has no corpus, or when any input crashes, leaks,
# times out or trips a sanitizer; the log of a failing target is printed.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
FB=$B/fuzz

fail() { echo "fuzz replay: FAILED: $*" >&2; exit 1; }

command -v clang >/dev/null 2>&1 || fail "clang is not installed (scripts/deps.sh installs it: make deps)"
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
  clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1 ||
  fail "clang cannot link -fsanitize=fuzzer (libFuzzer missing: libclang-rt-dev, installed by make deps)"
make -s --no-print-directory fuzz-build || fail "the fuzz targets do not build"

targets=()
for src in fuzz/fuzz_*.c; do
  t=${src#fuzz/fuzz_}; t=${t%.c}
  [ "$t" = common ] || [ "$t" = server ] || targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || fail "no fuzz targets in fuzz/"

# As tests/run_all.sh: leaks checked with full stacks, so the suppressions
# of tests/lsan.supp (GLib's load-time allocations) apply.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

logdir=$FB/replay
mkdir -p "$logdir"
bad=0
for t in "${targets[@]}"; do
  bin=$FB/fuzz_$t
  [ -x "$bin" ] || fail "$bin was not built"
  [ -d "fuzz/corpus/$t" ] || fail "fuzz/corpus/$t/ is missing: every target needs seeds"
  dirs=("fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  n=$(find "${dirs[@]}" -type f | wc -l)
  log=$logdir/$t.log
  # A failing input is written beside the log, not into the source tree.
  if "$bin" -runs=0 -timeout=30 -rss_limit_mb=4096 -close_fd_mask=2 -artifact_prefix="$logdir/$t-" "${dirs[@]}" </dev/null >"$log" 2>&1; then
    printf '  %-12s %4d inputs  %s\n' "$t" "$n" "$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)"
  else
    bad=$((bad + 1))
    printf '  %-12s %4d inputs  FAILED (log: %s)\n' "$t" "$n" "$log"
    tail -n 40 "$log"
  fi
done
[ "$bad" -eq 0 ] || fail "$bad target(s) failed on committed inputs"
echo "fuzz replay: ${#targets[@]} targets, every committed input passes"
