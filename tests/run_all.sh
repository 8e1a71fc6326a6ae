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
  echo "=== $name ($(date +%T))"
  if "$@"; then pass=$((pass+1)); echo "--- ok: $name"
  else fail=$((fail+1)); failed+=("$name"); echo "--- FAILED: $name"; fi
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Runs side by side: `queue name command...` records a run; `run_queued N`
# runs what was queued in N lanes at once (the i-th run in lane i % N, each
# lane one run after another), every run into its own log, then reports them
# all in the order queued. A run sees VIGIL_TEST_LANE and VIGIL_TEST_LANES:
# tests/lib/ports.js hands each lane only its own ports, so lanes never take
# each other's.
q_names=()
q_cmds=()
queue() { # name, command...
  local name=$1; shift
  q_names+=("$name")
  q_cmds+=("$(printf '%q ' "$@")")
}
run_queued() { # lanes
  local lanes=$1 dir i k name
  dir=$(mktemp -d)
  for ((k = 0; k < lanes; k++)); do
    (
      export VIGIL_TEST_LANE=$k VIGIL_TEST_LANES=$lanes
      for ((i = k; i < ${#q_names[@]}; i += lanes)); do
        eval "${q_cmds[$i]}" > "$dir/$i.log" 2>&1
        echo $? > "$dir/$i.rc"
      done
    ) &
  done
  wait
  echo "... $lanes lanes done at $(date +%T)"
  for i in "${!q_names[@]}"; do
    name=${q_names[$i]}
    echo "=== $name"
    cat "$dir/$i.log"
    if [ "$(cat "$dir/$i.rc" 2>/dev/null)" = 0 ]; then pass=$((pass+1)); echo "--- ok: $name"
    else fail=$((fail+1)); failed+=("$name"); echo "--- FAILED: $name"; fi
  done
  rm -rf "$dir"
  q_names=()
  q_cmds=()
}

# Unit tests, valgrind, sanitizers and the fuzz replay need only CPU (no
# ports, no timing): one lane per core.
# One run per unit test source: a binary that was not built fails the run
# rather than being skipped.
for src in tests/unit/test_*.c; do
  n=$(basename "$src" .c)
  t="$B/tests/$n"
  if [ ! -x "$t" ] || [ ! -x "$B/asan/tests/$n" ]; then
    queue "unit $n (built)" false
    continue
  fi
  queue "unit $n" "$t"
  queue "valgrind $n" env CK_FORK=no valgrind -q --leak-check=full --suppressions=tests/valgrind.supp --errors-for-leak-kinds=definite,indirect \
      --error-exitcode=99 "$t"
  queue "asan $n" "$B/asan/tests/$n"
done

# Every committed fuzz input (fuzz/corpus, fuzz/regressions) once through its
# libFuzzer target (clang, ASan+UBSan), no mutation: fuzz/replay.sh.
queue "fuzz corpora replay" bash fuzz/replay.sh
run_queued "${TEST_JOBS:-$(nproc)}"

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
# Integration files, release and ASan+UBSan, in two lanes: a test process
# mostly waits on its server and peers (measured: a third of a core with the
# release server, two thirds with ASan), so two lanes share the 2 cores this
# runs on without starving each other's timing. Files that load the whole
# machine (bench_smoke: a thousand viewers; edges: a publisher's 11 MB burst
# that must outrun the parser), run make in the tree (install), or time
# media against the clock to the second (srtp: a 2 s silence timeout;
# publish: frame rates with sound) run alone afterwards.
ALONE=" bench_smoke.test.js install.test.js srtp.test.js edges.test.js publish.test.js "
nodetests() { # queue|run, group name, dir, extra env...
  local how=$1 group=$2 dir=$3; shift 3
  local files=("$dir"/*.test.js) f alone
  [ -e "${files[0]}" ] || { run "$group (no tests in $dir)" false; return; }
  for f in "${files[@]}"; do
    alone=no
    [[ $ALONE == *" $(basename "$f") "* ]] && alone=yes
    if [ "$how" = queue ] && [ $alone = no ]; then queue "$group $(basename "$f")" nodefile "$f" "$@"
    elif [ "$how" = run ] && [ $alone = yes ]; then run "$group $(basename "$f")" nodefile "$f" "$@"
    fi
  done
}
ASAN_SERVER=(VIGIL_BIN="$PWD/$B/asan/vigil" VIGIL_SANITIZED=1)
nodetests queue "integration (release)" tests/integration
nodetests queue "integration (asan+ubsan server)" tests/integration "${ASAN_SERVER[@]}"
run_queued "${INTEGRATION_LANES:-2}"
nodetests run "integration (release)" tests/integration
nodetests run "integration (asan+ubsan server)" tests/integration "${ASAN_SERVER[@]}"
# The soak (make soak), short, against the ASan+UBSan server: every kind of
# churn twice in 3 minutes; crashes, sanitizer reports, fds, stuck viewers
# and command fates judged (memory growth only in the long release run).
run "soak (asan+ubsan server, 3 min)" env SOAK_MINUTES=3 SOAK_OUT="$PWD/$B/soak-asan" \
  VIGIL_BIN="$PWD/$B/asan/vigil" VIGIL_SANITIZED=1 timeout -k 20 "$FILE_TIMEOUT_S" node tests/soak/soak.mjs
# Browser tests one at a time: Chromium decoding video takes what CPU there is.
browser=(tests/browser/*.test.js)
[ -e "${browser[0]}" ] || run "browser (no tests in tests/browser)" false
for f in "${browser[@]}"; do [ -e "$f" ] && run "browser $(basename "$f")" nodefile "$f"; done

echo
[ ${#failed[@]} -eq 0 ] || printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
