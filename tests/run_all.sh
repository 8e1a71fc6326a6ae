#!/usr/bin/env bash
# Runs every suite and prints one closing line: "N passed, N failed".
#   Check unit tests (release, valgrind, ASan+UBSan), the fuzz corpora replay,
#   node integration tests (release and ASan+UBSan server), browser tests in
#   headless Chromium.
set -u
cd "$(dirname "$0")/.."
B=build
pass=0; fail=0; failed=()

run() { # name, command...
  local name=$1; shift
  echo "=== $name"
  if "$@"; then pass=$((pass+1)); echo "--- ok: $name"
  else fail=$((fail+1)); failed+=("$name"); echo "--- FAILED: $name"; fi
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One run per unit test source: a binary that was not built fails the run
# rather than being skipped.
for src in tests/unit/test_*.c; do
  n=$(basename "$src" .c)
  t="$B/tests/$n"
  if [ ! -x "$t" ] || [ ! -x "$B/asan/tests/$n" ]; then
    run "unit $n (built)" false
    continue
  fi
  run "unit $n" "$t"
  run "valgrind $n" env CK_FORK=no valgrind -q --leak-check=full --suppressions=tests/valgrind.supp --errors-for-leak-kinds=definite,indirect \
      --error-exitcode=99 "$t"
  run "asan $n" "$B/asan/tests/$n"
done

# Every committed fuzz input (fuzz/corpus, fuzz/regressions) once through its
# libFuzzer target (clang, ASan+UBSan), no mutation: fuzz/replay.sh.
run "fuzz corpora replay" bash fuzz/replay.sh

nodetests() { # dir, extra env...
  local dir=$1; shift
  local files=("$dir"/*.test.js)
  [ -e "${files[0]}" ] || { echo "no tests in $dir"; return 1; }
  env "$@" node --test --test-concurrency=1 "${files[@]}"
}
run "integration (release)" nodetests tests/integration
run "integration (asan+ubsan server)" nodetests tests/integration VIGIL_BIN="$PWD/$B/asan/vigil" VIGIL_SANITIZED=1
run "browser" nodetests tests/browser

echo
[ ${#failed[@]} -eq 0 ] || printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
