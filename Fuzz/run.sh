#!/usr/bin/env bash
# Builds the libFuzzer targets (release, -sanitize=fuzzer,address) and runs each for a bounded
# time, at most FUZZ_JOBS (default 2) at a time.
#
#   Fuzz/run.sh [seconds-per-target] [target ...]      targets: npy model curriculum
#                                                      initial-losses gptdynamics native merge gradients
#
# Seeds come from Fuzz/corpus/<target> (committed, never modified); new inputs go to
# Fuzz/.work/<target>/ (kept between runs, not committed); crashes, leaks, timeouts and
# out-of-memory inputs go to Fuzz/artifacts/<target>/ and make the script exit 1. Each
# crashing input belongs in the main test suite as a regression test (Tests/SimfluenceTests/
# FuzzRegressionTests.swift). Environment: FUZZ_JOBS, FUZZ_NICE (default 10).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
seconds="${1:-60}"
shift || true
all=(npy model curriculum initial-losses gptdynamics native merge gradients)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
jobs="${FUZZ_JOBS:-2}"
niceness="${FUZZ_NICE:-10}"

flags=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -g)
start=$(date +%s)
mkdir -p .work
if ! swift build "${flags[@]}" > .work/build.log 2>&1; then
  grep -E "error" .work/build.log | head -20
  echo "fuzz build failed (Fuzz/.work/build.log); if sources were added to the main package, remove Fuzz/.build and retry"
  exit 2
fi
bin="$(swift build "${flags[@]}" --show-bin-path)"
echo "fuzz build: $(( $(date +%s) - start )) s"

max_len() {
  case "$1" in
    npy|initial-losses|curriculum) echo 4096 ;;
    merge) echo 16384 ;;
    *) echo 8192 ;;
  esac
}

mkdir -p .work artifacts
run_one() {
  local t="$1"
  mkdir -p ".work/$t" "artifacts/$t"
  local status=0
  nice -n "$niceness" "$bin/fuzz-$t" ".work/$t" "corpus/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -dict=json.dict -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
    > ".work/$t.log" 2>&1 || status=$?
  echo "$status" > ".work/$t.status"
}

running=0
for t in "${targets[@]}"; do
  [ -x "$bin/fuzz-$t" ] || { echo "unknown target $t (have: ${all[*]})"; exit 2; }
  echo "fuzzing $t for $seconds s"
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

failed=0
printf '%-16s %12s %10s %8s %s\n' target executions exec/s corpus result | tee .work/summary.txt
for t in "${targets[@]}"; do
  log=".work/$t.log"
  execs=$(grep -oE 'stat::number_of_executed_units: +[0-9]+' "$log" | grep -o '[0-9]*$' || echo "?")
  rate=$(grep -oE 'stat::average_exec_per_sec: +[0-9]+' "$log" | grep -o '[0-9]*$' || echo "?")
  corpus=$(ls ".work/$t" | wc -l)
  status=$(cat ".work/$t.status")
  found=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  result=ok
  if [ "$status" != 0 ] || [ "$found" != 0 ]; then
    result="FAILED (exit $status, $found artifact(s) in Fuzz/artifacts/$t; see Fuzz/.work/$t.log)"
    failed=1
  fi
  printf '%-16s %12s %10s %8s %s\n' "$t" "$execs" "$rate" "$corpus" "$result" | tee -a .work/summary.txt
done
echo "total: $(( $(date +%s) - start )) s"
exit "$failed"
