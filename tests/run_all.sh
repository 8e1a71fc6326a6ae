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

# A pool for runs that only need CPU (no ports, no timing): unit tests,
# valgrind, sanitizers, fuzz replay. Up to JOBS at once, each into its own
# log; `collect` waits for all and reports them in the order they were given.
JOBS=${TEST_JOBS:-$(nproc)}
pool_dir=$(mktemp -d)
pool_names=()
spawn() { # name, command...
  local name=$1; shift
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  local i=${#pool_names[@]}
  pool_names+=("$name")
  ( "$@" > "$pool_dir/$i.log" 2>&1; echo $? > "$pool_dir/$i.rc" ) &
}
collect() {
  wait
  local i name
  for i in "${!pool_names[@]}"; do
    name=${pool_names[$i]}
    echo "=== $name"
    cat "$pool_dir/$i.log"
    if [ "$(cat "$pool_dir/$i.rc" 2>/dev/null)" = 0 ]; then pass=$((pass+1)); echo "--- ok: $name"
    else fail=$((fail+1)); failed+=("$name"); echo "--- FAILED: $name"; fi
  done
  pool_names=()
  rm -f "$pool_dir"/*
}
trap 'rm -rf "$pool_dir"' EXIT

# One run per unit test source: a binary that was not built fails the run
# rather than being skipped.
for src in tests/unit/test_*.c; do
  n=$(basename "$src" .c)
  t="$B/tests/$n"
  if [ ! -x "$t" ] || [ ! -x "$B/asan/tests/$n" ]; then
    spawn "unit $n (built)" false
    continue
  fi
  spawn "unit $n" "$t"
  spawn "valgrind $n" env CK_FORK=no valgrind -q --leak-check=full --suppressions=tests/valgrind.supp --errors-for-leak-kinds=definite,indirect \
      --error-exitcode=99 "$t"
  spawn "asan $n" "$B/asan/tests/$n"
done

# Every committed fuzz input (fuzz/corpus, fuzz/regressions) once through its
# libFuzzer target (clang, ASan+UBSan), no mutation: fuzz/replay.sh.
spawn "fuzz corpora replay" bash fuzz/replay.sh
collect

# One node process per test file, each bounded: a file that hangs (a child
# process left running keeps node's event loop alive) fails by name after
# FILE_TIMEOUT_S instead of stalling the whole run.
FILE_TIMEOUT_S=${FILE_TIMEOUT_S:-600}
nodefile() { # file, extra env...
  local file=$1; shift
  local rc=0
  env "$@" timeout -k 20 "$FILE_TIMEOUT_S" node --test --test-concurrency=1 "$file" || rc=$?
  [ "$rc" -eq 124 ] && echo "!!! $file: still running after ${FILE_TIMEOUT_S} s, stopped"
  return "$rc"
}
nodetests() { # group name, dir, extra env...
  local group=$1 dir=$2; shift 2
  local files=("$dir"/*.test.js)
  [ -e "${files[0]}" ] || { run "$group (no tests in $dir)" false; return; }
  for f in "${files[@]}"; do
    run "$group $(basename "$f")" nodefile "$f" "$@"
  done
}
nodetests "integration (release)" tests/integration
nodetests "integration (asan+ubsan server)" tests/integration VIGIL_BIN="$PWD/$B/asan/vigil" VIGIL_SANITIZED=1
# The soak (make soak), short, against the ASan+UBSan server: every kind of
# churn twice in 3 minutes; crashes, sanitizer reports, fds, stuck viewers
# and command fates judged (memory growth only in the long release run).
run "soak (asan+ubsan server, 3 min)" env SOAK_MINUTES=3 SOAK_OUT="$PWD/$B/soak-asan" \
  VIGIL_BIN="$PWD/$B/asan/vigil" VIGIL_SANITIZED=1 timeout -k 20 "$FILE_TIMEOUT_S" node tests/soak/soak.mjs
nodetests "browser" tests/browser

echo
[ ${#failed[@]} -eq 0 ] || printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
